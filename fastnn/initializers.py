"""Weight initializers with Keras 3's names, defaults and distributions.

An initializer is called as ``init(shape, dtype=None)`` and returns a NumPy array (floatx by
default). Random initializers draw from a NumPy Generator: a fresh ``default_rng(seed)`` on
every call when a seed is given (so a seeded initializer returns the same values each time, as
in Keras 3), else fastnn's shared random state (``fastnn.utils.set_random_seed`` makes those
draws repeatable). The numbers follow Keras's distributions but are not the bits TensorFlow
draws.

Names: each class name, its snake_case form, and the aliases ``normal``, ``uniform``, ``zero``,
``one``, ``IdentityInitializer`` and ``OrthogonalInitializer``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn import _random
from fastnn._registry import Registry
from fastnn.config import floatx

__all__ = [
    "Constant",
    "GlorotNormal",
    "GlorotUniform",
    "HeNormal",
    "HeUniform",
    "Identity",
    "Initializer",
    "LecunNormal",
    "LecunUniform",
    "Ones",
    "Orthogonal",
    "RandomNormal",
    "RandomUniform",
    "TruncatedNormal",
    "VarianceScaling",
    "Zeros",
    "compute_fans",
    "deserialize",
    "get",
    "serialize",
]

Shape = int | Sequence[int]

# Standard deviation of a standard normal truncated to [-2, 2]: dividing by it gives a
# truncated normal the requested standard deviation.
_TRUNCATED_STD = 0.87962566103423978


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def compute_fans(
    shape: Shape,
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them.

    ``(in, out)`` for a matrix, ``(n, n)`` for a vector, ``(1, 1)`` for a scalar; for higher
    ranks the leading axes are a receptive field multiplying both. Given both ``input_axes``
    and ``output_axes``, the fans are the products of those axes' sizes.
    """
    shape = _shape(shape)
    if input_axes is not None and output_axes is not None:
        return math.prod(shape[a] for a in input_axes), math.prod(shape[a] for a in output_axes)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    field = math.prod(shape[:-2])
    return shape[-2] * field, shape[-1] * field


def _dtype(dtype: DTypeLike) -> np.dtype:
    return np.dtype(floatx() if dtype is None else dtype)


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    dt = _dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"A random initializer needs a float dtype, got {dt}.")
    return dt


