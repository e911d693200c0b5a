"""Compile a stack of built layers into an engine plan.

Every weight a layer's ops use (kernel, bias, gamma, beta, alpha) gets a segment of one flat
``params`` buffer, and its Variable becomes a view of that segment, so the engine's updates
show in ``layer.kernel`` without copies. Moving statistics go to a second buffer, ``state``.
The optimizer updates only the segments of trainable variables, in model-weight order.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastnn import regularizers as _regularizers
from fastnn._kernels import _engine
from fastnn._kernels._activations import ACTIVATIONS
from fastnn.layers import quantized as _quantized
from fastnn.layers.base import Variable
from fastnn.layers.python_layers import PythonPiece, is_python_layer

_I = _engine.OP_INT_COLUMNS
_F = _engine.OP_FLOAT_COLUMNS
_ACTIVATION_NAMES = {v: k for k, v in ACTIVATIONS.items() if k not in ("swish", "hard_swish")}
_WEIGHT_ROLES = ("kernel", "bias", "gamma", "beta", "alpha", "embeddings")


class Value:
    """Where a tensor of the graph lives in the engine: an op's output buffer (or -1, the
    model's input), with its batch shape."""

    __slots__ = ("buf", "shape")

    def __init__(self, buf: int, shape: tuple):
        self.buf, self.shape = buf, tuple(shape)

    @property
    def width(self) -> int:
        return int(math.prod(self.shape[1:])) if len(self.shape) > 1 else 1


_NOISE_OPS = ("dropout", "gaussian_noise", "gaussian_dropout", "alpha_dropout")


class NeedsModes(Exception):
    """A subclassed model inside the plan runs different layers in training and in
    inference: the plan needs one op list per mode."""


class Builder:
    """Collects engine ops while a model's graph is walked (``model._emit(builder, values)``)
    and nested models inline their own graphs: one op list for the whole model.

    ``mode`` is the call's mode when the plan is made per mode (True: the training engine,
    False: the inference engine), None when one op list serves both. ``training`` is the
    ``training=`` a graph passed to the enclosing layer call (None: the call's own mode).

    ``honour_kwargs``: whether a functional graph's own ``layer(x, training=...)`` arguments
    count. Keras 3 lets the mode of fit, predict and evaluate override them, and honours
    them only in a ``model(x)`` call without ``training``; a subclassed model's ``call`` is
    Python, so its arguments always count (its traced graphs say so).
    """

    def __init__(self, mode: bool | None = None, honour_kwargs: bool = False):
        self.ops: list[tuple] = []      # (layer, op dict, input buffers, input widths)
        self.mode = mode
        self.honour_kwargs = honour_kwargs
        self.training: bool | None = None

    def _python_op(self, layer, inputs: list[Value], as_list: bool) -> Value:
        """A Python layer: one op whose piece runs ``call`` (fastnn/layers/python_layers.py)."""
        shapes = [v.shape for v in inputs]
        out_shape = tuple(layer.compute_output_shape(shapes if as_list else shapes[0]))
        piece = PythonPiece(layer, shapes, as_list, out_shape)
        width = int(math.prod(out_shape[1:])) if len(out_shape) > 1 else 1
        value = self.add(layer, _python_op_dict(layer, piece, width), inputs)
        return Value(value.buf, out_shape)

    def graph_mode(self) -> bool | None:
        """The mode a training-dependent graph is traced for here, or None (both)."""
        return self.training if self.training is not None else self.mode

    def add(self, layer, op: dict, inputs: list[Value]) -> Value:
        self.ops.append((layer, op, [v.buf for v in inputs], [v.width for v in inputs]))
        return Value(len(self.ops) - 1, (None, op["n_out"]))

    def call(self, layer, inputs: list[Value], as_list: bool,
             training: bool | None = None) -> list[Value]:
        """The values ``layer`` makes from ``inputs`` (a model inlines its graph);
        ``training`` is the call's explicit ``training=`` argument (Keras: it holds for the
        layer, and for a model's layers that were not given one of their own)."""
        if training is not None:
            training = bool(training)
        if hasattr(layer, "_emit"):
            outer = self.training
            if training is not None:
                self.training = training
            try:
                return layer._emit(self, inputs)
            finally:
                self.training = outer
        if training is None:
            training = self.training
        if is_python_layer(layer):
            return [self._python_op(layer, inputs, as_list)]
        shapes = [v.shape for v in inputs]
        shape = shapes if as_list else shapes[0]
        widths = [v.width for v in inputs]
        layer_ops = layer.engine_ops(widths if as_list else widths[0])
        if training is not None:
            layer_ops = _with_training(layer_ops, training)
        out_shape = layer.compute_output_shape(shape)
        if not layer_ops:
            if len(inputs) != 1:
                raise ValueError(f"Layer '{layer.name}' merges no inputs.")
            return [Value(inputs[0].buf, out_shape)]
        if _regularizers.is_python(layer.activity_regularizer):
            raise ValueError(
                f"Layer '{layer.name}' has a custom activity regularizer; fastnn runs custom "
                "weight regularizers, but activity regularizers only as L1, L2 or L1L2.")
        l1, l2 = _regularizers.coefficients(layer.activity_regularizer)
        if l1 or l2:
            layer_ops[-1] = {**layer_ops[-1], "act_l1": l1, "act_l2": l2}
        value = None
        for op in layer_ops:
            value = self.add(layer, op, inputs)
            inputs = [value]
        return [Value(value.buf, out_shape)]


