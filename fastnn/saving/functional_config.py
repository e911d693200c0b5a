"""A functional model's Keras 3 config, and the model back from it, without running code.

Keras writes every layer with the calls it takes part in (``inbound_nodes``): each call's
arguments are symbolic tensors named by ``keras_history`` = (layer name, node index, tensor
index), counting only the calls that belong to this model. Reading rebuilds the graph by
calling the layers again on the tensors those names point at, deferring a call until the
layers it reads from have made their outputs (a shared layer's second call can come later).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _model_nodes(model) -> dict[int, int]:
    """Each of the model's nodes (id) -> its index among its layer's calls in this model."""
    ours = {id(n) for n in model._nodes} | {id(t._node) for t in model._input_tensors}
    index: dict[int, int] = {}
    for layer in model.layers:
        k = 0
        for node in layer._inbound_nodes:
            if id(node) in ours:
                index[id(node)] = k
                k += 1
    return index


def _history(tensor, node_index: dict[int, int]) -> list:
    node = tensor._node
    return [node.layer.name, node_index[id(node)], tensor._index]


def _tensor_config(tensor, node_index) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(tensor.shape), "dtype": tensor.dtype,
                       "keras_history": _history(tensor, node_index)}}


def _structure(kind: str, keys, tensors, node_index):
    entries = [_history(t, node_index) for t in tensors]
    if kind == "dict":
        return dict(zip(keys, entries))
    return entries


def functional_config(model) -> dict[str, Any]:
    from fastnn import layers as _layers
    from fastnn.saving.model_config import serialize_model

    node_index = _model_nodes(model)
    ours = set(node_index)
    items = []
    for layer in model.layers:
        if hasattr(layer, "_emit"):
            item = serialize_model(layer, include_compile=False)
        else:
            item = _layers.serialize(layer)
            if not isinstance(layer, _layers.InputLayer) and layer.input_shape_built is not None:
                item["build_config"] = {"input_shape": _listed(layer.input_shape_built)}
        item["name"] = layer.name
        nodes = [n for n in layer._inbound_nodes if id(n) in ours and n.inputs]
        item["inbound_nodes"] = [
            {"args": [[_tensor_config(t, node_index) for t in n.inputs]] if n.as_list
             else [_tensor_config(n.inputs[0], node_index)],
             "kwargs": _node_kwargs_config(n)}
            for n in nodes]
        items.append(item)
    return {"name": model.name, "trainable": model.trainable, "layers": items,
            "input_layers": _structure(model._in_kind, model._in_keys, model._input_tensors,
                                       node_index),
            "output_layers": _structure(model._out_kind, model._out_keys,
                                        model._output_tensors, node_index)}


def _listed(shape):
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple)):
        return [list(s) for s in shape]
    return list(shape)


def functional_from_config(config: Mapping[str, Any], custom_objects=None):
    """A Functional model (uncompiled) from its config."""
    from fastnn import layers as _layers
    from fastnn.models.functional import Functional
    from fastnn.saving.model_config import layer_from_config

    if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
        raise ValueError("Invalid functional model config: it needs a 'layers' list.")
    made: dict[str, Any] = {}          # layer name -> layer
    outputs: dict[tuple, list] = {}    # (layer name, node index) -> output tensors
    pending = []
    for item in config["layers"]:
        if not isinstance(item, Mapping):
            raise ValueError(f"Invalid layer entry in the functional config: {item!r}.")
        layer = layer_from_config(item, custom_objects)
        name = item.get("name", getattr(layer, "name", None))
        if name in made:
            raise ValueError(f"The functional config names layer '{name}' twice.")
        made[name] = layer
        if isinstance(layer, _layers.InputLayer):
            outputs[(name, 0)] = [layer.output]
        nodes = item.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"Layer '{name}': 'inbound_nodes' must be a list.")
        pending += [(name, k, node) for k, node in enumerate(nodes)]
    while pending:
        remaining = []
        for name, k, node in pending:
            args = _node_args(node, name)
            if not all((h[0], h[1]) in outputs for h in _flat(args)):
                remaining.append((name, k, node))
                continue
            structure = _resolve(args, outputs)
            result = made[name](structure, **_node_kwargs(node, name))
            outputs[(name, k)] = result if isinstance(result, list) else [result]
        if len(remaining) == len(pending):
            name = remaining[0][0]
            raise ValueError(f"The functional config is not a graph: layer '{name}' reads "
                             "tensors that no layer makes.")
        pending = remaining
    return Functional(_resolve(_entries(config.get("input_layers")), outputs),
                      _resolve(_entries(config.get("output_layers")), outputs),
                      name=config.get("name"), trainable=config.get("trainable", True))


def _node_args(node, name: str):
    """A node's arguments as histories: a history, or a list of them (a merge call)."""
    if not isinstance(node, Mapping) or not isinstance(node.get("args"), list) \
            or len(node["args"]) != 1:
        raise ValueError(f"Layer '{name}': every inbound node needs one argument in 'args'.")
    arg = node["args"][0]
    if isinstance(arg, list):
        return [_history_of(a, name) for a in arg]
    return _history_of(arg, name)


def _node_kwargs_config(node) -> dict:
    training = node.kwargs.get("training")
    return {} if training is None else {"training": bool(training)}


def _node_kwargs(node, name: str) -> dict:
    """A node's call arguments: ``training`` (Keras writes it when the graph passed one);
    a ``mask`` of None is Keras's default. Anything else is not a dense-network call."""
    kwargs = node.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"Layer '{name}': an inbound node's 'kwargs' must be a dict; "
                         f"received {kwargs!r}.")
    out = {}
    for key, value in kwargs.items():
        if key == "training" and value in (None, True, False):
            if value is not None:
                out["training"] = bool(value)
        elif key == "mask" and value is None:
            continue
        else:
            raise ValueError(f"Layer '{name}': fastnn cannot call a layer with {key}={value!r}"
                             " (from the file's inbound node); it takes `training` only.")
    return out


def _history_of(tensor, name: str) -> tuple:
    try:
        history = tensor["config"]["keras_history"]
        layer, index, t = history
        return (str(layer), int(index), int(t))
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"Layer '{name}': an inbound node's argument is not a tensor "
                         f"reference: {tensor!r}.") from None


def _entries(value):
    """input_layers/output_layers: [name, node, tensor], a list of those, or a dict."""
    if isinstance(value, Mapping):
        return {k: _entry(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return _entry(value)
    if isinstance(value, list) and value:
        return [_entry(v) for v in value]
    raise ValueError(f"Invalid input_layers/output_layers in the functional config: {value!r}")


def _entry(v) -> tuple:
    if not isinstance(v, list) or len(v) != 3:
        raise ValueError(f"Invalid tensor reference in the functional config: {v!r}.")
    return (str(v[0]), int(v[1]), int(v[2]))


def _flat(args) -> list:
    if isinstance(args, dict):
        return list(args.values())
    return args if isinstance(args, list) else [args]


def _resolve(args, outputs):
    def one(h):
        key = (h[0], h[1])
        if key not in outputs or h[2] >= len(outputs[key]):
            raise ValueError(f"The functional config refers to tensor {list(h)}, which no "
                             "layer makes.")
        return outputs[key][h[2]]

    if isinstance(args, dict):
        return {k: one(h) for k, h in args.items()}
    if isinstance(args, list):
        return [one(h) for h in args]
    return one(args)
