"""Confusion-matrix metrics: Precision, Recall and AUC.

Counts are weighted true/false positives/negatives at each threshold, with a prediction
positive when strictly above the threshold and a label positive when non-zero. For thresholds
evenly spread over [0, 1] (AUC's default) Keras buckets the clipped predictions with
ceil(p (T - 1)) - 1; that is reproduced in the metric's dtype so rounding at the bucket edges
matches. Either way one pass of bincount + cumulative sum counts every threshold at once:
O(n) memory and time, whatever the number of thresholds.
"""

from __future__ import annotations

import numpy as np

from fastnn import config
from fastnn.losses import squeeze_or_expand_to_same_rank
from fastnn.metrics.base import Metric, broadcast_to

NEG_INF = -1e10


def _is_evenly_spread(thresholds) -> bool:
    n = len(thresholds)
    return n >= 3 and bool(
        np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=config.epsilon())
    )


def _check_range(thresholds) -> None:
    bad = [t for t in thresholds if t is None or not 0 <= t <= 1]
    if bad:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")


def _top_k_only(y_pred: np.ndarray, k: int) -> np.ndarray:
    """Scores outside each row's k highest (first index wins ties) replaced by NEG_INF."""
    order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(y_pred.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.where(keep, y_pred, y_pred.dtype.type(NEG_INF))


def _above_counts(bins: np.ndarray, weights: np.ndarray, n_bins: int, n_cols: int) -> np.ndarray:
    """counts[t, j] = sum of weights in column j whose bin is > t, for t in [0, n_bins - 1)."""
    offsets = np.arange(n_cols) * n_bins
    per_bin = np.bincount((bins + offsets).ravel(), weights.ravel(), minlength=n_bins * n_cols)
    per_bin = per_bin.reshape(n_cols, n_bins)
    at_or_above = np.cumsum(per_bin[:, ::-1], axis=1)[:, ::-1]
    return at_or_above[:, 1:].T


def confusion_counts(
    y_true,
    y_pred,
    thresholds,
    *,
    dtype,
    sample_weight=None,
    top_k=None,
    class_id=None,
    multi_label=False,
    label_weights=None,
    evenly=False,
):
    """Weighted (tp, fp, tn, fn) at each threshold: arrays of shape (T,), or (T, labels) with
    ``multi_label`` (which needs y_pred of shape (N, labels))."""
    dtype = np.dtype(dtype)
    y_pred = np.asarray(y_pred, dtype=dtype)
    y_true = np.asarray(y_true, dtype=dtype)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got y_true.shape={y_true.shape} and "
            f"y_pred.shape={y_pred.shape}."
        )
    weights = np.ones(y_pred.shape, dtype=np.float64)
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=dtype)[..., None]
        _, sw = squeeze_or_expand_to_same_rank(y_true, sw, expand_rank_1=False)
        weights = broadcast_to(sw, y_pred.shape, "sample_weight").astype(np.float64)
    if top_k is not None:
        y_pred = _top_k_only(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(
                "When class_id is provided, y_pred must be a 2D array with shape "
                f"(num_samples, num_classes), found shape: {y_pred.shape}"
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
        weights = weights[..., class_id, None]
    if label_weights is not None and not multi_label:
        weights = weights * broadcast_to(
            np.asarray(label_weights, np.float64), y_pred.shape, "label_weights"
        )
    if multi_label:
        if y_pred.ndim != 2:
            raise ValueError(f"multi_label needs y_pred of rank 2; got shape {y_pred.shape}.")
    else:
        y_true, y_pred, weights = (
            y_true.reshape(-1, 1),
            y_pred.reshape(-1, 1),
            weights.reshape(-1, 1),
        )
    thresholds = np.asarray(thresholds, dtype=dtype)
    n_thr = thresholds.size
    if evenly:
        p = np.clip(y_pred, 0, 1)
        bucket = np.ceil(p * dtype.type(n_thr - 1)) - 1
        if thresholds[0] < 0 or thresholds[-1] > 1:
            bucket = np.maximum(bucket, 0)
        # Bucket b counts for thresholds 0..b; shifted by one so "bin > t" means counted at t.
        bins = np.where(np.isnan(bucket), 0, bucket + 1).astype(np.int64)
        order = None
    else:
        order = np.argsort(thresholds, kind="stable")
        # bins = number of thresholds strictly below p, i.e. p > thresholds[:bins]
        bins = np.searchsorted(thresholds[order], y_pred, side="left")
        bins = np.where(np.isnan(y_pred), 0, bins)
    positive = y_true != 0
    n_cols = y_pred.shape[1]
    tp = _above_counts(bins, np.where(positive, weights, 0.0), n_thr + 1, n_cols)
    fp = _above_counts(bins, np.where(positive, 0.0, weights), n_thr + 1, n_cols)
    if order is not None:
        tp[order], fp[order] = tp.copy(), fp.copy()
    tn = np.where(positive, 0.0, weights).sum(axis=0) - fp
    fn = np.where(positive, weights, 0.0).sum(axis=0) - tp
    if not multi_label:
        tp, fp, tn, fn = tp[:, 0], fp[:, 0], tn[:, 0], fn[:, 0]
    return tp, fp, tn, fn


CELLS = ("true_positives", "false_positives", "true_negatives", "false_negatives")


def add_cell_variables(metric, cells, shape) -> None:
    """The metric's state: one zero variable per confusion cell (by index in CELLS), named
    and set as attributes as Keras does (``metric.true_positives``, ...)."""
    for cell in cells:
        setattr(metric, CELLS[cell], metric.add_variable(shape, "zeros", name=CELLS[cell]))


def _divide_no_nan(a, b):
    b = np.asarray(b, dtype=np.float64)
    safe = np.where(b == 0, 1.0, b)
    return np.where(b == 0, 0.0, np.asarray(a, dtype=np.float64) / safe)


class _PrecisionRecall(Metric):
    """Shared state of Precision and Recall: two confusion cells at each of their
    thresholds (Precision: tp and fp; Recall: tp and fn, the variables Keras has)."""

    _cells: tuple

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if thresholds is not None:
            _check_range(np.atleast_1d(thresholds).tolist())
        default = 0.5 if top_k is None else NEG_INF
        self.init_thresholds = thresholds
        self.thresholds = (
            np.atleast_1d(default if thresholds is None else thresholds).astype(float).tolist()
        )
        self.top_k = top_k
        self.class_id = class_id
        self._evenly = _is_evenly_spread(self.thresholds)
        add_cell_variables(self, self._cells, (len(self.thresholds),))

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(
                y_true,
                y_pred,
                self.thresholds,
                dtype=self._dtype,
                sample_weight=sample_weight,
                top_k=self.top_k,
                class_id=self.class_id,
                evenly=self._evenly,
            )
        for cell in self._cells:
            getattr(self, CELLS[cell]).assign_add(counts[cell])

    def _ratio(self, num, den):
        r = _divide_no_nan(num, den)
        return self._value(r[0] if len(self.thresholds) == 1 else r)

    def get_config(self) -> dict:
        return {
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
            **super().get_config(),
        }


class Precision(_PrecisionRecall):
    """tp / (tp + fp) at each threshold (0.5 by default); with ``top_k`` only each row's k
    highest scores can be positive; with ``class_id`` only that column counts."""

    _cells = (0, 1)

    def result(self):
        tp, fp = self.true_positives.value, self.false_positives.value
        return self._ratio(tp, tp + fp)


class Recall(_PrecisionRecall):
    """tp / (tp + fn) at each threshold (0.5 by default); ``top_k`` and ``class_id`` as in
    :class:`Precision`."""

    _cells = (0, 3)

    def result(self):
        tp, fn = self.true_positives.value, self.false_negatives.value
        return self._ratio(tp, tp + fn)


class _ConfusionCount(Metric):
    """The weighted count of one cell of the confusion matrix at each threshold (0.5 by
    default): a number for one threshold, an array for several (Keras 3). State: the
    variable ``accumulator``, one count per threshold."""

    _cell: int       # 0 tp, 1 fp, 2 tn, 3 fn

    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        if thresholds is not None:
            _check_range(np.atleast_1d(thresholds).tolist())
        self.init_thresholds = thresholds
        self.thresholds = np.atleast_1d(0.5 if thresholds is None else thresholds) \
            .astype(float).tolist()
        self._evenly = _is_evenly_spread(self.thresholds)
        self.accumulator = self.add_variable((len(self.thresholds),), "zeros",
                                             name="accumulator")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        counts = confusion_counts(y_true, y_pred, self.thresholds, dtype=self._dtype,
                                  sample_weight=sample_weight, evenly=self._evenly)
        self.accumulator.assign_add(counts[self._cell])

    def result(self):
        count = self.accumulator.value
        return self._value(count[0] if len(self.thresholds) == 1 else count)

    def get_config(self) -> dict:
        return {"thresholds": self.init_thresholds, **super().get_config()}


class TruePositives(_ConfusionCount):
    """Weighted count of positives (y_true != 0) predicted above the threshold."""
    _cell = 0


class FalsePositives(_ConfusionCount):
    """Weighted count of negatives predicted above the threshold."""
    _cell = 1


class TrueNegatives(_ConfusionCount):
    """Weighted count of negatives predicted at or below the threshold."""
    _cell = 2


class FalseNegatives(_ConfusionCount):
    """Weighted count of positives predicted at or below the threshold."""
    _cell = 3


_CURVES = {"roc": "ROC", "pr": "PR", "prgain": "PRGAIN"}
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds.

    Parameters
    ----------
    num_thresholds : int
        Thresholds (i / (num_thresholds - 1)) between -eps and 1 + eps. Ignored if
        ``thresholds`` is given.
    curve : {"ROC", "PR", "PRGAIN"}
    summation_method : {"interpolation", "majoring", "minoring"}
        Trapezoids (for PR, Davis & Goadrich's interpolation of the counts), or upper / lower
        Riemann sums.
    thresholds : list of float, optional
    multi_label : bool
        One curve per column of y_pred, averaged (weighted by ``label_weights`` if given).
    num_labels : int, optional
    label_weights : list of float, optional
        Weights of the columns (multi_label: of their AUCs).
    from_logits : bool
        Apply a sigmoid to y_pred first.
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        if curve not in ("ROC", "roc", "PR", "pr", "PRGAIN", "prgain"):
            raise ValueError(
                f'Invalid AUC curve value: "{curve}". Expected values are ["PR", "ROC", "PRGAIN"]'
            )
        if summation_method not in _SUMMATIONS + tuple(s.capitalize() for s in _SUMMATIONS):
            raise ValueError(
                f'Invalid AUC summation method value: "{summation_method}". Expected values are '
                '["interpolation", "majoring", "minoring"]'
            )
        if thresholds is not None:
            inner = sorted(float(t) for t in thresholds)
            self.num_thresholds = len(inner) + 2
            self._evenly = _is_evenly_spread([0.0] + inner + [1.0])
        else:
            if int(num_thresholds) <= 1:
                raise ValueError(
                    f"Argument `num_thresholds` must be an integer > 1. Received: num_thresholds={num_thresholds}"
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (self.num_thresholds - 1) for i in range(self.num_thresholds - 2)]
            self._evenly = True
        if not multi_label and num_labels:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        super().__init__(name=name, dtype=dtype)
        self._init_thresholds = None if thresholds is None else inner
        eps = config.epsilon()
        self._thresholds = np.array([0.0 - eps] + inner + [1.0 + eps])
        self.curve = _CURVES[str(curve).lower()]
        self.summation_method = summation_method.lower()
        self.multi_label = multi_label
        self.num_labels = num_labels
        self.label_weights = (
            None if label_weights is None else np.asarray(label_weights, dtype=self._dtype)
        )
        self.from_logits = from_logits
        # Keras's four variables, of shape (num_thresholds,) or (num_thresholds, labels);
        # multi_label without num_labels sizes them at the first update.
        self._built = not (multi_label and not num_labels)
        if self._built:
            self._build(num_labels if multi_label else None)

    @property
    def thresholds(self) -> list:
        """Every threshold, the two outer ones (-eps and 1 + eps) included."""
        return list(self._thresholds)

    def _build(self, labels) -> None:
        cols = () if labels is None else (labels,)
        add_cell_variables(self, range(4), (self.num_thresholds,) + cols)
        self._built = True

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = np.asarray(y_pred, dtype=self._dtype)
        if self.from_logits:
            y_pred = (1 / (1 + np.exp(-y_pred))).astype(self._dtype)
        counts = np.stack(
            confusion_counts(
                y_true,
                y_pred,
                self._thresholds,
                dtype=self._dtype,
                sample_weight=sample_weight,
                multi_label=self.multi_label,
                label_weights=None if self.multi_label else self.label_weights,
                evenly=self._evenly,
            )
        )
        if not self._built:
            self._build(counts.shape[2])
        if self.true_positives.shape != counts.shape[1:]:
            raise ValueError(
                f"AUC was built for {self.true_positives.shape[1:]} labels; got "
                f"y_pred.shape={y_pred.shape}."
            )
        for cell, name in enumerate(CELLS):
            getattr(self, name).assign_add(counts[cell])

    def _interpolate_pr(self, tp, fp, fn):
        """Davis & Goadrich (2006): TP and P = TP + FP vary linearly between thresholds, so each
        interval's area is slope (dTP + intercept log(P_A / P_B)) / (TP_B + FN_B)."""
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        slope = _divide_no_nan(dtp, np.maximum(p[:-1] - p[1:], 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        return _divide_no_nan(
            slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0)
        )

    def result(self):
        if not self._built:
            return self._value(0.0)
        tp, fp, tn, fn = (getattr(self, name).value.astype(np.float64) for name in CELLS)
        if self.curve == "PR" and self.summation_method == "interpolation":
            terms = self._interpolate_pr(tp, fp, fn)
        else:
            recall = _divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide_no_nan(fp, fp + tn), recall
            elif self.curve == "PR":
                x, y = recall, _divide_no_nan(tp, tp + fp)
            else:
                scale = _divide_no_nan(tp + fn, tn + fp)
                x = np.maximum(np.where(tp == 0, 0.0, 1 - scale * _divide_no_nan(fn, tp)), 0)
                y = np.where(tp == 0, 1.0, 1 - scale * _divide_no_nan(fp, tp))
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = np.minimum(y[:-1], y[1:])
            else:
                heights = np.maximum(y[:-1], y[1:])
            terms = (x[:-1] - x[1:]) * heights
        if not self.multi_label:
            return self._value(terms.sum())
        per_label = terms.sum(axis=0)
        if self.label_weights is None:
            return self._value(per_label.mean())
        w = self.label_weights.astype(np.float64)
        return self._value(_divide_no_nan((per_label * w).sum(), w.sum()))

    def get_config(self) -> dict:
        return {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            **super().get_config(),
            "thresholds": self._init_thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
