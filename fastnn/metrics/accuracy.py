"""Accuracy metrics: per-sample match functions and the mean metrics around them."""

from __future__ import annotations

import numpy as np

from fastnn import config
from fastnn.losses import squeeze_or_expand_to_same_rank
from fastnn.metrics.base import BuiltinWrapper


def _floatx(matches: np.ndarray) -> np.ndarray:
    return matches.astype(config.floatx())


def _same_shape(fn: str, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{fn}: y_true and y_pred must have the same shape; got y_true.shape={y_true.shape} "
            f"and y_pred.shape={y_pred.shape}."
        )


def _class_scores(fn: str, y_pred) -> np.ndarray:
    y_pred = np.asarray(y_pred)
    if y_pred.ndim < 1 or y_pred.shape[-1] == 0:
        raise ValueError(f"{fn}: y_pred must have a class axis; got shape {y_pred.shape}.")
    return y_pred


def _labels(fn: str, y_true, y_pred: np.ndarray) -> np.ndarray:
    """Integer-valued labels of shape y_pred.shape[:-1] (a trailing axis of size 1 dropped)."""
    y_true = np.asarray(y_true)
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true[..., 0]
    if y_true.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{fn}: y_true must hold one label per sample, shape {y_pred.shape[:-1]} (or with a "
            f"trailing axis of size 1); got y_true.shape={y_true.shape} for y_pred.shape="
            f"{y_pred.shape}."
        )
    return y_true


def accuracy(y_true, y_pred):
    """1 where y_true == y_pred exactly, else 0, elementwise."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _same_shape("accuracy", y_true, y_pred)
    return _floatx(y_true == y_pred)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where y_true equals (y_pred > threshold), elementwise (strictly greater, as Keras)."""
    y_pred = np.asarray(y_pred)
    y_true = np.asarray(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    _same_shape("binary_accuracy", y_true, y_pred)
    return _floatx(y_true == (y_pred > threshold))


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_true) == argmax(y_pred) over the last axis (first index on ties)."""
    y_pred = _class_scores("categorical_accuracy", y_pred)
    y_true = np.asarray(y_true)
    _same_shape("categorical_accuracy", y_true, y_pred)
    return _floatx(np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1))


def sparse_categorical_accuracy(y_true, y_pred):
    """1 where the integer label equals argmax(y_pred) over the last axis."""
    y_pred = _class_scores("sparse_categorical_accuracy", y_pred)
    labels = _labels("sparse_categorical_accuracy", y_true, y_pred)
    return _floatx(labels.astype(y_pred.dtype) == np.argmax(y_pred, axis=-1))


def _in_top_k(targets: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """TensorFlow's in_top_k: the target's score is beaten by fewer than k scores (ties count as
    in), False for a target out of range or a row with a non-finite score."""
    c = y_pred.shape[-1]
    rows = y_pred.reshape(-1, c)
    targets = targets.reshape(-1)
    valid = (targets >= 0) & (targets < c) & np.isfinite(rows).all(axis=1)
    score = np.take_along_axis(rows, np.clip(targets, 0, c - 1)[:, None], axis=1)
    beaten_by = (rows > score).sum(axis=1)
    return (valid & (beaten_by < k)).reshape(y_pred.shape[:-1])


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the one-hot target's class is among the k highest scores."""
    y_pred = _class_scores("top_k_categorical_accuracy", y_pred)
    y_true = np.asarray(y_true)
    _same_shape("top_k_categorical_accuracy", y_true, y_pred)
    return _floatx(_in_top_k(np.argmax(y_true, axis=-1), y_pred, int(k)))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1 where the integer label is among the k highest scores (or, with ``from_sorted_ids``,
    among the first k ids of each row of y_pred)."""
    fn = "sparse_top_k_categorical_accuracy"
    y_pred = _class_scores(fn, y_pred)
    labels = _labels(fn, y_true, y_pred)
    if from_sorted_ids:
        return _floatx((labels[..., None] == y_pred[..., : int(k)]).any(axis=-1))
    return _floatx(_in_top_k(labels.astype(np.int64), y_pred, int(k)))


class Accuracy(BuiltinWrapper):
    """How often y_pred equals y_true exactly."""

    fn = staticmethod(accuracy)

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name, dtype)


class BinaryAccuracy(BuiltinWrapper):
    """How often (y_pred > threshold) equals the 0/1 label."""

    fn = staticmethod(binary_accuracy)

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype, threshold=threshold)


class CategoricalAccuracy(BuiltinWrapper):
    """How often argmax(y_pred) is the one-hot label's class."""

    fn = staticmethod(categorical_accuracy)

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class SparseCategoricalAccuracy(BuiltinWrapper):
    """How often argmax(y_pred) is the integer label."""

    fn = staticmethod(sparse_categorical_accuracy)

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(name, dtype)


class TopKCategoricalAccuracy(BuiltinWrapper):
    """How often the one-hot label's class is among the k highest scores."""

    fn = staticmethod(top_k_categorical_accuracy)

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, k=k)


class SparseTopKCategoricalAccuracy(BuiltinWrapper):
    """How often the integer label is among the k highest scores."""

    fn = staticmethod(sparse_top_k_categorical_accuracy)

    def __init__(
        self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None, from_sorted_ids=False
    ):
        super().__init__(name, dtype, k=k, from_sorted_ids=from_sorted_ids)


FUNCTIONS = {
    f.__name__: f
    for f in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
    )
}
