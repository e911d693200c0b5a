"""Sequential: a stack of layers, built from the input shape and compiled into an engine plan."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import config as _config
from fastnn import dtype_policies as _dtype_policies
from fastnn._graph import KerasTensor
from fastnn.layers.base import Layer, unique_name
from fastnn.layers.core import InputLayer
from fastnn.models import data as _data
from fastnn.models.model import Model


class Sequential(Model):
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
        self._model_init(name or unique_name("sequential"), trainable)
        self._input_layer: InputLayer | None = None
        self._layers: list[Layer] = []
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._input_layer is not None and self._layers:
            self.build()

    # ---- the stack ---------------------------------------------------------------------

    def add(self, layer, rebuild=True) -> None:
        """Append a layer (or an ``Input``); builds the model once its input shape is known."""
        self._require_not_training("add a layer to", "add")
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
        self._require_not_training("remove a layer from", "pop")
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        self._invalidate_plan()
        return layer

    @property
    def layers(self) -> list[Layer]:
        """The layers, without the InputLayer (as Keras)."""
        return list(self._layers)

    # ---- shapes ------------------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._input_layer is not None and all(layer.built for layer in self._layers)

    @built.setter
    def built(self, value) -> None:
        pass

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
        return [self._input_layer.output]

    @property
    def outputs(self) -> list:
        if self._input_layer is None:
            raise AttributeError(f"Sequential model '{self.name}' has no defined outputs yet.")
        return [self.output_shape]

    # ---- the graph: a chain ---------------------------------------------------------

    def _front(self) -> list[Layer]:
        """The leading layers that map string inputs (``Input(dtype="string")``) in NumPy
        before the engine runs the rest (StringLookup, then any other lookups)."""
        if self._input_layer is None or self._input_layer._input_dtype != "string":
            return []
        front = []
        for layer in self._layers:
            if not hasattr(layer, "_transform"):
                break
            front.append(layer)
        if not front:
            raise ValueError(
                f"Sequential model '{self.name}' takes string inputs, but its first layer "
                f"'{self._layers[0].name if self._layers else '?'}' does not map strings to "
                "numbers; start it with a StringLookup layer.")
        return front

    def _input_shapes(self) -> list[tuple]:
        shape = self._input_layer.batch_shape
        for layer in self._front():
            shape = layer.compute_output_shape(shape)
        return [tuple(shape[1:])]

    def _emit(self, builder, inputs):
        value = inputs[0]
        for layer in self._layers[len(self._front()):]:
            value = builder.call(layer, [value], False)[0]
        return [value]

    def compute_output_shape(self, input_shape) -> tuple:
        if not self.built:
            self.build(tuple(input_shape))
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return tuple(shape)

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            self.build(tuple(input_shape))

    @property
    def output_names(self) -> list[str]:
        return [self._layers[-1].name] if self._layers else [self.name]

    def _structure_outputs(self, outs: list):
        return outs[0]

    @property
    def _input_shape_arg(self):
        return tuple(self._input_layer.shape) if self._input_layer is not None else None

    @property
    def dtype(self) -> str:
        return self._layers[0].dtype if self._layers else _config.floatx()

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
            xs = _data.prepare_x(arr, shape, np.dtype(self.dtype), first)
            self.build((None, *shape))
            self._built_from_data = True
            self._ensure_plan()
            return xs
        plan = self._ensure_plan()
        if self._input_layer._input_dtype != "string":      # (the hot path of predict)
            return _data.prepare_x(x, tuple(self._input_layer.shape), plan.dtype, first)
        front = self._front()
        return _data.prepare_x(self._map_strings(x, front), self._input_shapes()[0],
                               plan.dtype, self._layers[len(front)].name)

    def _map_strings(self, x, front: list[Layer]) -> np.ndarray:
        """String inputs through the leading lookup layers, in NumPy."""
        from fastnn.layers.preprocessing._base import _as_array

        arr = _as_array(x, "x")
        expected = tuple(self._input_layer.shape)
        if arr.ndim == len(expected) and arr.ndim >= 1:
            arr = arr[:, None] if expected == (1,) else arr     # a 1-D column of strings
        if tuple(arr.shape[1:]) != expected:
            raise ValueError(f"Model '{self.name}' expects inputs of shape "
                             f"{self._input_layer.batch_shape}; received shape {arr.shape}.")
        for layer in front:
            arr = layer._transform(arr)
        return arr

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

    def get_config(self) -> dict[str, Any]:
        from fastnn import layers as _layers
        from fastnn.saving.model_config import serialize_model

        items = []
        if self._input_layer is not None:
            items.append(_layers.serialize(self._input_layer))
        items += [serialize_model(layer, include_compile=False) if hasattr(layer, "_emit")
                  else _layers.serialize(layer) for layer in self._layers]
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": _dtype_policies.serialize(self.dtype_policy),
                                  "layers": items}
        if self._input_layer is not None:
            config["build_input_shape"] = self._input_layer.batch_shape
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None) -> Sequential:
        from fastnn.saving.model_config import layer_from_config

        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for item in config.get("layers", []):
            model.add(layer_from_config(item, custom_objects), rebuild=False)
        if model._input_layer is not None and model._layers:
            model.build()
        return model

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, built={self.built}>"
