"""Keras 3 loss classes: a per-sample function plus a reduction with sample weights."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from fastnn import config
from fastnn.losses.functions import (
    BUILTIN_FUNCTIONS,
    _sparse_values_and_mask,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
    squeeze_or_expand_to_same_rank,
)
from fastnn.losses.reduction import _standardize_reduction, reduce_weighted_values


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
        if isinstance(fn, str):
            from fastnn.losses import get  # the registry sits above this module

            fn = get(fn)
        self.fn = fn
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
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
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
            reduction,
            name,
            dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
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
