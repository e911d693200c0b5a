"""Lamb: Adam's direction scaled per variable by a layer-wise trust ratio."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Lamb(Optimizer):
    """Lamb (You et al., 2020, "Large Batch Optimization for Deep Learning: Training BERT in
    76 minutes"), in Keras 3's form::

        m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
        update = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
        ratio = ||w|| / ||update|| if both norms are > 0 else 1
        w -= ratio * lr * update

    The norms are over each whole variable (a Dense kernel, a bias), so a step reads each
    variable twice; the sums run in a fixed order, giving the same bits for any thread count.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.LAMB

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
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
        check_finite(beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("momentum", "velocity"),)

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "epsilon": float(self.epsilon),
        }

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.lamb_update(
            w, g, slots["momentum"], slots["velocity"], lr, self.beta_1, self.beta_2,
            self.epsilon, t, weight_decay, grad_scale, clip_value, n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
