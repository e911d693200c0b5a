"""Keras 3 losses written with :mod:`fastnn.ops`: categorical focal cross-entropy, Dice,
Tversky and Circle.

Training runs most of their uses on C kernels (fastnn.losses.engine.compiled_ops_loss:
focal cross-entropy with one alpha, Dice and Tversky over the last axis or the whole batch).
What the kernels do not cover (Circle, which compares every pair of rows of a batch; a
per-class alpha; other axes) runs on the Python-loss path (:mod:`fastnn.losses.python_loss`),
which evaluates these functions once per batch and differentiates them with autograd, then
lets the engine run backward and the update in C.

Each function follows Keras 3.15's operation order, so values match it to rounding.
"""

from __future__ import annotations

import warnings

import numpy as np

from fastnn import config
from fastnn.losses.classes import Loss, LossFunctionWrapper


class _LazyOps:
    """fastnn.ops, imported when a loss first runs: `import fastnn` does not load autograd."""

    def __getattr__(self, name):
        import fastnn.ops as module

        return getattr(module, name)


ops = _LazyOps()

_SBS = "sum_over_batch_size"


def _pair(y_true, y_pred):
    y_pred = ops.convert_to_tensor(y_pred)
    return ops.cast(y_true, y_pred.dtype), y_pred


def categorical_focal_crossentropy(y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False,
                                   label_smoothing=0.0, axis=-1):
    """Focal cross-entropy over one-hot targets (Lin et al., 2018): per sample
    ``sum(alpha * (1 - q)**gamma * -y * log(q))`` over ``axis``, with ``q`` the predictions
    renormalized to sum to 1 and clipped to [epsilon, 1 - epsilon] (softmax first when
    ``from_logits``). ``alpha`` is a number or one weight per class."""
    if isinstance(axis, bool):
        raise ValueError(f"`axis` must be of type `int`. Received: axis={axis} of type "
                         f"{type(axis)}")
    y_true, y_pred = _pair(y_true, y_pred)
    if ops.shape(y_pred)[-1] == 1:
        warnings.warn(
            "In loss categorical_focal_crossentropy, expected y_pred.shape to be (batch_size, "
            f"num_classes) with num_classes > 1. Received: y_pred.shape={ops.shape(y_pred)}. "
            "Consider using 'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning, stacklevel=2)
    if label_smoothing:
        n_classes = ops.shape(y_true)[-1]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / n_classes
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    eps = config.epsilon()
    output = ops.clip(output, eps, 1.0 - eps)
    cce = -y_true * ops.log(output)
    weighting = ops.multiply(ops.power(1.0 - output, gamma), ops.cast(alpha, output.dtype))
    return ops.sum(ops.multiply(weighting, cce), axis=axis)


def _summed(axis, shape):
    """A sum over ``axis`` keeping the reduced axes, and the shape to give the result at the
    end. Kept dims keep the sums arrays: a full sum would be a NumPy scalar, which
    fastnn.ops types as a weak Python float (float32 arithmetic on float64 data)."""
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, (tuple, list))
                                                     else (axis,))
    axes = {a % len(shape) for a in axes}
    out_shape = tuple(n for i, n in enumerate(shape) if i not in axes)
    return (lambda x: ops.sum(x, axis=tuple(sorted(axes)), keepdims=True)), out_shape


