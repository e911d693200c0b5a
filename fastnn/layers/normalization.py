"""BatchNormalization and LayerNormalization over the last axis (Keras 3 semantics)."""

from __future__ import annotations

from typing import Any

from fastnn import constraints as _constraints
from fastnn import initializers as _initializers
from fastnn import regularizers as _regularizers
from fastnn.layers.base import Layer


def _check_axis(axis, cls: str) -> None:
    if axis not in (-1, 1, [-1], [1], (-1,), (1,)):
        raise ValueError(f"fastnn's {cls} normalizes the last axis of 2-D inputs only "
                         f"(axis=-1); got axis={axis!r}.")


class _Normalization(Layer):
    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint,
                 **kwargs):
        _check_axis(axis, type(self).__name__)
        super().__init__(**kwargs)
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)
        self.beta_regularizer = _regularizers.get(beta_regularizer)
        self.gamma_regularizer = _regularizers.get(gamma_regularizer)
        self.beta_constraint = _constraints.get(beta_constraint)
        self.gamma_constraint = _constraints.get(gamma_constraint)

    def _build_affine(self, n: int) -> None:
        self.gamma = (self.add_weight((n,), self.gamma_initializer, "gamma",
                                      self.gamma_regularizer, self.gamma_constraint)
                      if self.scale else None)
        self.beta = (self.add_weight((n,), self.beta_initializer, "beta",
                                     self.beta_regularizer, self.beta_constraint)
                     if self.center else None)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
            "scale": self.scale,
            "beta_initializer": _initializers.serialize(self.beta_initializer),
            "gamma_initializer": _initializers.serialize(self.gamma_initializer),
            "beta_regularizer": _regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": _regularizers.serialize(self.gamma_regularizer),
            "beta_constraint": _constraints.serialize(self.beta_constraint),
            "gamma_constraint": _constraints.serialize(self.gamma_constraint),
        }


class BatchNormalization(_Normalization):
    """Normalize with the batch's mean and biased variance in training, the moving ones in
    inference; ``moving = moving·momentum + batch·(1 − momentum)`` (Ioffe & Szegedy, 2015)."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        if kwargs.pop("renorm", False):
            raise ValueError("fastnn's BatchNormalization does not support renorm.")
        kwargs.pop("renorm_clipping", None)
        kwargs.pop("renorm_momentum", None)
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)
        self.momentum = float(momentum)
        self.synchronized = synchronized
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)

    def build(self, input_shape) -> None:
        n = input_shape[-1]
        self._build_affine(n)
        self.moving_mean = self.add_weight((n,), self.moving_mean_initializer, "moving_mean",
                                           trainable=False)
        self.moving_variance = self.add_weight((n,), self.moving_variance_initializer,
                                               "moving_variance", trainable=False)
        self.built = True

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "batch_norm", "n_out": width, "gamma": self.gamma, "beta": self.beta,
                 "moving_mean": self.moving_mean, "moving_variance": self.moving_variance,
                 "epsilon": self.epsilon, "momentum": self.momentum,
                 "batch_stats": self.trainable}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    _initializers.serialize(self.moving_variance_initializer),
                "synchronized": self.synchronized}


class LayerNormalization(_Normalization):
    """Normalize each sample over its features: ``γ·(x − mean)/sqrt(var + ε) + β``
    (Ba et al., 2016); the same in training and inference."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         beta_regularizer, gamma_regularizer, beta_constraint,
                         gamma_constraint, **kwargs)

    def build(self, input_shape) -> None:
        self._build_affine(input_shape[-1])
        self.built = True

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "layer_norm", "n_out": width, "gamma": self.gamma, "beta": self.beta,
                 "epsilon": self.epsilon}]
