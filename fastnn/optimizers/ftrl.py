"""Ftrl: follow the regularized leader, with L1, L2 and L2-shrinkage regularization."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013, "Ad Click Prediction: a View from the Trenches"),
    in Keras 3's form, per element with ``p = learning_rate_power``::

        g2 = g + 2 * l2_shrinkage * w
        acc_new = acc + g**2
        linear += g2 - (acc_new**-p - acc**-p) / lr * w
        quadratic = acc_new**-p / lr + 2 * (l2 + beta / (2 * lr))
        w = (clip(linear, -l1, l1) - linear) / quadratic
        acc = acc_new

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    learning_rate_power : float, default -0.5
        <= 0; 0 is a fixed learning rate.
    initial_accumulator_value : float, default 0.1
        >= 0: where each accumulator starts.
    l1_regularization_strength, l2_regularization_strength : float, default 0.0
        >= 0.
    l2_shrinkage_regularization_strength : float, default 0.0
        >= 0: an L2 penalty on the gradient only (magnitude shrinkage).
    beta : float, default 0.0
        Added to the L2 term as ``beta / (2 * lr)``.
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.FTRL

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
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
        check_finite(learning_rate_power=learning_rate_power,
                     initial_accumulator_value=initial_accumulator_value,
                     l1_regularization_strength=l1_regularization_strength,
                     l2_regularization_strength=l2_regularization_strength,
                     l2_shrinkage_regularization_strength=l2_shrinkage_regularization_strength,
                     beta=beta)
        for what, value in (
            ("initial_accumulator_value", initial_accumulator_value),
            ("l1_regularization_strength", l1_regularization_strength),
            ("l2_regularization_strength", l2_regularization_strength),
            ("l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength),
        ):
            if value < 0.0:
                raise ValueError(f"`{what}` needs to be positive or zero. Received: "
                                 f"{what}={value}.")
        if learning_rate_power > 0.0:
            raise ValueError("`learning_rate_power` needs to be negative or zero. Received: "
                             f"learning_rate_power={learning_rate_power}.")
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
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("accumulator", "linear"),)

    def _slot_initial_value(self, name: str) -> float:
        return float(self.initial_accumulator_value) if name == "accumulator" else 0.0

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "learning_rate_power": float(self.learning_rate_power),
            "l1": float(self.l1_regularization_strength),
            "l2": float(self.l2_regularization_strength),
            "l2_shrinkage": float(self.l2_shrinkage_regularization_strength),
            "beta": float(self.beta),
        }

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        h = self._hyperparameters()
        _optimizers.ftrl_update(
            w, g, slots["accumulator"], slots["linear"], lr, h["learning_rate_power"],
            h["l1"], h["l2"], h["l2_shrinkage"], h["beta"], weight_decay, grad_scale,
            clip_value, n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }
