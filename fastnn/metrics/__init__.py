"""Keras 3 metrics: accumulate over ``update_state`` calls, read with ``result()``.

``get("mse")`` and friends return instances; ``resolve_compile_metric`` is what
``compile(metrics=[...])`` does with each entry: "accuracy"/"acc" (and Keras 2's
"crossentropy"/"ce") become the binary, sparse categorical or categorical variant chosen from
the shapes of y_true and the model's output, and the metric is named with the user's string.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastnn import _lazy
from fastnn._registry import Registry
from fastnn.losses import is_binary_or_sparse_categorical
from fastnn.metrics.accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from fastnn.metrics.base import Mean, MeanMetricWrapper, Metric, Sum, clear_name_uids, snake_case
from fastnn.metrics.regression import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    R2Score,
    RootMeanSquaredError,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)

_CLASSES = (
    Metric,
    Mean,
    Sum,
    MeanMetricWrapper,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    CosineSimilarity,
    LogCoshError,
    R2Score,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    Poisson,
    KLDivergence,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
)

# The confusion-matrix, threshold, F-score and IoU families load on first use (fastnn._lazy):
# as attributes of this module, by name (class or snake_case), or from a config.
_ON_FIRST_USE = {
    **dict.fromkeys(("AUC", "Precision", "Recall", "TruePositives", "FalsePositives",
                     "TrueNegatives", "FalseNegatives"), "fastnn.metrics.confusion"),
    **dict.fromkeys(("FBetaScore", "F1Score"), "fastnn.metrics.fscore"),
    **dict.fromkeys(("IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"),
                    "fastnn.metrics.iou"),
    **dict.fromkeys(("PrecisionAtRecall", "RecallAtPrecision", "SensitivityAtSpecificity",
                     "SpecificityAtSensitivity"), "fastnn.metrics.at_thresholds"),
}
__getattr__, __dir__ = _lazy.attach(globals(), _ON_FIRST_USE)

# Keras 3: class names, their snake_case and the short upper/lower aliases; then Keras 2 names.
# "acc" is deliberately absent: it only means something inside compile (resolve_compile_metric).
_OBJECTS = {
    **{cls.__name__: cls for cls in _CLASSES},
    **{snake_case(cls.__name__): cls for cls in _CLASSES},
    **{name: _lazy.Lazy(module, name) for name, module in _ON_FIRST_USE.items()},
    **{snake_case(name): _lazy.Lazy(module, name) for name, module in _ON_FIRST_USE.items()},
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "logcosh": LogCoshError,
    "kld": KLDivergence,
    "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "cosine_proximity": CosineSimilarity,
}

_REGISTRY = Registry("metric", _OBJECTS, module="keras.metrics")

# Keras 3 exports the loss functions as functions of this module too (keras.metrics.mse), so
# scripts can pass them to compile(metrics=[...]).
from fastnn.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    kld,
    kullback_leibler_divergence,
    log_cosh,
    logcosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)


def get(identifier):
    """A metric instance from a name (the class with its defaults), a config dict or a class;
    instances and plain functions pass through; None gives None."""
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    return _REGISTRY.get(identifier)


def serialize(metric):
    """``{"module", "class_name", "config", "registered_name"}`` of a metric."""
    return _REGISTRY.serialize(metric)


def deserialize(config):
    """Inverse of :func:`serialize`; a plain name works too."""
    return _REGISTRY.deserialize(config)


def resolve_compile_metric(
    identifier, y_true_shape: Sequence[int], y_pred_shape: Sequence[int]
) -> Metric:
    """The metric object ``compile(metrics=[identifier])`` tracks, named for the logs.

    "accuracy"/"acc" (any case) give BinaryAccuracy when the output has one column,
    SparseCategoricalAccuracy when y_true has a lower rank or one column against several,
    else CategoricalAccuracy; Keras 2's "crossentropy"/"ce" likewise pick the cross-entropy.
    A string keeps the user's spelling as the name ("acc" stays "acc", "mse" stays "mse"); a
    function is wrapped in a MeanMetricWrapper named after it; a Metric keeps its name.
    """
    if identifier is None:
        raise ValueError("Expected a metric, received None.")
    if isinstance(identifier, str) and identifier.lower() in (
        "accuracy",
        "acc",
        "crossentropy",
        "ce",
    ):
        binary, sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
        if identifier.lower() in ("accuracy", "acc"):
            cls = (
                BinaryAccuracy
                if binary
                else SparseCategoricalAccuracy
                if sparse
                else CategoricalAccuracy
            )
        else:
            cls = (
                BinaryCrossentropy
                if binary
                else SparseCategoricalCrossentropy
                if sparse
                else CategoricalCrossentropy
            )
        return cls(name=identifier)
    metric = get(identifier)
    if isinstance(identifier, str):
        name = identifier
    else:
        name = getattr(metric, "name", None) or getattr(metric, "__name__", None) or repr(metric)
    if not isinstance(metric, Metric):
        metric = MeanMetricWrapper(metric, name=name)
    metric.name = name
    return metric


__all__ = [
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "BinaryIoU",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "F1Score",
    "FBetaScore",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "IoU",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanIoU",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "OneHotIoU",
    "OneHotMeanIoU",
    "Poisson",
    "Precision",
    "PrecisionAtRecall",
    "R2Score",
    "Recall",
    "RecallAtPrecision",
    "RootMeanSquaredError",
    "SensitivityAtSpecificity",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SpecificityAtSensitivity",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_accuracy",
    "categorical_crossentropy",
    "categorical_hinge",
    "clear_name_uids",
    "deserialize",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "kld",
    "kullback_leibler_divergence",
    "log_cosh",
    "logcosh",
    "mae",
    "mape",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "mse",
    "msle",
    "poisson",
    "resolve_compile_metric",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_categorical_crossentropy",
    "sparse_top_k_categorical_accuracy",
    "squared_hinge",
    "top_k_categorical_accuracy",
]
