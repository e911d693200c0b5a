"""Weight constraints: projections applied to a weight after each optimizer step (Keras 3).

``constraint(w)`` returns the projected array, computed in ``w``'s float type. The norms are
taken along ``axis`` (0 by default: for a Dense kernel of shape (inputs, units) each unit's
incoming weights) and, as in Keras, ``epsilon()`` is added to the norm in the denominator:
``w * desired / (epsilon + norm)``.

Names: each class name, its snake_case form, and Keras 2's ``maxnorm``, ``nonneg``, ``unitnorm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastnn._registry import Registry
from fastnn.config import epsilon, floatx

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]

Axis = int | Sequence[int]


def _as_float_array(w: ArrayLike) -> np.ndarray:
    arr = np.asarray(w)
    return arr if arr.dtype.kind == "f" else arr.astype(floatx())


def _norms(w: np.ndarray, axis: Axis) -> np.ndarray:
    axis = axis if isinstance(axis, int) else tuple(axis)
    return np.sqrt(np.square(w).sum(axis=axis, keepdims=True))


class Constraint:
    """Base class: ``__call__(w)`` returns the projected weight (here: ``w`` unchanged)."""

    def __call__(self, w: ArrayLike) -> np.ndarray:
        return np.asarray(w)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """A new constraint from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MaxNorm(Constraint):
    """Scale each slice along ``axis`` down to norm ``max_value`` if its norm is larger.

    Srivastava et al., 2014, https://jmlr.org/papers/v15/srivastava14a.html
    """

    def __init__(self, max_value: float = 2, axis: Axis = 0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: ArrayLike) -> np.ndarray:
        w = _as_float_array(w)
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return w * (desired / (w.dtype.type(epsilon()) + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each slice's norm towards [min_value, max_value]: the new norm is
    ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``."""

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Axis = 0
    ):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: ArrayLike) -> np.ndarray:
        w = _as_float_array(w)
        norms = _norms(w, self.axis)
        rate = w.dtype.type(self.rate)
        desired = rate * np.clip(norms, self.min_value, self.max_value) + (1 - rate) * norms
        return w * (desired / (w.dtype.type(epsilon()) + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


class NonNeg(Constraint):
    """Negative weights become 0."""

    def __call__(self, w: ArrayLike) -> np.ndarray:
        w = _as_float_array(w)
        return np.maximum(w, w.dtype.type(0))


class UnitNorm(Constraint):
    """Scale each slice along ``axis`` to norm 1: ``w / (epsilon + norm)``."""

    def __init__(self, axis: Axis = 0):
        self.axis = axis

    def __call__(self, w: ArrayLike) -> np.ndarray:
        w = _as_float_array(w)
        return w / (w.dtype.type(epsilon()) + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_CONSTRAINTS = {
    "MaxNorm": MaxNorm,
    "MinMaxNorm": MinMaxNorm,
    "NonNeg": NonNeg,
    "UnitNorm": UnitNorm,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
    "maxnorm": MaxNorm,
    "nonneg": NonNeg,
    "unitnorm": UnitNorm,
}
_REGISTRY = Registry("constraint", _CONSTRAINTS, module="keras.constraints")


def get(identifier: Any) -> Constraint | None:
    """A constraint from a name, a config dict, a class, an instance or a callable; None gives
    None."""
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    return _REGISTRY.get(identifier)


def serialize(constraint: Constraint | None) -> dict[str, Any] | None:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(constraint)


def deserialize(config: Any) -> Constraint | None:
    """Inverse of :func:`serialize`; also accepts a name."""
    return _REGISTRY.deserialize(config)
