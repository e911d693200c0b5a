"""Hashing: tokens (strings or integers) to ``num_bins`` bins by a stable hash, with Keras 3's
values: FarmHash ``Fingerprint64`` of the token's bytes (integers as their decimal text, as
TensorFlow's ``as_string``), or SipHash-2-4 keyed by ``salt``; bin = hash mod the number of
bins. With a ``mask_value`` bin 0 is the mask's and the others are ``1 + hash mod
(num_bins - 1)``."""

from __future__ import annotations

import numpy as np

from fastnn.layers.preprocessing._base import NumpyLayer
from fastnn.layers.preprocessing._fingerprints import fingerprint64, siphash24
from fastnn.layers.preprocessing.category_encoding import (
    OUTPUT_MODES,
    check_output_mode,
    encode,
    encoded_tail,
)


class Hashing(NumpyLayer):
    """Hash categorical features into ``num_bins`` bins.

    Parameters
    ----------
    num_bins : int
        The number of bins, the mask's bin included.
    mask_value : str or int, optional
        A value that goes to bin 0 (then no other value does).
    salt : int or [int, int], optional
        A key for SipHash-2-4 (one int is used twice); by default FarmHash, unkeyed.
    output_mode : {"int", "one_hot", "multi_hot", "count"}
    """

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):
        kwargs.setdefault("dtype", "int64" if output_mode == "int" else None)
        super().__init__(**kwargs)
        if num_bins is None or isinstance(num_bins, bool) or \
                not isinstance(num_bins, (int, np.integer)) or num_bins <= 0:
            raise ValueError("The `num_bins` for `Hashing` cannot be `None` or non-positive "
                             f"values. Received: num_bins={num_bins}.")
        self.num_bins = int(num_bins)
        self.mask_value = mask_value
        if salt is None:
            self.salt = None
        elif isinstance(salt, (tuple, list)) and len(salt) == 2 and \
                all(isinstance(s, (int, np.integer)) for s in salt):
            self.salt = [int(s) for s in salt]
        elif isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
            self.salt = [int(salt), int(salt)]
        else:
            raise ValueError("The `salt` argument for `Hashing` can only be a tuple of size 2 "
                             f"integers, or a single integer. Received: salt={salt}.")
        self.output_mode = check_output_mode(output_mode, ("int", *OUTPUT_MODES), "Hashing")
        if sparse:
            raise ValueError("fastnn's Hashing returns dense arrays (sparse=False).")
        self.sparse = False

    def _output_tail(self, input_shape):
        return encoded_tail(input_shape, self.output_mode, self.num_bins)

    def _tokens(self, x: np.ndarray) -> np.ndarray:
        """``x`` as an array of text tokens (integers in decimal, as TensorFlow writes them)."""
        if x.dtype.kind in "US":
            return x
        if x.dtype.kind in "iub":
            return x.astype(np.int64).astype(str)
        if x.dtype.kind == "f" and np.all(np.isfinite(x)) and np.all(x == np.round(x)):
            return x.astype(np.int64).astype(str)    # integer ids that reached the engine
        raise ValueError(f"Layer '{self.name}' (Hashing) takes strings or integers; received "
                         f"an array of dtype {x.dtype} with values that are not whole numbers.")

    def _hash(self, token) -> int:
        data = token if isinstance(token, bytes) else str(token).encode("utf-8")
        return fingerprint64(data) if self.salt is None else siphash24(self.salt, data)

    def _transform(self, x):
        tokens = self._tokens(x)
        bins = self.num_bins
        masked = self.mask_value is not None and bins > 1
        if masked:
            bins -= 1
        uniques, inverse = np.unique(tokens, return_inverse=True)
        found = np.array([self._hash(t) % bins for t in uniques.tolist()], dtype=np.int64)
        if masked:
            found += 1
            mask = str(self.mask_value) if not isinstance(self.mask_value, bytes) else \
                self.mask_value.decode()
            found[np.array([str(t) == mask for t in uniques.tolist()], dtype=bool)] = 0
        out = found[inverse.reshape(tokens.shape)]
        if self.output_mode == "int":
            return out
        return encode(out, self.output_mode, self.num_bins, self.dtype, name=self.name)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": self.sparse}
