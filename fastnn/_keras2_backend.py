"""The Keras 2 backend functions (``K.mean``, ``K.clip``, ...) that old custom losses call.

Keras 2's signatures and defaults, on `fastnn.ops`, so they are differentiable in training:
``K.argmax``, ``K.concatenate`` and ``K.expand_dims`` work on the last axis by default,
``K.clip`` accepts None bounds and a max below the min, ``K.sqrt`` clips negative input to 0,
and ``K.binary_crossentropy`` adds epsilon inside its logs, as TensorFlow 2's ``tf.keras``
did. One difference: the mean of an integer array is a float (TensorFlow's is truncated).
`fastnn.backend` loads this module on first use.
"""

from __future__ import annotations

import numpy as np

from fastnn import config, ops
from fastnn.ops._dtypes import as_float, dtype_of, to_array


def _bool_to_float(x):
    x = to_array(x)
    return ops.cast(x, config.floatx()) if dtype_of(x) == np.bool_ else x


def mean(x, axis=None, keepdims=False):
    return ops.mean(_bool_to_float(x), axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    return ops.var(_bool_to_float(x), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return ops.std(_bool_to_float(x), axis=axis, keepdims=keepdims)


def argmax(x, axis=-1):
    """int64, as TensorFlow's default."""
    return ops.argmax(x, axis=axis).astype(np.int64)


def argmin(x, axis=-1):
    return ops.argmin(x, axis=axis).astype(np.int64)


def cumsum(x, axis=0):
    return ops.cumsum(x, axis=axis)


def logsumexp(x, axis=None, keepdims=False):
    return ops.logsumexp(x, axis=axis, keepdims=keepdims)


def sqrt(x):
    """sqrt(max(x, 0)): negative input gives 0, not nan, as tf.keras."""
    x = as_float(x)
    return ops.sqrt(ops.maximum(x, 0.0))


def pow(x, a):
    return ops.power(x, a)


def clip(x, min_value, max_value):
    """Values limited to [min_value, max_value]; None is unbounded, a max below the min is
    raised to the min."""
    if max_value is not None and min_value is not None and max_value < min_value:
        max_value = min_value
    return ops.clip(
        x, -np.inf if min_value is None else min_value, np.inf if max_value is None else max_value
    )


def switch(condition, then_expression, else_expression):
    return ops.where(condition, then_expression, else_expression)


def permute_dimensions(x, pattern):
    return ops.transpose(x, tuple(pattern))


def reshape(x, shape):
    return ops.reshape(x, shape)


def flatten(x):
    return ops.reshape(x, (-1,))


def batch_flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


def expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


def concatenate(tensors, axis=-1):
    return ops.concatenate(tensors, axis=axis)


def stack(x, axis=0):
    return ops.stack(x, axis=axis)


def tile(x, n):
    return ops.tile(x, n)


def repeat_elements(x, rep, axis):
    return ops.repeat(x, rep, axis=axis)


def gather(reference, indices):
    return ops.take(reference, indices, axis=0)


def one_hot(indices, num_classes):
    return ops.one_hot(indices, num_classes)


def l2_normalize(x, axis=None):
    """x / sqrt(max(sum(x**2), 1e-12)), as tf.math.l2_normalize."""
    x = as_float(x)
    return x / ops.sqrt(ops.maximum(ops.sum(x * x, axis=axis, keepdims=True), 1e-12))


def softmax(x, axis=-1):
    return ops.softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return ops.elu(x, alpha)


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """max(x, 0), with Keras 2's leak `alpha` below `threshold` and optional `max_value`."""
    x = as_float(x)
    if alpha == 0.0 and max_value is None and threshold == 0.0:
        return ops.relu(x)
    out = ops.where(x > threshold, x, alpha * (x - threshold))
    return out if max_value is None else ops.minimum(out, max_value)


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise; on probabilities: -(t log(p + eps) + (1 - t) log(1 - p + eps)) with p
    clipped to [eps, 1 - eps] (tf.keras 2's formula)."""
    if from_logits:
        return ops.binary_crossentropy(target, output, from_logits=True)
    output = as_float(output)
    target = ops.cast(target, dtype_of(output))
    eps = config.epsilon()
    output = ops.clip(output, eps, 1 - eps)
    return -(target * ops.log(output + eps) + (1 - target) * ops.log(1 - output + eps))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return ops.categorical_crossentropy(target, output, from_logits=from_logits, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    return ops.sparse_categorical_crossentropy(
        target, output, from_logits=from_logits, axis=axis
    )


def stop_gradient(variables):
    if isinstance(variables, (list, tuple)):
        return [ops.stop_gradient(v) for v in variables]
    return ops.stop_gradient(variables)


def constant(value, dtype=None, shape=None, name=None):
    value = np.asarray(value, dtype=dtype or config.floatx())
    return value if shape is None else np.broadcast_to(value, shape).copy()


def zeros(shape, dtype=None, name=None):
    return ops.zeros(shape, dtype)


def ones(shape, dtype=None, name=None):
    return ops.ones(shape, dtype)


def eye(size, dtype=None, name=None):
    return ops.eye(size, dtype=dtype)


def zeros_like(x, dtype=None, name=None):
    return ops.zeros_like(x, dtype)


def ones_like(x, dtype=None, name=None):
    return ops.ones_like(x, dtype)


def shape(x):
    """The shape as an int32 array (Keras 2 returns a tensor); `int_shape` gives a tuple."""
    return np.asarray(ops.shape(x), dtype=np.int32)


def int_shape(x):
    return ops.shape(x)


def get_value(x):
    """The value of a variable (``optimizer.learning_rate``, a layer's weight) as NumPy;
    anything without ``numpy()`` is returned as is, as Keras 2 does for non-tensors."""
    return x.numpy() if hasattr(x, "numpy") else x


def set_value(x, value):
    """``x.assign(value)`` with value cast to x's dtype first (as Keras 2: a float32
    learning rate receives the float32 rounding of the value)."""
    x.assign(np.asarray(value, dtype=np.dtype(str(x.dtype))))


def batch_set_value(tuples):
    for x, value in tuples:
        set_value(x, value)


def _of_x_and_y(name: str):
    """Keras 2's ``K.<name>(x, y)``: keras.ops's function of the same name (whose arguments
    are named x1, x2)."""
    op = getattr(ops, name)

    def function(x, y):
        return op(x, y)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``K.{name}(x, y)``, as ``keras.ops.{name}``."
    return function


_OF_X_AND_Y = ("maximum", "minimum", "equal", "not_equal", "greater", "greater_equal", "less",
               "less_equal", "dot")
globals().update({name: _of_x_and_y(name) for name in _OF_X_AND_Y})

# Keras 2 functions that are keras.ops functions as they are (same names and arguments).
_AS_IN_OPS = ("sum", "prod", "max", "min", "any", "all", "square", "abs", "exp", "log", "round",
              "sign", "cast", "transpose", "squeeze", "sigmoid", "hard_sigmoid", "tanh",
              "softplus", "softsign", "ndim", "dtype")
globals().update({name: getattr(ops, name) for name in _AS_IN_OPS})

NAMES = tuple(
    name for name, value in list(globals().items())
    if callable(value) and not name.startswith("_")
    and (getattr(value, "__module__", "") == __name__ or name in _AS_IN_OPS)
)
