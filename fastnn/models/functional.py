"""Functional models: ``Model(inputs, outputs)`` over a graph of layer calls (Keras 3's
``Functional``), and the tracing that turns a subclassed model's ``call`` into one."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import _graph
from fastnn.layers.base import unique_name
from fastnn.models.model import Model


class Functional(Model):
    """A model whose layers form a directed acyclic graph from ``inputs`` to ``outputs``.

    Parameters
    ----------
    inputs : KerasTensor, list or dict of KerasTensor
        Tensors returned by ``fastnn.Input``.
    outputs : KerasTensor, list or dict of KerasTensor
        Tensors computed from the inputs by layer calls.
    name : str, optional
        ``functional``, ``functional_1``, ... by default.

    Examples
    --------
    >>> import fastnn as keras
    >>> inputs = keras.Input(shape=(8,))
    >>> x = keras.layers.Dense(16, activation="relu")(inputs)
    >>> outputs = keras.layers.Dense(1)(keras.layers.concatenate([x, inputs]))
    >>> model = keras.Model(inputs, outputs)
    """

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments for Model: {sorted(kwargs)}")
        ins, self_in_kind, in_keys = _graph.flatten_structure(inputs, "inputs")
        outs, out_kind, out_keys = _graph.flatten_structure(outputs, "outputs")
        for t in ins:
            if t._input_layer is None:
                raise ValueError(
                    f"Every entry of `inputs` must be a tensor made by `Input`; "
                    f"received {t!r}, the output of layer '{t._node.layer.name}'.")
        nodes, layers = _graph.map_graph(ins, outs)   # raises before anything changes
        self._model_init(name or unique_name("functional"), trainable)
        self._input_tensors, self._output_tensors = ins, outs
        self._in_kind, self._in_keys = self_in_kind, in_keys
        self._out_kind, self._out_keys = out_kind, out_keys
        self._nodes, self._layers = nodes, layers
        self._traced = self
        self._traced_call = False      # a subclassed call's graph: its arguments always count

    def _has_training_arguments(self) -> bool:
        """Whether a node of the graph (or of a nested one) passes ``training=``, which
        only a ``model(x)`` call without ``training`` honours (Keras 3)."""
        return any(n.kwargs.get("training") is not None
                   or getattr(n.layer, "_has_training_arguments", lambda: False)()
                   for n in self._nodes)

    # ---- structure -----------------------------------------------------------------------

    @property
    def layers(self) -> list:
        """Every layer of the graph, InputLayers included, in Keras's order."""
        return list(self._layers)

    def _weight_layers(self) -> list:
        return self._layers

    @property
    def inputs(self) -> list:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list:
        return list(self._output_tensors)

    @property
    def input_names(self) -> list[str]:
        if self._in_keys is not None:
            return list(self._in_keys)
        return [t._node.layer.name for t in self._input_tensors]

    @property
    def output_names(self) -> list[str]:
        """The names the outputs' losses and metrics are logged under (Keras 3)."""
        if self._out_keys is not None:
            return list(self._out_keys)
        return [t._keras_history[0].name for t in self._output_tensors]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._input_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._output_tensors]
        return shapes[0] if len(shapes) == 1 else shapes

    def _input_shapes(self) -> list[tuple]:
        return [t.shape[1:] for t in self._input_tensors]

    def _emit(self, builder, inputs):
        """Walk the graph, inlining nested models; returns the outputs' values."""
        values = {id(t): v for t, v in zip(self._input_tensors, inputs)}
        for node in self._nodes:
            training = node.kwargs.get("training") \
                if builder.honour_kwargs or self._traced_call else None
            outs = builder.call(node.layer, [values[id(t)] for t in node.inputs],
                                node.as_list, training)
            for t, v in zip(node.outputs, outs):
                values[id(t)] = v
        return [values[id(t)] for t in self._output_tensors]

    def compute_output_shape(self, input_shape):
        shapes_in = input_shape if len(self._input_tensors) > 1 else [input_shape]
        shapes = {id(t): tuple(s) for t, s in zip(self._input_tensors, shapes_in)}
        for node in self._nodes:
            ins = [shapes[id(t)] for t in node.inputs]
            out = node.layer.compute_output_shape(ins if node.as_list else ins[0])
            for t, s in zip(node.outputs, out if isinstance(out, list) else [out]):
                shapes[id(t)] = tuple(s)
        outs = [shapes[id(t)] for t in self._output_tensors]
        return outs[0] if len(outs) == 1 else outs

    def build(self, input_shape=None) -> None:
        pass    # built by construction

    # ---- data in and out ---------------------------------------------------------------

    def match_inputs(self, x) -> list:
        """x as one array per model input, from a single array, a list or a dict by name."""
        return _match(x, self.input_names, len(self._input_tensors), "input", self.name)

    def match_outputs(self, y, what: str = "y") -> list:
        """y (or sample weights) as one entry per output."""
        return _match(y, self.output_names, len(self._output_tensors), "output", self.name,
                      what)

    def _structure_outputs(self, outs: list):
        if self._out_kind == "dict":
            return dict(zip(self._out_keys, outs))
        # Keras unpacks a list of one output too: Model(x, [y]).predict gives an array.
        if self._out_kind == "single" or len(outs) == 1 and self._out_kind != "dict":
            return outs[0]
        return list(outs)

    # ---- config --------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        from fastnn.saving.functional_config import functional_config

        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from fastnn.saving.functional_config import functional_from_config

        return functional_from_config(config, custom_objects)

    def _unbuild_from_data(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<Functional name={self.name}, built=True>"


def _match(value, names: list[str], count: int, kind: str, model: str, what: str = "x"):
    if count > 1 and _is_data_frame(value):
        # A DataFrame for named inputs: one column per input, found by the input's name.
        missing = [n for n in names if n not in value.columns]
        if missing:
            raise ValueError(
                f"Missing data for {kind} \"{missing[0]}\". You passed a DataFrame with "
                f"columns {[str(c) for c in value.columns]}. Expected a column for each of "
                f"the model's {kind}s: {names}")
        return [value[n] for n in names]
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        if missing:
            raise ValueError(
                f"Missing data for {kind} \"{missing[0]}\". You passed a data dictionary "
                f"with keys {sorted(value)}. Expected the following keys: {names}")
        extra = sorted(set(value) - set(names))
        if extra:
            raise ValueError(f"`{what}` has keys {extra} that name no {kind} of model "
                             f"'{model}'; its {kind}s are {names}.")
        return [value[n] for n in names]
    if isinstance(value, (list, tuple)) and count > 1:
        if len(value) != count:
            raise ValueError(
                f"Model '{model}' expects {count} {kind}(s) ({names}), but `{what}` holds "
                f"{len(value)} arrays. Pass a list of {count} arrays or a dict keyed by "
                f"{kind} name.")
        return list(value)
    if count > 1:
        raise ValueError(
            f"Layer \"{model}\" expects {count} named {kind}(s) with keys {names}, but it "
            f"received 1 input tensors. Pass {kind}s as a list or a dict, e.g. "
            f"`{{{', '.join(repr(n) + ': ...' for n in names)}}}`.")
    if isinstance(value, (list, tuple)) and len(value) == 1 \
            and not np.isscalar(value[0]) and np.ndim(value[0]) >= 1 \
            and isinstance(value[0], np.ndarray):
        return [value[0]]
    return [value]


def trace(model, input_shape) -> tuple[Functional, Functional | None]:
    """The graphs of a subclassed model's ``call`` on symbolic inputs of ``input_shape``:
    (inference graph, training graph or None when one graph serves both).

    ``call`` runs twice, with ``training=False`` and ``training=True``. When both runs call
    the same layers the same way, ``training`` only reached the layers (``self.dropout(x,
    training=training)``), which switch by themselves in the engine: one graph. Python
    branching on ``training`` that changes which layers run gives two graphs, planned as
    two engines over one set of weights.
    """
    multi = isinstance(input_shape, list) and input_shape \
        and isinstance(input_shape[0], (list, tuple))
    shapes = input_shape if multi else [input_shape]
    graphs = []
    for training in (False, True):
        tensors = [_graph.input_tensor(tuple(s)[1:], model.dtype) for s in shapes]
        arg = tensors if multi else tensors[0]
        try:
            outputs = model.call(arg, training=training)
        except TypeError as e:
            if "training" not in str(e):
                raise
            outputs = model.call(arg)
        if not _graph.is_symbolic(outputs) and not isinstance(outputs, dict):
            raise ValueError(
                f"Model '{model.name}'.call returned {type(outputs).__name__}; fastnn traces "
                "`call` on symbolic inputs, so it must return the result of layer calls.")
        graphs.append(Functional(arg, outputs, name=model.name))
    inference, training_graph = graphs
    inference._traced_call = training_graph._traced_call = True
    if _signature(inference) != _signature(training_graph):
        return inference, training_graph
    for a, b in zip(inference._nodes, training_graph._nodes):
        if (a.kwargs.get("training"), b.kwargs.get("training")) == (False, True):
            del a.kwargs["training"]      # the call's own mode, passed on
            del b.kwargs["training"]
    if any(_training_kwarg(a) != _training_kwarg(b)
           for a, b in zip(inference._nodes, training_graph._nodes)):
        return inference, training_graph
    return inference, None


def _training_kwarg(node):
    return node.kwargs.get("training")


def _signature(model: Functional) -> list:
    """What a graph computes, independent of its own Input tensors: each node's layer (or
    input position), how it is called, and which node outputs it reads."""
    index = {id(n): k for k, n in enumerate(model._nodes)}
    inputs = {id(t._node): k for k, t in enumerate(model._input_tensors)}

    def source(t):
        node = id(t._node)
        return ("input", inputs[node]) if node in inputs else (index[node], t._index)

    sig = [(("input", inputs[id(n)]) if id(n) in inputs else id(n.layer), n.as_list,
            tuple(source(t) for t in n.inputs)) for n in model._nodes]
    return sig + [tuple(source(t) for t in model._output_tensors)]


def _is_data_frame(value) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "columns")
