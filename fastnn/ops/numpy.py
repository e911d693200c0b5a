"""`keras.ops` functions of NumPy's shape: arithmetic, reductions, shapes, indexing, creation.

Every function takes NumPy arrays (or Python numbers and lists) and returns NumPy arrays; under
autograd's tracing (`fastnn._autodiff`) it takes and returns autograd's boxes and is
differentiable wherever Keras's is. Dtypes follow Keras 3 (`fastnn.ops._dtypes`), not NumPy.
"""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
from autograd.tracer import getval

try:
    from numpy.lib.array_utils import normalize_axis_tuple
except ImportError:  # NumPy < 2
    from numpy.core.numeric import normalize_axis_tuple

from fastnn import config
from fastnn.ops._dtypes import (
    as_float,
    cast,
    dtype_of,
    promote,
    result_type,
    standardize_dtype,
    to_array,
)
from fastnn.ops._rules import _clip, _max, _maximum, _mean, _min, _minimum, _select


def _tuple(axis):
    """Keras takes a list of axes where NumPy wants a tuple."""
    return tuple(axis) if isinstance(axis, list) else axis


# ----- arithmetic -----------------------------------------------------------------------------


def add(x1, x2):
    x1, x2 = promote(x1, x2)
    return anp.add(x1, x2)


def subtract(x1, x2):
    x1, x2 = promote(x1, x2)
    return anp.subtract(x1, x2)


def multiply(x1, x2):
    x1, x2 = promote(x1, x2)
    return anp.multiply(x1, x2)


def divide(x1, x2):
    """True division; integers give ``floatx()`` (Keras), not float64."""
    x1, x2 = promote(x1, x2, 1.0)[:2]
    return anp.true_divide(x1, x2)


true_divide = divide


def power(x1, x2):
    x1, x2 = promote(x1, x2)
    return anp.power(x1, x2)


def negative(x):
    return anp.negative(to_array(x))


def maximum(x1, x2):
    """Element-wise maximum; at ties the gradient goes to `x1`, as TensorFlow."""
    x1, x2 = promote(x1, x2)
    return _maximum(x1, x2)


def minimum(x1, x2):
    x1, x2 = promote(x1, x2)
    return _minimum(x1, x2)


def clip(x, x_min, x_max):
    """Values limited to [x_min, x_max]; the gradient is zero outside them."""
    x = to_array(x)
    if dtype_of(x) == np.bool_:
        x = cast(x, np.int32)
    return _clip(x, getval(x_min), getval(x_max))


def where(condition, x1=None, x2=None):
    """`x1` where `condition` holds, else `x2`; with neither, the indices where it holds."""
    condition = getval(to_array(condition))
    if x1 is None and x2 is None:
        return tuple(index.astype(np.int32) for index in np.nonzero(condition))
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have values.")
    x1, x2 = promote(x1, x2)
    return _select(condition, x1, x2)


# ----- element-wise functions -----------------------------------------------------------------


def abs(x):
    return anp.abs(to_array(x))


absolute = abs


def sign(x):
    return anp.sign(to_array(x))


def square(x):
    x = to_array(x)
    if dtype_of(x) == np.bool_:
        x = cast(x, np.int32)
    return anp.square(x)


def sqrt(x):
    return anp.sqrt(as_float(x))


def reciprocal(x):
    return anp.reciprocal(as_float(x))


def exp(x):
    return anp.exp(as_float(x))


def expm1(x):
    return anp.expm1(as_float(x))


def log(x):
    return anp.log(as_float(x))


def log1p(x):
    return anp.log1p(as_float(x))


def log2(x):
    return anp.log(as_float(x)) / math.log(2)  # a Python float keeps float32


def log10(x):
    return anp.log(as_float(x)) / math.log(10)


def sin(x):
    return anp.sin(as_float(x))


def cos(x):
    return anp.cos(as_float(x))


def tanh(x):
    return anp.tanh(as_float(x))


def floor(x):
    return anp.floor(as_float(x))


