"""``model.metrics`` and ``model.get_metrics_result()``, as Keras 3.

The trackers hold what the last fit epoch, evaluate or train/test_on_batch logged: the loss
("loss", a Mean whose total is the loss summed over the rows and count the rows, as Keras's
batch-size-weighted updates leave it), each output's loss in a model with several outputs,
and the compiled metrics (which the model already keeps between calls).
"""

from __future__ import annotations

from fastnn.metrics.base import Mean
from fastnn.metrics.compile_metrics import CompileMetrics, log_value


class MetricsAPIMixin:
    """The metric objects of a compiled model; the trainer calls ``_new_metric_trackers`` at
    compile and ``_track_losses`` wherever it logs losses."""

    def _new_metric_trackers(self) -> None:
        self._loss_trackers = {"loss": Mean(name="loss")}
        self._compile_metrics_tracker = CompileMetrics(self)

    def _track_losses(self, losses: dict, rows: int) -> None:
        """The trackers after a call that logged ``losses`` (the loss and any per-output
        losses) over ``rows`` rows."""
        trackers = self.__dict__.setdefault("_loss_trackers", {"loss": Mean(name="loss")})
        for key, value in losses.items():
            tracker = trackers.setdefault(key, Mean(name=key))
            tracker.total.assign(value * rows)
            tracker.count.assign(rows)

    @property
    def metrics(self) -> list:
        """The loss tracker, the compiled metrics (when compile was given any) and, with
        several outputs, each output's loss tracker once trained or evaluated."""
        if not getattr(self, "compiled", False):
            return []
        trackers = self.__dict__.get("_loss_trackers") or {"loss": Mean(name="loss")}
        found = [trackers["loss"]]
        if self._compile_metrics or self._weighted_metrics:
            found.append(self._compile_metrics_tracker)
        found += [tracker for key, tracker in trackers.items() if key != "loss"]
        return found

    def get_metrics_result(self) -> dict:
        """Every tracked metric's current result by log key (floats; arrays for vector
        results)."""
        results = {}
        for metric in self.metrics:
            result = metric.result()
            if isinstance(result, dict):
                results.update(result)
            else:
                results[metric.name] = log_value(result)
        return results

    def reset_metrics(self) -> None:
        """Reset every tracked metric (Keras 3's ``model.reset_metrics()``)."""
        for metric in self.metrics:
            metric.reset_state()
