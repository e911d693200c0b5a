"""Metrics that average a loss function over every sample (regression, hinge, probabilistic),
plus RootMeanSquaredError and R2Score."""

from __future__ import annotations

import warnings

import numpy as np

from fastnn import losses as L
from fastnn.losses import squeeze_or_expand_to_same_rank
from fastnn.metrics.base import BuiltinWrapper, Mean, Metric, broadcast_to


def _cosine(y_true, y_pred, axis=-1):
    """Cosine similarity, positive: 1 means same direction (the loss is its negative)."""
    return -L.cosine_similarity(y_true, y_pred, axis=axis)


class MeanSquaredError(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.mean_squared_error` over the samples."""

    fn = staticmethod(L.mean_squared_error)

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsoluteError(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.mean_absolute_error` over the samples."""

    fn = staticmethod(L.mean_absolute_error)

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(name, dtype)


class MeanAbsolutePercentageError(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.mean_absolute_percentage_error` over the samples."""

    fn = staticmethod(L.mean_absolute_percentage_error)

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name, dtype)


class MeanSquaredLogarithmicError(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.mean_squared_logarithmic_error` over the samples."""

    fn = staticmethod(L.mean_squared_logarithmic_error)

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(name, dtype)


class CosineSimilarity(BuiltinWrapper):
    """Mean cosine similarity along ``axis``, positive (1 = same direction)."""

    fn = staticmethod(_cosine)

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        super().__init__(name, dtype, axis=axis)


class LogCoshError(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.log_cosh`; named "logcosh" as in Keras."""

    fn = staticmethod(L.log_cosh)

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(name, dtype)


class Hinge(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.hinge` (0/1 labels converted over each update's input)."""

    fn = staticmethod(L.hinge)

    def __init__(self, name="hinge", dtype=None):
        super().__init__(name, dtype)


class SquaredHinge(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.squared_hinge`."""

    fn = staticmethod(L.squared_hinge)

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(name, dtype)


class CategoricalHinge(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.categorical_hinge`."""

    fn = staticmethod(L.categorical_hinge)

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(name, dtype)


class Poisson(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.poisson`."""

    fn = staticmethod(L.poisson)

    def __init__(self, name="poisson", dtype=None):
        super().__init__(name, dtype)


class KLDivergence(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.kl_divergence`."""

    fn = staticmethod(L.kl_divergence)

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(name, dtype)


class BinaryCrossentropy(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.binary_crossentropy`."""

    fn = staticmethod(L.binary_crossentropy)

    def __init__(
        self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0
    ):
        super().__init__(name, dtype, from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.categorical_crossentropy`."""

    fn = staticmethod(L.categorical_crossentropy)

    def __init__(
        self,
        name="categorical_crossentropy",
        dtype=None,
        from_logits=False,
        label_smoothing=0,
        axis=-1,
    ):
        super().__init__(
            name, dtype, from_logits=from_logits, label_smoothing=label_smoothing, axis=axis
        )


class SparseCategoricalCrossentropy(BuiltinWrapper):
    """Mean of :func:`fastnn.losses.sparse_categorical_crossentropy` over the samples not
    labelled ``ignore_class``."""

    fn = staticmethod(L.sparse_categorical_crossentropy)

    def __init__(
        self,
        name="sparse_categorical_crossentropy",
        dtype=None,
        from_logits=False,
        ignore_class=None,
        axis=-1,
    ):
        super().__init__(name, dtype, from_logits=from_logits, ignore_class=ignore_class, axis=axis)


class RootMeanSquaredError(Mean):
    """sqrt of the (weighted) mean squared error over every sample seen."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true = np.asarray(y_true, dtype=self._dtype)
        y_pred = np.asarray(y_pred, dtype=self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"root_mean_squared_error: y_true.shape={y_true.shape} does not match "
                f"y_pred.shape={y_pred.shape}."
            )
        super().update_state(np.square(y_pred - y_true), sample_weight)

    def result(self):
        return self._value(np.sqrt(float(super().result())))


class R2Score(Metric):
    """Coefficient of determination per output column, then aggregated.

    Parameters
    ----------
    class_aggregation : {"uniform_average", "variance_weighted_average", None}
        Mean of the columns' scores, their mean weighted by the targets' variance, or the
        scores themselves.
    num_regressors : int
        p > 0 gives the adjusted R2, 1 - (1 - R2) (n - 1) / (n - p - 1), with n the number of
        target values seen (Keras counts every element).
    """

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        if class_aggregation not in (None, "uniform_average", "variance_weighted_average"):
            raise ValueError(
                "Invalid value for argument `class_aggregation`: expected None, "
                f"'uniform_average' or 'variance_weighted_average'; got {class_aggregation!r}."
            )
        if num_regressors < 0:
            raise ValueError(f"`num_regressors` must be >= 0, got {num_regressors}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        # Keras's variables: num_samples now, the per-column sums once the first update
        # gives the number of columns.
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    _SUMS = ("squared_sum", "sum", "residual", "count")  # w y^2, w y, w (y - p)^2, w

    def _build(self, n_columns: int) -> None:
        for name in self._SUMS:
            setattr(self, name, self.add_variable((n_columns,), "zeros", name=name))
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true = np.asarray(y_true, dtype=self._dtype)
        y_pred = np.asarray(y_pred, dtype=self._dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if y_true.ndim != 2 or y_pred.shape != y_true.shape:
            raise ValueError(
                "R2Score expects 2D inputs of the same shape (batch_size, output_dim); got "
                f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}."
            )
        if self._built and self.sum.shape[0] != y_true.shape[1]:
            raise ValueError(
                f"R2Score was built for {self.sum.shape[0]} outputs; got {y_true.shape[1]}."
            )
        w = (
            np.ones(1, dtype=self._dtype)
            if sample_weight is None
            else np.asarray(sample_weight, dtype=self._dtype)
        )
        if w.ndim == 1:
            w = w[:, None]
        w = broadcast_to(w, y_true.shape, "sample_weight").astype(np.float64)
        y, p = y_true.astype(np.float64), y_pred.astype(np.float64)
        sums = ((w * y * y).sum(0), (w * y).sum(0), (w * (y - p) ** 2).sum(0), w.sum(0))
        if not self._built:
            self._build(y_true.shape[1])
        for name, value in zip(self._SUMS, sums):
            getattr(self, name).assign_add(value)
        self.num_samples.assign_add(y_true.size)

    def result(self):
        if not self._built:
            return self._value(np.nan)
        s2, s, sse, count = (getattr(self, name).value.astype(np.float64) for name in self._SUMS)
        with np.errstate(divide="ignore", invalid="ignore"):
            total = s2 - s * (s / count)
            raw = 1 - sse / total
        raw = np.where(np.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = raw.mean()
        elif self.class_aggregation == "variance_weighted_average":
            score = (total * raw).sum() / total.sum()
        else:
            score = raw
        n, p = int(self.num_samples.value), self.num_regressors
        if p:
            if p > n - 1:
                warnings.warn(
                    "More independent predictors than datapoints in adjusted R2 score. "
                    "Falling back to standard R2 score.",
                    stacklevel=2,
                )
            elif p == n - 1:
                warnings.warn(
                    "Division by zero in Adjusted R2 score. Falling back to standard R2 score.",
                    stacklevel=2,
                )
            else:
                score = 1 - (1 - score) * (n - 1) / (n - p - 1)
        return self._value(score)

    def get_config(self) -> dict:
        return {
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
            **super().get_config(),
        }
