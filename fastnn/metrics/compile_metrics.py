"""CompileMetrics: a model's compiled metrics as one metric object, ``model.metrics[1]``.

Keras 3 lists a compiled model's metrics as the loss tracker (a Mean named "loss"), this
object (named "compile_metrics") and, for a model with several outputs, one loss tracker per
output. Its ``result()`` is the dict of the metrics' log keys and values, ``metrics`` the
metric objects themselves once the model has resolved them for its outputs (at the first
fit, evaluate or train/test_on_batch).
"""

from __future__ import annotations

import numpy as np

from fastnn.metrics.base import Metric


def log_value(result):
    """A metric's result as logs hold it: a float, or an array for a vector result (an
    F1Score per class, counts at several thresholds)."""
    result = np.asarray(result)
    return float(result) if result.ndim == 0 else result


class CompileMetrics(Metric):
    """The metrics ``compile(metrics=..., weighted_metrics=...)`` gave, as the model tracks
    them. ``model`` provides ``_keyed_metrics()``: (log key, metric, weighted, output index)
    for each metric, or None before the metrics are built."""

    def __init__(self, model):
        super().__init__(name="compile_metrics")
        self._model = model

    def _entries(self) -> list:
        entries = self._model._keyed_metrics()
        if entries is None:
            raise ValueError("Cannot get result() since the metric has not yet been built: "
                             "the model builds its compiled metrics at the first fit, "
                             "evaluate, train_on_batch or test_on_batch.")
        return entries

    @property
    def metrics(self) -> list:
        return [metric for _, metric, _, _ in self._model._keyed_metrics() or []]

    @property
    def variables(self) -> list:
        return [v for metric in self.metrics for v in metric.variables]

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Update every metric: y_true and y_pred are arrays for a model with one output, a
        list (one per output) otherwise; sample_weight goes to the weighted metrics."""
        entries = self._entries()
        outputs = 1 + max(h for _, _, _, h in entries) if entries else 1
        if outputs == 1:
            y_true, y_pred, sample_weight = [y_true], [y_pred], [sample_weight]
        elif not isinstance(sample_weight, (list, tuple)):
            sample_weight = [sample_weight] * outputs
        for _, metric, weighted, h in entries:
            metric.update_state(y_true[h], y_pred[h],
                                sample_weight=sample_weight[h] if weighted else None)

    def result(self) -> dict:
        return {key: log_value(metric.result()) for key, metric, _, _ in self._entries()}

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()
