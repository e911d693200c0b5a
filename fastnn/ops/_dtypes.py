"""Keras 3's dtype rules for `fastnn.ops`, where they differ from NumPy's.

Keras promotes types on JAX's lattice, not NumPy's: an integer meeting a float array takes the
float's type (NumPy: int32 + float32 -> float64), a Python float is "weak" and becomes
``floatx()`` next to integers (NumPy: float64), and functions with a float result (``mean``,
``sqrt``, ``softmax``, ...) give ``floatx()`` for integer and boolean input. Python ints alone
become int32, Python floats ``floatx()``.
"""

from __future__ import annotations

import numpy as np
from autograd.tracer import Box, getval

from fastnn import config
from fastnn.layers.base import Variable

_WEAK = (bool, int, float)


def to_array(x):
    """`x` as an array or an autograd box; Python values take Keras's default dtypes."""
    if isinstance(x, (np.ndarray, Box)):
        return x
    if isinstance(x, np.generic):
        return np.asarray(x)
    if isinstance(x, Variable):
        return x.value  # the live array (or what the engine traces in its place)
    if hasattr(x, "numpy") and not isinstance(x, (list, tuple)):
        return np.asarray(x.numpy())  # a TensorFlow or PyTorch tensor
    array = np.asarray(x)
    if array.dtype == np.float64 and not _has_numpy_float64(x):
        return array.astype(config.floatx())
    if array.dtype == np.int64 and not _has_numpy_int64(x):
        return array.astype(np.int32)
    if array.dtype == object:
        raise ValueError(f"Cannot convert {x!r} to a tensor: its items are not numbers.")
    return array


def _has_numpy_float64(x) -> bool:
    return isinstance(x, (np.ndarray, np.float64)) or (
        isinstance(x, (list, tuple)) and any(_has_numpy_float64(item) for item in x)
    )


def _has_numpy_int64(x) -> bool:
    return isinstance(x, (np.ndarray, np.int64)) or (
        isinstance(x, (list, tuple)) and any(_has_numpy_int64(item) for item in x)
    )


# Keras's names for Python types (its TensorFlow backend's: `int` is int64)
_PYTHON_DTYPES = {bool: "bool", int: "int64", "int": "int64", float: "float32"}


def standardize_dtype(dtype) -> np.dtype:
    """A dtype as Keras names it: None is ``floatx()``, Python's `float` float32."""
    if dtype is None:
        return np.dtype(config.floatx())
    try:
        return np.dtype(_PYTHON_DTYPES.get(dtype, dtype))
    except TypeError:
        raise ValueError(f"Invalid dtype: {dtype!r}") from None


def dtype_of(x) -> np.dtype:
    return getval(x).dtype


def result_type(*operands) -> np.dtype:
    """The dtype Keras gives an operation on `operands` (arrays, boxes or Python numbers)."""
    dtypes = [dtype_of(x) for x in operands if not isinstance(x, _WEAK)]
    weak = [type(x) for x in operands if isinstance(x, _WEAK)]
    floats = [d for d in dtypes if d.kind == "f"]
    if floats:
        return np.result_type(*floats)
    if float in weak:
        return np.dtype(config.floatx())
    ints = [d for d in dtypes if d.kind in "iu"]
    if ints:
        return np.result_type(*ints)
    if int in weak:
        return np.dtype(np.int32)
    return np.dtype(np.bool_)


def float_type(x) -> np.dtype:
    """The dtype of a float-valued function of `x`: its own if float, else ``floatx()``."""
    dtype = dtype_of(x)
    return dtype if dtype.kind == "f" else np.dtype(config.floatx())


def cast(x, dtype):
    """`x` in `dtype`: differentiable between float types, a constant otherwise."""
    dtype = standardize_dtype(dtype)
    if dtype_of(x) == dtype:
        return x
    if isinstance(x, Box) and dtype.kind == "f" and dtype_of(x).kind == "f":
        return x.astype(dtype)
    return np.asarray(getval(x)).astype(dtype)


def as_float(x):
    x = to_array(x)
    return cast(x, float_type(x))


def promote(*operands):
    """The array operands cast to their Keras result type; Python numbers stay weak."""
    dtype = result_type(*operands)
    if all(isinstance(x, _WEAK) for x in operands):
        return [np.asarray(x, dtype) for x in operands]
    return [x if isinstance(x, _WEAK) else cast(to_array(x), dtype) for x in operands]
