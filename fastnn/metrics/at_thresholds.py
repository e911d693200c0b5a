"""One rate at the best threshold where another reaches a target: SensitivityAtSpecificity,
SpecificityAtSensitivity, PrecisionAtRecall and RecallAtPrecision.

Counts are taken at ``num_thresholds`` thresholds evenly spread over [0, 1] (just 0.5 when
num_thresholds is 1) with the same bucketing as AUC (:func:`confusion_counts`); the result
is the largest value of the dependent rate over the thresholds where the constrained rate is
at least the target, or 0 if there is none. State, as Keras: ``true_positives``,
``false_positives``, ``true_negatives`` and ``false_negatives``, one entry per threshold.
"""

from __future__ import annotations

import numpy as np

from fastnn.metrics.base import Metric
from fastnn.metrics.confusion import CELLS, _divide_no_nan, add_cell_variables, confusion_counts


class _AtThreshold(Metric):
    """The shared counts; subclasses name their target and pick the two rates."""

    _target: str     # the constructor argument holding the target value

    def __init__(self, value, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0 <= value <= 1:
            raise ValueError(f"Argument `{self._target}` must be in the range [0, 1]. "
                             f"Received: {self._target}={value}")
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)) \
                or num_thresholds <= 0:
            raise ValueError("Argument `num_thresholds` must be an integer > 0. "
                             f"Received: num_thresholds={num_thresholds!r}")
        super().__init__(name=name, dtype=dtype)
        setattr(self, self._target, value)
        self.value = value
        self.num_thresholds = int(num_thresholds)
        self.class_id = class_id
        if num_thresholds == 1:
            self.thresholds, self._evenly = [0.5], False
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds, self._evenly = [0.0] + inner + [1.0], True
        add_cell_variables(self, range(4), (len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(y_true, y_pred, self.thresholds, dtype=self._dtype,
                                  sample_weight=sample_weight, class_id=self.class_id,
                                  evenly=self._evenly)
        for name, count in zip(CELLS, counts):
            getattr(self, name).assign_add(count)

    def _rates(self) -> dict:
        tp, fp, tn, fn = (getattr(self, name).value.astype(np.float64) for name in CELLS)
        recall = _divide_no_nan(tp, tp + fn)
        return {"sensitivity": recall, "recall": recall,
                "specificity": _divide_no_nan(tn, tn + fp),
                "precision": _divide_no_nan(tp, tp + fp)}

    _dependent: str   # the rate maximized

    def result(self):
        rates = self._rates()
        # Compared in the metric's dtype, as Keras does: a rate of exactly the target counts.
        constrained = rates[self._target].astype(self._dtype)
        feasible = constrained >= self._dtype.type(self.value)
        return self._value(np.where(feasible, rates[self._dependent], 0.0).max(initial=0.0))

    def get_config(self) -> dict:
        return {**super().get_config(), "class_id": self.class_id,
                "num_thresholds": self.num_thresholds, self._target: self.value}


class SensitivityAtSpecificity(_AtThreshold):
    """The best sensitivity (recall) where specificity >= ``specificity``."""

    _target, _dependent = "specificity", "sensitivity"

    def __init__(self, specificity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(specificity, num_thresholds, class_id, name, dtype)


class SpecificityAtSensitivity(_AtThreshold):
    """The best specificity where sensitivity (recall) >= ``sensitivity``."""

    _target, _dependent = "sensitivity", "specificity"

    def __init__(self, sensitivity, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(sensitivity, num_thresholds, class_id, name, dtype)


class PrecisionAtRecall(_AtThreshold):
    """The best precision where recall >= ``recall``."""

    _target, _dependent = "recall", "precision"

    def __init__(self, recall, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtThreshold):
    """The best recall where precision >= ``precision``."""

    _target, _dependent = "precision", "recall"

    def __init__(self, precision, num_thresholds=200, class_id=None, name=None, dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)
