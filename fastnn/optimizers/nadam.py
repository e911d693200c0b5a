"""Nadam: Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import LearningRate, Optimizer, OptimizerKind, check_finite


class Nadam(Optimizer):
    """Nadam (Dozat, 2016), in Keras 3's form.

    With ``mu_t = beta_1 * (1 - 0.5 * 0.96**t)`` and ``u_product`` the product of mu_1..mu_t:
    m and v as in Adam, ``m_hat = mu_{t+1} * m / (1 - u_product * mu_{t+1}) + (1 - mu_t) * g /
    (1 - u_product)``, ``v_hat = v / (1 - beta_2**t)``, ``w -= lr * m_hat / (sqrt(v_hat) +
    epsilon)``.

    ``u_product`` is state: the product through the last step applied (1.0 before the
    first). The engine passes it to the step kernel, which returns the next value, and writes
    the final one back here.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.001
    beta_1, beta_2 : float, default 0.9, 0.999
    epsilon : float, default 1e-7
    **others
        See :class:`~fastnn.optimizers.Optimizer`.
    """

    kind = OptimizerKind.NADAM

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
        self.u_product = 1.0
        self._next_u_product = 1.0

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("momentum", "velocity"),)

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "beta_1": float(self.beta_1),
            "beta_2": float(self.beta_2),
            "epsilon": float(self.epsilon),
        }

    def _begin_step(self) -> None:
        self._next_u_product = self.u_product

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        self._next_u_product = _optimizers.nadam_update(
            w,
            g,
            slots["momentum"],
            slots["velocity"],
            lr,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            t,
            self.u_product,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def _end_step(self) -> None:
        self.u_product = self._next_u_product

    def _extra_variables(self) -> list[np.ndarray]:
        dtype = self._variables[0].dtype if self._variables else np.float32
        return [np.array(self.u_product, dtype=dtype)]

    def _set_extra_variables(self, values: list[np.ndarray]) -> None:
        self.u_product = float(np.asarray(values[0]))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
