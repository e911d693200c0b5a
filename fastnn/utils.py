"""The ``keras.utils`` helpers that training scripts import: one-hot labels, normalization, seeds;
and plot_history, which draws a History's curves."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn import _lazy, _random
from fastnn.backend import clear_session
from fastnn.config import floatx
from fastnn.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    register_keras_serializable,
)

# The data helpers load on first use (fastnn._lazy); fit recognizes a PyDataset by its methods.
__getattr__, __dir__ = _lazy.attach(globals(), dict.fromkeys(
    ("PyDataset", "Sequence", "split_dataset"), "fastnn.data_utils"))

__all__ = ["CustomObjectScope", "PyDataset", "Sequence",  # noqa: F822 (loaded by __getattr__)
           "clear_session", "custom_object_scope",
           "get_custom_objects", "get_registered_name", "model_to_dot", "normalize",
           "plot_history", "plot_model", "register_keras_serializable", "set_random_seed",
           "split_dataset", "to_categorical"]


def plot_model(model, to_file="model.png", **kwargs):
    """Draw the model's graph to ``to_file`` through pydot and Graphviz (Keras 3's
    ``keras.utils.plot_model``; see :mod:`fastnn.models.plot`)."""
    from fastnn.models.plot import plot_model as _plot_model

    return _plot_model(model, to_file, **kwargs)


def model_to_dot(model, **kwargs):
    """The model's graph as a ``pydot.Dot`` (Keras 3's ``keras.utils.model_to_dot``)."""
    from fastnn.models.plot import model_to_dot as _model_to_dot

    return _model_to_dot(model, **kwargs)


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global RNG and fastnn's own random state.

    After this call, weight initialization, data shuffling and dropout repeat exactly.

    Parameters
    ----------
    seed : int
        In [0, 2**32) (NumPy's limit for its global RNG). NumPy integers are accepted too,
        which Keras 3 rejects.
    """
    if isinstance(seed, np.integer):
        seed = int(seed)
    if not isinstance(seed, int):
        raise ValueError(
            "Expected `seed` argument to be an integer. "
            f"Received: seed={seed} (of type {type(seed)})"
        )
    np.random.seed(seed)  # first: it raises for a seed out of range, before anything changes
    random.seed(seed)
    _random.seed(seed)


def to_categorical(
    x: ArrayLike, num_classes: int | None = None, dtype: DTypeLike = "float32"
) -> np.ndarray:
    """One-hot encode integer class labels.

    Parameters
    ----------
    x : array-like of int
        Labels in [0, num_classes). A trailing axis of length 1 is dropped first, so labels of
        shape (n, 1) give (n, num_classes), as in Keras. Float labels are truncated to integers,
        as Keras does.
    num_classes : int, optional
        The number of classes; by default (None or 0) ``max(x) + 1``.
    dtype : dtype, default "float32"
        The output type (Keras 2's argument; Keras 3 always returns float64).

    Returns
    -------
    array of shape x.shape + (num_classes,)
        1 at each label's position, 0 elsewhere.

    Examples
    --------
    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]], dtype=float32)
    """
    labels = np.asarray(x)
    if labels.dtype.kind not in "iub":
        labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if not num_classes:
        if labels.size == 0:
            raise ValueError("to_categorical needs num_classes when there are no labels.")
        num_classes = int(labels.max()) + 1
    num_classes = _positive_int(num_classes, "num_classes")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Labels must lie in [0, {num_classes}) for num_classes={num_classes}; "
            f"got labels from {labels.min()} to {labels.max()}."
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x: ArrayLike, axis: int = -1, order: Any = 2) -> np.ndarray:
    """Divide ``x`` by its ``order``-norm along ``axis``; slices of norm 0 are left unchanged.

    Parameters
    ----------
    x : array-like
        Float arrays keep their type; other input is converted to floatx.
    axis : int, default -1
        The axis along which norms are taken. (Keras 3 mis-broadcasts ``axis=0``; fastnn
        normalizes along it.)
    order : int, float or str, default 2
        The norm's order, as ``numpy.linalg.norm``'s ``ord`` (1, 2, ``np.inf``, ...).

    Returns
    -------
    array of the shape of x
    """
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        arr = arr.astype(floatx())
    norm = np.linalg.norm(arr, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return arr / norm


def plot_history(history: Any, path: str | os.PathLike | None = None, title: str | None = None):
    """Draw the loss and each metric per epoch, for training and validation, side by side.

    Needs matplotlib (``pip install "fastnn[plot]"``).

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, or its ``history`` dictionary: lists of per-epoch values under
        ``"loss"``, metric names and their ``"val_"`` counterparts.
    path : str or path-like, optional
        Save the figure there (the format follows the extension: ``.png``, ``.svg``, ``.pdf``).
    title : str, optional
        A title over the panels.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per quantity (the loss first), with a solid line for training and a dashed
        one for validation. The figure is not attached to pyplot, so no window opens; a
        notebook shows it when it is a cell's value.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    logs = dict(getattr(history, "history", history))
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in logs]
    names.sort(key=lambda k: (k != "loss", list(logs).index(k) if k in logs else 0))
    if not names:
        raise ValueError("The history has no values to plot: train for at least one epoch.")
    epochs = getattr(history, "epoch", None) or range(max(len(v) for v in logs.values()))
    x = np.asarray(epochs) + 1
    fig = Figure(figsize=(4.6 * len(names), 3.6), layout="constrained")
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        for key, label, style in ((name, "training", "-"), (f"val_{name}", "validation", "--")):
            if key in logs:
                ax.plot(x[:len(logs[key])], logs[key], style, linewidth=1.6, label=label,
                        marker="o" if len(x) <= 40 else None, markersize=3)
        ax.set_title(_readable(name))
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False)
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=150)
    return fig


_ABBREVIATIONS = {"acc": "Accuracy", "auc": "AUC", "mae": "MAE", "mape": "MAPE", "mse": "MSE",
                  "msle": "MSLE", "rmse": "RMSE"}


def _readable(metric: str) -> str:
    """``"mean_absolute_error"`` -> ``"Mean absolute error"``; ``"mae"`` -> ``"MAE"``."""
    if metric in _ABBREVIATIONS:
        return _ABBREVIATIONS[metric]
    text = metric.replace("_", " ")
    return text[:1].upper() + text[1:]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
