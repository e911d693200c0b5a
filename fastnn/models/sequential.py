"""Sequential: a stack of layers, built from the input shape and compiled into an engine plan."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import _random
from fastnn import config as _config
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn._plan import Plan
from fastnn.layers.base import Layer, unique_name
from fastnn.layers.core import InputLayer, KerasTensor
from fastnn.models import data as _data
from fastnn.models.io_mixin import ModelIOMixin
from fastnn.models.trainer import Trainer


class Sequential(ModelIOMixin, Trainer):
    """A linear stack of layers (Keras 3's ``keras.Sequential``).

    Parameters
    ----------
    layers : list of Layer or Input, optional
    trainable : bool
    name : str, optional
        ``sequential``, ``sequential_1``, ... by default.

    Examples
    --------
    >>> from fastnn import Sequential, Input
    >>> from fastnn.layers import Dense
    >>> model = Sequential([Input((4,)), Dense(8, activation="relu"), Dense(1)])
    >>> model.compile(optimizer="adam", loss="mse")
    """

    def __init__(self, layers=None, trainable=True, name=None):
        self.name = name or unique_name("sequential")
        self.trainable = trainable
        self._input_layer: InputLayer | None = None
        self._layers: list[Layer] = []
        self._plan: Plan | None = None
        self._init_trainer()
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._input_layer is not None and self._layers:
            self.build()

    # ---- the stack ---------------------------------------------------------------------

    def add(self, layer, rebuild=True) -> None:
        """Append a layer (or an ``Input``); builds the model once its input shape is known."""
        if isinstance(layer, KerasTensor):
            layer = layer._input_layer
        if not isinstance(layer, Layer):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer} (of type {type(layer)})"
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None or self._layers:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use "
                    "input shape. You cannot add a different Input layer to it."
                    if self._input_layer is not None else
                    "An InputLayer must be the first layer of a Sequential model."
                )
            self._input_layer = layer
            return
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the "
                "`name` argument to pass a unique name."
            )
        if not self._layers and self._input_layer is None \
                and layer._input_shape_arg is not None:
            self._input_layer = InputLayer(shape=layer._input_shape_arg)
        self._layers.append(layer)
        self._invalidate_plan()
        if rebuild and self._input_layer is not None:
            self.build()

    def pop(self, rebuild=True) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._invalidate_plan()
        return layer

    @property
    def layers(self) -> list[Layer]:
        """The layers, without the InputLayer (as Keras)."""
        return list(self._layers)

    def get_layer(self, name=None, index=None) -> Layer:
        if index is not None:
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self._layers]}.")

    # ---- shapes ------------------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._input_layer is not None and all(layer.built for layer in self._layers)

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch axis first)."""
        if input_shape is not None:
            shape = tuple(input_shape)[1:]
            if self._input_layer is None:
                self._input_layer = InputLayer(shape=shape)
            elif tuple(self._input_layer.shape) != shape:
                raise ValueError(f"Model '{self.name}' expects inputs of shape "
                                 f"{self._input_layer.batch_shape}; received {input_shape}.")
        if self._input_layer is None:
            raise ValueError(
                "You must provide an `input_shape` argument, or start the model with an "
                "`Input`, before building it."
            )
        shape = self._input_layer.batch_shape
        for layer in self._layers:
            if layer.built and layer.input_shape_built is not None \
                    and tuple(layer.input_shape_built[1:]) != tuple(shape[1:]):
                raise ValueError(
                    f"Layer '{layer.name}' was built for inputs of shape "
                    f"{layer.input_shape_built} and cannot take {shape}."
                )
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        self._invalidate_plan()

    @property
    def input_shape(self) -> tuple:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined input shape "
                                 "yet.")
        return self._input_layer.batch_shape

    @property
    def output_shape(self) -> tuple:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined output shape "
                                 "yet.")
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return tuple(shape)

    @property
    def inputs(self) -> list[KerasTensor]:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined inputs yet.")
        return [KerasTensor(self._input_layer)]

    @property
    def outputs(self) -> list:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        return [self.output_shape]

    # ---- the plan ----------------------------------------------------------------------

    def _invalidate_plan(self) -> None:
        self._plan = None
        self._training_ready = False

    def _ensure_plan(self) -> Plan:
        if self._plan is None:
            if not self.built:
                self.build()
            dtype = self._layers[0].dtype if self._layers else _config.floatx()
            self._plan = Plan(self._layers, tuple(self._input_layer.shape), dtype)
            self._training_ready = False
        return self._plan

    def _prepare_x(self, x) -> np.ndarray:
        first = self._layers[0].name if self._layers else self.name
        if self._input_layer is None:
            # Built lazily from the data, as Keras does, but only once x has passed every
            # check: a call that fails must not leave the model built for bad data.
            arr = _data.as_numeric_array(x, "x")
            if arr.ndim == 0:
                raise ValueError("Cannot infer the input shape of the model from a scalar `x`; "
                                 "pass an array of shape (n_samples, n_features).")
            shape = tuple(arr.shape[1:]) or (1,)
            dtype = self._layers[0].dtype if self._layers else _config.floatx()
            xs = _data.prepare_x(arr, shape, np.dtype(dtype), first)
            self.build((None, *shape))
            self._built_from_data = True
            self._ensure_plan()
            return xs
        plan = self._ensure_plan()
        return _data.prepare_x(x, tuple(self._input_layer.shape), plan.dtype, first)

    def _unbuild_from_data(self) -> None:
        """Undo a lazy build from data (used when the call that triggered it fails)."""
        if not getattr(self, "_built_from_data", False):
            return
        for layer in self._layers:
            layer.built = False
            layer._weights.clear()
            layer.input_shape_built = None
        self._input_layer = None
        self._built_from_data = False
        self._invalidate_plan()

    # ---- weights -----------------------------------------------------------------------

    @property
    def weights(self) -> list:
        """Every layer's weights, layer by layer (Keras's order)."""
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        return [w for layer in self._layers for w in layer.trainable_weights] \
            if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return [w for layer in self._layers for w in layer.non_trainable_weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign every weight; checks the count and every shape before writing any."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"You called `set_weights(weights)` on model '{self.name}' with a weight list "
                f"of length {len(weights)}, but the model was expecting {len(own)} weights: "
                f"{self._weight_order()}."
            )
        arrays = [_data.as_numeric_array(w, f"weights[{i}]") for i, w in enumerate(weights)]
        for i, (var, arr) in enumerate(zip(own, arrays)):
            if var.shape != arr.shape:
                raise ValueError(
                    f"weights[{i}] is for {var.path}, of shape {var.shape}; received an array "
                    f"of shape {arr.shape}. The order is {self._weight_order()}."
                )
            _data.check_finite(arr, f"weights[{i}] ({var.path})")
        for var, arr in zip(own, arrays):
            var.assign(arr)

    def _weight_order(self) -> str:
        return ", ".join(f"{w.path} {w.shape}" for w in self.weights)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                "You tried to call `count_params` on a model that isn't built. Build it "
                "with `model.build(input_shape)` or by calling it on data first."
            )
        return int(sum(w.value.size for w in self.weights))

    def __call__(self, inputs, training=False):
        """The model on a NumPy batch (inference unless ``training``)."""
        if training:
            return run_layers(self._layers, inputs, training=True)
        return self.predict(inputs)

    def get_config(self) -> dict[str, Any]:
        from fastnn import layers as _layers

        items = []
        if self._input_layer is not None:
            items.append(_layers.serialize(self._input_layer))
        items += [_layers.serialize(layer) for layer in self._layers]
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": _config.floatx(), "layers": items}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> Sequential:
        from fastnn import layers as _layers

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for item in config.get("layers", []):
            model.add(_layers.deserialize(item), rebuild=False)
        if model._input_layer is not None and model._layers:
            model.build()
        return model

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, built={self.built}>"


def run_layers(layers, inputs, training: bool = False) -> np.ndarray:
    """Run ``layers`` on a NumPy batch, outside any model (``layer(x)``, ``model(x, True)``).

    In training mode the noise layers draw fresh masks; BatchNormalization uses the batch's
    statistics and updates its moving ones, as Keras does for ``layer(x, training=True)``.
    """
    arr = _data.as_numeric_array(inputs, "inputs")
    if arr.ndim < 2:
        raise ValueError(f"Layers take batches of shape (n, ...); received shape {arr.shape}.")
    shape = (None, *arr.shape[1:])
    for layer in layers:
        layer._maybe_build(shape)
        shape = layer.compute_output_shape(shape)
    dtype = layers[0].dtype if layers else _config.floatx()
    plan = Plan(layers, tuple(arr.shape[1:]), dtype)
    xs = _data.prepare_x(arr, tuple(arr.shape[1:]), plan.dtype, layers[0].name)
    out = np.empty((xs.shape[0], plan.out_dim), dtype=plan.dtype)
    plan.engine.predict(xs, out, max(1, xs.shape[0]), effective_n_threads(),
                        training=training, step=_random.next_seed() if training else 0)
    return out.reshape((xs.shape[0], *shape[1:]))
