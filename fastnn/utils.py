"""The ``keras.utils`` helpers that training scripts import: one-hot labels, normalization, seeds."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastnn import _random
from fastnn.backend import clear_session
from fastnn.config import floatx

__all__ = ["clear_session", "normalize", "set_random_seed", "to_categorical"]


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
        raise ValueError(  # noqa: TRY004 - Keras raises ValueError here
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


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)
