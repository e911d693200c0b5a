"""Model: what Sequential, functional and subclassed models share (Keras 3's ``keras.Model``).

``Model(inputs, outputs)`` makes a functional model (fastnn/models/functional.py). A subclass
that sets layers in ``__init__`` and composes them in ``call`` is traced: ``call`` runs once
on symbolic inputs of the data's shape, and the graph it leaves is what the engine runs.
Every model is also a layer, so models nest; the engine inlines a nested model's graph.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from fastnn import _graph
from fastnn import config as _config
from fastnn import dtype_policies as _dtype_policies
from fastnn._plan import Plan
from fastnn.layers.base import Layer, unique_name
from fastnn.models import data as _data
from fastnn.models.io_mixin import ModelIOMixin
from fastnn.models.trainer import Trainer

_PLAN_LOCK = threading.RLock()     # plans are built rarely: one lock for every model


class Model(ModelIOMixin, Trainer, Layer):
    """A model: layers, weights, compile/fit/evaluate/predict, files.

    ``Model(inputs, outputs, name=None, trainable=True)`` builds a functional model from
    symbolic tensors; ``class MyModel(Model)`` with a ``call(inputs, training=None)`` method
    defines a subclassed one.
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from fastnn.models.functional import Functional

            return object.__new__(Functional)
        return object.__new__(cls)

    def __init__(self, *args, name=None, trainable=True, **kwargs):
        if args or kwargs:
            raise ValueError(f"Unrecognized arguments for a subclassed Model: "
                             f"{list(args) + sorted(kwargs)}.")
        self._model_init(name or unique_name(_snake(type(self).__name__)), trainable)
        self._traced = None

    def _model_init(self, name: str, trainable: bool) -> None:
        object.__setattr__(self, "_tracked", [])
        self.name = name
        self.trainable = bool(trainable)
        self._policy = _dtype_policies.creation_policy(None)   # the global one, as Keras
        self.activity_regularizer = None
        self.input_shape_built = None
        self._inbound_nodes = []
        self._plan: Plan | None = None
        self._built_from_data = False
        self._init_trainer()

    def __setattr__(self, key, value):
        # Layers set as attributes (a subclassed model's __init__) are its layers, in order.
        if isinstance(value, Layer) and not key.startswith("_") \
                and value not in self.__dict__.get("_tracked", []):
            self.__dict__.setdefault("_tracked", []).append(value)
        object.__setattr__(self, key, value)

    # ---- what a model is made of -----------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return list(self.__dict__.get("_tracked", []))

    def _weight_layers(self) -> list[Layer]:
        return self.layers

    @property
    def weights(self) -> list:
        """Every layer's weights, layer by layer (Keras's order); a shared layer's once."""
        return _unique([w for layer in self._weight_layers() for w in layer.weights])

    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return _unique([w for layer in self._weight_layers() for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return _unique([w for layer in self._weight_layers()
                        for w in layer.non_trainable_weights])

    @property
    def variables(self) -> list:
        return self.weights

    @property
    def _weights(self) -> list:
        return []     # a model's own variables (none): its layers hold them

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

    def get_layer(self, name=None, index=None) -> Layer:
        """A layer by name or by index in ``layers``."""
        if index is not None:
            if name is not None:
                raise ValueError("Provide only a layer name or a layer index. Received: "
                                 f"index={index}, name={name}.")
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model "
                                 f"only has {len(self.layers)} layers.")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in self.layers]}.")

    @property
    def dtype(self) -> str:
        for layer in self._weight_layers():
            if getattr(layer, "weights", None):
                return layer.dtype
        return _config.floatx()

    def __call__(self, inputs, training=None, **kwargs):
        """On symbolic tensors: a node of the calling graph (the model as a layer). On
        arrays: ``predict`` (a training-mode pass with ``training=True``)."""
        if kwargs or (type(inputs) is not np.ndarray and _graph.is_symbolic(inputs)):
            return Layer.__call__(self, inputs, training=training, **kwargs)
        if training or (training is None and self._has_training_arguments()):
            from fastnn._plan import run_eagerly

            return run_eagerly(self, inputs, training=training)
        return self.predict(inputs)

    def _has_training_arguments(self) -> bool:
        graph = self.__dict__.get("_traced")
        return graph is not None and graph is not self and graph._has_training_arguments()

    # ---- int8 quantization (Keras 3's model.quantize) --------------------------------------

    def quantize(self, mode=None, config=None, filters=None, **kwargs) -> None:
        """Quantize every Dense layer (that ``filters`` selects: a regex on the layer name,
        a list of them, or a callable) to Keras's int8 form; the model then predicts with
        the int8 kernel and can no longer be trained."""
        from fastnn.layers.quantized import check_mode, int8_layers

        type_check = kwargs.pop("type_check", True)
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments passed to "
                             f"{type(self).__name__}: {kwargs}")
        check_mode(mode)
        if filters is not None and not isinstance(filters, (str, list, tuple)) \
                and not callable(filters):
            raise ValueError("The `filters` argument must be a regex string, a list of regex "
                             f"strings, or a callable. Received: {type(filters)}")
        if not self.built:
            raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer "
                             f"'{self.name}' (of type '{type(self).__name__}') is not built "
                             "yet.")
        for layer, owners in int8_layers(self, filters):
            layer.quantize(mode, type_check=type_check, config=config)
            for owner in owners:
                owner._invalidate_plan()

    # ---- the plan ------------------------------------------------------------------------

    def _invalidate_plan(self) -> None:
        self._plan = None
        self._training_ready = False

    def _ensure_plan(self) -> Plan:
        plan = self._plan
        if plan is not None and plan.current():
            return plan
        # One plan per model even when threads ask at once (a predict racing the start of a
        # fit would otherwise replace the plan fit has just given its losses).
        with _PLAN_LOCK:
            if self._plan is None or not self._plan.current():
                if not self.built:
                    self.build()
                self._plan = Plan(self, self.dtype)
                self._training_ready = False
            return self._plan

    # ---- subclassed models: traced once the input shape is known ---------------------------

    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model '{self.name}' has no `call` method: a subclass of fastnn.Model must "
            "define `call(self, inputs, training=None)`, or build the model with "
            "`fastnn.Model(inputs, outputs)`.")

    @property
    def built(self) -> bool:
        return self.__dict__.get("_traced") is not None

    @built.setter
    def built(self, value) -> None:   # Layer.__init__ and _maybe_build assign it
        pass

    def build(self, input_shape=None) -> None:
        """Trace ``call`` on symbolic inputs of ``input_shape`` (batch axis first)."""
        from fastnn.models.functional import trace

        if input_shape is None:
            if self.built:
                return
            raise ValueError(f"Model '{self.name}' cannot be built without an input shape: "
                             "call it on data, or use `model.build(input_shape)`.")
        self._traced, self._traced_training = trace(self, input_shape)
        self._invalidate_plan()

    def _input_shapes(self) -> list[tuple]:
        return self._traced._input_shapes()

    def _emit(self, builder, inputs):
        training_graph = self.__dict__.get("_traced_training")
        if training_graph is None:
            return self._traced._emit(builder, inputs)
        mode = builder.graph_mode()
        if mode is None:
            from fastnn._plan import NeedsModes

            raise NeedsModes(self.name)
        return (training_graph if mode else self._traced)._emit(builder, inputs)

    def _unbuild_from_data(self) -> None:
        if self._built_from_data:
            self._traced = self._traced_training = None
            self._built_from_data = False
            self._invalidate_plan()

    def _infer_build(self, x) -> None:
        """Trace a subclassed model on the shape of its first data (as Keras does)."""
        arrays = x if isinstance(x, (list, tuple)) else [x]
        shapes = []
        for a in arrays:
            arr = _data.as_numeric_array(a, "x")
            if arr.ndim < 2:
                raise ValueError(f"Cannot infer the input shape of the model from `x` of "
                                 f"shape {arr.shape}; pass (n_samples, n_features) arrays.")
            shapes.append((None, *arr.shape[1:]))
        self.build(shapes if isinstance(x, (list, tuple)) else shapes[0])
        self._built_from_data = True

    def _prepare_x(self, x) -> np.ndarray:
        """x as the engine's input matrix: one array per model input, each checked and
        converted, side by side."""
        if not self.built:
            self._infer_build(x)
        plan = self._ensure_plan()
        graph = self._traced
        arrays = graph.match_inputs(x)
        prepared = [_data.prepare_x(a, t.shape[1:], plan.dtype, name)
                    for a, t, name in zip(arrays, graph._input_tensors, graph.input_names)]
        rows = {a.shape[0] for a in prepared}
        if len(rows) > 1:
            raise ValueError(f"Data cardinality is ambiguous: the inputs have "
                             f"{[a.shape[0] for a in prepared]} rows. Make sure all arrays "
                             "contain the same number of samples.")
        return plan.inputs_matrix(prepared)

    @property
    def output_names(self) -> list[str] | None:
        return self._traced.output_names if self.built else None

    def _structure_outputs(self, outs: list):
        return self._traced._structure_outputs(outs)

    @property
    def inputs(self) -> list:
        return self._traced.inputs if self.built else None

    @property
    def outputs(self) -> list:
        return self._traced.outputs if self.built else None

    def compute_output_shape(self, input_shape):
        if not self.built:
            self.build(input_shape)
        return self._traced.compute_output_shape(input_shape)

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            self.build(input_shape)

    @property
    def _input_shape_arg(self):
        return None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A functional model from its config (``Model.from_config(model.get_config())``),
        or a subclass from its constructor's arguments."""
        if isinstance(config, dict) and "input_layers" in config:
            from fastnn.saving.functional_config import functional_from_config

            return functional_from_config(config, custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _unique(items: list) -> list:
    seen: set[int] = set()
    return [w for w in items if not (id(w) in seen or seen.add(id(w)))]


def _snake(name: str) -> str:
    from fastnn.layers.base import snake_case

    return snake_case(name)
