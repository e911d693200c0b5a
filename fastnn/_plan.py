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

_I = _engine.OP_INT_COLUMNS
_F = _engine.OP_FLOAT_COLUMNS
_ACTIVATION_NAMES = {v: k for k, v in ACTIVATIONS.items() if k not in ("swish", "hard_swish")}
_WEIGHT_ROLES = ("kernel", "bias", "gamma", "beta", "alpha")


class Plan:
    """The engine for ``layers`` on inputs of per-sample ``input_shape``, in ``dtype``.

    Attributes
    ----------
    engine : fastnn._kernels._engine.Engine
    trainable : list of Variable
        The variables the optimizer updates, in model-weight order; their segments of
        ``engine.params`` are ``var_off[i]:var_off[i] + var.value.size``.
    constrained : list of Variable
        Trainable variables with a constraint (applied after every optimizer step).
    last_activation : str or None
        The kernel name of the output op's activation (for fused losses), if it has one.
    """

    def __init__(self, layers, input_shape: tuple, dtype: str, capacity: int = 32):
        self.dtype = np.dtype(dtype)
        self.in_dim = int(math.prod(input_shape)) if input_shape else 1
        ops, width = [], self.in_dim
        shape = (None, *input_shape)
        for layer in layers:
            if type(layer).__name__ == "Dense" and len(shape) > 2:
                raise ValueError(
                    f"Layer '{layer.name}' receives inputs of shape {shape}: fastnn's Dense "
                    "works on 2-D inputs. Add a Flatten layer before it."
                )
            layer_ops = layer.engine_ops(width)
            l1, l2 = _regularizers.coefficients(layer.activity_regularizer)
            if (l1 or l2) and layer_ops:
                layer_ops[-1] = {**layer_ops[-1], "act_l1": l1, "act_l2": l2}
            for op in layer_ops:
                ops.append((layer, op, width))
                width = op["n_out"]
            shape = layer.compute_output_shape(shape)
        if not ops:
            # A model of identity layers still needs one op to run; linear keeps values.
            ops.append((None, {"kind": "activation", "n_out": width, "activation": None},
                        width))
        self.out_dim = width
        self._assign_buffers(layers, ops)
        self.engine = _engine.Engine(
            self._ops_i, self._ops_f, self.params, self.grads, self.state,
            self.var_off, self.var_size, self._var_l1, self._var_l2, self.in_dim, capacity,
            var_l2_rows=self._var_l2_rows,
        )

    def _assign_buffers(self, layers, ops) -> None:
        # Offsets: every weight of every op in params; moving statistics in state.
        weights, offsets, stats, state_offsets = [], {}, [], {}
        n_params = n_state = 0
        for _, op, _ in ops:
            for role in _WEIGHT_ROLES:
                var = op.get(role)
                if var is not None and id(var) not in offsets:
                    offsets[id(var)] = n_params
                    weights.append(var)
                    n_params += var.value.size
            if op["kind"] == "batch_norm":
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
        # The optimizer's variables: trainable weights in model order (layer by layer).
        self.trainable = [v for layer in layers for v in layer.trainable_weights
                          if id(v) in offsets]
        self.var_off = np.array([offsets[id(v)] for v in self.trainable], dtype=np.int64)
        self.var_size = np.array([v.value.size for v in self.trainable], dtype=np.int64)
        coefs = [_regularizers.coefficients(v.regularizer) for v in self.trainable]
        self._var_l1 = np.array([c[0] for c in coefs], dtype=np.float64)
        self._var_l2 = np.array([c[1] for c in coefs], dtype=np.float64)
        self._var_l2_rows = np.array([_regularizers.batch_mean_l2(v.regularizer)
                                      for v in self.trainable], dtype=np.float64)
        self.constrained = [v for v in self.trainable if v.constraint is not None]
        self._ops_i = np.full((len(ops), _engine.N_OP_INT), -1, dtype=np.int64)
        self._ops_f = np.zeros((len(ops), _engine.N_OP_FLOAT), dtype=np.float64)
        self.last_activation = None
        for k, (_, op, width) in enumerate(ops):
            self._encode(k, op, width, offsets, state_offsets)

    def _encode(self, k: int, op: dict[str, Any], width: int, offsets, state_offsets) -> None:
        oi, of = self._ops_i[k], self._ops_f[k]
        oi[_I["kind"]] = _engine.OPS[op["kind"]]
        oi[_I["n_in"]] = width
        oi[_I["n_out"]] = op["n_out"]
        oi[_I["seed"]] = op.get("seed", 0) & (2**63 - 1)
        oi[_I["flags"]] = _engine.FLAGS["batch_stats"] if op.get("batch_stats") else 0
        for role, col in (("kernel", "w"), ("gamma", "w"), ("alpha", "w"), ("bias", "b"),
                          ("beta", "b")):
            if op.get(role) is not None:
                oi[_I[col]] = offsets[id(op[role])]
        if op["kind"] == "batch_norm":
            oi[_I["state"]] = state_offsets[id(op["moving_mean"])]
        spec = op.get("activation")
        if spec is None:
            oi[_I["act"]] = ACTIVATIONS["linear"]
            of[_F["max_value"]] = math.inf
            self.last_activation = None
        else:
            oi[_I["act"]] = spec.kernel
            of[_F["negative_slope"]] = spec.negative_slope
            of[_F["max_value"]] = spec.max_value
            of[_F["threshold"]] = spec.threshold
            of[_F["alpha"]] = spec.alpha
            self.last_activation = _ACTIVATION_NAMES.get(spec.kernel)
        if op["kind"] not in ("dense", "activation"):
            self.last_activation = None
        of[_F["rate"]] = op.get("rate", 0.0)
        of[_F["epsilon"]] = op.get("epsilon", 0.0)
        of[_F["momentum"]] = op.get("momentum", 0.0)
        of[_F["act_l1"]] = op.get("act_l1", 0.0)
        of[_F["act_l2"]] = op.get("act_l2", 0.0)

    def adopt(self) -> None:
        """Take back the variables that a later plan of the same layers moved into its own
        buffers (``model(x, training=True)`` and ``layer(x)`` build one), keeping their
        current values; call before running the engine."""
        if any(var.owner is not self._token for var, _ in self._views):
            for var, view in self._views:
                var.bind(view, self._token)

    @property
    def last_has_activity_regularizer(self) -> bool:
        return bool(self._ops_f[-1, _F["act_l1"]] or self._ops_f[-1, _F["act_l2"]])
