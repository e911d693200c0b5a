"""CategoryEncoding: integer category indices to one-hot, multi-hot or count vectors
(Keras 3); ``encode`` is the NumPy encoding the lookup layers and Discretization share."""

from __future__ import annotations

import numpy as np

from fastnn.layers.preprocessing._base import NumpyLayer

OUTPUT_MODES = ("one_hot", "multi_hot", "count")


def check_output_mode(mode, allowed, cls: str) -> str:
    if mode not in allowed:
        raise ValueError(f"Unknown arg for output_mode: {mode}. Expected one of "
                         f"{list(allowed)} for {cls}.")
    return mode


def encoded_tail(input_shape: tuple, mode: str, depth: int) -> tuple:
    """The shape of ``encode``'s output without the batch axis."""
    tail = tuple(input_shape[1:])
    if mode == "int":
        return tail
    if mode == "one_hot":
        return (*tail[:-1], depth) if tail and tail[-1] == 1 else (*tail, depth)
    return (*tail[1:], depth) if tail else (depth,)


def encode(indices: np.ndarray, mode: str, depth: int, dtype, count_weights=None,
           name: str = "") -> np.ndarray:
    """One-hot (one vector per index; a trailing axis of 1 is replaced), multi-hot or count
    (one vector per sample, over its last axis) of integer ``indices`` in ``[0, depth)``."""
    indices = np.asarray(indices)
    if indices.size and (indices.min() < 0 or indices.max() >= depth):
        raise ValueError(f"Layer '{name}' received category indices outside [0, {depth}) "
                         f"(from {indices.min()} to {indices.max()}); every index must be "
                         f"in [0, num_tokens).")
    idx = indices.astype(np.int64)
    if mode == "one_hot":
        if idx.ndim > 1 and idx.shape[-1] == 1:
            idx = idx[..., 0]
        out = np.zeros((*idx.shape, depth), dtype=dtype)
        np.put_along_axis(out, idx[..., None], 1, axis=-1)
        return out
    if idx.ndim == 1:
        idx = idx[:, None]
    rows = idx.reshape(-1, idx.shape[-1])
    out = np.zeros((rows.shape[0], depth), dtype=np.float64)
    weights = None if count_weights is None else \
        np.asarray(count_weights, dtype=np.float64).reshape(rows.shape)
    row_ids = np.repeat(np.arange(rows.shape[0]), rows.shape[1])
    np.add.at(out, (row_ids, rows.ravel()), 1.0 if weights is None else weights.ravel())
    if mode == "multi_hot":
        out = (out != 0).astype(np.float64)
    return out.reshape((*idx.shape[:-1], depth)).astype(dtype)


class CategoryEncoding(NumpyLayer):
    """Encode integer features in ``[0, num_tokens)``.

    Parameters
    ----------
    num_tokens : int
        The number of categories.
    output_mode : {"multi_hot", "one_hot", "count"}
        ``one_hot``: one vector per input value; ``multi_hot``: one vector per sample with a
        1 at every index present; ``count``: how often each index occurs in the sample.
    """

    def __init__(self, num_tokens=None, output_mode="multi_hot", sparse=False, **kwargs):
        super().__init__(**kwargs)
        if num_tokens is None or isinstance(num_tokens, bool) or \
                not isinstance(num_tokens, (int, np.integer)) or num_tokens < 1:
            raise ValueError("`num_tokens` must be set to a positive integer; received "
                             f"num_tokens={num_tokens}.")
        self.num_tokens = int(num_tokens)
        self.output_mode = check_output_mode(output_mode, OUTPUT_MODES, "CategoryEncoding")
        if sparse:
            raise ValueError("fastnn's CategoryEncoding returns dense arrays (sparse=False).")
        self.sparse = False

    def _output_tail(self, input_shape):
        return encoded_tail(input_shape, self.output_mode, self.num_tokens)

    def _transform(self, x, count_weights=None):
        if x.dtype.kind == "f":
            if not np.all(np.isfinite(x)) or np.any(x != np.round(x)):
                raise ValueError(f"Layer '{self.name}' takes integer category indices; "
                                 "received values that are not whole numbers.")
        elif x.dtype.kind not in "iub":
            raise ValueError(f"Layer '{self.name}' takes integer category indices; received "
                             f"an array of dtype {x.dtype}.")
        return encode(x, self.output_mode, self.num_tokens, self.dtype, count_weights,
                      self.name)

    def __call__(self, inputs, count_weights=None, training=None, **kwargs):
        from fastnn import _graph
        from fastnn.layers.preprocessing._base import _as_array

        if count_weights is None or _graph.is_symbolic(inputs):
            return super().__call__(inputs, training=training, **kwargs)
        if self.output_mode != "count":
            raise ValueError("`count_weights` is not used when `output_mode` is not "
                             f"`'count'`. Received `count_weights={count_weights}`.")
        return self._transform(_as_array(inputs, self.name), count_weights)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens,
                "output_mode": self.output_mode}