def _python_op_dict(layer, piece, width) -> dict:
    return {"kind": "python", "n_out": width, "piece": piece, "python_vars": layer.weights}


def _with_training(ops: list[dict], training: bool) -> list[dict]:
    """A layer's ops for a call with an explicit ``training=``: False plans the inference
    form (noise layers vanish, BatchNormalization uses its moving statistics); True keeps
    the layer in training mode in inference calls too (Monte Carlo dropout; a
    BatchNormalization then normalizes with, and moves towards, each batch's statistics,
    as Keras's does)."""
    if not training:
        return [{**op, "batch_stats": False} if op["kind"] == "batch_norm" else op
                for op in ops if op["kind"] not in _NOISE_OPS]
    return [{**op, "training": True} if op["kind"] in (*_NOISE_OPS, "batch_norm") else op
            for op in ops]


def _dense_state(layer) -> tuple:
    """What a dense op's encoding depends on besides shapes: int8 or not, bfloat16 or not."""
    return layer.quantization_mode, layer.compute_dtype


def _check_bf16(graphs, dtype: np.dtype, model) -> None:
    """The bfloat16 products read and write float32: refuse them in a float64 plan."""
    if dtype == np.float32:
        return
    names = sorted({layer.name for g in graphs for layer, op, _, _ in g["ops"]
                    if op.get("bf16")})
    if names:
        raise ValueError(
            f"Model '{getattr(model, 'name', '?')}' runs in {dtype} (the dtype of its first "
            f"weights), but its layers {names} use the dtype policy 'mixed_bfloat16', whose "
            "weights and products are float32. Give every layer the same policy: "
            "`fastnn.mixed_precision.set_global_policy('mixed_bfloat16')` before building "
            "the model (float32 weights throughout), or float64 without mixed precision.")


