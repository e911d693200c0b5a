"""The metric base classes: Metric, Mean, Sum and MeanMetricWrapper, and Keras's auto-naming.

A metric accumulates statistics over ``update_state`` calls in float64 NumPy scalars and
arrays (the model calls it once per epoch with all the epoch's predictions, so every update
is vectorized), and ``result()`` returns a NumPy value of the metric's dtype.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn import config
from fastnn import losses as _losses
from fastnn.losses.functions import _sparse_values_and_mask, squeeze_or_expand_to_same_rank

_NAME_UIDS: dict[str, int] = {}


def snake_case(name: str) -> str:
    """Keras's snake_case of a class name: AUC -> auc, R2Score -> r2_score,
    TopKCategoricalAccuracy -> top_k_categorical_accuracy."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """``base`` the first time, then ``base_1``, ``base_2``, ... (Keras's process-wide
    auto-naming: a second ``AUC()`` is called ``auc_1``)."""
    n = _NAME_UIDS.get(base, 0)
    _NAME_UIDS[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear_name_uids() -> None:
    """Forget the auto-naming counters (what ``keras.backend.clear_session`` does)."""
    _NAME_UIDS.clear()


def broadcast_to(x: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """``np.broadcast_to`` with an error naming what did not fit."""
    try:
        return np.broadcast_to(x, shape)
    except ValueError:
        raise ValueError(f"{what} of shape {x.shape} does not match shape {shape}.") from None


def samplewise(values: Any, sample_weight: Any, dtype: np.dtype, reduce: Callable = np.mean):
    """Per-sample reductions (means, or ``reduce``) of ``values`` over every axis after the
    first (or after the weights' axes), weighted by ``sample_weight``, and the per-sample
    weights (None if none given)."""
    values = np.asarray(values, dtype=dtype)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = reduce(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = broadcast_to(sample_weight, values.shape, "sample_weight")
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = reduce(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = reduce(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``.

    Parameters
    ----------
    dtype : str, optional
        Type of the result; defaults to :func:`fastnn.config.floatx`.
    name : str, optional
        Defaults to the class name in snake_case, made unique (``auc``, ``auc_1``, ...).
    """

    def __init__(self, dtype=None, name=None):
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._dtype = np.dtype(dtype or config.floatx())
        self._variables: list = []

    @property
    def dtype(self) -> str:
        return str(self._dtype)

    # ---- state held in variables, as Keras 3 subclasses write it --------------------------

    def add_variable(self, shape, initializer, dtype=None, aggregation="sum", name=None):
        """A state variable of ``shape`` (``assign``, ``assign_add``, arithmetic); the
        default ``reset_state`` sets it back to zeros, as Keras's does."""
        from fastnn import initializers
        from fastnn.layers.base import Variable

        shape = tuple(int(d) for d in shape) if isinstance(shape, (list, tuple)) \
            else (int(shape),)
        dtype = np.dtype(dtype or self._dtype)
        init = initializers.get(initializer if initializer is not None else "zeros")
        value = np.asarray(init(shape, dtype=dtype), dtype=dtype).reshape(shape)
        name = name or f"variable_{len(self.__dict__.get('_variables', []))}"
        var = Variable(value, name, f"{self.name}/{name}", trainable=False)
        self.__dict__.setdefault("_variables", []).append(var)
        return var

    def add_weight(self, name=None, shape=(), initializer=None, dtype=None,
                   aggregation="sum"):
        return self.add_variable(shape, initializer, dtype, aggregation, name)

    @property
    def variables(self) -> list:
        return list(self.__dict__.get("_variables", []))

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_state.")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result.")

    def reset_state(self) -> None:
        variables = self.variables
        if not variables:
            raise NotImplementedError(f"{type(self).__name__} must implement reset_state.")
        for var in variables:
            var.assign(np.zeros(var.shape, dtype=var.dtype))

    def __call__(self, *args, **kwargs):
        """Update with this data, then return the result so far."""
        self.update_state(*args, **kwargs)
        return self.result()

    def _value(self, x):
        """``x`` as the metric's dtype: a NumPy scalar, or an array for vector results."""
        return np.asarray(x, dtype=self._dtype)[()]

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def updates_per_batch(metric) -> bool:
    """Whether ``metric`` must see the batches one by one: a user's Metric subclass or
    function may keep any state, while fastnn's own metrics are sums over samples (one
    update with every batch's rows gives the same result, and is faster)."""
    if not type(metric).__module__.startswith("fastnn."):
        return True
    fn = getattr(metric, "_fn", None)
    return fn is not None and not getattr(fn, "__module__", "").startswith("fastnn.")


