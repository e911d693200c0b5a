"""Keras 3 loss functions: per-sample values (reduced over the last axis, or ``axis``).

Inputs are validated and converted here (float32/float64 kept, anything else to floatx; the
Keras squeeze-or-expand of ranks; the reduced axis moved last) and the values come from one
call of a ``fastnn._kernels._losses`` kernel.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn import config
from fastnn._kernels import _losses as _k


def squeeze_or_expand_to_same_rank(
    x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Make ranks equal when they differ by one and the longer array ends in an axis of size 1.

    A 1-D array meeting an ``(N, 1)`` array is expanded to ``(N, 1)`` (unless
    ``expand_rank_1`` is false); otherwise the trailing axis of size 1 is squeezed. Other
    rank differences are left to the caller, as in Keras.
    """
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _float_dtype(x: Any) -> np.dtype:
    """float32/float64 arrays keep their type (as Keras's functions do); the rest get floatx."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and dtype in (np.float32, np.float64):
        return np.dtype(dtype)
    return np.dtype(config.floatx())


def _canonical_axis(axis: int, ndim: int, fn: str) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{fn}: `axis` must be an int, got {axis!r}.")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fn}: axis={axis} is out of range for inputs of rank {ndim}.")
    return int(axis) % ndim


def _rows(y_true: Any, y_pred: Any, axis: int, fn: str):
    """Both inputs as C-contiguous (rows, width) arrays of y_pred's float type, the reduced axis
    last, and the shape the per-sample values take."""
    dtype = _float_dtype(y_pred)
    y_pred = np.asarray(y_pred, dtype=dtype)
    y_true = np.asarray(y_true, dtype=dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must have the same shape (up to a trailing axis of size "
            f"1); got y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}."
        )
    if y_pred.ndim == 0:
        raise ValueError(f"{fn}: expected arrays of rank >= 1, got scalars.")
    axis = _canonical_axis(axis, y_pred.ndim, fn)
    y_true = np.moveaxis(y_true, axis, -1)
    y_pred = np.moveaxis(y_pred, axis, -1)
    out_shape = y_pred.shape[:-1]
    n, c = int(np.prod(out_shape)), y_pred.shape[-1]
    return (
        np.ascontiguousarray(y_true.reshape(n, c)),
        np.ascontiguousarray(y_pred.reshape(n, c)),
        out_shape,
    )


def _kernel(loss: str, y_true: np.ndarray, y_pred: np.ndarray, **params: Any) -> np.ndarray:
    values = np.zeros(y_pred.shape[0], dtype=y_pred.dtype)
    _k.loss_forward_backward(_k.LOSS_IDS[loss], y_true, y_pred, None, 1.0, values, None, **params)
    return values


def _per_sample(loss: str, y_true: Any, y_pred: Any, axis: int = -1, **params: Any):
    yt, yp, shape = _rows(y_true, y_pred, axis, loss)
    return _kernel(loss, yt, yp, **params).reshape(shape)


def mean_squared_error(y_true, y_pred):
    """mean((y_true - y_pred) ** 2) over the last axis."""
    return _per_sample("mean_squared_error", y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """mean(|y_true - y_pred|) over the last axis."""
    return _per_sample("mean_absolute_error", y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, eps)) over the last axis."""
    return _per_sample("mean_absolute_percentage_error", y_true, y_pred)


def mean_squared_logarithmic_error(y_true, y_pred):
    """mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1)) ** 2) over the last axis."""
    return _per_sample("mean_squared_logarithmic_error", y_true, y_pred)


def _hinge(loss: str, y_true, y_pred):
    yt, yp, shape = _rows(y_true, y_pred, -1, loss)
    # Keras maps 0/1 labels to -1/+1 only when every label of the input is 0 or 1.
    binary = bool(np.all((yt == 0) | (yt == 1)))
    return _kernel(loss, yt, yp, hinge_binary_labels=binary).reshape(shape)


def hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0)); 0/1 labels become -1/+1 if all labels are 0 or 1."""
    return _hinge("hinge", y_true, y_pred)


def squared_hinge(y_true, y_pred):
    """mean(max(1 - y_true * y_pred, 0) ** 2), with hinge's label conversion."""
    return _hinge("squared_hinge", y_true, y_pred)


def categorical_hinge(y_true, y_pred):
    """max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0) over the last axis."""
    return _per_sample("categorical_hinge", y_true, y_pred)


