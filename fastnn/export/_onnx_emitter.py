"""Nodes and constants of an ONNX graph in one float dtype.

``Emitter`` is what the layer and activation writers call (``node``, ``const``, ``weight``);
where the nodes go is its subclass's business: a plain list for ``model.export``
(``ListEmitter``), or skl2onnx's scope and container for the estimators' converters.
"""

from __future__ import annotations

import numpy as np


class Emitter:
    """Writes nodes whose float tensors are all ``dtype`` (float32 or float64)."""

    def __init__(self, dtype):
        from fastnn.export import require

        self.onnx = require("onnx")
        self.dtype = np.dtype(dtype)
        self.elem_type = (self.onnx.TensorProto.FLOAT if self.dtype == np.float32
                          else self.onnx.TensorProto.DOUBLE)
        self._consts: dict[tuple, str] = {}
        self._variables: dict[int, str] = {}

    # -- what subclasses provide ----------------------------------------------------------
    def unique(self, hint: str) -> str:
        raise NotImplementedError

    def _add_node(self, op: str, inputs: list[str], output: str, attrs: dict) -> None:
        raise NotImplementedError

    def _add_initializer(self, name: str, array: np.ndarray) -> None:
        raise NotImplementedError

    # -- what the writers call ------------------------------------------------------------
    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        """Append ``op`` on ``inputs``; returns its (single) output's name."""
        output = output or self.unique(op.lower())
        self._add_node(op, list(inputs), output, attrs)
        return output

    def weight(self, array, hint: str) -> str:
        """A tensor initializer holding ``array`` in the graph's dtype."""
        name = self.unique(hint)
        self._add_initializer(name, np.ascontiguousarray(array, dtype=self.dtype))
        return name

    def variable(self, var, hint: str) -> str:
        """The initializer of a layer's Variable, written once however many ops read it (a
        layer called twice)."""
        if id(var) not in self._variables:
            self._variables[id(var)] = self.weight(var.value, hint)
        return self._variables[id(var)]

    def int64s(self, values, hint: str) -> str:
        name = self.unique(hint)
        self._add_initializer(name, np.asarray(values, dtype=np.int64))
        return name

    def const(self, value: float) -> str:
        """A scalar constant in the graph's dtype (one initializer per value)."""
        key = (float(value),)
        if key not in self._consts:
            self._consts[key] = self.weight(np.array(value, dtype=self.dtype), "c")
        return self._consts[key]

    def to_float32(self, x: str) -> str:
        if self.dtype == np.float32:
            return x
        return self.node("Cast", [x], to=self.onnx.TensorProto.FLOAT)

    def from_float32(self, x: str) -> str:
        if self.dtype == np.float32:
            return x
        return self.node("Cast", [x], to=self.elem_type)


class ListEmitter(Emitter):
    """Collects nodes and initializers for ``onnx.helper.make_graph``."""

    def __init__(self, dtype):
        super().__init__(dtype)
        self.nodes: list = []
        self.initializers: list = []
        self._used: set[str] = set()

    def unique(self, hint: str) -> str:
        name, k = hint, 0
        while name in self._used:
            k += 1
            name = f"{hint}_{k}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Keep ``name`` (a graph input or output) from being given to anything else."""
        self._used.add(name)

    def _add_node(self, op, inputs, output, attrs) -> None:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=output,
                                                     **attrs))

    def _add_initializer(self, name, array) -> None:
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
