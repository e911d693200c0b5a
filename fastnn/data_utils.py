"""``keras.utils.PyDataset`` (Keras 2's ``Sequence``) and ``split_dataset``.

A PyDataset hands out batches by index; fit, evaluate and predict read them in order (fit in
a shuffled order of batches when ``shuffle=True``, as Keras 3 does). With ``workers > 1`` the
batches are read ahead by a pool of threads, or of processes with ``use_multiprocessing``, at
most ``max_queue_size`` batches ahead, and still handed over in order.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["PyDataset", "Sequence", "split_dataset"]


class PyDataset:
    """Base class for datasets that produce whole batches: subclass it and define
    ``__len__`` (the number of batches) and ``__getitem__(index)`` (batch ``index`` as ``x``,
    ``(x, y)`` or ``(x, y, sample_weight)``).

    Parameters
    ----------
    workers : int
        Batches read at once (threads, or processes with ``use_multiprocessing``); 1 reads
        them in the calling thread.
    use_multiprocessing : bool
        Read batches in worker processes (the dataset must pickle, or the process start by
        fork); for ``__getitem__`` code that holds the GIL.
    max_queue_size : int
        How many batches may be read ahead of the one being trained on.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False,
                 max_queue_size: int = 10):
        self._workers = _positive(workers, "workers")
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _positive(max_queue_size, "max_queue_size")

    # Subclasses that skip super().__init__() get the defaults, as in Keras.
    @property
    def workers(self) -> int:
        return self.__dict__.get("_workers", 1)

    @workers.setter
    def workers(self, value) -> None:
        self._workers = _positive(value, "workers")

    @property
    def use_multiprocessing(self) -> bool:
        return self.__dict__.get("_use_multiprocessing", False)

    @use_multiprocessing.setter
    def use_multiprocessing(self, value) -> None:
        self._use_multiprocessing = bool(value)

    @property
    def max_queue_size(self) -> int:
        return self.__dict__.get("_max_queue_size", 10)

    @max_queue_size.setter
    def max_queue_size(self, value) -> None:
        self._max_queue_size = _positive(value, "max_queue_size")

    def __getitem__(self, index: int):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index), "
                                  "returning batch `index`.")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__, the number "
                                  "of batches.")

    @property
    def num_batches(self) -> int:
        return len(self)

    def on_epoch_begin(self) -> None:
        """Called before each epoch's first batch is read."""

    def on_epoch_end(self) -> None:
        """Called after each epoch's last batch (shuffle your indices here)."""


Sequence = PyDataset   # Keras 2's name


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {value!r}.")
    return int(value)


def split_dataset(dataset, left_size=None, right_size=None, shuffle: bool = False,
                  seed: int | None = None):
    """Split arrays (or a tuple/dict of arrays with the same rows) into two parts.

    ``left_size`` and ``right_size`` are a fraction in (0, 1) or a number of rows; when only
    one is given the other part is the rest; with neither, the left part is 50%. Returns
    ``(left, right)`` in the input's structure (Keras returns ``tf.data.Dataset`` objects;
    fastnn returns the arrays, which fit and evaluate take as they are).
    """
    leaves, rebuild = _flatten(dataset)
    if not leaves:
        raise ValueError("`dataset` must be an array, or a tuple, list or dict of arrays; "
                         "received an empty structure.")
    arrays = [a if hasattr(a, "shape") and hasattr(a, "__getitem__") else np.asarray(a)
              for a in leaves]
    rows = {len(a) for a in arrays}
    if len(rows) != 1:
        raise ValueError(f"Every array of `dataset` must have the same number of rows; "
                         f"received {sorted(len(a) for a in arrays)}.")
    n = rows.pop()
    if n == 0:
        raise ValueError("`dataset` has no rows to split.")
    left, right = _split_sizes(n, left_size, right_size)
    order = np.arange(n)
    if shuffle:
        order = np.random.default_rng(seed).permutation(n)
    left_rows, right_rows = order[:left], order[left:left + right]
    if not shuffle:
        return (rebuild([a[:left] for a in arrays]),
                rebuild([a[left:left + right] for a in arrays]))
    return (rebuild([np.asarray(a)[left_rows] for a in arrays]),
            rebuild([np.asarray(a)[right_rows] for a in arrays]))


def _flatten(dataset) -> tuple[list, Any]:
    if isinstance(dataset, dict):
        keys = list(dataset)
        return [dataset[k] for k in keys], lambda parts: dict(zip(keys, parts))
    if isinstance(dataset, (tuple, list)) and dataset and all(
            hasattr(a, "shape") or isinstance(a, (list, tuple)) for a in dataset):
        kind = type(dataset)
        return list(dataset), lambda parts: kind(parts)
    return [dataset], lambda parts: parts[0]


def _split_sizes(n: int, left_size, right_size) -> tuple[int, int]:
    def rows(size, name):
        if size is None:
            return None
        if isinstance(size, bool) or not isinstance(size, numbers.Real):
            raise TypeError(f"`{name}` must be a float in (0, 1) or an int number of rows; "
                            f"received {size!r} of type {type(size).__name__}.")
        if isinstance(size, numbers.Integral):
            if not 0 < size <= n:
                raise ValueError(f"`{name}`={size} rows is out of range for a dataset of "
                                 f"{n} rows; expected 1 to {n}.")
            return int(size)
        if not 0 < size < 1:
            raise ValueError(f"`{name}` as a fraction must lie in (0, 1); received {size}.")
        return round(size * n)   # Python's rounding, as Keras

    left, right = rows(left_size, "left_size"), rows(right_size, "right_size")
    if left is None and right is None:
        left = round(0.5 * n)
    if left is None:
        left = n - right
    if right is None:
        right = n - left
    if left + right > n:
        raise ValueError(f"`left_size` + `right_size` ({left} + {right} rows) is more than the "
                         f"dataset's {n} rows.")
    if left == 0 or right == 0:
        raise ValueError(f"Both parts must have rows; the split gives {left} and {right} of "
                         f"{n}. Choose other sizes.")
    return left, right
