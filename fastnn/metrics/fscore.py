"""F-scores: FBetaScore and F1Score, from per-class true/false positive and false negative
counts of thresholded (or argmax) predictions.

State, as Keras: ``true_positives``, ``false_positives``, ``false_negatives`` and
``intermediate_weights`` (the support of each class), one entry per class, or scalars with
``average="micro"``; sized by the first update (Keras builds them then).
"""

from __future__ import annotations

import numpy as np

from fastnn import config
from fastnn.metrics.base import Metric

_AVERAGES = (None, "micro", "macro", "weighted")
_STATE = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")


class FBetaScore(Metric):
    """(1 + beta^2) precision recall / (beta^2 precision + recall), per class or averaged.

    Parameters
    ----------
    average : {None, "micro", "macro", "weighted"}
        None gives one score per class; "micro" counts over every class at once; "macro" is
        the mean of the classes' scores; "weighted" weights them by each class's support.
    beta : float
        Weight of recall against precision (> 0).
    threshold : float, optional
        A prediction above it is positive; None marks each row's highest non-zero score(s).
    """

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score",
                 dtype=None):
        if average not in _AVERAGES:
            raise ValueError(
                "Invalid `average` argument value: expected one of None, 'micro', 'macro' or "
                f"'weighted'. Received: average={average!r}")
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"Invalid `beta` argument value: expected a Python float > 0. "
                             f"Received: beta={beta!r} of type {type(beta).__name__}")
        if threshold is not None and (not isinstance(threshold, float)
                                      or not 0.0 < threshold <= 1.0):
            raise ValueError(
                "Invalid `threshold` argument value: expected a Python float with "
                f"0 < threshold <= 1. Received: threshold={threshold!r} of type "
                f"{type(threshold).__name__}")
        super().__init__(name=name, dtype=dtype)
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self._built = False

    def _build(self, n_classes: int) -> None:
        shape = () if self.average == "micro" else (n_classes,)
        for name in _STATE:
            setattr(self, name, self.add_variable(shape, "zeros", name=name))
        self._built = True

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true = np.asarray(y_true, dtype=self._dtype)
        y_pred = np.asarray(y_pred, dtype=self._dtype)
        if y_true.ndim != 2 or y_pred.ndim != 2 or y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs of the same shape (batch_size, "
                f"output_dim); got y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}.")
        n_classes = y_pred.shape[1]
        if self._built and self.average != "micro" and self.true_positives.shape[0] != n_classes:
            raise ValueError(f"{type(self).__name__} was built for "
                             f"{self.true_positives.shape[0]} classes; got y_pred.shape="
                             f"{y_pred.shape}.")
        if self.threshold is None:
            top = y_pred.max(axis=-1, keepdims=True) if y_pred.size else y_pred
            positive = (y_pred >= top) & (np.abs(y_pred) > 1e-9)
        else:
            positive = y_pred > self.threshold
        predicted = positive.astype(np.float64)
        actual = y_true.astype(np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=self._dtype).astype(np.float64)
            if w.size != y_pred.shape[0] or w.ndim > 2:
                raise ValueError(f"sample_weight of shape {w.shape} does not match the "
                                 f"{y_pred.shape[0]} samples of y_pred.")
            w = w.reshape(-1, 1)
            predicted_w, actual_w = predicted * w, actual * w
        else:
            predicted_w, actual_w = predicted, actual
        axis = None if self.average == "micro" else 0
        sums = ((predicted_w * actual).sum(axis), (predicted_w * (1 - actual)).sum(axis),
                ((1 - predicted) * actual_w).sum(axis), actual_w.sum(axis))
        if not self._built:
            self._build(n_classes)
        for name, value in zip(_STATE, sums):
            getattr(self, name).assign_add(value)

    def result(self):
        if not self._built:
            return self._value(0.0)
        tp, fp, fn, support = (getattr(self, n).value.astype(np.float64) for n in _STATE)
        eps = config.epsilon()
        precision = tp / (tp + fp + eps)
        recall = tp / (tp + fn + eps)
        b2 = self.beta ** 2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + eps)
        if self.average == "weighted":
            score = (score * support / (support.sum() + eps)).sum()
        elif self.average is not None:
            score = score.mean()
        return self._value(score)

    def get_config(self) -> dict:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """2 precision recall / (precision + recall): :class:`FBetaScore` with beta = 1."""

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name,
                         dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