def log_cosh(y_true, y_pred):
    """mean(log(cosh(y_pred - y_true))) over the last axis, without overflow."""
    return _per_sample("log_cosh", y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """mean of 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2 (e = y_pred - y_true)."""
    return _per_sample("huber", y_true, y_pred, delta=float(delta))


def kl_divergence(y_true, y_pred):
    """sum(y log(y / p)) over the last axis, y and p clipped to [eps, 1]."""
    return _per_sample("kl_divergence", y_true, y_pred)


def poisson(y_true, y_pred):
    """mean(y_pred - y_true * log(y_pred + eps)) over the last axis."""
    return _per_sample("poisson", y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) along ``axis`` (-1 means identical)."""
    return _per_sample("cosine_similarity", y_true, y_pred, axis=axis)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Mean binary cross-entropy along ``axis``; labels smoothed towards 0.5.

    Probabilities are clipped to [eps, 1 - eps]; with ``from_logits`` the sigmoid is folded in
    and nothing is clipped.
    """
    loss = "sigmoid_binary_crossentropy" if from_logits else "binary_crossentropy"
    return _per_sample(loss, y_true, y_pred, axis, label_smoothing=float(label_smoothing))


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Mean of (1 - p_t) ** gamma * bce along ``axis`` (Lin et al., 2017), optionally times
    alpha for class 1 and 1 - alpha for class 0."""
    return _per_sample(
        "binary_focal_crossentropy",
        y_true,
        y_pred,
        axis,
        label_smoothing=float(label_smoothing),
        gamma=float(gamma),
        alpha=float(alpha),
        apply_class_balancing=bool(apply_class_balancing),
        from_logits=bool(from_logits),
    )


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """-sum(y_s * log(p)) along ``axis``, y_s = y (1 - ls) + ls / n_classes.

    Probabilities are renormalised to sum 1, then clipped to [eps, 1 - eps]; with
    ``from_logits`` the softmax is folded in.
    """
    if isinstance(axis, bool):
        raise ValueError(
            f"categorical_crossentropy: `axis` must be an int, got {axis!r}."
        )
    if np.shape(y_pred) and np.shape(y_pred)[-1] == 1:
        warnings.warn(
            "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={np.shape(y_pred)}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    label_smoothing = float(label_smoothing)
    ndim = np.ndim(y_pred)
    if (
        label_smoothing
        and ndim
        and _canonical_axis(axis, ndim, "categorical_crossentropy") != ndim - 1
    ):
        # Keras smooths with the size of the last axis whatever `axis` is; do it here.
        y_true = np.asarray(y_true, dtype=_float_dtype(y_pred))
        y_true = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]
        label_smoothing = 0.0
    loss = "softmax_categorical_crossentropy" if from_logits else "categorical_crossentropy"
    return _per_sample(loss, y_true, y_pred, axis, label_smoothing=label_smoothing)


def _sparse_values_and_mask(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Sparse categorical cross-entropy and the mask of counted samples (None: all)."""
    fn = "sparse_categorical_crossentropy"
    dtype = _float_dtype(y_pred)
    y_pred = np.asarray(y_pred, dtype=dtype)
    labels = np.asarray(y_true)
    labels, y_pred = squeeze_or_expand_to_same_rank(labels, y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{fn}: y_pred must have a class axis, got a scalar.")
    axis = _canonical_axis(axis, y_pred.ndim, fn)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis=axis)
    expected = y_pred.shape[:axis] + y_pred.shape[axis + 1 :]
    if labels.shape != expected:
        raise ValueError(
            f"{fn}: y_true must hold one integer label per sample, shape {expected} (or with a "
            f"trailing axis of size 1); got y_true.shape={np.shape(y_true)} for "
            f"y_pred.shape={y_pred.shape}."
        )
    y_pred = np.moveaxis(y_pred, axis, -1)
    c = y_pred.shape[-1]
    labels = labels.reshape(-1)
    if labels.dtype.kind not in "biuf":
        raise ValueError(f"{fn}: labels must be numbers, got dtype {labels.dtype}.")
    mask = None
    if ignore_class is not None:
        mask = labels != ignore_class
        labels = np.where(mask, labels, 0)
    if labels.dtype.kind == "f" and not np.all(np.floor(labels) == labels):
        raise ValueError(f"{fn}: labels must be whole numbers (class indices).")
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        bad = labels[(labels < 0) | (labels >= c)][0]
        raise ValueError(
            f"{fn}: labels must be class indices in [0, {c}) for y_pred with {c} classes; got "
            f"{bad!r}."
        )
    loss = "softmax_sparse_categorical_crossentropy" if from_logits else fn
    values = np.zeros(labels.size, dtype=dtype)
    yp = np.ascontiguousarray(y_pred.reshape(labels.size, c))
    _k.sparse_loss_forward_backward(
        _k.LOSS_IDS[loss], labels.astype(np.int64), yp, None, 1.0, values, None
    )
    if mask is not None:
        values[~mask] = 0
        mask = mask.reshape(y_pred.shape[:-1])
    return values.reshape(y_pred.shape[:-1]), mask


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """-log(p[label]) with integer labels of shape (N,) or (N, 1); probabilities are clipped
    to [eps, 1 - eps] and renormalised. Samples labelled ``ignore_class`` give 0."""
    return _sparse_values_and_mask(y_true, y_pred, from_logits, ignore_class, axis)[0]


BUILTIN_FUNCTIONS: dict[str, Callable] = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        hinge,
        squared_hinge,
        categorical_hinge,
        log_cosh,
        huber,
        kl_divergence,
        poisson,
        cosine_similarity,
        binary_crossentropy,
        binary_focal_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
    )
}
