"""Intersection-over-union metrics: IoU, BinaryIoU, MeanIoU, OneHotIoU and OneHotMeanIoU.

State, as Keras: ``total_confusion_matrix``, a (num_classes, num_classes) matrix of weighted
counts (rows: true class, columns: predicted class), in the metric's dtype, which is int64
by default as in Keras (so labels, predicted classes and sample weights are truncated to
integers; a float weight triggers Keras's warning). Samples whose true or predicted class is
outside [0, num_classes), or whose true class is ``ignore_class``, count for nothing.

The IoU of class c is tp / (tp + fp + fn); the result is the mean over the target classes
that occur at all (a class with no true and no predicted sample is left out), in float32.
"""

from __future__ import annotations

import warnings

import numpy as np

from fastnn import config
from fastnn.metrics.base import Metric


class _IoUBase(Metric):
    """The shared confusion matrix and its update."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 1:
            raise ValueError(f"`num_classes` must be a positive integer; received "
                             f"num_classes={num_classes!r}.")
        super().__init__(name=name, dtype=dtype or "int64")
        self.num_classes = int(num_classes)
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable((self.num_classes, self.num_classes), "zeros",
                                          name="total_confusion_matrix")

    def _labels(self, values, sparse: bool) -> np.ndarray:
        """Class ids, flattened: argmax over ``axis`` when not sparse, then in the dtype."""
        values = np.asarray(values)
        if not sparse:
            values = np.argmax(values, axis=self.axis)
        return values.astype(self._dtype).reshape(-1)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true = self._labels(y_true, self.sparse_y_true)
        y_pred = self._labels(y_pred, self.sparse_y_pred)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{type(self).__name__}: y_true has {y_true.size} labels and "
                             f"y_pred {y_pred.size}; expected as many.")
        if sample_weight is None:
            weights = np.ones(y_true.shape, dtype=self._dtype)
        else:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.dtype.kind == "f" and self._dtype.kind in "iu":
                warnings.warn(
                    f"{type(self).__name__} has the integer dtype {self.dtype} and received "
                    "float sample weights: they are truncated to integers. Pass integer "
                    "weights, or a float dtype.", stacklevel=2)
            weights = sample_weight.astype(self._dtype).reshape(-1)
            try:
                weights = np.broadcast_to(weights, y_true.shape)
            except ValueError:
                raise ValueError(f"sample_weight of shape {sample_weight.shape} does not match "
                                 f"the {y_true.size} labels.") from None
        n = self.num_classes
        keep = (y_true >= 0) & (y_true < n) & (y_pred >= 0) & (y_pred < n)
        if self.ignore_class is not None:
            keep &= y_true != self.ignore_class
        cells = (y_true[keep] * n + y_pred[keep]).astype(np.int64)
        counts = np.bincount(cells, weights[keep].astype(np.float64), minlength=n * n)
        self.total_cm.assign_add(counts.reshape(n, n).astype(self._dtype))

    def _ious(self, class_ids) -> float:
        cm = self.total_cm.value.astype(np.float64)
        tp = np.diag(cm)
        denominator = (cm.sum(axis=0) + cm.sum(axis=1) - tp)[class_ids]
        present = denominator > 1e-9
        iou = np.where(present, tp[class_ids] / (denominator + config.epsilon()), 0.0)
        return np.float32(iou.sum() / (present.sum() + config.epsilon()))

    def result(self):
        return self._ious(list(range(self.num_classes)))


class IoU(_IoUBase):
    """Mean IoU over ``target_class_ids``.

    Parameters
    ----------
    num_classes : int
    target_class_ids : list of int
        The classes whose IoUs are averaged.
    ignore_class : int, optional
        A true class whose samples are left out.
    sparse_y_true, sparse_y_pred : bool
        Class ids (True) or scores over ``axis`` (False, the argmax is taken).
    """

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=sparse_y_true, sparse_y_pred=sparse_y_pred, axis=axis)
        target_class_ids = [int(c) for c in target_class_ids]
        if not target_class_ids or max(target_class_ids) >= num_classes \
                or min(target_class_ids) < 0:
            raise ValueError(f"Target class ids {target_class_ids} are out of the range "
                             f"[0, {num_classes}) (or empty).")
        self.target_class_ids = target_class_ids

    def result(self):
        return self._ious(self.target_class_ids)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes,
                "target_class_ids": self.target_class_ids, "ignore_class": self.ignore_class,
                "sparse_y_true": self.sparse_y_true, "sparse_y_pred": self.sparse_y_pred,
                "axis": self.axis}


class BinaryIoU(IoU):
    """IoU of two classes from probabilities: a prediction >= ``threshold`` is class 1."""

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_pred = np.asarray(y_pred, dtype=np.float32) >= self.threshold
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"target_class_ids": self.target_class_ids, "threshold": self.threshold,
                "name": self.name, "dtype": self.dtype}


class MeanIoU(IoU):
    """IoU averaged over every class."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_true=True, sparse_y_pred=True, axis=-1):
        super().__init__(num_classes, list(range(num_classes)) if isinstance(num_classes, int)
                         and num_classes > 0 else [0], name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=sparse_y_true,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """:class:`IoU` with one-hot y_true (and, by default, scores as y_pred)."""

    def __init__(self, num_classes, target_class_ids, name=None, dtype=None,
                 ignore_class=None, sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, target_class_ids, name=name, dtype=dtype,
                         ignore_class=ignore_class, sparse_y_true=False,
                         sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` with one-hot y_true (and, by default, scores as y_pred)."""

    def __init__(self, num_classes, name=None, dtype=None, ignore_class=None,
                 sparse_y_pred=False, axis=-1):
        super().__init__(num_classes, name=name, dtype=dtype, ignore_class=ignore_class,
                         sparse_y_true=False, sparse_y_pred=sparse_y_pred, axis=axis)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
