"""fastnn's activation kernels as ONNX nodes.

ONNX Runtime's CPU kernels for Elu, Selu, LeakyRelu, Softplus, Softsign, HardSigmoid,
HardSwish, Mish, Gelu and Erf take float32 only, and their parameters are float32
attributes. So each activation is written with operators that run in float32 and float64
alike (Relu, Sigmoid, Tanh, Exp, Log, Abs, Where, Min, Max, Softmax, LogSoftmax, arithmetic),
with its parameters as constants of the model's dtype, in the numerically safe forms the C
kernels use (softplus on -|x|, sigmoid-based approximate gelu): the same graph then runs a
float32 and a float64 model to their own precision. One exception: exact gelu needs erf, which
ONNX Runtime runs in float32 only, so a float64 model's erf is taken in float32 (about 1e-7
relative).
"""

from __future__ import annotations

import math

from fastnn._kernels._activations import ACTIVATIONS

_NAMES = {v: k for k, v in ACTIVATIONS.items() if k not in ("swish", "hard_swish")}
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def activation_name(spec) -> str:
    """The kernel name of an ActivationSpec (``linear`` for None)."""
    return "linear" if spec is None else _NAMES[spec.kernel]


def emit_activation(g, x: str, spec) -> str:
    """Append the nodes computing ``spec`` on tensor ``x`` to writer ``g``; the output name."""
    name = activation_name(spec)
    if name == "linear":
        return x
    if name in ("sigmoid", "tanh", "softmax", "log_softmax", "exponential"):
        op = {"sigmoid": "Sigmoid", "tanh": "Tanh", "softmax": "Softmax",
              "log_softmax": "LogSoftmax", "exponential": "Exp"}[name]
        return g.node(op, [x], **({"axis": -1} if "softmax" in name else {}))
    return _COMPOSED[name](g, x, spec)


def _relu(g, x, spec):
    # Keras's relu(x, negative_slope, max_value, threshold), in fnn_relu_keras's order.
    slope, max_value, threshold = spec.negative_slope, spec.max_value, spec.threshold
    if threshold == 0:
        y = g.node("Relu", [x])
    else:
        y = g.node("Where", [g.node("Greater", [x, g.const(threshold)]), x, g.const(0.0)])
    if not math.isinf(max_value):
        y = g.node("Min", [y if threshold >= 0 else g.node("Relu", [y]), g.const(max_value)])
    if slope != 0:
        below = g.node("Relu", [g.node("Sub", [g.const(threshold), x])])
        y = g.node("Sub", [y, g.node("Mul", [g.const(slope), below])])
    return y


def _relu6(g, x, spec):
    return g.node("Min", [g.node("Relu", [x]), g.const(6.0)])


def _leaky_relu(g, x, spec):
    return _where_positive(g, x, x, g.node("Mul", [x, g.const(spec.negative_slope)]))


def _where_positive(g, x, above, below):
    return g.node("Where", [g.node("Greater", [x, g.const(0.0)]), above, below])


def _expm1_nonpositive(g, x):
    """exp(min(x, 0)) - 1: the negative branch of elu and selu, overflow-free."""
    return g.node("Sub", [g.node("Exp", [g.node("Min", [x, g.const(0.0)])]), g.const(1.0)])


def _elu(g, x, spec):
    below = g.node("Mul", [g.const(spec.alpha), _expm1_nonpositive(g, x)])
    return _where_positive(g, x, x, below)


def _selu(g, x, spec):
    above = g.node("Mul", [g.const(_SELU_SCALE), x])
    below = g.node("Mul", [g.const(_SELU_SCALE * _SELU_ALPHA), _expm1_nonpositive(g, x)])
    return _where_positive(g, x, above, below)


def _softplus_of(g, x):
    """max(x, 0) + log(1 + exp(-|x|)): no overflow for large |x|."""
    tail = g.node("Log", [g.node("Add", [g.const(1.0),
                                         g.node("Exp", [g.node("Neg", [g.node("Abs", [x])])])])])
    return g.node("Add", [g.node("Relu", [x]), tail])


def _softplus(g, x, spec):
    return _softplus_of(g, x)


def _softsign(g, x, spec):
    return g.node("Div", [x, g.node("Add", [g.const(1.0), g.node("Abs", [x])])])


def _hard_sigmoid_of(g, x):
    """relu6(x + 3) / 6, Keras 3's hard_sigmoid."""
    return g.node("Div", [_relu6(g, g.node("Add", [x, g.const(3.0)]), None), g.const(6.0)])


def _hard_sigmoid(g, x, spec):
    return _hard_sigmoid_of(g, x)


def _hard_silu(g, x, spec):
    return g.node("Mul", [x, _hard_sigmoid_of(g, x)])


def _silu(g, x, spec):
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


def _mish(g, x, spec):
    return g.node("Mul", [x, g.node("Tanh", [_softplus_of(g, x)])])


def _gelu(g, x, spec):
    # 0.5 x (1 + erf(x / sqrt 2)); erf runs in float32 in ONNX Runtime (see the module note).
    scaled = g.node("Mul", [x, g.const(1.0 / math.sqrt(2.0))])
    erf = g.node("Erf", [g.to_float32(scaled)])
    one_plus = g.node("Add", [g.const(1.0), g.from_float32(erf)])
    return g.node("Mul", [g.node("Mul", [g.const(0.5), x]), one_plus])


def _gelu_approximate(g, x, spec):
    # x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): 0.5 x (1 + tanh u) without cancellation.
    cube = g.node("Mul", [g.node("Mul", [x, x]), x])
    inner = g.node("Add", [x, g.node("Mul", [g.const(0.044715), cube])])
    two_u = g.node("Mul", [g.const(2.0 * math.sqrt(2.0 / math.pi)), inner])
    return g.node("Mul", [x, g.node("Sigmoid", [two_u])])


_COMPOSED = {
    "relu": _relu, "relu6": _relu6, "leaky_relu": _leaky_relu, "elu": _elu, "selu": _selu,
    "softplus": _softplus, "softsign": _softsign, "hard_sigmoid": _hard_sigmoid,
    "hard_silu": _hard_silu, "silu": _silu, "mish": _mish, "gelu": _gelu,
    "gelu_approximate": _gelu_approximate,
}
