"""Turn what users pass to fit/evaluate/predict into the arrays the engine takes.

Everything is checked here, once, before anything changes: the engine trusts these arrays.
x becomes a C-contiguous (n, features) array of the model's dtype (no copy when it already is
one); y becomes (n, outputs) floats or, for sparse losses, (n,) int64 labels in range.
Every message names the argument, what was wrong with it and what was expected.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastnn._kernels import _reductions
from fastnn._kernels._openmp_helpers import effective_n_threads, parallel_min_work

# dtype kinds accepted as numbers: booleans, signed and unsigned integers, floats.
_NUMERIC_KINDS = "biuf"
_PARALLEL_MIN_WORK = parallel_min_work()  # below it a check runs on one thread
# (dtypes, not types: a dtype compares with a dtype faster than with a type it must convert)
_ENGINE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_numeric_array(data: Any, name: str) -> np.ndarray:
    """NumPy arrays, Python lists, pandas objects and anything with ``__array__``."""
    if type(data) is np.ndarray and data.dtype.kind in _NUMERIC_KINDS:
        return data                     # the common case, checked in a few hundred ns
    if data is None:
        raise ValueError(f"`{name}` is required; received None.")
    if type(data).__module__.startswith("pandas") and hasattr(data, "to_numpy"):
        return _pandas_to_numpy(data, name)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"`{name}` could not be converted to a numeric array: {err}") from None
    _check_numeric_dtype(arr.dtype, name)
    return arr


def _check_numeric_dtype(dtype: np.dtype, name: str) -> None:
    if dtype.kind in _NUMERIC_KINDS:
        return
    if dtype.kind == "c":
        raise ValueError(f"`{name}` must be real-valued; received complex data ({dtype}).")
    raise ValueError(
        f"`{name}` must be numeric (integers, floats or booleans); received an array of "
        f"dtype {dtype}. Convert strings or mixed objects to numbers first."
    )


def _pandas_to_numpy(data: Any, name: str) -> np.ndarray:
    """A DataFrame or Series as a NumPy array; its columns must all be numeric.

    Mixed numeric columns (e.g. bool and float) would come out of ``to_numpy()`` as an object
    array, so the columns are checked first and converted straight to float64; missing values
    become NaN, which the finiteness check then reports.
    """
    dtypes = list(data.dtypes) if hasattr(data, "columns") else [data.dtype]
    kinds = [getattr(dt, "kind", "O") for dt in dtypes]
    bad = [i for i, kind in enumerate(kinds) if kind not in _NUMERIC_KINDS]
    if bad:
        if hasattr(data, "columns"):
            cols = {str(data.columns[i]): str(dtypes[i]) for i in bad}
            raise ValueError(f"`{name}` must be numeric; these columns are not: {cols}. "
                             "Encode them as numbers first.")
        raise ValueError(f"`{name}` must be numeric; received a Series of dtype {dtypes[0]}.")
    if len(set(kinds)) == 1 and all(isinstance(dt, np.dtype) for dt in dtypes):
        return data.to_numpy()
    return data.to_numpy(dtype=np.float64, na_value=np.nan)


def check_finite(arr: np.ndarray, name: str) -> None:
    """ValueError naming the first NaN or infinity of a float array, if it has one."""
    dtype = arr.dtype
    if dtype.kind != "f":
        return
    if dtype in _ENGINE_FLOATS and arr.flags.c_contiguous:
        threads = effective_n_threads() if arr.size >= _PARALLEL_MIN_WORK else 1
        ok = _reductions.array_all_finite(arr, threads)
    else:
        ok = bool(np.isfinite(arr).all())
    if not ok:
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        position = f"row {where[0]}" + (f", column {where[1]}" if len(where) == 2 else "") \
            if where else "its only value"
        raise ValueError(
            f"`{name}` contains NaN or infinity (the first at {position}: "
            f"{arr[where]}); every value must be finite."
        )


def prepare_x(x: Any, input_shape: tuple, dtype: np.dtype, layer_name: str,
              name: str = "x") -> np.ndarray:
    """x as a C-contiguous (n, prod(input_shape)) array of ``dtype``, checked."""
    if type(x) is np.ndarray and x.dtype == dtype and x.ndim == 2 and len(input_shape) == 1 \
            and x.shape[1] == input_shape[0] and x.flags.c_contiguous:
        check_finite(x, name)  # already in the engine's layout: the common case, ~1 µs
        return x
    arr = as_numeric_array(x, name)
    if arr.ndim == 1 and len(input_shape) == 1 and input_shape[0] == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim == 0 or tuple(arr.shape[1:]) != tuple(input_shape):
        received = arr.shape
        if arr.ndim >= 1 and len(input_shape) == arr.ndim - 1:
            mismatch = next((a for a, (r, e) in enumerate(zip(received[1:], input_shape))
                             if r != e), len(input_shape) - 1) - len(input_shape)
            raise ValueError(
                f"Input 0 of layer '{layer_name}' is incompatible with the layer: expected "
                f"axis {mismatch} of input shape to have value {input_shape[mismatch]}, but "
                f"received input with shape {received}"
            )
        raise ValueError(
            f"Input 0 of layer '{layer_name}' is incompatible with the layer: expected shape "
            f"(None, {', '.join(map(str, input_shape))}), but received input with shape "
            f"{received}"
        )
    width = math.prod(input_shape)
    out = _converted(arr.reshape(arr.shape[0], width), dtype)
    _check_converted(out, arr, name)
    return out


def python_loss_targets(y: Any, n: int, output: str) -> np.ndarray:
    """Targets for a Python loss: any numeric array with one row per sample, as given (the
    loss converts them to its dtype, as Keras's losses do)."""
    arr = as_numeric_array(y, "y")
    if arr.ndim == 0 or arr.shape[0] != n:
        raise ValueError(f"The targets of output '{output}' have shape {arr.shape}; expected "
                         f"{n} rows, one per sample of x.")
    check_finite(arr, "y")
    return arr


def prepare_y(y: Any, n: int, out_dim: int, sparse: bool, dtype: np.dtype) -> np.ndarray:
    """Targets for the loss: (n,) int64 labels in [0, out_dim) when sparse, else (n, out_dim)
    floats (a (n,) y against one output is expanded, as Keras does)."""
    arr = as_numeric_array(y, "y")
    check_cardinality({"x": n, "y": arr.shape[0] if arr.ndim else 1})
    if sparse:
        return _class_labels(arr, out_dim)
    if arr.ndim == 1 and out_dim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != out_dim:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={arr.shape}, output.shape=(None, {out_dim}). For integer class "
            "labels use sparse_categorical_crossentropy, or one-hot encode y with "
            "fastnn.utils.to_categorical."
        )
    out = _converted(arr, dtype)
    _check_converted(out, arr, "y")
    return out


