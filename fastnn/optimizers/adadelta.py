"""Adadelta: steps scaled by running averages of squared gradients and squared updates."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), in Keras 3's form.

    ``Eg = rho * Eg + (1 - rho) * g²``; ``d = -sqrt(Ed + epsilon) * g / sqrt(Eg + epsilon)``;
    ``Ed = rho * Ed + (1 - rho) * d²``; ``w += lr * d``. The paper has no learning rate
    (standalone Keras 2.2 defaulted to 1.0); tf.keras and Keras 3 use 0.001.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    rho : float, default 0.95
    epsilon : float, default 1e-7
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.ADADELTA

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
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
        check_finite(rho=rho, epsilon=epsilon)
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
        self.epsilon = epsilon

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("accumulated_grad", "accumulated_delta_var"),)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"rho": float(self.rho), "epsilon": float(self.epsilon)}

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.adadelta_update(
            w,
            g,
            slots["accumulated_grad"],
            slots["accumulated_delta_var"],
            lr,
            self.rho,
            self.epsilon,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
