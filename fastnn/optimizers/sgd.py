"""Stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from typing import Any

from fastnn._kernels import _optimizers
from fastnn.optimizers.base import (
    LearningRate,
    Optimizer,
    OptimizerKind,
    _is_real,
    check_finite,
)


class SGD(Optimizer):
    """Gradient descent with optional momentum (Keras 3's ``SGD``).

    Without momentum ``w -= lr * g``. With momentum ``m = momentum * m - lr * g`` and
    ``w += m``, or with Nesterov ``w += momentum * m - lr * g`` (the new m).

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable, default 0.01
    momentum : float, default 0.0
        In [0, 1] (Keras 3 also demands a float; ints 0 and 1 are accepted here).
    nesterov : bool, default False
    **others
        See :class:`~fastnn.optimizers.Optimizer`.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -2.0], dtype=np.float32)
    >>> SGD(0.1).apply([np.array([0.5, -0.1])], [w])
    >>> w
    array([ 0.95, -1.99], dtype=float32)
    """

    kind = OptimizerKind.SGD

    def __init__(
        self,
        learning_rate: LearningRate = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
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
        if not _is_real(momentum) or not 0 <= momentum <= 1:
            raise ValueError("`momentum` must be a float between [0, 1].")
        check_finite(momentum=momentum)
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
        self.momentum = momentum
        self.nesterov = nesterov

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        return (("momentum",),) if self.momentum != 0 else ()

    def _hyperparameters(self) -> dict[str, Any]:
        return {"momentum": float(self.momentum), "nesterov": bool(self.nesterov)}

    def _update(self, w, g, slots, lr, t, weight_decay, grad_scale, clip_value, n_threads):
        _optimizers.sgd_update(
            w,
            g,
            slots.get("momentum"),
            lr,
            self.momentum,
            self.nesterov,
            weight_decay,
            grad_scale,
            clip_value,
            n_threads,
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
