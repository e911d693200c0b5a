"""Turn what users pass to fit/evaluate/predict into the arrays the engine takes.

Everything is checked here, once, before anything changes: the engine trusts these arrays.
x becomes a C-contiguous (n, features) array of the model's dtype (no copy when it already is
one); y becomes (n, outputs) floats or, for sparse losses, (n,) int64 labels in range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastnn._kernels import _reductions


def as_numeric_array(data: Any, name: str) -> np.ndarray:
    """NumPy arrays, Python lists, pandas objects and anything with ``__array__``."""
    if data is None:
        raise ValueError(f"`{name}` is required; received None.")
    if hasattr(data, "to_numpy") and callable(data.to_numpy):   # pandas DataFrame / Series
        data = data.to_numpy()
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as err:
        raise ValueError(f"`{name}` could not be converted to a numeric array: {err}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)
                                   or arr.dtype == np.bool_):
        raise ValueError(
            f"`{name}` must be numeric (integers, floats or booleans); received an array of "
            f"dtype {arr.dtype}."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"`{name}` must be real-valued; received complex data.")
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    flat = arr.reshape(-1)
    if flat.dtype in (np.float32, np.float64):
        ok = _reductions.all_finite(flat, 1) if flat.flags.c_contiguous else \
            bool(np.isfinite(flat).all())
    else:
        ok = True
    if not ok:
        raise ValueError(f"`{name}` contains NaN or infinity; every value must be finite.")


def prepare_x(x: Any, input_shape: tuple, dtype: np.dtype, layer_name: str,
              name: str = "x") -> np.ndarray:
    """x as a C-contiguous (n, prod(input_shape)) array of ``dtype``, checked."""
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
    out = np.ascontiguousarray(arr.reshape(arr.shape[0], -1), dtype=dtype)
    check_finite(out, name)
    return out


def prepare_y(y: Any, n: int, out_dim: int, sparse: bool, dtype: np.dtype) -> np.ndarray:
    """Targets for the loss: (n,) int64 labels in [0, out_dim) when sparse, else (n, out_dim)
    floats (a (n,) y against one output is expanded, as Keras does)."""
    arr = as_numeric_array(y, "y")
    check_cardinality({"x": n, "y": arr.shape[0] if arr.ndim else 1})
    if sparse:
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(
                "A sparse categorical loss takes integer class labels of shape (n,) or (n, 1); "
                f"received y of shape {arr.shape}. Use categorical_crossentropy for one-hot y."
            )
        check_finite(arr, "y")
        labels = arr.astype(np.int64)
        if not np.array_equal(labels, arr):
            raise ValueError("Sparse categorical labels must be whole numbers; received "
                             "fractional values in y.")
        if labels.size and (labels.min() < 0 or labels.max() >= out_dim):
            raise ValueError(
                f"Class labels must lie in [0, {out_dim}) for a model with {out_dim} outputs; "
                f"received labels from {labels.min()} to {labels.max()}."
            )
        return np.ascontiguousarray(labels)
    if arr.ndim == 1 and out_dim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != out_dim:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={arr.shape}, output.shape=(None, {out_dim}). For integer class "
            "labels use sparse_categorical_crossentropy, or one-hot encode y with "
            "fastnn.utils.to_categorical."
        )
    out = np.ascontiguousarray(arr, dtype=dtype)
    check_finite(out, "y")
    return out


def check_cardinality(sizes: dict[str, int]) -> None:
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
        raise ValueError(f"`sample_weight` must have shape (n,); received {w.shape}.")
    check_cardinality({"x": n, "sample_weight": w.shape[0]})
    out = np.ascontiguousarray(w, dtype=dtype)
    check_finite(out, "sample_weight")
    return out


def class_weights_to_sample_weights(class_weight: dict, y: Any, dtype) -> np.ndarray:
    """Keras's rule: y squeezed if (n, 1), argmax'ed if one-hot, rounded; unknown classes 1."""
    if not isinstance(class_weight, dict):
        raise ValueError(f"`class_weight` must be a dict of class index to weight; received "
                         f"{type(class_weight).__name__}.")
    arr = as_numeric_array(y, "y")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 2:
        arr = np.argmax(arr, axis=1)
    classes = np.rint(arr).astype(np.int64)
    weights = np.ones(classes.shape[0], dtype=dtype)
    for cls, weight in class_weight.items():
        weights[classes == int(cls)] = weight
    check_finite(weights, "class_weight")
    return weights


def split_validation(arrays: list, validation_split: float) -> tuple[list, list]:
    """Keras: the last fraction of the samples, taken before any shuffling."""
    if not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1; received "
                         f"{validation_split}.")
    n = next(a.shape[0] for a in arrays if a is not None)
    split_at = int(math.floor(n * (1.0 - validation_split)))
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
    if not isinstance(validation_data, (tuple, list)) or not 1 <= len(validation_data) <= 3:
        raise ValueError(
            "`validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
            f"val_sample_weight); received {type(validation_data).__name__}."
        )
    items = list(validation_data) + [None] * (3 - len(validation_data))
    return items[0], items[1], items[2]