def ceil(x):
    return anp.ceil(as_float(x))


def round(x, decimals=0):
    """Halves round to even, as NumPy and TensorFlow do."""
    return anp.round(to_array(x), decimals)


# ----- comparisons and logic (no gradient) ----------------------------------------------------


def _compare(ufunc):
    def compare(x1, x2):
        return ufunc(getval(to_array(x1)), getval(to_array(x2)))

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"Element-wise `{ufunc.__name__}`, a boolean array."
    return compare


equal = _compare(np.equal)
not_equal = _compare(np.not_equal)
greater = _compare(np.greater)
greater_equal = _compare(np.greater_equal)
less = _compare(np.less)
less_equal = _compare(np.less_equal)
logical_and = _compare(np.logical_and)
logical_or = _compare(np.logical_or)
logical_xor = _compare(np.logical_xor)


def logical_not(x):
    return np.logical_not(getval(to_array(x)))


def isnan(x):
    return np.isnan(getval(to_array(x)))


def isinf(x):
    return np.isinf(getval(to_array(x)))


def isfinite(x):
    return np.isfinite(getval(to_array(x)))


# ----- reductions -----------------------------------------------------------------------------


def _accumulator(x):
    """Keras sums booleans and small integers in (u)int32."""
    dtype = dtype_of(x)
    if dtype == np.bool_ or dtype in (np.int8, np.int16):
        return cast(x, np.int32)
    if dtype in (np.uint8, np.uint16):
        return cast(x, np.uint32)
    return x


def _int_dtype(x):
    """NumPy sums int32 into int64 unless told; Keras keeps the accumulator's type."""
    dtype = dtype_of(x)
    return dtype if dtype.kind in "iu" else None


def sum(x, axis=None, keepdims=False):
    x = _accumulator(to_array(x))
    return anp.sum(x, axis=_tuple(axis), keepdims=keepdims, dtype=_int_dtype(x))


def prod(x, axis=None, keepdims=False, dtype=None):
    x = to_array(x)
    x = cast(x, dtype) if dtype is not None else _accumulator(x)
    return anp.prod(x, axis=_tuple(axis), keepdims=keepdims, dtype=_int_dtype(x))



def mean(x, axis=None, keepdims=False):
    """Integers and booleans give ``floatx()`` (Keras); float types keep their own."""
    return _mean(as_float(x), _tuple(axis), keepdims)


