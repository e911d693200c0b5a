"""Activation layers with parameters: ReLU, LeakyReLU, PReLU, ELU, Softmax."""

from __future__ import annotations

import math
import warnings
from typing import Any

from fastnn import constraints as _constraints
from fastnn import initializers as _initializers
from fastnn import regularizers as _regularizers
from fastnn._kernels._activations import ACTIVATIONS
from fastnn.activations import ActivationSpec
from fastnn.layers.base import Layer


class _ActivationLayer(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def _spec(self) -> ActivationSpec:
        raise NotImplementedError

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "activation", "n_out": width, "activation": self._spec()}]


class ReLU(_ActivationLayer):
    """``min(max_value, x)`` for x ≥ threshold, ``negative_slope·(x − threshold)`` below."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        for name, value in (("max_value", max_value), ("negative_slope", negative_slope),
                            ("threshold", threshold)):
            if value is not None and value < 0:
                raise ValueError(f"{name} of a ReLU layer cannot be a negative value. "
                                 f"Received: {name}={value}")
        super().__init__(**kwargs)
        self.max_value = max_value
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def _spec(self) -> ActivationSpec:
        return ActivationSpec(ACTIVATIONS["relu"], negative_slope=self.negative_slope,
                              max_value=math.inf if self.max_value is None
                              else float(self.max_value),
                              threshold=self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(_ActivationLayer):
    """``x`` for x > 0, ``negative_slope·x`` below (the layer's default slope is 0.3)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          UserWarning, stacklevel=2)
            negative_slope = kwargs.pop("alpha")
        if negative_slope is None or negative_slope < 0:
            raise ValueError("The negative_slope value of a Leaky ReLU layer cannot be None "
                             f"or negative. Received: negative_slope={negative_slope}")
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)

    def _spec(self) -> ActivationSpec:
        return ActivationSpec(ACTIVATIONS["leaky_relu"], negative_slope=self.negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "negative_slope": self.negative_slope}


class ELU(_ActivationLayer):
    """``x`` for x > 0, ``alpha·(exp(x) − 1)`` below."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _spec(self) -> ActivationSpec:
        return ActivationSpec(ACTIVATIONS["elu"], alpha=self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(_ActivationLayer):
    """Softmax over the last axis."""

    def __init__(self, axis=-1, **kwargs):
        if axis not in (-1, 1):
            raise ValueError(f"fastnn's Softmax works on the last axis (axis=-1); got {axis}.")
        super().__init__(**kwargs)
        self.axis = axis

    def _spec(self) -> ActivationSpec:
        return ActivationSpec(ACTIVATIONS["softmax"])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """``x`` for x > 0, ``alpha·x`` below, with a learned ``alpha`` per feature."""

    def __init__(self, alpha_initializer="Zeros", alpha_regularizer=None, alpha_constraint=None,
                 shared_axes=None, **kwargs):
        if shared_axes is not None:
            raise ValueError("fastnn's PReLU learns one alpha per feature of 2-D inputs "
                             "(shared_axes must be None).")
        super().__init__(**kwargs)
        self.alpha_initializer = _initializers.get(alpha_initializer)
        self.alpha_regularizer = _regularizers.get(alpha_regularizer)
        self.alpha_constraint = _constraints.get(alpha_constraint)
        self.shared_axes = shared_axes

    def build(self, input_shape) -> None:
        self.alpha = self.add_weight(tuple(input_shape[1:]), self.alpha_initializer, "alpha",
                                     self.alpha_regularizer, self.alpha_constraint)
        self.built = True

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "prelu", "n_out": width, "alpha": self.alpha}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "alpha_initializer": _initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": _regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": _constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes}
