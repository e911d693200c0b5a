"""RMSprop, plain or centered, with optional momentum."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class RMSprop(Optimizer):
    """RMSprop (Hinton, 2012 lecture notes), in Keras 3's form.

    ``v = rho * v + (1 - rho) * g²``; the step is ``lr * g / sqrt(v + epsilon)`` (epsilon
    inside the square root). Centered (Graves, 2013): also ``a = rho * a + (1 - rho) * g``
    and the denominator is ``sqrt(v - a² + epsilon)``. With momentum the step feeds
    ``mom = momentum * mom + step`` and ``w -= mom``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    rho : float, default 0.9
    momentum : float, default 0.0
    epsilon : float, default 1e-7
    centered : bool, default False
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.RMSPROP

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        check_finite(rho=rho, momentum=momentum, epsilon=epsilon)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        groups = [("velocity",)]
        if self.momentum > 0:
            groups.append(("momentum",))
        if self.centered:
            groups.append(("average_gradient",))
        return tuple(groups)

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "rho": float(self.rho),
            "momentum": float(self.momentum),
            "epsilon": float(self.epsilon),
            "centered": bool(self.centered),
        }

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.rmsprop_update(
            w,
            g,
            slots["velocity"],
            slots.get("average_gradient"),
            slots.get("momentum"),
            lr,
            self.rho,
            self.momentum,
            self.epsilon,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