def _truncated_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal values redrawn until all lie in [-2, 2] (about 4.6% are redrawn)."""
    z = rng.standard_normal(shape)
    outside = np.abs(z) > 2
    while outside.any():
        z[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(z) > 2
    return z


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``."""

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__.")

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """A new initializer from :meth:`get_config`'s output."""
        return cls(**config)

    def clone(self) -> Initializer:
        """A copy with the same configuration."""
        return self.__class__.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RandomInitializer(Initializer):
    def __init__(self, seed: int | None = None):
        if isinstance(seed, np.integer):
            seed = int(seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"`seed` argument should be an integer or None. Received: seed={seed}")
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        return _random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(_RandomInitializer):
    """Normal distribution N(mean, stddev**2)."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        values = self._rng().normal(self.mean, self.stddev, _shape(shape))
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(_RandomInitializer):
    """Normal distribution N(mean, stddev**2) with values beyond 2 stddev redrawn."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean = mean
        self.stddev = stddev

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        values = self.mean + self.stddev * _truncated_normal(self._rng(), _shape(shape))
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(_RandomInitializer):
    """Uniform distribution on [minval, maxval)."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval = minval
        self.maxval = maxval

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        values = self._rng().uniform(self.minval, self.maxval, _shape(shape))
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(_RandomInitializer):
    """Values with variance ``scale / n``, n chosen by ``mode`` from the shape's fans.

    Parameters
    ----------
    scale : float, default 1.0
        Positive.
    mode : {"fan_in", "fan_out", "fan_avg"}, default "fan_in"
        n = fan_in, fan_out or (fan_in + fan_out) / 2 (at least 1).
    distribution : {"truncated_normal", "untruncated_normal", "uniform"}
        "truncated_normal" (default; "normal" is accepted for it): N(0, sigma**2) truncated at
        2 sigma with sigma = sqrt(scale / n) / 0.8796, so the values' std is sqrt(scale / n).
        "untruncated_normal": N(0, scale / n). "uniform": U(-L, L), L = sqrt(3 scale / n).
    seed : int, optional
    input_axes, output_axes : list of int, optional
        Axes whose sizes multiply into fan_in and fan_out (both must be given).
    """

    _MODES = ("fan_avg", "fan_in", "fan_out")
    _DISTRIBUTIONS = ("truncated_normal", "uniform", "untruncated_normal")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be positive float. Received: scale={scale}")
        if mode not in self._MODES:
            raise ValueError(
                f"Invalid `mode` argument: {mode}. Please use one of {list(self._MODES)}"
            )
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution}. "
                f"Please use one of {list(self._DISTRIBUTIONS)}"
            )
        super().__init__(seed)
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.input_axes = input_axes
        self.output_axes = output_axes

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        shape = _shape(shape)
        fan_in, fan_out = compute_fans(shape, self.input_axes, self.output_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "truncated_normal":
            values = math.sqrt(variance) / _TRUNCATED_STD * _truncated_normal(rng, shape)
        elif self.distribution == "untruncated_normal":
            values = math.sqrt(variance) * rng.standard_normal(shape)
        else:
            limit = math.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, shape)
        return values.astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            **super().get_config(),
            "input_axes": self.input_axes,
            "output_axes": self.output_axes,
        }


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""

    _FIXED: tuple[float, str, str]

    def __init__(
        self,
        seed: int | None = None,
        input_axes: Sequence[int] | None = None,
        output_axes: Sequence[int] | None = None,
    ):
        scale, mode, distribution = self._FIXED
        super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "input_axes": self.input_axes, "output_axes": self.output_axes}


class GlorotUniform(_FixedVarianceScaling):
    """U(-L, L), L = sqrt(6 / (fan_in + fan_out)); Keras's default kernel initializer.

    Glorot and Bengio, 2010, https://proceedings.mlr.press/v9/glorot10a.html
    """

    _FIXED = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with std sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""

    _FIXED = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal with std sqrt(2 / fan_in).

    He et al., 2015, https://arxiv.org/abs/1502.01852
    """

    _FIXED = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """U(-L, L), L = sqrt(6 / fan_in) (He et al., 2015)."""

    _FIXED = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with std sqrt(1 / fan_in).

    Klambauer et al., 2017, https://arxiv.org/abs/1706.02515
    """

    _FIXED = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """U(-L, L), L = sqrt(3 / fan_in)."""

    _FIXED = (1.0, "fan_in", "uniform")


class Orthogonal(_RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``: Q of the QR of a normal matrix, signs fixed
    so Q is uniformly distributed. Shapes of rank > 2 are the matrix
    (prod(shape[:-1]), shape[-1]) reshaped.

    Saxe et al., 2014, https://arxiv.org/abs/1312.6120
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.where(np.diag(r) < 0, -1.0, 1.0)
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(_float_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        return np.zeros(_shape(shape), dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        return np.ones(_shape(shape), dtype=_dtype(dtype))


class Constant(Initializer):
    """Every element ``value`` (a scalar, or an array broadcast to the shape)."""

    def __init__(self, value: ArrayLike = 0.0):
        self.value = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        value = np.asarray(self.value, dtype=_dtype(dtype))
        return np.array(np.broadcast_to(value, _shape(shape)))

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Identity(Initializer):
    """``gain`` times the identity matrix (ones on the main diagonal of a 2-D shape)."""

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_CLASSES = {
    "Constant": Constant,
    "GlorotNormal": GlorotNormal,
    "GlorotUniform": GlorotUniform,
    "HeNormal": HeNormal,
    "HeUniform": HeUniform,
    "Identity": Identity,
    "LecunNormal": LecunNormal,
    "LecunUniform": LecunUniform,
    "Ones": Ones,
    "Orthogonal": Orthogonal,
    "RandomNormal": RandomNormal,
    "RandomUniform": RandomUniform,
    "TruncatedNormal": TruncatedNormal,
    "VarianceScaling": VarianceScaling,
    "Zeros": Zeros,
}
_INITIALIZERS = {
    **_CLASSES,
    "constant": Constant,
    "glorot_normal": GlorotNormal,
    "glorot_uniform": GlorotUniform,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "identity": Identity,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "ones": Ones,
    "orthogonal": Orthogonal,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "zeros": Zeros,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
    "normal": RandomNormal,
    "one": Ones,
    "uniform": RandomUniform,
    "zero": Zeros,
}
_REGISTRY = Registry("initializer", _INITIALIZERS, module="keras.initializers")


def get(identifier: Any) -> Any:
    """An initializer from a name, a config dict, a class, an instance or a callable.

    A name or class gives a new instance with its defaults; an array gives an initializer that
    returns it (the shape must match); None gives None.
    """
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, (np.ndarray, np.generic)):
        return _ArrayInitializer(identifier)
    return _REGISTRY.get(identifier)


def serialize(initializer: Initializer) -> dict[str, Any]:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(initializer)


def deserialize(config: Any) -> Initializer:
    """Inverse of :func:`serialize`; also accepts a name."""
    return _REGISTRY.deserialize(config)


class _ArrayInitializer:
    """Returns a fixed array (what ``get`` makes of an array, as Keras 3 does)."""

    def __init__(self, array: np.ndarray):
        self.array = np.asarray(array)

    def __call__(self, shape: Shape, dtype: DTypeLike = None) -> np.ndarray:
        if _shape(shape) != self.array.shape:
            raise ValueError(
                f"Expected `shape` to be {self.array.shape} for direct tensor as initializer. "
                f"Received shape={shape}"
            )
        return self.array.astype(_dtype(dtype))
