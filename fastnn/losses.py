"""Keras 3 losses: per-sample functions, the classes that reduce them, and the engine's view.

A loss function (``mean_squared_error(y_true, y_pred)``, ...) returns one value per sample,
reduced over the last axis; a loss class (``MeanSquaredError()``) calls its function and
reduces the values with sample weights ("sum_over_batch_size" by default, as Keras). The values
come from the C kernels of ``fastnn._kernels._losses``; this module validates and converts.

The engine cannot call Python, so it reads a loss once as a :class:`LossSpec`
(:func:`engine_spec`), fused with the last layer's softmax / sigmoid when Keras's TensorFlow
backend would compute the loss from the logits (:func:`fused_logits_spec`).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from fastnn import config
from fastnn._kernels import _losses as _k
from fastnn._registry import Registry

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


# --- shapes and dtypes -------------------------------------------------------------------------


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


# --- loss functions (per-sample values) --------------------------------------------------------


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
        raise ValueError(f"categorical_crossentropy: `axis` must be an int, got {axis!r}.")
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
    if label_smoothing and ndim and _canonical_axis(axis, ndim, "categorical_crossentropy") != ndim - 1:
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


# --- reduction ---------------------------------------------------------------------------------


def _standardize_reduction(reduction: str | None) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: {reduction!r}. Expected one of "
            f"{list(REDUCTIONS)}."
        )
    return reduction


def _broadcast_weights(values: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    if sample_weight.ndim < values.ndim and sample_weight.shape == values.shape[: sample_weight.ndim]:
        # Per-sample weights of multi-axis values weigh every value of the sample.
        sample_weight = sample_weight.reshape(sample_weight.shape + (1,) * (values.ndim - sample_weight.ndim))
    try:
        np.broadcast_shapes(values.shape, sample_weight.shape)
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {sample_weight.shape} does not match the per-sample loss "
            f"values of shape {values.shape}."
        ) from None
    return sample_weight


def reduce_weighted_values(
    values: np.ndarray,
    sample_weight: Any = None,
    mask: np.ndarray | None = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: Any = None,
):
    """Weight per-sample loss values and reduce them the Keras way.

    "sum_over_batch_size"/"mean": sum(w * values) / values.size; "sum": no division;
    "mean_with_sample_weight": divided by sum(w); "none"/None: the weighted values. A mask
    (False = ignored sample) rescales the weights so the mean is over the counted samples.
    """
    reduction = _standardize_reduction(reduction)
    dtype = np.dtype(dtype or config.floatx())
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = _broadcast_weights(values, np.asarray(sample_weight, dtype=dtype))
    if mask is not None:
        mask_weight = mask.astype(dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = mask_weight.sum()
            mask_weight *= mask.size / valid if valid else 0
        sample_weight = mask_weight if sample_weight is None else sample_weight * mask_weight
    if sample_weight is not None:
        values = values * sample_weight
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = values.sum(dtype=np.float64)
    if reduction == "sum":
        return dtype.type(total)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(np.sum(sample_weight, dtype=np.float64))
    else:
        divisor = float(values.size)
    return dtype.type(total / divisor if divisor else 0.0)


# --- classes -----------------------------------------------------------------------------------


def _snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Loss:
    """Base class of the losses: subclasses implement ``call(y_true, y_pred)`` (per-sample
    values); ``__call__`` converts the inputs to ``dtype`` and applies the reduction.

    Parameters
    ----------
    name : str, optional
        Defaults to the class name in snake_case.
    reduction : {"sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None}
    dtype : str, optional
        Defaults to :func:`fastnn.config.floatx`.
    """

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake_case(type(self).__name__)
        self.reduction = _standardize_reduction(reduction)
        self.dtype = str(np.dtype(dtype or config.floatx()))

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = np.asarray(y_pred, dtype=self.dtype)
        y_true = np.asarray(y_true, dtype=self.dtype)
        values, mask = self._values_and_mask(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, mask, self.reduction, self.dtype)

    def _values_and_mask(self, y_true, y_pred):
        return self.call(y_true, y_pred), None

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred).")

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A loss class around a per-sample function ``fn(y_true, y_pred, **kwargs)``."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = get(fn) if isinstance(fn, str) else fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _values_and_mask(self, y_true, y_pred):
        if self.fn is sparse_categorical_crossentropy:
            return _sparse_values_and_mask(y_true, y_pred, **self._fn_kwargs)
        return self.call(y_true, y_pred), None

    def get_config(self) -> dict:
        fn = self.fn.__name__ if self.fn in BUILTIN_FUNCTIONS.values() else self.fn
        return {"fn": fn, **super().get_config(), **self._fn_kwargs}


class _Builtin(LossFunctionWrapper):
    """A built-in loss class: its keyword arguments are attributes and its whole config."""

    _fn: Callable

    def __init__(self, reduction, name, dtype, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        return {**Loss.get_config(self), **self._fn_kwargs}


_SBS = "sum_over_batch_size"


class MeanSquaredError(_Builtin):
    """Mean of squared errors (:func:`mean_squared_error`), reduced."""

    _fn = staticmethod(mean_squared_error)

    def __init__(self, reduction=_SBS, name="mean_squared_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsoluteError(_Builtin):
    """Mean of absolute errors (:func:`mean_absolute_error`), reduced."""

    _fn = staticmethod(mean_absolute_error)

    def __init__(self, reduction=_SBS, name="mean_absolute_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanAbsolutePercentageError(_Builtin):
    """:func:`mean_absolute_percentage_error`, reduced."""

    _fn = staticmethod(mean_absolute_percentage_error)

    def __init__(self, reduction=_SBS, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(reduction, name, dtype)


class MeanSquaredLogarithmicError(_Builtin):
    """:func:`mean_squared_logarithmic_error`, reduced."""

    _fn = staticmethod(mean_squared_logarithmic_error)

    def __init__(self, reduction=_SBS, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(reduction, name, dtype)


class CosineSimilarity(_Builtin):
    """:func:`cosine_similarity` along ``axis`` (negative: -1 means identical), reduced."""

    _fn = staticmethod(cosine_similarity)

    def __init__(self, axis=-1, reduction=_SBS, name="cosine_similarity", dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)


class Huber(_Builtin):
    """:func:`huber` with threshold ``delta``, reduced."""

    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction=_SBS, name="huber_loss", dtype=None):
        super().__init__(reduction, name, dtype, delta=delta)


class LogCosh(_Builtin):
    """:func:`log_cosh`, reduced."""

    _fn = staticmethod(log_cosh)

    def __init__(self, reduction=_SBS, name="log_cosh", dtype=None):
        super().__init__(reduction, name, dtype)


class Hinge(_Builtin):
    """:func:`hinge`, reduced."""

    _fn = staticmethod(hinge)

    def __init__(self, reduction=_SBS, name="hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class SquaredHinge(_Builtin):
    """:func:`squared_hinge`, reduced."""

    _fn = staticmethod(squared_hinge)

    def __init__(self, reduction=_SBS, name="squared_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class CategoricalHinge(_Builtin):
    """:func:`categorical_hinge`, reduced."""

    _fn = staticmethod(categorical_hinge)

    def __init__(self, reduction=_SBS, name="categorical_hinge", dtype=None):
        super().__init__(reduction, name, dtype)


class KLDivergence(_Builtin):
    """:func:`kl_divergence`, reduced."""

    _fn = staticmethod(kl_divergence)

    def __init__(self, reduction=_SBS, name="kl_divergence", dtype=None):
        super().__init__(reduction, name, dtype)


class Poisson(_Builtin):
    """:func:`poisson`, reduced."""

    _fn = staticmethod(poisson)

    def __init__(self, reduction=_SBS, name="poisson", dtype=None):
        super().__init__(reduction, name, dtype)


class BinaryCrossentropy(_Builtin):
    """:func:`binary_crossentropy`, reduced."""

    _fn = staticmethod(binary_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction, name, dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
        )


class BinaryFocalCrossentropy(_Builtin):
    """:func:`binary_focal_crossentropy`, reduced."""

    _fn = staticmethod(binary_focal_crossentropy)

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction,
            name,
            dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalCrossentropy(_Builtin):
    """:func:`categorical_crossentropy`, reduced."""

    _fn = staticmethod(categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_SBS,
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction, name, dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
        )


class SparseCategoricalCrossentropy(_Builtin):
    """:func:`sparse_categorical_crossentropy`, reduced; with ``ignore_class`` the mean is
    over the samples not ignored."""

    _fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=_SBS,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(
            reduction, name, dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis
        )


BUILTIN_CLASSES = (
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    Huber,
    LogCosh,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)

# Every accepted name: Keras 3's, then the Keras 2 names old scripts use.
_OBJECTS: dict[str, Any] = {
    **BUILTIN_FUNCTIONS,
    **{cls.__name__: cls for cls in BUILTIN_CLASSES},
    "LossFunctionWrapper": LossFunctionWrapper,
    "mse": mean_squared_error,
    "MSE": mean_squared_error,
    "mae": mean_absolute_error,
    "MAE": mean_absolute_error,
    "mape": mean_absolute_percentage_error,
    "MAPE": mean_absolute_percentage_error,
    "msle": mean_squared_logarithmic_error,
    "MSLE": mean_squared_logarithmic_error,
    "kld": kl_divergence,
    "KLD": kl_divergence,
    "bce": binary_crossentropy,
    "BCE": binary_crossentropy,
    "logcosh": log_cosh,
    "huber_loss": huber,
    "kullback_leibler_divergence": kl_divergence,
    "cosine_proximity": cosine_similarity,
}

_REGISTRY = Registry("loss", _OBJECTS, module="keras.losses")


def get(identifier):
    """The loss named ``identifier`` (a function, or a class instantiated with its defaults),
    a loss from a config dict, or ``identifier`` itself if it is callable; None gives None."""
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    return _REGISTRY.get(identifier)


def serialize(loss):
    """A name for a built-in function, a ``{"class_name", "config", ...}`` dict for a class."""
    return _REGISTRY.serialize(loss)


def deserialize(config):
    """Inverse of :func:`serialize`."""
    return _REGISTRY.deserialize(config)


# --- compile-time resolution and the engine's view ---------------------------------------------


def is_binary_or_sparse_categorical(
    y_true_shape: Sequence[int], y_pred_shape: Sequence[int]
) -> tuple[bool, bool]:
    """Keras's guess of the task from the first batch's shapes: binary when the output has one
    column; sparse categorical when y has a lower rank or one column against several."""
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (
        y_true_shape[-1] == 1 and y_pred_shape[-1] > 1
    )
    return is_binary, is_sparse


def resolve_compile_loss(identifier, y_true_shape, y_pred_shape) -> Loss:
    """The Loss object ``compile(loss=identifier)`` uses, named as Keras names it.

    ``"crossentropy"``/``"ce"`` (any case) picks binary, sparse categorical or categorical
    cross-entropy from the shapes of y_true and the model's output; functions and names are
    wrapped in a :class:`LossFunctionWrapper` named with the user's string (or the function's
    name).
    """
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        binary, sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
        fn = (
            binary_crossentropy
            if binary
            else sparse_categorical_crossentropy
            if sparse
            else categorical_crossentropy
        )
    else:
        fn = get(identifier)
    if fn is None or isinstance(fn, Loss):
        return fn
    name = identifier if isinstance(identifier, str) else getattr(fn, "__name__", None)
    return LossFunctionWrapper(fn, name=name)


class LossSpec(NamedTuple):
    """What the engine needs to compute a built-in loss and its gradient.

    ``kernel`` is a ``fastnn._kernels._losses.LOSS_IDS`` value; ``sparse`` says y_true holds
    integer labels (use ``sparse_loss_forward_backward``); ``from_logits`` says the kernel
    takes logits (the last activation's output is not to be applied / differentiated).
    """

    kernel: int
    sparse: bool
    label_smoothing: float = 0.0
    delta: float = 1.0
    gamma: float = 2.0
    alpha: float = 0.25
    apply_class_balancing: bool = False
    from_logits: bool = False
    reduction: str | None = "sum_over_batch_size"


def _builtin_fn_and_kwargs(loss) -> tuple[Callable, dict, str | None] | None:
    if isinstance(loss, LossFunctionWrapper):
        if type(loss).call is LossFunctionWrapper.call and loss.fn in BUILTIN_FUNCTIONS.values():
            return loss.fn, loss._fn_kwargs, loss.reduction
        return None
    if callable(loss) and loss in BUILTIN_FUNCTIONS.values():
        return loss, {}, "sum_over_batch_size"
    return None


def engine_spec(loss) -> LossSpec:
    """The :class:`LossSpec` of a built-in loss given as a name, config, function or instance.

    Raises ValueError for anything the engine cannot run: custom Python losses (a documented
    limitation), "crossentropy"/"ce" before :func:`resolve_compile_loss`, axis other than the
    last, and ``ignore_class``.
    """
    if isinstance(loss, str) and loss.lower() in ("crossentropy", "ce"):
        raise ValueError(
            f"The loss {loss!r} depends on the data's shapes: resolve it with "
            "resolve_compile_loss(loss, y_true_shape, y_pred_shape) first."
        )
    obj = get(loss) if isinstance(loss, (str, dict, type)) else loss
    found = _builtin_fn_and_kwargs(obj)
    if found is None:
        name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or repr(obj)
        raise ValueError(
            f"The loss {name!r} is custom Python code, which fastnn's engine cannot run: it "
            "computes the built-in losses only (" + ", ".join(BUILTIN_FUNCTIONS) + " and their "
            "classes). Use one of them."
        )
    fn, kw, reduction = found
    if kw.get("axis", -1) not in (-1, 1):
        raise ValueError(f"The engine computes {fn.__name__} over the last axis only; got axis={kw['axis']}.")
    if kw.get("ignore_class") is not None:
        raise ValueError("The engine does not support sparse_categorical_crossentropy's ignore_class.")
    from_logits = bool(kw.get("from_logits", False))
    kernel = fn.__name__
    if from_logits and kernel == "binary_crossentropy":
        kernel = "sigmoid_binary_crossentropy"
    elif from_logits and kernel in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        kernel = "softmax_" + kernel
    return LossSpec(
        kernel=int(_k.LOSS_IDS[kernel]),
        sparse=fn is sparse_categorical_crossentropy,
        label_smoothing=float(kw.get("label_smoothing", 0.0)),
        delta=float(kw.get("delta", 1.0)),
        gamma=float(kw.get("gamma", 2.0)),
        alpha=float(kw.get("alpha", 0.25)),
        apply_class_balancing=bool(kw.get("apply_class_balancing", False)),
        from_logits=from_logits,
        reduction=reduction,
    )


_FUSED = {
    ("softmax", "categorical_crossentropy"): "softmax_categorical_crossentropy",
    ("softmax", "sparse_categorical_crossentropy"): "softmax_sparse_categorical_crossentropy",
    ("sigmoid", "binary_crossentropy"): "sigmoid_binary_crossentropy",
    ("sigmoid", "binary_focal_crossentropy"): "binary_focal_crossentropy",
}
_KERNEL_NAMES = {int(v): k for k, v in _k.LOSS_IDS.items()}


def fused_logits_spec(spec: LossSpec, output_activation_name: str | None) -> LossSpec | None:
    """The spec computing ``spec``'s loss from the logits of a softmax / sigmoid output layer,
    or None when there is nothing to fuse.

    Keras's TensorFlow backend computes categorical / sparse categorical cross-entropy after a
    softmax, and binary (and binary focal) cross-entropy after a sigmoid, from the cached logits
    when ``from_logits=False``: stable and unclipped. The engine then skips the output
    activation and feeds its input (the logits) to the returned spec.
    """
    if spec.from_logits or output_activation_name is None:
        return None
    fused = _FUSED.get((output_activation_name, _KERNEL_NAMES.get(int(spec.kernel))))
    if fused is None:
        return None
    return spec._replace(kernel=int(_k.LOSS_IDS[fused]), from_logits=True)