def _class_labels(arr: np.ndarray, out_dim: int) -> np.ndarray:
    """Sparse targets: whole numbers in [0, out_dim), of shape (n,) or (n, 1), as int64."""
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            "A sparse categorical loss takes integer class labels of shape (n,) or (n, 1); "
            f"received y of shape {arr.shape}. Use categorical_crossentropy for one-hot y."
        )
    if arr.dtype.kind == "f":
        check_finite(arr, "y")
        fractional = np.flatnonzero(arr != np.floor(arr))
        if fractional.size:
            first = fractional[0]
            raise ValueError("Sparse categorical labels must be whole numbers (class "
                             f"indices); y[{first}] is {arr[first]}.")
    if arr.size:
        # Checked on the original values: a cast first could wrap large ones into range.
        low, high = arr.min(), arr.max()
        if low < 0 or high >= out_dim:
            first = np.flatnonzero((arr < 0) | (arr >= out_dim))[0]
            raise ValueError(
                f"Class labels must lie in [0, {out_dim}) for a model with {out_dim} outputs; "
                f"y[{first}] is {arr[first]} (received labels from {low} to {high})."
            )
    return np.ascontiguousarray(arr, dtype=np.int64)


def _converted(arr: np.ndarray, dtype) -> np.ndarray:
    """C-contiguous ``dtype`` (no copy if already so); overflow is reported by the caller."""
    if arr.dtype.kind == "f" and arr.dtype.itemsize > np.dtype(dtype).itemsize:
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(arr, dtype=dtype)
    return np.ascontiguousarray(arr, dtype=dtype)