def update_over_rows(metric, y, pred, sample_weight, batch_size: int) -> None:
    """Update ``metric`` with rows in batch order: batch by batch when it must see them so
    (see :func:`updates_per_batch`), else in one update (the same sums, faster)."""
    if not updates_per_batch(metric):
        metric.update_state(y, pred, sample_weight=sample_weight)
        return
    for lo in range(0, pred.shape[0], batch_size):
        hi = lo + batch_size
        metric.update_state(y[lo:hi], pred[lo:hi],
                            sample_weight=None if sample_weight is None else sample_weight[lo:hi])


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight)``.

    State: the variable ``total`` (as Keras).
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")

    def update_state(self, values, sample_weight=None) -> None:
        values, _ = samplewise(values, sample_weight, self._dtype, np.sum)
        self.total.assign_add(values.sum(dtype=np.float64))

    def result(self):
        return self._value(self.total.value)


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight)``:
    multi-axis values are first averaged per sample, then weighted per sample.

    State: the variables ``total`` and ``count`` (as Keras).
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), "zeros", name="total")
        self.count = self.add_variable((), "zeros", name="count")

    def update_state(self, values, sample_weight=None) -> None:
        values, sample_weight = samplewise(values, sample_weight, self._dtype)
        total = values.sum(dtype=np.float64)
        if sample_weight is not None:
            count = sample_weight.sum(dtype=np.float64)
        else:
            count = values.shape[0] if values.ndim else 1
        self.total.assign_add(total)
        self.count.assign_add(count)

    def result(self):
        count = float(self.count.value)
        return self._value(float(self.total.value) / count if count else 0.0)


def _function(name: str) -> Callable:
    """A built-in per-sample function by name: an accuracy function or a loss function."""
    from fastnn.metrics.accuracy import FUNCTIONS  # accuracy imports this module

    if name in FUNCTIONS:
        return FUNCTIONS[name]
    return _losses.get(name)


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)`` over every sample
    seen (a loss function, an accuracy function or your own)."""

    def __init__(self, fn: Callable | str | dict, name=None, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype)
        if isinstance(fn, dict) and fn.get("class_name") == "function":
            fn = fn["config"]      # Keras's serialized function: found again by its name
        self._fn = _function(fn) if isinstance(fn, str) else fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if self._fn is _losses.sparse_categorical_crossentropy:
            values, mask = _sparse_values_and_mask(y_true, y_pred, **self._fn_kwargs)
        else:
            values, mask = self._fn(y_true, y_pred, **self._fn_kwargs), None
        if mask is not None:
            # Ignored samples count for nothing, as if their weight were 0.
            if sample_weight is None:
                sample_weight = mask.astype(self._dtype)
            else:
                m, w = squeeze_or_expand_to_same_rank(
                    mask.astype(self._dtype), np.asarray(sample_weight, dtype=self._dtype)
                )
                sample_weight = m * w
        super().update_state(values, sample_weight)

    def get_config(self) -> dict:
        # The function as Keras 3 serializes one: by name, in a "function" record.
        fn = {"module": "builtins", "class_name": "function",
              "config": getattr(self._fn, "__name__", self._fn), "registered_name": "function"}
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}


class BuiltinWrapper(MeanMetricWrapper):
    """A built-in mean metric: its function is fixed and its keyword arguments are
    attributes and, with name and dtype, its whole config."""

    fn: Callable

    def __init__(self, name, dtype, **kwargs):
        super().__init__(type(self).fn, name=name, dtype=dtype, **kwargs)
        for key, value in kwargs.items():
            setattr(self, key, value)

    def get_config(self) -> dict:
        return {**Metric.get_config(self), **self._fn_kwargs}
