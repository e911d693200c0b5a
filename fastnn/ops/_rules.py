"""autograd rules of fastnn's own, where autograd's would change the result.

autograd's rules for these divide or select with NumPy float64 or integer values, which turns
a float32 gradient into float64 under NumPy 2's promotion; `maximum` and `minimum` also follow
TensorFlow at ties (the first argument takes the gradient) instead of splitting it, and `clip`
passes the gradient at its bounds, as TensorFlow's `clip_by_value`. Each is one node on the tape.
"""

from __future__ import annotations

import builtins
import functools
import math

import numpy as np
from autograd.extend import defvjp, primitive
from autograd.numpy.numpy_vjps import unbroadcast_f
from autograd.tracer import getval

try:
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:  # NumPy < 2
    from numpy.core.numeric import normalize_axis_tuple


@primitive
def _select(condition, x1, x2):
    return np.where(condition, x1, x2)


defvjp(
    _select,
    None,
    lambda ans, c, x1, x2: unbroadcast_f(x1, lambda g: np.where(c, g, 0)),
    lambda ans, c, x1, x2: unbroadcast_f(x2, lambda g: np.where(c, 0, g)),
)


@primitive
def _maximum(x1, x2):
    return np.maximum(x1, x2)


@primitive
def _minimum(x1, x2):
    return np.minimum(x1, x2)


defvjp(
    _maximum,
    lambda ans, x1, x2: unbroadcast_f(x1, lambda g: np.where(getval(x1) >= x2, g, 0)),
    lambda ans, x1, x2: unbroadcast_f(x2, lambda g: np.where(getval(x1) >= x2, 0, g)),
)
defvjp(
    _minimum,
    lambda ans, x1, x2: unbroadcast_f(x1, lambda g: np.where(getval(x1) <= x2, g, 0)),
    lambda ans, x1, x2: unbroadcast_f(x2, lambda g: np.where(getval(x1) <= x2, 0, g)),
)


@primitive
def _clip(x, x_min, x_max):
    return np.clip(x, x_min, x_max)


# Inside the bounds, the bounds included, the gradient passes (TensorFlow's clip_by_value).
defvjp(
    _clip,
    lambda ans, x, x_min, x_max: lambda g: np.where((x >= x_min) & (x <= x_max), g, 0),
)


def _extreme(reduce):
    @primitive
    def extreme(x, axis, keepdims):
        return reduce(x, axis=axis, keepdims=keepdims)

    def extreme_vjp(ans, x, axis, keepdims):
        kept, _ = _reduction(x.shape, axis)
        hits = x == np.reshape(ans, kept)

        def vjp(g):
            # ties share the gradient equally, as TensorFlow's reduce_max
            return np.reshape(g, kept) * hits / np.sum(hits, axis=axis, keepdims=True, dtype=g.dtype)

        return vjp

    defvjp(extreme, extreme_vjp)
    return extreme


@functools.lru_cache(maxsize=256)
def _reduction(shape, axis):
    """(the kept-dims shape, the count of values reduced into each result) of a reduction."""
    axes = range(len(shape)) if axis is None else normalize_axis_tuple(axis, len(shape))
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    return kept, math.prod(shape) // builtins.max(math.prod(kept), 1)


@primitive
def _mean(x, axis, keepdims):
    _, count = _reduction(x.shape, axis)
    return np.add.reduce(x, axis=axis, keepdims=keepdims) / count


def _mean_vjp(ans, x, axis, keepdims):
    # autograd's own mean divides its gradient by a NumPy integer, which turns a float32
    # gradient into float64 under NumPy 2's promotion rules; this one keeps the dtype, and
    # is one node where a sum and a division would be two.
    kept, count = _reduction(x.shape, axis)

    def vjp(g):
        out = np.empty(x.shape, np.result_type(g))
        return np.divide(np.reshape(g, kept), count, out=out)

    return vjp


defvjp(_mean, _mean_vjp)


_max = _extreme(np.max)
_min = _extreme(np.min)