class Plan:
    """The engine for a model (anything with ``_input_shapes()`` and ``_emit``), in ``dtype``.

    Attributes
    ----------
    engine : fastnn._kernels._engine.Engine
    trainable : list of Variable
        The variables the optimizer updates, in model-weight order; their segments of
        ``engine.params`` are ``var_off[i]:var_off[i] + var.value.size``.
    constrained : list of Variable
        Trainable variables with a constraint (applied after every optimizer step).
    in_dims, out_dims : list of int
        The width of each model input (side by side in the engine's x) and output.
    out_shapes : list of tuple
        Each output's batch shape.
    heads : list of dict
        Per output: ``activation`` (the kernel name of its op's activation, for fused
        losses, or None), ``fusable`` (its op is read by no other op and has no activity
        regularizer).
    """

    def __init__(self, model, dtype: str, capacity: int = 32, weights=None,
                 honour_kwargs: bool = False):
        self.dtype = np.dtype(dtype)
        self._honour_kwargs = honour_kwargs
        input_shapes = [tuple(s) for s in model._input_shapes()]
        self.in_dims = [int(math.prod(s)) if s else 1 for s in input_shapes]
        self.in_dim = sum(self.in_dims)
        try:
            graphs = [self._graph(model, input_shapes, None)]
        except NeedsModes:
            # Python branching on `training` in a subclassed call: one op list per mode,
            # over one set of parameter buffers.
            graphs = [self._graph(model, input_shapes, True),
                      self._graph(model, input_shapes, False)]
            _check_same_outputs(model, graphs)
        train = graphs[0]
        self.out_dims = train["out_dims"]
        self.out_dim = self.out_dims[0]
        self.out_shapes = train["out_shapes"]
        self.heads, self.inference_heads = train["heads"], graphs[-1]["heads"]
        self.last_activation = self.heads[0]["activation"]
        weights = model.trainable_weights if weights is None else weights
        # The dense layers' int8 state as planned (layer.quantize on a layer of a built
        # model makes the model plan again: see current()).
        self.int8_generation = _quantized.GENERATION[0]
        self._int8_state = [(layer, _dense_state(layer)) for g in graphs
                            for layer, op, _, _ in g["ops"] if op["kind"] == "dense"
                            and hasattr(layer, "quantization_mode")]
        _check_bf16(graphs, self.dtype, model)
        self._assign_buffers(weights, [op for g in graphs for op in g["ops"]])
        self.engines = []
        for g in graphs:
            ops_i, ops_f = self._encode_ops(g["ops"])
            self.engines.append(_engine.Engine(
                ops_i, ops_f, self.params, self.grads, self.state, self.var_off,
                self.var_size, self._var_l1, self._var_l2, self.in_dim, capacity,
                var_l2_rows=self._var_l2_rows, op_inputs=g["inputs"], outputs=g["outputs"],
                python_ops=[op.get("piece") for _, op, _, _ in g["ops"]],
                python_penalties=self._python_penalties))
            g["ops_i"], g["ops_f"] = ops_i, ops_f
            self._set_int8(self.engines[-1], g["ops"])
        self._ops_i, self._ops_f = train["ops_i"], train["ops_f"]
        self.engine = self.engines[0]               # fit, and training-mode calls
        self.inference_engine = self.engines[-1]    # predict and evaluate
        if len(self.engines) > 1:
            self.inference_engine.share_access(self.engine)
        self.forces_training = any(op.get("training") for g in graphs
                                   for _, op, _, _ in g["ops"])
        # One output of rows (no reshape), no layer forced into training mode.
        self.plain_output = (len(self.out_dims) == 1 and len(self.out_shapes[0]) <= 2
                             and not self.forces_training)
        self.has_python = bool(self._python_penalties) or any(
            op["kind"] == "python" for g in graphs for _, op, _, _ in g["ops"])
        self.code_checks = _code_checks(train["ops"], self.in_dim)

    def check_codes(self, xs: np.ndarray) -> None:
        """Refuse, before a call starts, category codes an Embedding that reads the model's
        input could not look up (the engine stops at them too, but a fit would keep the
        batches before)."""
        for start, width, vocab, name in self.code_checks:
            block = xs[:, start:start + width]
            bad = ~((block >= 0) & (block < vocab) & (block == np.floor(block)))
            if bad.any():
                row, col = (int(i) for i in np.argwhere(bad)[0])
                raise ValueError(
                    f"Embedding '{name}' received {float(block[row, col])} (row {row}, column "
                    f"{col}), which is not an integer in [0, {vocab}) (its input_dim): the "
                    "inputs must be integer codes of the categories, from 0 to "
                    "input_dim - 1.")

    def current(self) -> bool:
        """False when a layer of this plan was quantized after it was built."""
        if self.int8_generation == _quantized.GENERATION[0]:
            return True
        if any(_dense_state(layer) != state for layer, state in self._int8_state):
            return False
        self.int8_generation = _quantized.GENERATION[0]    # another model's layers changed
        return True

    @staticmethod
    def _set_int8(engine, ops) -> None:
        """Point the int8 dense ops at their layers' packed kernels and scales."""
        int8_ops = [(k, op["int8"]) for k, (_, op, _, _) in enumerate(ops) if op.get("int8")]
        if int8_ops:
            from fastnn._kernels import _quant

            path = _quant.path()
            for k, (packed, colsum128, scale) in int8_ops:
                engine.set_quantized(k, packed, colsum128, scale.value, path)

    def _graph(self, model, input_shapes, mode) -> dict:
        """The model's ops for calls in ``mode`` (None: every mode), with their wiring."""
        builder = Builder(mode, self._honour_kwargs)
        if len(input_shapes) == 1:
            inputs = [Value(-1, (None, *input_shapes[0]))]
        else:
            # Several inputs arrive side by side in one matrix; each is sliced out once.
            inputs, col = [], 0
            for shape, width in zip(input_shapes, self.in_dims):
                value = builder.add(None, {"kind": "slice", "n_out": width, "col": col},
                                    [Value(-1, (None, self.in_dim))])
                inputs.append(Value(value.buf, (None, *shape)))
                col += width
        outputs = model._emit(builder, inputs)
        out_bufs = []
        for value in outputs:
            if value.buf < 0 or value.buf in out_bufs:
                # An input returned as is, or one tensor returned twice: give it an op.
                value = Value(builder.add(None, {"kind": "activation", "n_out": value.width,
                                                 "activation": None}, [value]).buf,
                              value.shape)
            out_bufs.append(value.buf)
        ops = builder.ops
        op_inputs = [bufs for _, _, bufs, _ in ops]
        consumers = [0] * len(ops)
        for bufs in op_inputs:
            for b in bufs:
                if b >= 0:
                    consumers[b] += 1
        return {"ops": ops, "inputs": op_inputs, "outputs": out_bufs,
                "out_dims": [ops[b][1]["n_out"] for b in out_bufs],
                "out_shapes": [v.shape for v in outputs],
                "heads": [self._head(ops[b][1], consumers[b]) for b in out_bufs]}

    def inference_step(self) -> int:
        """The noise stream of a predict or evaluate call: fresh per call when a layer was
        called with training=True (Monte Carlo dropout), unused otherwise."""
        if not self.forces_training:
            return 0
        from fastnn import _random

        return _random.next_seed() >> 1    # room for one stream per chunk

    @staticmethod
    def _head(op: dict, n_consumers: int) -> dict:
        spec = op.get("activation")
        name = None
        if op["kind"] in ("dense", "activation") and spec is not None \
                and op.get("groups", 1) == 1:     # a loss fuses with whole-row logits only
            name = _ACTIVATION_NAMES.get(spec.kernel)
        return {"activation": name,
                "fusable": n_consumers == 0 and not (op.get("act_l1") or op.get("act_l2"))}

    def _assign_buffers(self, model_weights, ops) -> None:
        # Offsets: every weight of every op in params; moving statistics in state.
        weights, offsets, stats, state_offsets = [], {}, [], {}
        n_params = n_state = 0
        for _, op, _, _ in ops:
            for var in [op.get(role) for role in _WEIGHT_ROLES] + op.get("python_vars", []):
                if var is not None and id(var) not in offsets:
                    offsets[id(var)] = n_params
                    weights.append(var)
                    n_params += var.value.size
            # (The engine reads the variance right after the mean; a layer called twice,
            # or planned for both modes, has one pair.)
            if op["kind"] == "batch_norm" and id(op["moving_mean"]) not in state_offsets:
                for var in (op["moving_mean"], op["moving_variance"]):
                    state_offsets[id(var)] = n_state
                    stats.append(var)
                    n_state += var.value.size
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self.state = np.zeros(max(n_state, 0), dtype=self.dtype)
        self._token = object()
        self._views = [(var, self.params[offsets[id(var)]:offsets[id(var)] + var.value.size])
                       for var in weights]
        self._views += [(var, self.state[state_offsets[id(var)]:
                                         state_offsets[id(var)] + var.value.size])
                        for var in stats]
        for var, view in self._views:
            var.bind(view, self._token)
        self._binds_seen = -1       # adopt() checks the owners on its first call
        # The optimizer's variables: trainable weights in model order (layer by layer).
        seen: set[int] = set()
        self.trainable = [v for v in model_weights if id(v) in offsets
                          and not (id(v) in seen or seen.add(id(v)))]
        self.var_off = np.array([offsets[id(v)] for v in self.trainable], dtype=np.int64)
        self.var_size = np.array([v.value.size for v in self.trainable], dtype=np.int64)
        coefs = [_regularizers.coefficients(v.regularizer) for v in self.trainable]
        self._var_l1 = np.array([c[0] for c in coefs], dtype=np.float64)
        self._var_l2 = np.array([c[1] for c in coefs], dtype=np.float64)
        self._var_l2_rows = np.array([_regularizers.batch_mean_l2(v.regularizer)
                                      for v in self.trainable], dtype=np.float64)
        self.constrained = [v for v in self.trainable if v.constraint is not None]
        # Weights with the user's own regularizer: Python, once per batch.
        self._python_penalties = [
            (offsets[id(v)], v.value.size, _regularizers.PythonPenalty(v.regularizer, v))
            for v in self.trainable if _regularizers.is_python(v.regularizer)]
        self._offsets, self._state_offsets = offsets, state_offsets
        trainable = {id(v) for v in self.trainable}
        for _, op, _, _ in ops:
            if op["kind"] == "python":     # the segments its backward writes gradients to
                piece = op["piece"]
                piece.variables = [v for v in piece.variables if id(v) in trainable]
                piece.weights = [(offsets[id(v)], v.value.size) for v in piece.variables]

    def _encode_ops(self, ops) -> tuple[np.ndarray, np.ndarray]:
        ops_i = np.full((len(ops), _engine.N_OP_INT), -1, dtype=np.int64)
        ops_f = np.zeros((len(ops), _engine.N_OP_FLOAT), dtype=np.float64)
        for k, (_, op, _, widths) in enumerate(ops):
            self._encode(ops_i[k], ops_f[k], op, widths[0])
        return ops_i, ops_f

    def _encode(self, oi, of, op: dict[str, Any], width: int) -> None:
        offsets, state_offsets = self._offsets, self._state_offsets
        oi[_I["kind"]] = _engine.OPS[op["kind"]]
        oi[_I["n_in"]] = width
        oi[_I["n_out"]] = op["n_out"]
        oi[_I["seed"]] = op.get("seed", 0) & (2**63 - 1)
        oi[_I["col"]] = op.get("col", 0)
        oi[_I["groups"]] = op.get("groups", 1)
        oi[_I["vocab"]] = op.get("vocab", 0)
        oi[_I["flags"]] = ((_engine.FLAGS["batch_stats"] if op.get("batch_stats") else 0)
                           | (_engine.FLAGS["normalize"] if op.get("normalize") else 0)
                           | (_engine.FLAGS["training"] if op.get("training") else 0)
                           | (_engine.FLAGS["bf16"] if op.get("bf16") else 0))
        for role, col in (("kernel", "w"), ("gamma", "w"), ("alpha", "w"), ("embeddings", "w"),
                          ("bias", "b"), ("beta", "b")):
            if op.get(role) is not None:
                oi[_I[col]] = offsets[id(op[role])]
        if op["kind"] == "batch_norm":
            oi[_I["state"]] = state_offsets[id(op["moving_mean"])]
        spec = op.get("activation")
        if spec is None:
            oi[_I["act"]] = ACTIVATIONS["linear"]
            of[_F["max_value"]] = math.inf
        else:
            oi[_I["act"]] = spec.kernel
            of[_F["negative_slope"]] = spec.negative_slope
            of[_F["max_value"]] = spec.max_value
            of[_F["threshold"]] = spec.threshold
            of[_F["alpha"]] = spec.alpha
        of[_F["rate"]] = op.get("rate", 0.0)
        of[_F["epsilon"]] = op.get("epsilon", 0.0)
        of[_F["momentum"]] = op.get("momentum", 0.0)
        of[_F["act_l1"]] = op.get("act_l1", 0.0)
        of[_F["act_l2"]] = op.get("act_l2", 0.0)

    def adopt(self) -> None:
        """Take back the variables that a later plan of the same layers moved into its own
        buffers (``model(x, training=True)`` and ``layer(x)`` build one), keeping their
        current values; call before running the engine."""
        binds = Variable.binds
        if binds == self._binds_seen:     # no variable moved since the last check
            return
        if any(var.owner is not self._token for var, _ in self._views):
            for var, view in self._views:
                var.bind(view, self._token)
            return      # (its own binds changed the count: the next call checks once more)
        self._binds_seen = binds

    @property
    def last_has_activity_regularizer(self) -> bool:
        return not self.heads[0]["fusable"]

    def inputs_matrix(self, arrays: list[np.ndarray]) -> np.ndarray:
        """The engine's x from one prepared (n, width) array per model input."""
        if len(arrays) == 1:
            return arrays[0]
        return np.ascontiguousarray(np.concatenate(arrays, axis=1))

    def shaped_outputs(self, outs: list[np.ndarray]) -> list[np.ndarray]:
        return [o.reshape((o.shape[0], *shape[1:])) if len(shape) > 2 else o
                for o, shape in zip(outs, self.out_shapes)]


