"""A built model as an ONNX graph (``model.export(path, format="onnx")``).

The model's graph is walked the way the engine's inference plan is (``fastnn._plan.Builder``
in inference mode), so the ONNX graph computes what ``predict`` computes: one node group per
engine op, on (rows, features) matrices as the engine keeps them; each input is flattened on
the way in and each output takes its shape on the way out. Dropout and noise layers vanish (as
in inference), BatchNormalization uses its moving statistics. A Python piece (a Lambda, a
custom layer, a Python activation function) has no ONNX form: the export is refused, naming it.

Opset 17 by default: every operator used here has its present form there (ReduceSum's axes
as an input, Softmax along one axis), and runtimes from 2022 on read it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fastnn.export._onnx_activations import emit_activation
from fastnn.export._onnx_emitter import ListEmitter

DEFAULT_OPSET = 17
MIN_OPSET = 13          # ReduceSum with axes as an input, Softmax over one axis
_MERGE_CHAINS = {"add": "Add", "average": "Add", "multiply": "Mul", "maximum": "Max",
                 "minimum": "Min", "subtract": "Sub"}
_IDENTITY_AT_INFERENCE = ("dropout", "gaussian_noise", "gaussian_dropout")


def model_to_onnx(model, opset_version=None, input_signature=None):
    """The ``onnx.ModelProto`` of ``model``'s inference (what ``predict`` computes)."""
    from fastnn.export import require

    onnx = require("onnx")
    opset = _check_opset(onnx, opset_version)
    if not model.built:
        raise ValueError(f"The model provided has never called: model '{model.name}' has no "
                         "input shape yet. Build it (fastnn.Input, model.build(shape), or a "
                         "call on data) before exporting it.")
    dtype = np.dtype(model.dtype)
    shapes = [tuple(s) for s in model._input_shapes()]
    in_names = _input_names(model, len(shapes))
    _check_signature(input_signature, shapes, in_names, dtype)
    ops, outputs = _inference_ops(model, shapes)
    g = ListEmitter(dtype)
    out_names = _output_names(model, len(outputs), in_names)
    for name in (*in_names, *out_names):
        g.reserve(name)
    g.opset = opset
    tensors: dict[int, str] = {}
    graph_inputs = []
    for i, (name, shape) in enumerate(zip(in_names, shapes)):
        graph_inputs.append(onnx.helper.make_tensor_value_info(name, g.elem_type,
                                                               ["batch", *shape]))
        tensors[-1 - i] = name if len(shape) == 1 else g.node("Flatten", [name], axis=1)
    for k, (layer, op, in_bufs, _) in enumerate(ops):
        tensors[k] = _emit_op(g, model, layer, op, [tensors[b] for b in in_bufs])
    graph_outputs = []
    for name, (buf, shape) in zip(out_names, outputs):
        x = tensors[buf]
        if len(shape) > 2:
            g.node("Reshape", [x, g.int64s([-1, *shape[1:]], "shape")], output=name)
        else:
            g.node("Identity", [x], output=name)
        graph_outputs.append(onnx.helper.make_tensor_value_info(name, g.elem_type,
                                                                ["batch", *shape[1:]]))
    graph = onnx.helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs,
                                   initializer=g.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(
        graph, opset_imports=opsets, producer_name="fastnn",
        ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _check_opset(onnx, opset_version) -> int:
    if opset_version is None:
        return DEFAULT_OPSET
    newest = onnx.defs.onnx_opset_version()
    if (isinstance(opset_version, bool) or not isinstance(opset_version, (int, np.integer))
            or not MIN_OPSET <= opset_version <= newest):
        raise ValueError(f"opset_version must be an integer from {MIN_OPSET} to {newest} (the "
                         f"installed onnx package's newest); received {opset_version!r}.")
    return int(opset_version)


def _input_names(model, n: int) -> list[str]:
    traced = model.__dict__.get("_traced")
    names = getattr(traced, "input_names", None) if traced is not None else None
    if names is None:
        layer = getattr(model, "_input_layer", None)
        names = [layer.name] if layer is not None and n == 1 else None
    if names is None or len(set(names)) != n:
        names = [f"input_{i}" for i in range(n)]
    return list(names)


def _output_names(model, n: int, taken: list[str]) -> list[str]:
    """The model's output names; one that repeats an input's or an earlier output's name (an
    input returned as an output) gets a suffix, since ONNX names each tensor once."""
    names = list(model.output_names or [])
    if len(names) != n:
        names = [f"output_{i}" for i in range(n)]
    used, unique = set(taken), []
    for name in names:
        candidate, k = name, 0
        while candidate in used:
            k += 1
            candidate = f"{name}_{k}"
        used.add(candidate)
        unique.append(candidate)
    return unique


def _check_signature(signature, shapes, names, dtype) -> None:
    """Keras lets ``input_signature`` fix shapes; fastnn's graph is the model's own, so a
    signature may only restate it (any batch size)."""
    if signature is None:
        return
    if isinstance(signature, Mapping):      # a model taking a dict of inputs
        missing = [name for name in names if name not in signature]
        if missing or len(signature) != len(names):
            raise ValueError(f"input_signature names {sorted(signature)}; the model's inputs "
                             f"are {names}.")
        signature = [signature[name] for name in names]
    specs = list(signature) if isinstance(signature, (list, tuple)) else [signature]
    if len(specs) == 1 and isinstance(specs[0], (list, tuple)) and len(shapes) > 1:
        specs = list(specs[0])
    if len(specs) != len(shapes):
        raise ValueError(f"input_signature has {len(specs)} entries; the model has "
                         f"{len(shapes)} inputs ({names}).")
    for spec, shape, name in zip(specs, shapes, names):
        spec_shape = getattr(spec, "shape", None)
        spec_shape = tuple(None if d is None else int(d) for d in spec_shape) \
            if spec_shape is not None else None
        if spec_shape is None or spec_shape[1:] != tuple(shape):
            raise ValueError(f"input_signature gives input '{name}' the shape {spec_shape}; "
                             f"the model takes (None, {', '.join(map(str, shape))}) (any "
                             "batch size). fastnn exports the model's own input shapes.")
        spec_dtype = getattr(spec, "dtype", None)
        if spec_dtype is not None and np.dtype(getattr(spec_dtype, "name", spec_dtype)) \
                != dtype:
            raise ValueError(f"input_signature gives input '{name}' the dtype {spec_dtype}; "
                             f"the model computes in {dtype.name}.")


def _inference_ops(model, shapes):
    """The inference plan's ops (layer, op dict, input buffers, widths) and outputs
    (buffer, batch shape); model input i is buffer -1 - i."""
    from fastnn._plan import Builder, Value

    builder = Builder(mode=False)
    inputs = [Value(-1 - i, (None, *shape)) for i, shape in enumerate(shapes)]
    values = model._emit(builder, inputs)
    return builder.ops, [(v.buf, v.shape) for v in values]


def _refuse_python(model, layer) -> None:
    from fastnn.layers.python_layers import Lambda

    if isinstance(layer, Lambda):
        what = "is a Lambda layer (Python code)"
    elif getattr(layer, "_python_activation", None) is not None:
        what = (f"has a Python activation function "
                f"({getattr(layer._python_activation, '__name__', layer._python_activation)})")
    else:
        what = f"is a custom layer ({type(layer).__name__}, Python code)"
    raise ValueError(
        f"Cannot export model '{model.name}' to ONNX: layer '{layer.name}' {what}. ONNX "
        "export writes fastnn's built-in layers and activations only.")


def _emit_op(g, model, layer, op: dict, xs: list[str]) -> str:
    kind = op["kind"]
    if kind == "python":
        _refuse_python(model, layer)
    if op.get("training"):
        raise ValueError(
            f"Cannot export model '{model.name}' to ONNX: layer '{layer.name}' is called with "
            "training=True, so its inference output is random or uses each batch's "
            "statistics; an ONNX graph is exported for deterministic inference.")
    if kind == "dense":
        kernel = g.variable(op["kernel"], f"{layer.name}/kernel")
        if op.get("bias") is not None:
            y = g.node("Gemm", [xs[0], kernel, g.variable(op["bias"], f"{layer.name}/bias")])
        else:
            y = g.node("MatMul", [xs[0], kernel])
        return emit_activation(g, y, op.get("activation"))
    if kind == "activation":
        return emit_activation(g, xs[0], op.get("activation"))
    if kind in _IDENTITY_AT_INFERENCE:
        return xs[0]
    if kind == "batch_norm":
        return _batch_norm(g, layer, op, xs[0])
    if kind == "layer_norm":
        return _layer_norm(g, layer, op, xs[0])
    if kind == "prelu":
        alpha = g.weight(np.ravel(op["alpha"].value), f"{layer.name}/alpha")
        return g.node("Where", [g.node("Greater", [xs[0], g.const(0.0)]), xs[0],
                                g.node("Mul", [alpha, xs[0]])])
    if kind == "concatenate":
        return g.node("Concat", xs, axis=1)
    if kind == "dot":
        return _dot(g, op, xs)
    if kind in _MERGE_CHAINS:
        y = xs[0]
        for x in xs[1:]:         # left to right, as the engine adds (same rounding)
            y = g.node(_MERGE_CHAINS[kind], [y, x])
        return g.node("Div", [y, g.const(len(xs))]) if kind == "average" else y
    raise ValueError(f"Cannot export model '{model.name}' to ONNX: layer '{layer.name}' "
                     f"runs engine op {kind!r}, which has no ONNX form here.")


def _affine(g, layer, op, y: str) -> str:
    if op.get("gamma") is not None:
        y = g.node("Mul", [y, g.variable(op["gamma"], f"{layer.name}/gamma")])
    if op.get("beta") is not None:
        y = g.node("Add", [y, g.variable(op["beta"], f"{layer.name}/beta")])
    return y


def _batch_norm(g, layer, op, x: str) -> str:
    # (x - mean) * inv * gamma + beta with inv = 1/sqrt(var + eps) rounded to the model's
    # dtype once, as the engine computes it.
    mean = np.asarray(op["moving_mean"].value, dtype=np.float64)
    var = np.asarray(op["moving_variance"].value, dtype=np.float64)
    inv = 1.0 / np.sqrt(var + op["epsilon"])
    centred = g.node("Sub", [x, g.weight(mean, f"{layer.name}/moving_mean")])
    return _affine(g, layer, op, g.node("Mul", [centred, g.weight(inv, f"{layer.name}/inv_std")]))


def _reduce(g, op_type: str, x: str) -> str:
    """A reduction over the features of each row, keeping the axis."""
    if op_type == "ReduceMean" and g.opset < 18:     # axes became an input in opset 18
        return g.node(op_type, [x], axes=[1], keepdims=1)
    return g.node(op_type, [x, g.int64s([1], "axes")], keepdims=1)


def _layer_norm(g, layer, op, x: str) -> str:
    centred = g.node("Sub", [x, _reduce(g, "ReduceMean", x)])
    var = _reduce(g, "ReduceMean", g.node("Mul", [centred, centred]))
    inv = g.node("Reciprocal", [g.node("Sqrt", [g.node("Add", [var,
                                                               g.const(op["epsilon"])])])])
    return _affine(g, layer, op, g.node("Mul", [centred, inv]))


def _dot(g, op, xs) -> str:
    a, b = xs
    y = _reduce(g, "ReduceSum", g.node("Mul", [a, b]))
    if op.get("normalize"):
        # Keras: each side times min(1/sqrt(sum of squares), 1/1e-7); a zero row gives 1e7.
        for x in (a, b):
            inv = g.node("Reciprocal", [g.node("Sqrt", [_reduce(g, "ReduceSum",
                                                                g.node("Mul", [x, x]))])])
            y = g.node("Mul", [y, g.node("Min", [inv, g.const(1e7)])])
    return y


