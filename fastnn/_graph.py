"""The model as a graph: symbolic tensors, the nodes that layer calls leave, and their order.

Calling a layer on a ``KerasTensor`` (what ``Input`` returns) builds the layer for the
tensor's shape and records a ``Node``: the layer, the tensors it read, the tensors it made.
A functional model is the set of nodes between its inputs and outputs, which
:func:`map_graph` orders as Keras 3 does (by decreasing depth, ties in depth-first order), so
``model.layers`` and the weights file list layers in Keras's order. fastnn/_plan.py compiles
the ordered nodes into engine ops; nothing here computes on numbers.
"""

from __future__ import annotations


class KerasTensor:
    """A symbolic tensor: a batch shape, a dtype, and the layer call that produced it.

    Attributes
    ----------
    shape : tuple
        The batch shape, ``None`` for the batch axis (``(None, 8)``).
    dtype : str
    name : str
    """

    def __init__(self, shape, dtype, name=None, node=None, index=0):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.name = name
        self._node = node          # the Node that made it
        self._index = index        # which of the node's outputs it is

    @property
    def _keras_history(self) -> tuple:
        """(layer, node index in the layer, tensor index), as Keras's ``keras_history``."""
        layer = self._node.layer
        return layer, layer._inbound_nodes.index(self._node), self._index

    @property
    def _input_layer(self):
        """The InputLayer this tensor is the output of (Sequential.add takes it)."""
        from fastnn.layers.core import InputLayer

        layer = self._node.layer if self._node is not None else None
        return layer if isinstance(layer, InputLayer) else None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    # Arithmetic between two symbolic tensors, as Keras's functional models allow, becomes
    # the matching merge layer (``x + y`` is ``Add()([x, y])``).
    def __add__(self, other):
        return _merge("Add", self, other)

    def __sub__(self, other):
        return _merge("Subtract", self, other)

    def __mul__(self, other):
        return _merge("Multiply", self, other)

    def __bool__(self):
        raise ValueError(
            "A symbolic tensor has no truth value: fastnn traces `call` once on symbolic "
            "inputs, so Python `if`/`while` on tensor values cannot be traced. Branch on "
            "arguments such as `training` instead, or compute both branches with layers.")

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


def _merge(cls_name: str, a, b):
    from fastnn.layers import merging

    if not isinstance(b, KerasTensor):
        raise ValueError(
            f"fastnn's symbolic tensors combine with other symbolic tensors only; received "
            f"{type(b).__name__}. Use a layer (e.g. a Lambda, or Rescaling) for constants.")
    return getattr(merging, cls_name)()([a, b])


class Node:
    """One call of a layer in a graph."""

    def __init__(self, layer, inputs: list, as_list: bool, outputs: list, kwargs=None):
        self.layer = layer
        self.inputs = inputs          # flat list of KerasTensor
        self.as_list = as_list        # called on a list (merge layers) rather than one tensor
        self.outputs = outputs
        self.kwargs = dict(kwargs or {})

    @property
    def parents(self) -> list[Node]:
        return [t._node for t in self.inputs]


def is_symbolic(inputs) -> bool:
    if isinstance(inputs, KerasTensor):
        return True
    if isinstance(inputs, dict):
        inputs = list(inputs.values())
    return isinstance(inputs, (list, tuple)) and bool(inputs) \
        and all(isinstance(t, KerasTensor) for t in inputs)


