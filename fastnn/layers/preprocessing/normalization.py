"""Normalization: ``(x − mean) / max(sqrt(variance), ε)`` per position of ``axis`` (Keras 3),
or its inverse ``mean + x · max(sqrt(variance), ε)`` with ``invert=True``.

In a model the common case, 2-D rows normalized per feature with adapted statistics, is the
engine's ``batch_norm`` op in inference form reading the layer's own ``mean`` and ``variance``
weights (so ``adapt``, ``set_weights`` and loading a file show at once), with ``ε²`` under the
square root: ``sqrt(v + ε²)`` is ``max(sqrt(v), ε)`` at v = 0 and for every v ≫ ε² (a relative
difference under 5e-7 for variances above 1e-7 with Keras's ε = 1e-7). Every other case
(``invert``, ``axis=None``, axes that do not cover every feature) is a Python op computing
Keras's formula in NumPy.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import config as _config
from fastnn.layers.base import Layer
from fastnn.layers.preprocessing._base import adapt_batches


class Normalization(Layer):
    """Shift and scale inputs to mean 0 and variance 1 per position of ``axis``.

    Parameters
    ----------
    axis : int, tuple of int or None
        The axes that keep separate statistics (default -1: one mean and variance per
        feature); None: one mean and variance for everything.
    mean, variance : float or array, optional
        Fixed statistics (then the layer has no weights); otherwise call ``adapt``.
    invert : bool
        Map normalized values back: ``mean + x · sqrt(variance)``.
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, (int, np.integer)):
            axis = (int(axis),)
        else:
            axis = tuple(int(a) for a in axis)
        self.axis = axis
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must "
                             f"be set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if np.shape(mean) != np.shape(variance):
                raise ValueError("When setting values directly, `mean` and `variance` must "
                                 f"have the same shape. Received: mean shape "
                                 f"{np.shape(mean)} and variance shape {np.shape(variance)}")
            if np.ndim(mean) > len(self.axis):
                raise ValueError(f"The rank of `mean` must be less than or equal to the "
                                 f"number of axes ({len(self.axis)}). Received: mean shape "
                                 f"{np.shape(mean)} for axis {self.axis}")
        self.adapt_mean = self.adapt_variance = self.count = None

    # ---- shapes and statistics ---------------------------------------------------------

    def build(self, input_shape) -> None:
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        if 0 in keep:
            raise ValueError(f"Normalization layer '{self.name}' cannot keep statistics per "
                             f"position of the batch axis (axis={self.axis}).")
        for d in keep:
            if input_shape[d] is None:
                raise ValueError("All `axis` values to be kept must have a known shape. "
                                 f"Received axis={self.axis}, inputs.shape={input_shape}, "
                                 f"with unknown axis at index {d}")
        self._keep_axis = keep
        self._reduce_axis = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast_shape = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        stats_shape = tuple(input_shape[d] for d in keep)
        self._stats_shape = stats_shape
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(stats_shape, "zeros", "mean", trainable=False)
            self.adapt_variance = self.add_weight(stats_shape, "ones", "variance",
                                                  trainable=False)
            self.count = self.add_weight((), "zeros", "count", trainable=False, dtype="int64")
        self.built = True

    def _statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and variance in the broadcast shape (batch axis of length 1)."""
        if self.input_mean is None:
            return (self.adapt_mean.value.reshape(self._broadcast_shape),
                    self.adapt_variance.value.reshape(self._broadcast_shape))
        shape = self._broadcast_shape
        out = []
        for value in (self.input_mean, self.input_variance):
            value = np.asarray(value, dtype=np.float64)
            if value.ndim:
                expanded = [1] * len(shape)
                for i in range(1, value.ndim + 1):
                    expanded[self._keep_axis[-i]] = value.shape[-i]
                value = value.reshape(expanded)
            out.append(np.broadcast_to(value, shape))
        return out[0], out[1]

    @property
    def mean(self) -> np.ndarray | None:
        """The mean in the inputs' broadcast shape (batch axis of length 1), as Keras's
        ``layer.mean``; None before the layer is built."""
        return None if not self.built else np.array(self._statistics()[0], dtype=self.dtype)

    @property
    def variance(self) -> np.ndarray | None:
        return None if not self.built else np.array(self._statistics()[1], dtype=self.dtype)

    def adapt(self, data) -> None:
        """Compute the mean and (biased) variance of ``data`` per position of ``axis``:
        an array, or any iterable of batches (combined exactly, batch by batch)."""
        first, batches = adapt_batches(data, self.name)
        shape = (None, *first.shape[1:])
        if not self.built:
            self._maybe_build(shape)
            if not self._keep_axis:
                # One mean and variance for everything: the layer takes inputs of any
                # shape, whatever the shape of the data it was adapted on (as Keras's).
                self.input_shape_built = None
        else:
            built = self.input_shape_built or (None,) * first.ndim
            for d in self._keep_axis:
                if len(first.shape) != len(built) or first.shape[d] != built[d]:
                    raise ValueError(f"The layer was built with input_shape={built}, but "
                                     "adapt() is being called with data with an "
                                     f"incompatible shape, data.shape={first.shape}")
        if self.input_mean is not None:
            raise ValueError(f"Normalization layer '{self.name}' was given `mean` and "
                             "`variance`; it cannot be adapted.")
        total_mean = np.zeros(self._stats_shape)
        total_var = np.zeros(self._stats_shape)
        total = 0
        for batch in batches:
            batch = np.asarray(batch, dtype=np.float64)
            if self._keep_axis and (batch.ndim != len(self._broadcast_shape) or any(
                    batch.shape[d] != self._broadcast_shape[d] for d in self._keep_axis)):
                raise ValueError("adapt() yielded a batch with incompatible shape. Expected "
                                 f"{self.input_shape_built}, got {batch.shape}.")
            reduce = self._reduce_axis if self._keep_axis else tuple(range(batch.ndim))
            n = math.prod(batch.shape[d] for d in reduce)
            if n == 0:
                continue
            mean = batch.mean(axis=reduce)
            var = batch.var(axis=reduce)
            # Chan et al.'s pairwise update: the statistics of the union of two sets.
            weight = n / (total + n)
            new_mean = total_mean * (1 - weight) + mean * weight
            total_var = ((total_var + (total_mean - new_mean) ** 2) * (1 - weight)
                         + (var + (mean - new_mean) ** 2) * weight)
            total_mean, total = new_mean, total + n
        self.adapt_mean.assign(total_mean.astype(self.adapt_mean.dtype))
        self.adapt_variance.assign(total_var.astype(self.adapt_variance.dtype))
        # (``count`` stays as it was: Keras 3 keeps the weight for its files but never
        # updates it.)

    # ---- the engine ----------------------------------------------------------------------

    def engine_ops(self, width: int) -> list[dict]:
        if self._fusable(width):
            eps = _config.epsilon()
            return [{"kind": "batch_norm", "n_out": width, "gamma": None, "beta": None,
                     "moving_mean": self.adapt_mean, "moving_variance": self.adapt_variance,
                     "epsilon": eps * eps, "momentum": 0.0, "batch_stats": False}]
        return [{"kind": "python", "n_out": width,
                 "piece": _NormalizationPiece(self, self.input_shape_built)}]

    def _fusable(self, width: int) -> bool:
        """Statistics per feature of flat rows: the keep axes are every sample axis."""
        return (not self.invert and self.input_mean is None and bool(self._keep_axis)
                and self._keep_axis == tuple(range(1, len(self._broadcast_shape)))
                and self.adapt_mean.value.size == width)

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": list(self.axis), "invert": self.invert,
                "mean": np.array(self.input_mean).tolist(),
                "variance": np.array(self.input_variance).tolist()}


class _NormalizationPiece:
    """Keras's formula in NumPy, reading the layer's statistics on every batch."""

    def __init__(self, layer: Normalization, input_shape: tuple | None):
        self.layer = layer
        self.input_shape = None if input_shape is None else tuple(input_shape)
        self.variables: list = []
        self.weights: list = []

    def forward(self, inputs, training: bool, need_grad: bool):
        x = inputs[0]
        rows = x.shape[0]
        mean, var = self.layer._statistics()
        dtype = x.dtype
        mean, var = mean.astype(dtype), var.astype(dtype)
        if self.layer._keep_axis:
            xs = x.reshape((rows, *self.input_shape[1:]))
        else:                   # one mean and variance: the flat rows as they are
            xs, mean, var = x, mean.reshape(()), var.reshape(())
        scale = np.maximum(np.sqrt(var), dtype.type(_config.epsilon()))
        out = mean + xs * scale if self.layer.invert else (xs - mean) / scale
        out = np.ascontiguousarray(out, dtype=dtype).reshape(rows, -1)
        if not need_grad:
            return out, None

        def backward(g):
            gs = g.reshape(xs.shape)
            gin = gs * scale if self.layer.invert else gs / scale
            return [np.ascontiguousarray(gin, dtype=dtype).reshape(rows, -1)], []
        return out, backward
