"""Adam and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), in Keras 3's form.

    ``m += (g - m)(1 - beta_1)``, ``v += (g² - v)(1 - beta_2)``, and
    ``w -= alpha * m / (sqrt(v) + epsilon)`` with ``alpha = lr * sqrt(1 - beta_2**t) /
    (1 - beta_1**t)``: epsilon sits outside the square root and is not bias-corrected. With
    ``amsgrad`` (Reddi et al., 2018) v is replaced by its running maximum.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    amsgrad : bool, default False
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.ADAM

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        self.amsgrad = amsgrad

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        pairs = ("momentum", "velocity")
        return (pairs, ("velocity_hat",)) if self.amsgrad else (pairs,)

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "epsilon": float(self.epsilon),
            "amsgrad": bool(self.amsgrad),
        }

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.adam_update(
            w,
            g,
            slots["momentum"],
            slots["velocity"],
            slots.get("velocity_hat"),
            lr,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            t,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): ``w -= w * weight_decay *
    lr`` before each Adam step. Keras 3's argument order: ``weight_decay`` comes second.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    weight_decay : float, default 0.004
        Must not be None.
    beta_1, beta_2, epsilon, amsgrad
        As :class:`Adam`.
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    def __init__(
        self,
        learning_rate: LearningRate = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
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
