"""`keras.ops` neural-network functions: activations, softmax, one-hot, cross-entropies.

Written for numerical stability the way Keras's backends are: no overflow for large inputs,
cross-entropies on probabilities clip them to [epsilon, 1 - epsilon] first.
"""

from __future__ import annotations

import math as _math

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from fastnn import config
from fastnn.ops._dtypes import as_float, cast, dtype_of, to_array
from fastnn.ops._rules import _clip, _maximum, _minimum, _select
from fastnn.ops.math import erf, logsumexp
from fastnn.ops.numpy import _axis, open_grid
from fastnn.ops.numpy import norm as _norm


@primitive
def _sigmoid(x):
    # 1/(1 + e^-|x|) or its complement: no overflow, full precision in both tails
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# One node instead of a chain of exp/add/divide: this runs in every custom loss on probabilities.
defvjp(_sigmoid, lambda ans, x: lambda g: g * ans * (1 - ans))


def sigmoid(x):
    return _sigmoid(as_float(x))


def relu(x):
    """max(x, 0); the gradient at 0 is 0, as TensorFlow's."""
    x = as_float(x)
    return _select(getval(x) > 0, x, 0)


def relu6(x):
    x = as_float(x)
    inside = (getval(x) > 0) & (getval(x) < 6)
    return _select(inside, x, np.where(getval(x) >= 6, 6, 0).astype(dtype_of(x)))


def leaky_relu(x, negative_slope=0.2):
    x = as_float(x)
    return _select(getval(x) > 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    x = as_float(x)
    # expm1 of the negative part only: the unused branch of `where` must not overflow, or its
    # zero gradient becomes 0 * inf = nan.
    return _select(getval(x) > 0, x, alpha * anp.expm1(_minimum(x, 0)))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def gelu(x, approximate=True):
    """Gaussian error linear unit; the tanh approximation by default, as Keras 3's op."""
    x = as_float(x)
    if approximate:
        inner = _math.sqrt(2 / _math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + anp.tanh(inner))
    return 0.5 * x * (1 + erf(x / _math.sqrt(2)))


def silu(x):
    x = as_float(x)
    return x * _sigmoid(x)


swish = silu


def hard_sigmoid(x):
    """relu6(x + 3) / 6, as Keras 3."""
    return relu6(as_float(x) + 3) / 6


def softplus(x):
    """log(1 + exp(x)), without overflow."""
    x = as_float(x)
    return anp.logaddexp(x, 0)


def softsign(x):
    x = as_float(x)
    return x / (1 + anp.abs(x))


def log_sigmoid(x):
    return -softplus(-as_float(x))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) over `axis`, shifted by the maximum (a constant) first."""
    x = as_float(x)
    shifted = x - np.max(getval(x), axis=axis, keepdims=True)
    e = anp.exp(shifted)
    return e / anp.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = as_float(x)
    return x - logsumexp(x, axis=axis, keepdims=True)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels as one-hot vectors along a new `axis` (last by default), ``floatx()``;
    a label outside [0, num_classes) gives a row of zeros, as TensorFlow."""
    if sparse:
        raise ValueError("fastnn.ops.one_hot has no sparse output; use sparse=False.")
    labels = np.asarray(getval(to_array(x)))
    if labels.dtype.kind not in "iub":
        raise ValueError(f"one_hot needs integer labels, received dtype {labels.dtype}.")
    encoded = labels[..., None] == np.arange(num_classes)
    encoded = encoded.astype(dtype or config.floatx())
    return np.moveaxis(encoded, -1, _axis(axis, encoded.ndim))


def _same_shape(target, output, name):
    if np.shape(getval(target)) != np.shape(getval(output)):
        raise ValueError(
            f"{name}: `target` and `output` must have the same shape. Received: "
            f"target.shape={np.shape(getval(target))}, output.shape={np.shape(getval(output))}"
        )


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (no mean), Keras 3's `ops.binary_crossentropy`."""
    output = as_float(output)
    target = cast(to_array(target), dtype_of(output))
    _same_shape(target, output, "binary_crossentropy")
    if from_logits:
        # max(z, 0) - z*t + log(1 + exp(-|z|)): exact for any logit
        return _maximum(output, 0) - output * target + anp.log1p(anp.exp(-anp.abs(output)))
    eps = config.epsilon()
    output = _clip(output, eps, 1 - eps)
    return -(target * anp.log(output) + (1 - target) * anp.log(1 - output))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy over `axis` between one-hot (or soft) targets and probabilities (which
    are first rescaled to sum to one, then clipped) or logits."""
    output = as_float(output)
    target = cast(to_array(target), dtype_of(output))
    _same_shape(target, output, "categorical_crossentropy")
    if from_logits:
        return -anp.sum(target * log_softmax(output, axis=axis), axis=axis)
    output = output / anp.sum(output, axis=axis, keepdims=True)
    eps = config.epsilon()
    output = _clip(output, eps, 1 - eps)
    return -anp.sum(target * anp.log(output), axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy between integer labels and probabilities or logits on the last axis;
    probabilities are clipped to [epsilon, 1 - epsilon], their log renormalized."""
    output = as_float(output)
    ndim = np.ndim(getval(output))
    if ndim < 1:
        raise ValueError("Argument `output` must be at least rank 1. Received: output.shape=()")
    if _axis(axis, ndim) != ndim - 1:
        raise ValueError(f"Only axis=-1 is currently supported. Received: axis={axis}")
    labels = np.asarray(getval(to_array(target)))
    if labels.ndim == ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != np.shape(getval(output))[:-1]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={labels.shape}, output.shape={np.shape(getval(output))}"
        )
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= np.shape(getval(output))[-1]):
        raise ValueError(
            f"Received a label outside [0, {np.shape(getval(output))[-1]}): "
            f"min {labels.min()}, max {labels.max()}."
        )
    if not from_logits:
        eps = config.epsilon()
        output = anp.log(_clip(output, eps, 1 - eps))
    picked = output[open_grid(labels.shape) + (labels,)]
    return logsumexp(output, axis=-1) - picked


def normalize(x, axis=-1, order=2, epsilon=None):
    """`x` divided by its `order`-norm over `axis` (at least `epsilon`)."""
    x = as_float(x)
    eps = config.epsilon() if epsilon is None else epsilon
    return x / _maximum(_norm(x, ord=order, axis=axis, keepdims=True), eps)
