"""Discretization: bucket numbers by ``bin_boundaries`` (Keras 3): value v goes to bucket i
where ``boundaries[i-1] <= v < boundaries[i]`` (``np.digitize``), optionally encoded.

``adapt`` with ``num_bins`` estimates the boundaries as Keras 3 does, so that both give the
same bins: each batch becomes a weighted sample of its sorted values (about 1/epsilon of them,
each standing for the values it skips), samples merge in sorted order, and a sample larger
than 1/epsilon is compressed by reading values at evenly spaced cumulative-weight fractions
(linear interpolation); the boundaries are the sample read at fractions 1/num_bins, 2/num_bins,
..., without the last.
"""

from __future__ import annotations

import numpy as np

from fastnn.layers.preprocessing._base import NumpyLayer, adapt_batches
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
    bin_boundaries : list of float, optional
        Sorted boundaries; ``len(bin_boundaries) + 1`` buckets.
    num_bins : int, optional
        The number of buckets ``adapt`` makes (instead of ``bin_boundaries``).
    epsilon : float
        The precision of ``adapt``'s quantile estimate.
    output_mode : {"int", "one_hot", "multi_hot", "count"}
        Bucket indices (int32, as Keras's TensorFlow backend), or their encoding (as
        CategoryEncoding).
    """

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, **kwargs):
        super().__init__(**kwargs)
        if bin_boundaries is not None and num_bins is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. "
                             f"Received: num_bins={num_bins} and "
                             f"bin_boundaries={bin_boundaries}")
        if bin_boundaries is None and num_bins is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        if num_bins is not None and (isinstance(num_bins, bool) or
                                     not isinstance(num_bins, (int, np.integer))
                                     or num_bins < 1):
            raise ValueError(f"`num_bins` must be a positive integer; received {num_bins!r}.")
        self.bin_boundaries = None if bin_boundaries is None else \
            _checked_boundaries(bin_boundaries)
        self.num_bins = None if num_bins is None else int(num_bins)
        self.epsilon = float(epsilon)
        if not 0 < self.epsilon < 1:
            raise ValueError(f"`epsilon` must be in (0, 1); received {epsilon!r}.")
        self.output_mode = check_output_mode(output_mode, ("int", *OUTPUT_MODES),
                                             "Discretization")
        if sparse:
            raise ValueError("fastnn's Discretization returns dense arrays (sparse=False).")
        self.sparse = False

    @property
    def _depth(self) -> int:
        if self.bin_boundaries is None:
            return self.num_bins
        return len(self.bin_boundaries) + 1

    def adapt(self, data, steps=None) -> None:
        """Estimate ``num_bins`` buckets of (about) equal counts from ``data``: an array or
        an iterable of batches."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        _, batches = adapt_batches(data, self.name)
        sample = np.zeros((2, 0), dtype=np.float32)
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            part = _weighted_sample(np.asarray(batch, dtype=np.float32), self.epsilon)
            sample = np.concatenate([sample, part], axis=1)
            sample = _compressed(sample[:, np.argsort(sample[0])], self.epsilon)
        self.bin_boundaries = _compressed(sample, 1.0 / self.num_bins)[0, :-1].tolist()

    def _output_tail(self, input_shape):
        return encoded_tail(input_shape, self.output_mode, self._depth)

    def _transform(self, x):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
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
        config = dict(config)
        boundaries = config.get("bin_boundaries")
        if boundaries is not None and config.get("num_bins") is not None:
            # An adapted layer: built for num_bins, with the boundaries it learnt.
            config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = _checked_boundaries(boundaries)
            return layer
        return cls(**config)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("trainable")          # (Keras's Discretization config has no trainable)
        return {**config, "bin_boundaries": self.bin_boundaries,
                "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse}


def _checked_boundaries(bin_boundaries) -> list:
    bounds = np.asarray(bin_boundaries, dtype=np.float64)
    if bounds.ndim != 1 or np.any(np.diff(bounds) < 0) or not np.all(np.isfinite(bounds)):
        raise ValueError("`bin_boundaries` must be a sorted list of finite numbers; "
                         f"received {bin_boundaries!r}.")
    return bounds.tolist()


def _weighted_sample(values: np.ndarray, epsilon: float) -> np.ndarray:
    """Every ``step``-th of the sorted values (row 0), each weighing ``step`` (row 1), with
    ``step = max(n·epsilon, 1)``: all values when there are fewer than 1/epsilon."""
    ordered = np.sort(values.ravel())
    step = max(ordered.size / (1.0 / epsilon), 1)
    picked = ordered[int(step - 1)::int(step)]
    return np.stack([picked, np.full(picked.shape, step, dtype=np.float32)])


def _compressed(sample: np.ndarray, epsilon: float) -> np.ndarray:
    """A sorted weighted sample read at cumulative-weight fractions epsilon, 2·epsilon, ...,
    1 (values and weights interpolated); unchanged when it has fewer than 1/epsilon points."""
    if sample.shape[1] * epsilon < 1:
        return sample
    fractions = epsilon + np.arange(0.0, 1.0, epsilon)
    cumulative = sample[1].cumsum()
    at = cumulative / cumulative[-1]
    values = np.interp(fractions, at, sample[0])
    cumulative = np.interp(fractions, at, cumulative)
    weights = np.diff(cumulative, prepend=0.0)
    return np.stack([values, weights]).astype(np.float32)
