"""Keras 3 losses: per-sample functions, the classes that reduce them, and the engine's view.

A loss function (``mean_squared_error(y_true, y_pred)``, ...) returns one value per sample,
reduced over the last axis; a loss class (``MeanSquaredError()``) calls its function and
reduces the values with sample weights ("sum_over_batch_size" by default, as Keras). The values
come from the C kernels of ``fastnn._kernels._losses``; this package validates and converts.

The engine cannot call Python, so it reads a loss once as a :class:`LossSpec`
(:func:`engine_spec`), fused with the last layer's softmax / sigmoid when Keras's TensorFlow
backend would compute the loss from the logits (:func:`fused_logits_spec`).
"""

from __future__ import annotations

from typing import Any

from fastnn._registry import Registry
from fastnn.losses.classes import (
    BUILTIN_CLASSES,
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    Huber,
    KLDivergence,
    LogCosh,
    Loss,
    LossFunctionWrapper,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from fastnn.losses.functions import (
    BUILTIN_FUNCTIONS,
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
from fastnn.losses.ops_losses import (
    OPS_CLASSES,
    OPS_FUNCTIONS,
    CategoricalFocalCrossentropy,
    Circle,
    Dice,
    Tversky,
    categorical_focal_crossentropy,
    circle,
    dice,
    tversky,
)
from fastnn.losses.reduction import REDUCTIONS, reduce_weighted_values

# Every accepted name: Keras 3's, then the Keras 2 names old scripts use (from "logcosh" on).
_OBJECTS: dict[str, Any] = {
    **BUILTIN_FUNCTIONS,
    **{cls.__name__: cls for cls in BUILTIN_CLASSES},
    **OPS_FUNCTIONS,
    **{cls.__name__: cls for cls in OPS_CLASSES},
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

# Keras 3 also exports some of the short names as functions of this module (keras.losses.mse).
mse = _OBJECTS["mse"]
mae = _OBJECTS["mae"]
mape = _OBJECTS["mape"]
msle = _OBJECTS["msle"]
kld = _OBJECTS["kld"]
logcosh = _OBJECTS["logcosh"]
kullback_leibler_divergence = _OBJECTS["kullback_leibler_divergence"]


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


# Last: the engine module resolves names through get() above.
from fastnn.losses.engine import (
    LossSpec,
    engine_spec,
    fused_logits_spec,
    is_binary_or_sparse_categorical,
    resolve_compile_loss,
)

__all__ = [
    "BUILTIN_CLASSES",
    "BUILTIN_FUNCTIONS",
    "REDUCTIONS",
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalHinge",
    "Circle",
    "CosineSimilarity",
    "Dice",
    "Hinge",
    "Huber",
    "KLDivergence",
    "LogCosh",
    "Loss",
    "LossFunctionWrapper",
    "LossSpec",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Poisson",
    "SparseCategoricalCrossentropy",
    "SquaredHinge",
    "Tversky",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "circle",
    "cosine_similarity",
    "deserialize",
    "dice",
    "engine_spec",
    "fused_logits_spec",
    "get",
    "hinge",
    "huber",
    "is_binary_or_sparse_categorical",
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
    "reduce_weighted_values",
    "resolve_compile_loss",
    "serialize",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "squeeze_or_expand_to_same_rank",
    "tversky",
]