def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + epsilon)`` over ``axis``
    (None: every axis, batch included, giving one number for the batch, as Keras)."""
    y_true, y_pred = _pair(y_true, y_pred)
    total, out_shape = _summed(axis, ops.shape(y_pred))
    intersection = total(y_true * y_pred)
    denominator = total(y_true) + total(y_pred) + config.epsilon()
    return ops.reshape(1 - ops.divide(2.0 * intersection, denominator), out_shape)


def tversky(y_true, y_pred, alpha=0.5, beta=0.5, axis=None):
    """``1 - TP / (TP + alpha FP + beta FN + epsilon)`` with TP = sum(y_true y_pred),
    FP = sum((1 - y_pred) y_true), FN = sum(y_pred (1 - y_true)), over ``axis`` (Keras's
    names: alpha weighs the y_true mass the prediction misses). alpha = beta = 0.5 is Dice."""
    y_true, y_pred = _pair(y_true, y_pred)
    total, out_shape = _summed(axis, ops.shape(y_pred))
    intersection = total(y_true * y_pred)
    fp = total((1 - y_pred) * y_true)
    fn = total(y_pred * (1 - y_true))
    ratio = ops.divide(intersection, intersection + fp * alpha + fn * beta + config.epsilon())
    return ops.reshape(1 - ratio, out_shape)


def circle(y_true, y_pred, ref_labels=None, ref_embeddings=None, remove_diagonal=True,
           gamma=80, margin=0.4):
    """Circle loss (Sun et al., 2020) of L2-normalized embeddings ``y_pred`` with integer
    labels ``y_true``, per row against the batch (or ``ref_embeddings``/``ref_labels``):
    ``softplus(logsumexp_pos(-gamma a_p (margin - d)) + logsumexp_neg(gamma a_n (1 - margin
    - d)))`` with cosine distances ``d = max(1 - y_pred ref^T, 0)``, ``a_p = max(margin + d,
    0)`` and ``a_n = max(1 + margin - d, 0)``. A row with no positive (or no negative) pair
    has loss 0."""
    y_pred = ops.convert_to_tensor(y_pred)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1, 1))
    ref = y_pred if ref_embeddings is None else ops.convert_to_tensor(ref_embeddings)
    ref_lab = labels if ref_labels is None else ops.reshape(ops.cast(ref_labels, "int32"),
                                                            (-1, 1))
    distances = ops.maximum(1 - ops.matmul(y_pred, ops.transpose(ref)), 0.0)
    positive = ops.equal(labels, ops.transpose(ref_lab))
    negative = ops.logical_not(positive)
    if remove_diagonal:
        positive = ops.logical_and(
            positive, ops.logical_not(ops.eye(ops.size(labels), ops.size(ref_lab), dtype="bool")))
    pos_f, neg_f = ops.cast(positive, distances.dtype), ops.cast(negative, distances.dtype)
    pos_weights = ops.maximum((margin + distances) * pos_f, 0.0)
    neg_weights = ops.maximum((1 + margin - distances) * neg_f, 0.0)
    pos_wdists = -1 * gamma * pos_weights * (margin - distances)
    neg_wdists = gamma * neg_weights * ((1 - margin) - distances)
    p_loss = ops.logsumexp(ops.where(positive, pos_wdists, float("-inf")), axis=1)
    n_loss = ops.logsumexp(ops.where(negative, neg_wdists, float("-inf")), axis=1)
    return ops.softplus(p_loss + n_loss)


OPS_FUNCTIONS = {fn.__name__: fn for fn in (categorical_focal_crossentropy, dice, tversky,
                                            circle)}


class _OpsLoss(LossFunctionWrapper):
    """A loss class around one of the functions above: its keyword arguments are attributes
    and, after Keras's name / reduction / dtype, its whole config."""

    _fn = None

    def __init__(self, reduction, name, dtype, **kwargs):
        super().__init__(type(self)._fn, reduction=reduction, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        return {**Loss.get_config(self), **self._fn_kwargs}


class CategoricalFocalCrossentropy(_OpsLoss):
    """:func:`categorical_focal_crossentropy`, reduced."""

    _fn = staticmethod(categorical_focal_crossentropy)

    def __init__(self, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction=_SBS, name="categorical_focal_crossentropy", dtype=None):
        super().__init__(reduction, name, dtype, from_logits=from_logits,
                         label_smoothing=label_smoothing, axis=axis, alpha=alpha, gamma=gamma)


class Dice(_OpsLoss):
    """:func:`dice`, reduced (one number per batch with the default ``axis=None``)."""

    _fn = staticmethod(dice)

    def __init__(self, reduction=_SBS, name="dice", axis=None, dtype=None):
        super().__init__(reduction, name, dtype, axis=axis)


class Tversky(_OpsLoss):
    """:func:`tversky`, reduced (one number per batch with the default ``axis=None``)."""

    _fn = staticmethod(tversky)

    def __init__(self, alpha=0.5, beta=0.5, reduction=_SBS, name="tversky", axis=None,
                 dtype=None):
        super().__init__(reduction, name, dtype, alpha=alpha, beta=beta, axis=axis)


class Circle(_OpsLoss):
    """:func:`circle` over the pairs of rows of each batch, reduced. As in Keras, rows whose
    loss is exactly 0 (no positive or no negative pair) are masked out of the mean."""

    _fn = staticmethod(circle)
    masks_zero_values = True

    def _values_and_mask(self, y_true, y_pred):
        values = self.call(y_true, y_pred)
        return values, np.asarray(values) > 0

    def __init__(self, gamma=80.0, margin=0.4, remove_diagonal=True, reduction=_SBS,
                 name="circle", dtype=None):
        super().__init__(reduction, name, dtype, gamma=gamma, margin=margin,
                         remove_diagonal=remove_diagonal)


OPS_CLASSES = (CategoricalFocalCrossentropy, Dice, Tversky, Circle)


def depends_on_batch(loss) -> bool:
    """Whether a batch's loss is not the mean of per-row values, so that evaluating many rows
    at once would differ from batch by batch: Circle (pairs within the batch), and Dice and
    Tversky summed over every axis (axis=None)."""
    fn, kwargs = getattr(loss, "fn", loss), getattr(loss, "_fn_kwargs", {})
    return fn is circle or (fn in (dice, tversky) and kwargs.get("axis") is None)
