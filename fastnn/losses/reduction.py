"""Keras's weighting and reduction of per-sample loss values."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import config
from fastnn.losses.functions import squeeze_or_expand_to_same_rank

REDUCTIONS = ("sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight")


def _standardize_reduction(reduction: str | None) -> str | None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: {reduction!r}. Expected one of "
            f"{list(REDUCTIONS)}."
        )
    return reduction


def _broadcast_weights(values: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
    if (
        sample_weight.ndim < values.ndim
        and sample_weight.shape == values.shape[: sample_weight.ndim]
    ):
        # Per-sample weights of multi-axis values weigh every value of the sample.
        sample_weight = sample_weight.reshape(
            sample_weight.shape + (1,) * (values.ndim - sample_weight.ndim)
        )
    try:
        np.broadcast_shapes(values.shape, sample_weight.shape)
    except ValueError:
        raise ValueError(
            f"sample_weight of shape {sample_weight.shape} does not match the per-sample loss "
            f"values of shape {values.shape}."
        ) from None
    return sample_weight


def reduce_weighted_values(
    values: np.ndarray,
    sample_weight: Any = None,
    mask: np.ndarray | None = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: Any = None,
):
    """Weight per-sample loss values and reduce them the Keras way.

    "sum_over_batch_size"/"mean": sum(w * values) / values.size; "sum": no division;
    "mean_with_sample_weight": divided by sum(w); "none"/None: the weighted values. A mask
    (False = ignored sample) rescales the weights so the mean is over the counted samples.
    """
    reduction = _standardize_reduction(reduction)
    dtype = np.dtype(dtype or config.floatx())
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = _broadcast_weights(values, np.asarray(sample_weight, dtype=dtype))
    if mask is not None:
        mask_weight = mask.astype(dtype)
        if reduction in ("mean", "sum_over_batch_size"):
            valid = mask_weight.sum()
            mask_weight *= mask.size / valid if valid else 0
        sample_weight = mask_weight if sample_weight is None else sample_weight * mask_weight
    if sample_weight is not None:
        values = values * sample_weight
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = values.sum(dtype=np.float64)
    if reduction == "sum":
        return dtype.type(total)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        divisor = float(np.sum(sample_weight, dtype=np.float64))
    else:
        divisor = float(values.size)
    return dtype.type(total / divisor if divisor else 0.0)
