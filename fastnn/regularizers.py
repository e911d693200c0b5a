"""Weight regularizers: L1, L2 and L1L2, with Keras 3's names, defaults and penalties.

A regularizer called on a weight array returns the penalty added to the loss:
``l1 * sum(|w|) + l2 * sum(w**2)`` (no factor 1/2). The engine adds these penalties and their
gradients itself; it reads the two factors from :func:`coefficients`, so custom regularizers are
rejected when the model compiles.

Names: ``L1``/``l1`` (l1=0.01), ``L2``/``l2`` (l2=0.01), ``L1L2``/``l1l2`` (both 0.0: a
no-op, as in Keras 3). fastnn also accepts the Keras 2 string ``"l1_l2"``, which Keras 3
rejects, with Keras 2's meaning ``L1L2(l1=0.01, l2=0.01)``. The Python name :data:`l1_l2` is
Keras 3's alias of the class (defaults 0.0).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastnn._registry import Registry

__all__ = [
    "L1",
    "L1L2",
    "L2",
    "L2BatchMean",
    "Regularizer",
    "batch_mean_l2",
    "coefficients",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "serialize",
]


def _factor(value: Any, name: str, default: float) -> float:
    """Keras 3's check: None gives the default; else a finite, non-negative number (NumPy
    scalars too, which Keras 3 rejects)."""
    if value is None:
        return default
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"Invalid value for argument {name}: expected a non-negative float."
            f"Received: {name}={value}"
        )
    return float(value)


class Regularizer:
    """Base class: ``__call__(w)`` returns a penalty; ``get_config`` the constructor's args."""

    def __call__(self, w: ArrayLike) -> float:
        return 0.0

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config().")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """A new regularizer from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _penalty(w: ArrayLike, l1: float, l2: float) -> float:
    """``l1 * sum(|w|) + l2 * sum(w**2)`` accumulated in float64."""
    w = np.asarray(w, dtype=np.float64)
    total = 0.0
    if l1:
        total += l1 * float(np.abs(w).sum())
    if l2:
        total += l2 * float(np.square(w).sum())
    return total


class L1L2(Regularizer):
    """Penalty ``l1 * sum(|w|) + l2 * sum(w**2)``; both factors default to 0."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _factor(l1, "l1", 0.0)
        self.l2 = _factor(l2, "l2", 0.0)

    def __call__(self, w: ArrayLike) -> float:
        return _penalty(w, self.l1, self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """Penalty ``l1 * sum(|w|)``."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _factor(l1, "l1", 0.01)

    def __call__(self, w: ArrayLike) -> float:
        return _penalty(w, self.l1, 0.0)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """Penalty ``l2 * sum(w**2)`` (no factor 1/2)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, w: ArrayLike) -> float:
        return _penalty(w, 0.0, self.l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class L2BatchMean(Regularizer):
    """fastnn's extension for scikit-learn's MLP penalty: ``l2 * sum(w**2) / rows``, where
    rows is the number of samples in the batch, or their weight sum when the engine
    normalizes by weights (scikit-learn's ``alpha`` is ``2 * l2``).

    Not a Keras regularizer: Keras's penalties do not depend on the batch.
    """

    def __init__(self, l2: float = 0.01):
        self.l2 = _factor(l2, "l2", 0.01)

    def __call__(self, w: ArrayLike, rows: int = 1) -> float:
        return _penalty(w, 0.0, self.l2) / rows

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2


class _Keras2L1L2:
    """What Keras 2 made of the string "l1_l2": ``L1L2(l1=0.01, l2=0.01)``.

    A class, so the registry instantiates it like the others; it builds an :class:`L1L2`,
    which is what gets serialized.
    """

    def __new__(cls, l1: float = 0.01, l2: float = 0.01) -> L1L2:  # type: ignore[misc]
        return L1L2(l1=l1, l2=l2)


_REGULARIZERS = {
    "L1": L1,
    "L2": L2,
    "L1L2": L1L2,
    "l1": L1,
    "l2": L2,
    "l1l2": L1L2,
    "l1_l2": _Keras2L1L2,
    "L2BatchMean": L2BatchMean,
}
_REGISTRY = Registry("regularizer", _REGULARIZERS, module="keras.regularizers")


def get(identifier: Any) -> Regularizer | None:
    """A regularizer from a name, a config dict, a class, an instance or a callable; None
    gives None."""
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    return _REGISTRY.get(identifier)


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(regularizer)


def deserialize(config: Any) -> Regularizer | None:
    """Inverse of :func:`serialize`; also accepts a name."""
    return _REGISTRY.deserialize(config)


def coefficients(regularizer: Any) -> tuple[float, float]:
    """The engine's form of a Keras regularizer: ``(l1, l2)``; ``(0.0, 0.0)`` for None and for
    :class:`L2BatchMean` (see :func:`batch_mean_l2`).

    Raises
    ------
    ValueError
        For a regularizer other than L1, L2, L1L2 and L2BatchMean: the engine computes
        penalties in its compiled loop and cannot call Python code.
    """
    reg = get(regularizer)
    if reg is None or type(reg) is L2BatchMean:
        return 0.0, 0.0
    if type(reg) not in (L1, L2, L1L2):
        raise ValueError(
            f"Regularizer {reg!r} is not supported: fastnn computes penalties in its compiled "
            "training loop, which supports L1, L2 and L1L2 (and their names "
            f"{', '.join(_REGISTRY.names)})."
        )
    return getattr(reg, "l1", 0.0), getattr(reg, "l2", 0.0)


def batch_mean_l2(regularizer: Any) -> float:
    """The ``l2`` of an :class:`L2BatchMean` (divided by the batch's rows in the engine); 0.0
    for any other regularizer."""
    reg = get(regularizer)
    return reg.l2 if type(reg) is L2BatchMean else 0.0
