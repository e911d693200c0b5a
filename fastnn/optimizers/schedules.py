"""Learning-rate schedules: Keras 3's six, evaluated in NumPy for one step or many at once.

A schedule maps the optimizer's step count (``iterations``, 0 before the first update) to a
learning rate. ``schedule(step)`` takes an int or an array of steps and returns a float or an
array of float64, so the engine can ask for a whole epoch's learning rates in one call
(``Optimizer.learning_rates``). Values are computed in float64; Keras computes them in the dtype
of ``initial_learning_rate`` (float32 for a Python float), which differs by float32 rounding.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastnn._registry import Registry

__all__ = [
    "CosineDecay",
    "CosineDecayRestarts",
    "ExponentialDecay",
    "InverseTimeDecay",
    "LearningRateSchedule",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "deserialize",
    "serialize",
]


def _check_decay_steps(name: str, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


def _result(values: np.ndarray) -> float | np.ndarray:
    """A float for a scalar step, a float64 array for an array of steps."""
    return float(values) if values.ndim == 0 else values


class LearningRateSchedule:
    """Base class: a learning rate as a function of the optimizer step.

    Subclasses implement :meth:`_values` (float64 steps in, float64 rates out, elementwise)
    and :meth:`get_config`.
    """

    def __call__(self, step: ArrayLike) -> float | np.ndarray:
        """The learning rate at ``step`` (an int, or an array of steps, vectorized)."""
        steps = np.asarray(step, dtype=np.float64)
        return _result(np.asarray(self._values(steps), dtype=np.float64))

    def _values(self, step: np.ndarray) -> np.ndarray:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must implement `_values(step)`."
        )

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments."""
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `get_config()`."
        )

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from :meth:`get_config`'s output."""
        return cls(**config)


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``.

    With ``staircase=True`` the exponent is floored, so the rate drops every ``decay_steps``.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "ExponentialDecay",
    ):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _values(self, step: np.ndarray) -> np.ndarray:
        p = step / self.decay_steps
        if self.staircase:
            p = np.floor(p)
        return self.initial_learning_rate * np.power(float(self.decay_rate), p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored
    with ``staircase=True``)."""

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        decay_rate: float,
        staircase: bool = False,
        name: str = "InverseTimeDecay",
    ):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def _values(self, step: np.ndarray) -> np.ndarray:
        p = step / self.decay_steps
        if self.staircase:
            p = np.floor(p)
        return self.initial_learning_rate / (1.0 + self.decay_rate * p)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PolynomialDecay(LearningRateSchedule):
    """``(lr0 - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``.

    With ``cycle=True`` the horizon grows to the first multiple of ``decay_steps`` at or
    above ``step`` (``decay_steps`` itself at step 0) instead of clamping the step.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        end_learning_rate: float = 0.0001,
        power: float = 1.0,
        cycle: bool = False,
        name: str = "PolynomialDecay",
    ):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def _values(self, step: np.ndarray) -> np.ndarray:
        horizon = float(self.decay_steps)
        if self.cycle:
            horizon = horizon * np.where(step == 0, 1.0, np.ceil(step / horizon))
        else:
            step = np.minimum(step, horizon)
        delta = self.initial_learning_rate - self.end_learning_rate
        return delta * np.power(1.0 - step / horizon, self.power) + self.end_learning_rate

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` up to ``boundaries[0]`` (inclusive), ``values[i]`` for
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def _values(self, step: np.ndarray) -> np.ndarray:
        edges = np.asarray(self.boundaries, dtype=np.float64)
        index = np.searchsorted(edges, step, side="left")
        return np.asarray(self.values, dtype=np.float64)[index]

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha`` times it over ``decay_steps``,
    optionally after a linear warm-up.

    Without ``warmup_target``: ``lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps))
    + alpha)`` with ``s = min(step, decay_steps)``. With it, the rate first rises linearly
    from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then decays from
    ``warmup_target`` as above (Loshchilov & Hutter, 2017, "SGDR").
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "CosineDecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
    ):
        _check_decay_steps("decay_steps", decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: np.ndarray, start: float) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(math.pi * (step / self.decay_steps)))
        return start * ((1.0 - self.alpha) * cosine + self.alpha)

    def _values(self, step: np.ndarray) -> np.ndarray:
        lr0 = self.initial_learning_rate
        if self.warmup_target is None:
            return self._decay(np.minimum(step, float(self.decay_steps)), lr0)
        warmup = float(self.warmup_steps)
        step = np.minimum(step, self.decay_steps + warmup)
        in_warmup = step < warmup
        # Outside the warm-up the ratio is unused; the `where` keeps 0/0 out of it.
        ratio = np.where(in_warmup, step, 0.0) / (warmup if warmup > 0 else 1.0)
        rising = (self.warmup_target - lr0) * ratio + lr0
        return np.where(in_warmup, rising, self._decay(step - warmup, self.warmup_target))

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, 2017).

    The first period lasts ``first_decay_steps``; each restart multiplies the period by
    ``t_mul`` and the peak rate by ``m_mul``. Within a period at fraction ``f``:
    ``lr0 * ((1 - alpha) * m_mul**i * 0.5 * (1 + cos(pi * f)) + alpha)`` after ``i`` restarts.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
    ):
        _check_decay_steps("first_decay_steps", first_decay_steps)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def _restarts(self, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Restarts completed and the fraction of the current period, from the fraction of
        the first period elapsed."""
        t_mul = float(self.t_mul)
        if t_mul == 1.0:
            restarts = np.floor(fraction)
            return restarts, fraction - restarts

        # Periods 1, t, t^2, ... start at (t^i - 1) / (t - 1): invert with a logarithm, then
        # move by one where rounding put a step that sits exactly on a restart on its wrong side.
        def start(i: np.ndarray) -> np.ndarray:
            return (np.power(t_mul, i) - 1.0) / (t_mul - 1.0)

        restarts = np.floor(np.log1p(fraction * (t_mul - 1.0)) / math.log(t_mul))
        restarts += fraction >= start(restarts + 1)
        restarts -= fraction < start(restarts)
        return restarts, (fraction - start(restarts)) / np.power(t_mul, restarts)

    def _values(self, step: np.ndarray) -> np.ndarray:
        restarts, fraction = self._restarts(step / self.first_decay_steps)
        cosine = 0.5 * np.power(float(self.m_mul), restarts) * (1.0 + np.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_REGISTRY = Registry(
    "learning rate schedule",
    {
        cls.__name__: cls
        for cls in (
            ExponentialDecay,
            InverseTimeDecay,
            PolynomialDecay,
            PiecewiseConstantDecay,
            CosineDecay,
            CosineDecayRestarts,
        )
    },
    module="keras.optimizers.schedules",
)


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras 3's form: ``{"module", "class_name", "config", "registered_name"}``."""
    return _REGISTRY.serialize(schedule)


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Inverse of :func:`serialize`."""
    return _REGISTRY.deserialize(config)
