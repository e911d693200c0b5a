"""Adagrad: per-parameter rates scaled by the accumulated squared gradients."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), in Keras 3's form.

    ``acc += g²``; ``w -= lr * g / sqrt(acc + epsilon)``, with ``acc`` starting at
    ``initial_accumulator_value``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    initial_accumulator_value : float, default 0.1
    epsilon : float, default 1e-7
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.ADAGRAD

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        initial_accumulator_value: float = 0.1,
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
        check_finite(initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)
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
        self.initial_accumulator_value = initial_accumulator_value
        self.epsilon = epsilon

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("accumulator",),)

    def _slot_initial_value(self, name: str) -> float:
        return float(self.initial_accumulator_value)

    def _hyperparameters(self) -> dict[str, Any]:
        return {"epsilon": float(self.epsilon)}

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.adagrad_update(
            w,
            g,
            slots["accumulator"],
            lr,
            self.epsilon,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
