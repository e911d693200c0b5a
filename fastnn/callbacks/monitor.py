"""MonitorCallback: what EarlyStopping, ModelCheckpoint and ReduceLROnPlateau share.

A monitored value improves when ``value - min_delta`` beats the best so far (in "min" mode
``min_delta`` counts against the value: it must drop by more than ``min_delta``). In "auto" mode
the direction comes from the monitored name: "loss" is minimized, a compiled metric follows its
kind (accuracy-like, AUC, precision, recall, cosine similarity and R² go up; errors,
crossentropies and hinges go down), and anything else is a ValueError, as in Keras 3.
"""

from __future__ import annotations

import operator
import warnings

from fastnn.callbacks.base import Callback

_UP = frozenset({
    "Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "AUC", "Precision", "Recall",
    "CosineSimilarity", "R2Score",
    # F-scores, IoUs and the rates at a threshold (Keras 3 gives them _direction "up")
    "FBetaScore", "F1Score", "IoU", "BinaryIoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU",
    "SensitivityAtSpecificity", "SpecificityAtSensitivity", "PrecisionAtRecall",
    "RecallAtPrecision",
})
_DOWN = frozenset({
    "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredLogarithmicError", "RootMeanSquaredError", "LogCoshError", "Hinge",
    "SquaredHinge", "CategoricalHinge", "BinaryCrossentropy", "CategoricalCrossentropy",
    "SparseCategoricalCrossentropy",
})


def metric_direction(model, name: str) -> str | None:
    """"up", "down" or None for the monitored log key ``name`` of ``model``."""
    name = name.removeprefix("val_")
    direction = "down" if name == "loss" else None
    for metric, *_ in getattr(model, "_metric_objects", None) or []:
        if metric.name == name:
            kind = type(metric).__name__
            direction = "up" if kind in _UP else "down" if kind in _DOWN else direction
    return direction


class MonitorCallback(Callback):
    """Base class of the callbacks that watch one log value."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self) -> None:
        direction = {"min": "down", "max": "up"}.get(self.mode) \
            or metric_direction(self.model, self.monitor)
        if direction is None:
            raise ValueError(
                f"{type(self).__name__} callback received monitor={self.monitor}, but fastnn "
                "isn't able to automatically determine whether that metric should be "
                "maximized or minimized. Pass `mode='max'` in order to monitor based on the "
                "highest metric value, or pass `mode='min'` in order to use the lowest value."
            )
        self.monitor_op = operator.gt if direction == "up" else operator.lt
        if direction == "down":
            self.min_delta = -self.min_delta

    def _is_improvement(self, value, reference) -> bool:
        if reference is None:
            return True
        return bool(self.monitor_op(value - self.min_delta, reference))