def symbolic_call(layer, inputs, kwargs=None):
    """``layer(inputs)`` on symbolic tensors: build, check shapes, record a Node."""
    as_list = isinstance(inputs, (list, tuple))
    flat = list(inputs) if as_list else [inputs]
    if not all(isinstance(t, KerasTensor) for t in flat):
        raise ValueError(
            f"Layer '{layer.name}' was called on a mix of symbolic tensors and other values; "
            "in a functional model every input must come from `Input` or another layer.")
    shapes = [t.shape for t in flat]
    shape = shapes if as_list else shapes[0]
    layer._maybe_build(shape)
    layer.check_input_shape(shape)
    out_shape = layer.compute_output_shape(shape)
    node = Node(layer, flat, as_list, [], kwargs)
    if isinstance(out_shape, list):
        outs = [KerasTensor(s, layer.dtype, f"keras_tensor_{layer.name}_{i}", node, i)
                for i, s in enumerate(out_shape)]
    else:
        outs = [KerasTensor(out_shape, layer.dtype, None, node, 0)]
    node.outputs = outs
    layer._inbound_nodes.append(node)
    return outs if isinstance(out_shape, list) else outs[0]


def flatten_structure(value, what: str) -> tuple[list, str, list | None]:
    """(tensors, kind, keys): a tensor, a list/tuple or a dict of tensors flattened."""
    if isinstance(value, KerasTensor):
        return [value], "single", None
    if isinstance(value, dict):
        keys = list(value)
        tensors = [value[k] for k in keys]
        kind = "dict"
    elif isinstance(value, (list, tuple)):
        tensors, kind, keys = list(value), "list", None
    else:
        raise ValueError(f"`{what}` must be a KerasTensor, a list or a dict of them; received "
                         f"{type(value).__name__}.")
    if not tensors or not all(isinstance(t, KerasTensor) for t in tensors):
        raise ValueError(f"Every entry of `{what}` must be a KerasTensor (from `Input` or a "
                         f"layer call); received {value!r}.")
    return tensors, kind, keys


def map_graph(inputs: list[KerasTensor], outputs: list[KerasTensor]):
    """The nodes between ``inputs`` and ``outputs`` in execution order, and the layers in
    Keras's order. Raises Keras's error when an output does not depend on the inputs only."""
    input_nodes = {id(t._node): t for t in inputs}
    order: list[Node] = []        # depth-first, parents first
    seen: set[int] = set()

    def visit(node, path):
        if id(node) in seen:
            return
        if node is None or (not node.inputs and id(node) not in input_nodes):
            missing = path[-1].name if path else "?"
            raise ValueError(
                f"Graph disconnected: the output depends on input '{missing}', which is not "
                f"among the model's `inputs` "
                f"({[t._node.layer.name for t in inputs]}). Pass every Input the outputs "
                "depend on.")
        if id(node) not in input_nodes:
            for parent in node.parents:
                visit(parent, [*path, parent.layer] if parent is not None else path)
        seen.add(id(node))
        order.append(node)

    for t in outputs:
        visit(t._node, [t._node.layer])
    for t in inputs:
        if id(t._node) not in seen:
            seen.add(id(t._node))
            order.append(t._node)
    index = {id(n): i for i, n in enumerate(order)}
    # Depth: 0 at the outputs, one more than the deepest consumer for every parent.
    depth = {id(n): 0 for n in order}
    for node in reversed(order):
        if id(node) in input_nodes:
            continue
        for parent in node.parents:
            depth[id(parent)] = max(depth[id(parent)], depth[id(node)] + 1)
    layer_depth: dict[int, int] = {}
    layer_first: dict[int, int] = {}
    layers = []
    for node in order:
        key = id(node.layer)
        if key not in layer_depth:
            layers.append(node.layer)
            layer_first[key] = index[id(node)]
        layer_depth[key] = max(layer_depth.get(key, 0), depth[id(node)])
    layers.sort(key=lambda lyr: (-layer_depth[id(lyr)], layer_first[id(lyr)]))
    nodes = [n for n in order if id(n) not in input_nodes]
    return nodes, layers


def input_tensor(shape, dtype, name=None) -> KerasTensor:
    """A fresh Input of per-sample ``shape`` (tracing a model on data)."""
    from fastnn.layers.core import Input

    return Input(shape=tuple(shape), dtype=dtype, name=name)