def _code_checks(ops, in_dim: int) -> list[tuple]:
    """(first column, width, vocabulary size, layer name) of the model-input columns each
    Embedding reads directly."""
    checks = []
    for layer, op, bufs, widths in ops:
        if op["kind"] != "embedding":
            continue
        src = bufs[0]
        if src < 0:
            checks.append((0, in_dim, op["vocab"], layer.name))
        elif ops[src][1]["kind"] == "slice":
            checks.append((ops[src][1]["col"], widths[0], op["vocab"], layer.name))
    return checks


def _check_same_outputs(model, graphs) -> None:
    train, infer = graphs
    if train["out_shapes"] != infer["out_shapes"]:
        raise ValueError(
            f"Model '{model.name}'.call returns outputs of shapes {infer['out_shapes']} when "
            f"training=False but {train['out_shapes']} when training=True; a model's outputs "
            "must be the same in both modes.")


class _SingleCall:
    """One layer called on arrays, as a model of one node (``layer(x)`` outside a model)."""

    def __init__(self, layer, shapes: list[tuple], as_list: bool):
        self.layer, self.shapes, self.as_list = layer, shapes, as_list
        self.trainable_weights = layer.trainable_weights

    def _input_shapes(self):
        return self.shapes

    def _emit(self, builder, inputs):
        return builder.call(self.layer, inputs, self.as_list)


