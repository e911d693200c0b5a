"""Discretization: bucket numbers by ``bin_boundaries`` (Keras 3): value v goes to bucket i
where ``boundaries[i-1] <= v < boundaries[i]`` (``np.digitize``), optionally encoded."""

from __future__ import annotations

import numpy as np

from fastnn.layers.preprocessing._base import NumpyLayer
from fastnn.layers.preprocessing.category_encoding import (
    OUTPUT_MODES,
    check_output_mode,
    encode,
    encoded_tail,
)


class Discretization(NumpyLayer):
    """Bucket numeric inputs.

    Parameters
    ----------
    bin_boundaries : list of float
        Sorted boundaries; ``len(bin_boundaries) + 1`` buckets.
    output_mode : {"int", "one_hot", "multi_hot", "count"}
        Bucket indices (int64), or their encoding (as CategoryEncoding).

    fastnn does not estimate boundaries from data (Keras's ``num_bins`` with ``adapt`` and
    its approximate quantile summary): pass ``bin_boundaries``, e.g. from ``np.quantile``.
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        if bin_boundaries is None:
            raise ValueError(
                "fastnn's Discretization needs `bin_boundaries`; it does not adapt "
                f"`num_bins={num_bins}` from data. Compute boundaries with, e.g., "
                "np.quantile(data, np.linspace(0, 1, num_bins + 1)[1:-1]).")
        bounds = np.asarray(bin_boundaries, dtype=np.float64)
        if bounds.ndim != 1 or np.any(np.diff(bounds) < 0) or not np.all(np.isfinite(bounds)):
            raise ValueError("`bin_boundaries` must be a sorted list of finite numbers; "
                             f"received {bin_boundaries!r}.")
        self.bin_boundaries = bounds.tolist()
        self.num_bins = num_bins
        self.epsilon = float(epsilon)
        self.output_mode = check_output_mode(output_mode, ("int", *OUTPUT_MODES),
                                             "Discretization")
        if sparse:
            raise ValueError("fastnn's Discretization returns dense arrays (sparse=False).")
        self.sparse = False

    @property
    def _depth(self) -> int:
        return len(self.bin_boundaries) + 1

    def _output_tail(self, input_shape):
        return encoded_tail(input_shape, self.output_mode, self._depth)

    def _transform(self, x):
        if x.dtype.kind not in "biuf":
            raise ValueError(f"Layer '{self.name}' takes numbers; received an array of dtype "
                             f"{x.dtype}.")
        # (int32: the indices Keras returns on its TensorFlow backend)
        indices = np.digitize(x, self.bin_boundaries).astype(np.int32)
        if self.output_mode == "int":
            return indices
        return encode(indices, self.output_mode, self._depth, self.dtype, name=self.name)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable")          # (Keras's Discretization config has no trainable)
        return {**config, "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse}