def var(x, axis=None, keepdims=False):
    """The biased variance (divided by N), as Keras."""
    x = as_float(x)
    centred = x - mean(x, axis=axis, keepdims=True)
    return mean(centred * centred, axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return anp.sqrt(var(x, axis=axis, keepdims=keepdims))


def max(x, axis=None, keepdims=False, initial=None):
    """The largest value; ties share the gradient equally, as TensorFlow does."""
    result = _max(to_array(x), _tuple(axis), keepdims)
    return result if initial is None else maximum(result, initial)


def min(x, axis=None, keepdims=False, initial=None):
    result = _min(to_array(x), _tuple(axis), keepdims)
    return result if initial is None else minimum(result, initial)


def cumsum(x, axis=None, dtype=None):
    x = to_array(x)
    x = cast(x, dtype) if dtype is not None else _accumulator(x)
    if _int_dtype(x) is None:
        return anp.cumsum(x, axis=axis)  # autograd's cumsum gradient takes no dtype
    return np.cumsum(getval(x), axis=axis, dtype=_int_dtype(x))


def argmax(x, axis=None, keepdims=False):
    """Index of the first largest value, int32 (Keras); ``axis=None`` looks at all values."""
    return np.argmax(getval(to_array(x)), axis=axis, keepdims=keepdims).astype(np.int32)


def argmin(x, axis=None, keepdims=False):
    return np.argmin(getval(to_array(x)), axis=axis, keepdims=keepdims).astype(np.int32)


def any(x, axis=None, keepdims=False):
    return np.any(getval(to_array(x)), axis=_tuple(axis), keepdims=keepdims)


def all(x, axis=None, keepdims=False):
    return np.all(getval(to_array(x)), axis=_tuple(axis), keepdims=keepdims)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm (NumPy's `ord` values); integers give ``floatx()``.

    Vector norms and the matrix norms Frobenius, 1, -1, inf, -inf are written here (autograd
    differentiates only some `ord` values of its own `norm`); "nuc" is autograd's, and the
    matrix 2 and -2 norms have values but no gradient (`_autodiff` says so).
    """
    x = as_float(x)
    ndim = np.ndim(getval(x))
    matrix = (isinstance(axis, tuple) and len(axis) == 2) or (
        axis is None and ndim == 2 and ord is not None
    )
    if matrix and ord in (1, -1, np.inf, -np.inf):
        # the largest (smallest) column sum (row sum for inf) of |x|
        rows, cols = normalize_axis_tuple((0, 1) if axis is None else axis, ndim)
        if ord in (np.inf, -np.inf):
            rows, cols = cols, rows
        pick = max if ord > 0 else min
        out = pick(anp.sum(anp.abs(x), axis=rows, keepdims=True), axis=cols, keepdims=True)
        return out if keepdims else anp.squeeze(out, axis=(rows, cols))
    if matrix and ord not in (None, "fro"):
        return anp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if axis is None and ord not in (None, "fro", 2) and ndim != 1:
        raise ValueError(f"norm with ord={ord!r} needs an `axis` for a rank-{ndim} input.")
    if ord in (None, "fro", 2):
        return anp.sqrt(anp.sum(x * x, axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return max(anp.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(anp.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return np.sum(getval(x) != 0, axis=axis, keepdims=keepdims).astype(dtype_of(x))
    if ord == 1:
        return anp.sum(anp.abs(x), axis=axis, keepdims=keepdims)
    return anp.sum(anp.abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


# ----- products -------------------------------------------------------------------------------


def matmul(x1, x2):
    x1, x2 = promote(x1, x2)
    shape1, shape2 = np.shape(getval(x1)), np.shape(getval(x2))
    inner1 = shape1[-1] if shape1 else None
    inner2 = shape2[-2] if len(shape2) >= 2 else (shape2[0] if shape2 else None)
    if inner1 is None or inner2 is None or inner1 != inner2:
        raise ValueError(
            "matmul needs the last axis of x1 to match the second-to-last axis of x2 "
            f"(the only axis of a vector); received x1.shape={shape1}, x2.shape={shape2}."
        )
    return anp.matmul(x1, x2)


def dot(x1, x2):
    x1, x2 = promote(x1, x2)
    return anp.dot(x1, x2)


def einsum(subscripts, *operands, **kwargs):
    return anp.einsum(subscripts, *promote(*operands), **kwargs)


# ----- shapes ---------------------------------------------------------------------------------


def transpose(x, axes=None):
    return anp.transpose(to_array(x), axes)


def reshape(x, newshape):
    return anp.reshape(to_array(x), newshape)


def ravel(x):
    return anp.ravel(to_array(x))


def expand_dims(x, axis):
    return anp.expand_dims(to_array(x), axis)


def squeeze(x, axis=None):
    return anp.squeeze(to_array(x), axis)


def moveaxis(x, source, destination):
    return anp.moveaxis(to_array(x), source, destination)


def swapaxes(x, axis1, axis2):
    return anp.swapaxes(to_array(x), axis1, axis2)


def broadcast_to(x, shape):
    x = to_array(x)
    # An addition broadcasts with a gradient for new leading axes (autograd's broadcast_to
    # has none).
    return x + np.zeros(shape, dtype_of(x))


def concatenate(xs, axis=0):
    return anp.concatenate(promote(*xs), axis=axis)


def stack(x, axis=0):
    return anp.stack(promote(*x), axis=axis)


def split(x, indices_or_sections, axis=0):
    return list(anp.split(to_array(x), indices_or_sections, axis=axis))


def tile(x, repeats):
    return anp.tile(to_array(x), repeats)


def repeat(x, repeats, axis=None):
    return anp.repeat(to_array(x), repeats, axis=axis)


def flip(x, axis=None):
    x = to_array(x)
    ndim = np.ndim(getval(x))
    axes = range(ndim) if axis is None else np.atleast_1d(axis)
    index = [slice(None)] * ndim
    for a in axes:
        index[_axis(a, ndim)] = slice(None, None, -1)
    return x[tuple(index)]


# ----- indexing -------------------------------------------------------------------------------


def _axis(axis, ndim):
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of bounds for an array of rank {ndim}.")
    return axis % ndim


def _indices(indices):
    indices = np.asarray(getval(indices))
    if indices.dtype.kind not in "iu":
        raise ValueError(f"Indices must be integers, received dtype {indices.dtype}.")
    return indices


def open_grid(shape):
    """Index arrays that pick every position of `shape`, each broadcastable to it."""
    ndim = len(shape)
    return tuple(
        np.arange(n).reshape((1,) * i + (n,) + (1,) * (ndim - i - 1)) for i, n in enumerate(shape)
    )


def take(x, indices, axis=None):
    """Entries of `x` at `indices` along `axis` (of the flattened `x` when None)."""
    x, indices = to_array(x), _indices(indices)
    if axis is None:
        return anp.ravel(x)[indices]
    axis = _axis(axis, np.ndim(getval(x)))
    return x[(slice(None),) * axis + (indices,)]


def take_along_axis(x, indices, axis=None):
    """Entries of `x` at `indices`, matched position by position along `axis`."""
    x, indices = to_array(x), _indices(indices)
    if axis is None:
        return anp.ravel(x)[indices.ravel()]
    ndim = np.ndim(getval(x))
    if indices.ndim != ndim:
        raise ValueError(
            f"indices must have the rank of x ({ndim}), received indices.shape={indices.shape}."
        )
    axis = _axis(axis, ndim)
    shape = np.broadcast_shapes(
        getval(x).shape[:axis] + (1,) + getval(x).shape[axis + 1 :],
        indices.shape[:axis] + (1,) + indices.shape[axis + 1 :],
    )
    grid = list(open_grid(shape))
    grid[axis] = indices
    return x[tuple(grid)]


def argsort(x, axis=-1):
    return np.argsort(getval(to_array(x)), axis=axis, kind="stable").astype(np.int32)


def sort(x, axis=-1):
    """Sorted values; the gradient goes back to where each value came from."""
    x = to_array(x)
    return take_along_axis(x, argsort(x, axis=axis), axis=axis)


# ----- creation -------------------------------------------------------------------------------


def _dtype(dtype, default):
    return standardize_dtype(default if dtype is None else dtype)


def zeros(shape, dtype=None):
    return np.zeros(shape, _dtype(dtype, config.floatx()))


def ones(shape, dtype=None):
    return np.ones(shape, _dtype(dtype, config.floatx()))


def full(shape, fill_value, dtype=None):
    return np.full(shape, fill_value, _dtype(dtype, config.floatx()))


def zeros_like(x, dtype=None):
    return np.zeros(np.shape(getval(x)), _dtype(dtype, dtype_of(to_array(x))))


def ones_like(x, dtype=None):
    return np.ones(np.shape(getval(x)), _dtype(dtype, dtype_of(to_array(x))))


def full_like(x, fill_value, dtype=None):
    return np.full(np.shape(getval(x)), fill_value, _dtype(dtype, dtype_of(to_array(x))))


def arange(start, stop=None, step=None, dtype=None):
    """int32 for integer bounds, ``floatx()`` when any is a float (Keras); `step` 1 if None."""
    step = 1 if step is None else step
    bounds = [start, step] if stop is None else [start, stop, step]
    default = result_type(*(b if isinstance(b, (int, float)) else to_array(b) for b in bounds))
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, step).astype(_dtype(dtype, default))


def eye(N, M=None, k=0, dtype=None):
    return np.eye(N, M, k, dtype=_dtype(dtype, config.floatx()))
