"""`keras.ops` core functions: conversion, casting, shapes, and what stops a gradient."""

from __future__ import annotations

import numpy as np
from autograd.tracer import Box, getval

from fastnn import config
from fastnn.ops._dtypes import cast as _cast
from fastnn.ops._dtypes import to_array


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """`x` as an array (a traced value stays traced): Python floats become ``floatx()``,
    Python ints int32, as Keras."""
    x = to_array(x)
    return x if dtype is None else _cast(x, dtype)


def convert_to_numpy(x):
    """`x` as a NumPy array; under tracing this is a constant (no gradient flows through)."""
    return np.asarray(getval(x))


def cast(x, dtype):
    """`x` in `dtype`; differentiable between float types, constant into integers."""
    return _cast(to_array(x), dtype)


def shape(x):
    """The shape as a tuple of ints."""
    return tuple(np.shape(getval(x)))


def ndim(x):
    return np.ndim(getval(x))


def size(x):
    return int(np.size(getval(x)))


def dtype(x):
    """The dtype's name, as a string (``"float32"``)."""
    return str(np.result_type(getval(to_array(x))))


def is_tensor(x):
    return isinstance(x, (np.ndarray, Box))


def stop_gradient(variable):
    """The value of `variable`, treated as a constant by differentiation."""
    return getval(to_array(variable))


def epsilon():
    """The fuzz factor (1e-7), ``keras.config.epsilon()``."""
    return config.epsilon()