def run_eagerly(layer, inputs, training: bool | None = False):
    """``layer(x)`` on arrays: the layer's output for that batch, computed by the engine.

    In training mode the noise layers draw fresh masks; BatchNormalization uses the batch's
    statistics and updates its moving ones, as Keras does for ``layer(x, training=True)``.
    ``training=None`` (a model called without it) runs in inference mode but for the
    layers its graph calls with ``training=`` of their own, as Keras 3 does.
    """
    from fastnn import _random
    from fastnn._kernels._openmp_helpers import effective_n_threads
    from fastnn.models import data as _data

    as_list = isinstance(inputs, (list, tuple))
    arrays = [_data.as_numeric_array(a, "inputs") for a in (inputs if as_list else [inputs])]
    if not arrays:
        raise ValueError(f"Layer '{layer.name}' was called on an empty list: pass its input "
                         "(or a list of inputs).")
    for arr in arrays:
        if arr.ndim < 2:
            raise ValueError(f"Layers take batches of shape (n, ...); received shape "
                             f"{arr.shape}.")
    n = arrays[0].shape[0]
    if any(a.shape[0] != n for a in arrays):
        raise ValueError(f"Layer '{layer.name}' received inputs with different numbers of "
                         f"rows: {[a.shape[0] for a in arrays]}.")
    shapes = [(None, *a.shape[1:]) for a in arrays]
    layer._maybe_build(shapes if as_list else shapes[0])
    layer.check_input_shape(shapes if as_list else shapes[0])
    plan = Plan(_SingleCall(layer, [s[1:] for s in shapes], as_list), layer.dtype,
                honour_kwargs=training is None)
    training = bool(training)
    xs = plan.inputs_matrix([_data.prepare_x(a, a.shape[1:], plan.dtype, layer.name)
                             for a in arrays])
    outs = [np.empty((n, d), dtype=plan.dtype) for d in plan.out_dims]
    if training or plan.forces_training:
        # One batch of all rows: batch statistics and noise masks are the whole call's.
        engine = plan.engine if training else plan.inference_engine
        engine.predict(xs, outs, max(1, n), effective_n_threads(), training=training,
                       step=_random.next_seed() if training else plan.inference_step())
    else:
        # Inference gives the same numbers for any chunking: chunks that the thread policy
        # can run on n threads or one (the plan is this call's: its ops name the stream).
        from fastnn import _thread_policy
        from fastnn.models.trainer import _INFERENCE_ROWS

        _thread_policy.predict(plan.inference_engine, xs, outs, _INFERENCE_ROWS,
                               effective_n_threads(),
                               key=(plan._ops_i.tobytes(), str(plan.dtype), plan.in_dim))
    return plan.shaped_outputs(outs)[0]