def _check_converted(out: np.ndarray, source: np.ndarray, name: str) -> None:
    """check_finite on converted data, telling overflow in the conversion from bad input."""
    try:
        check_finite(out, name)
    except ValueError:
        if source.dtype.kind in "iu" or bool(np.isfinite(source).all()):
            raise ValueError(
                f"`{name}` has values too large for {out.dtype} (largest magnitude "
                f"{np.abs(source).max()}, limit {np.finfo(out.dtype).max}); rescale the data "
                "or use fastnn.config.set_floatx('float64') before building the model."
            ) from None
        raise


def check_cardinality(sizes: dict[str, int]) -> None:
    """Keras's message, word for word, when the arrays disagree on the number of samples."""
    if len(set(sizes.values())) > 1:
        detail = "".join(f"'{k}' sizes: {v}\n" for k, v in sizes.items())
        raise ValueError("Data cardinality is ambiguous. Make sure all arrays contain the same "
                         "number of samples." + detail)


def prepare_sample_weight(sample_weight: Any, class_weight: dict | None, y_raw: Any, n: int,
                          dtype: np.dtype) -> np.ndarray | None:
    """Per-sample weights from ``sample_weight`` or ``class_weight`` (not both), or None."""
    if sample_weight is not None and class_weight is not None:
        raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
    if class_weight is not None:
        return class_weights_to_sample_weights(class_weight, y_raw, dtype)
    if sample_weight is None:
        return None
    w = as_numeric_array(sample_weight, "sample_weight")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1:
        raise ValueError(f"`sample_weight` must have shape (n,) or (n, 1), one weight per "
                         f"sample; received shape {w.shape}.")
    check_cardinality({"x": n, "sample_weight": w.shape[0]})
    out = _converted(w, dtype)
    _check_converted(out, w, "sample_weight")
    return out


def class_weights_to_sample_weights(class_weight: dict, y: Any, dtype) -> np.ndarray:
    """Keras's rule: y squeezed if (n, 1), argmax'ed if one-hot, rounded; unknown classes 1."""
    if not isinstance(class_weight, dict):
        raise ValueError(
            "`class_weight` must be a dict of class index to weight; received "
            f"{type(class_weight).__name__}."
        )
    arr = as_numeric_array(y, "y")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = np.argmax(arr, axis=1)
    check_finite(arr, "y")
    classes = np.rint(arr).astype(np.int64)
    weights = np.ones(classes.shape[0], dtype=dtype)
    for cls, weight in class_weight.items():
        weights[classes == int(cls)] = weight
    check_finite(weights, "class_weight")
    return weights


def split_validation(arrays: list, validation_split: float) -> tuple[list, list]:
    """Keras: the last fraction of the samples, taken before any shuffling."""
    if isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real) \
            or not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be a number strictly between 0 and 1 (the "
                         f"fraction of samples held out); received {validation_split!r}.")
    n = next(a.shape[0] for a in arrays if a is not None)
    split_at = math.floor(n * (1.0 - validation_split))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"Training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by `validation_split={validation_split}`."
            " Either provide more data, or a different value for the `validation_split` "
            "argument."
        )
    train = [None if a is None else a[:split_at] for a in arrays]
    val = [None if a is None else a[split_at:] for a in arrays]
    return train, val


def unpack_validation_data(validation_data) -> tuple[Any, Any, Any]:
    if not isinstance(validation_data, (tuple, list)) or not 2 <= len(validation_data) <= 3:
        raise ValueError(
            "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"val_sample_weight); received {_describe(validation_data)}."
        )
    items = list(validation_data) + [None] * (3 - len(validation_data))
    return items[0], items[1], items[2]


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return f"an object of type {type(value).__name__}"
