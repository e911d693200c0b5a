"""What fit, evaluate and predict take besides in-memory arrays, as batches or blocks of rows.

Two kinds of source, told apart here by duck typing (fastnn imports neither TensorFlow nor
Keras):

- a *batch stream* hands over whole batches: a Python generator or iterator, a PyDataset
  (fastnn's, Keras's, or anything with ``__getitem__``, ``__len__`` and ``on_epoch_end``), or
  a ``tf.data.Dataset`` (anything with ``as_numpy_iterator``). Each batch is ``x``, ``(x,)``,
  ``(x, y)`` or ``(x, y, sample_weight)``.
- a *row source* is an array that must not be converted whole: a ``np.memmap`` whose dtype or
  layout differs from the model's, or an array-like that reads rows on ``__getitem__``
  (h5py, zarr). It is read a block of rows at a time, and each block converted.
"""

from __future__ import annotations

import collections
import itertools
import math
import types
import warnings

import numpy as np

# Bytes of source rows read per block of a row source (a whole number of batches, at least
# one): large enough that the engine runs long stretches, small against the memory budget.
BLOCK_BYTES = 8 << 20
_ARRAY_MODULES = ("numpy", "pandas", "tensorflow", "torch", "jax", "jaxlib", "builtins")


def is_batch_stream(x) -> bool:
    return isinstance(x, types.GeneratorType) or _is_iterator(x) or is_tf_dataset(x) \
        or is_py_dataset(x)


def _is_iterator(x) -> bool:
    return hasattr(x, "__next__") and hasattr(x, "__iter__") and not hasattr(x, "shape")


def is_tf_dataset(x) -> bool:
    return hasattr(x, "as_numpy_iterator") and not isinstance(x, np.ndarray)


def is_py_dataset(x) -> bool:
    return (hasattr(x, "__getitem__") and hasattr(x, "__len__") and hasattr(x, "on_epoch_end")
            and not hasattr(x, "shape") and not isinstance(x, (list, tuple, dict, str)))


def is_row_source(x, model) -> bool:
    """An array fastnn reads block by block instead of converting it whole (a memmap already
    in the model's dtype and layout is used as it is, without a copy)."""
    if isinstance(x, np.memmap):
        return x.dtype != np.dtype(model.dtype) or not x.flags.c_contiguous
    if isinstance(x, np.ndarray) or not all(hasattr(x, a) for a in ("shape", "dtype",
                                                                    "__getitem__")):
        return False
    root = type(x).__module__.split(".")[0]
    return root not in _ARRAY_MODULES and len(getattr(x, "shape", ())) >= 1


def kind_name(x) -> str:
    if is_tf_dataset(x):
        return "tf.data.Dataset"
    if is_py_dataset(x):
        return "PyDataset"
    return "generator"


class BatchStream:
    """Batches from a generator, an iterator, a PyDataset or a tf.data.Dataset, epoch by
    epoch with Keras 3's rules: without ``steps`` an epoch is one pass; with ``steps`` an
    epoch takes the next ``steps`` batches of the current pass, fewer when it runs out (with
    Keras's warning), and the next epoch starts a new pass. A generator has one pass only."""

    def __init__(self, source, steps: int | None = None, shuffle: bool = False):
        self.source, self.steps, self.shuffle = source, steps, bool(shuffle)
        self.kind = kind_name(source)
        self.one_pass = self.kind == "generator"
        self._current = None         # the pass that steps-limited epochs continue
        self._peeked: collections.deque = collections.deque()
        self.exhausted = False
        self.batches_seen = 0        # of the current epoch

    @property
    def num_batches(self) -> int | None:
        if self.steps is not None:
            return self.steps
        if self.kind == "PyDataset":
            return len(self.source)
        return None

    def _new_pass(self):
        if self.kind == "generator":
            return iter(self.source) if not self.exhausted else iter(())
        if self.kind == "tf.data.Dataset":
            return iter(self.source.as_numpy_iterator())
        begin = getattr(self.source, "on_epoch_begin", None)
        if callable(begin):
            begin()
        return _py_dataset_batches(self.source, self.shuffle)

    def peek(self):
        """The first batch of the next epoch (kept for it): fit builds the model from it."""
        if not self._peeked:
            if self._current is None:
                self._current = self._new_pass()
            try:
                self._peeked.append(next(self._current))
            except StopIteration:
                return None
        return self._peeked[0]

    def epoch(self):
        """This epoch's batches; ends early (with Keras's warning) when the data runs out."""
        self.batches_seen = 0
        if self._current is None or (self.steps is None and not self._peeked):
            self._current = self._new_pass()
        limit = self.steps if self.steps is not None else math.inf
        try:
            while self.batches_seen < limit:
                if self._peeked:
                    batch = self._peeked.popleft()
                else:
                    try:
                        batch = next(self._current)
                    except StopIteration:
                        self.ran_out()
                        return
                self.batches_seen += 1
                yield batch
        finally:
            if self.kind == "PyDataset":
                self.source.on_epoch_end()

    def ran_out(self, warn: bool = True) -> None:
        self._current = None
        if self.one_pass:
            self.exhausted = True
        if warn and (self.steps is not None or self.one_pass):
            warnings.warn(
                "Your input ran out of data; interrupting training. Make sure that your "
                "dataset or generator can generate at least `steps_per_epoch * epochs` "
                "batches. You may need to use the `.repeat()` function when building your "
                "dataset.", UserWarning, stacklevel=4)

    def close(self) -> None:
        current, self._current = self._current, None
        if current is not None and hasattr(current, "close") and self.kind == "PyDataset":
            current.close()


def unpack(batch, kind: str, index: int) -> tuple:
    """(x, y, sample_weight) of one batch, as Keras 3 reads it."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        if kind == "generator" and index == 0:
            raise ValueError(
                "When passing a Python generator to a Keras model, the generator must return "
                "a tuple, either (input,) or (inputs, targets) or (inputs, targets, "
                f"sample_weights). Received: {_short(batch)}")
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise ValueError(
            "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, "
            f"sample_weight)`, found a tuple of {len(batch)} items: "
            f"{', '.join(_short(b) for b in batch)}")
    return (*batch, *([None] * (3 - len(batch))))


def _short(value) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- PyDataset: batches read in order, optionally ahead by a pool ------------------------------

_WORKER_DATASET = None


def _hold_dataset(dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _worker_item(index: int):
    return _WORKER_DATASET[index]


def _py_dataset_batches(dataset, shuffle: bool):
    """Batch after batch in index order (a fresh permutation with ``shuffle``), read ahead by
    ``dataset.workers`` threads or processes, at most ``max_queue_size`` batches ahead."""
    n = len(dataset)
    indices = np.arange(n)
    if shuffle:
        from fastnn import _random

        indices = _random.generator().permutation(n)
    indices = [int(i) for i in indices]
    workers = int(getattr(dataset, "workers", 1) or 1)
    if workers <= 1:
        return (dataset[i] for i in indices)
    return _read_ahead(dataset, indices, workers,
                       bool(getattr(dataset, "use_multiprocessing", False)),
                       max(1, int(getattr(dataset, "max_queue_size", 10) or 10)))


def _read_ahead(dataset, indices, workers: int, processes: bool, queue_size: int):
    import concurrent.futures as cf

    if processes:
        pool = cf.ProcessPoolExecutor(workers, initializer=_hold_dataset, initargs=(dataset,))
        fetch = _worker_item
    else:
        pool = cf.ThreadPoolExecutor(workers, thread_name_prefix="fastnn-pydataset")
        fetch = dataset.__getitem__
    pending: collections.deque = collections.deque()
    todo = iter(indices)
    try:
        for i in itertools.islice(todo, queue_size):
            pending.append(pool.submit(fetch, i))
        while pending:
            future = pending.popleft()
            following = next(todo, None)
            if following is not None:
                pending.append(pool.submit(fetch, following))
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---- row sources ----------------------------------------------------------------------------

class RowSource:
    """An array read in blocks of rows: ``take(rows)`` returns those rows, in that order, as
    an in-memory array of the source's dtype. A block whose rows form one range is read as a
    slice (sequential on disk); otherwise the rows are read in increasing order (what h5py
    requires, and kinder to the disk) and put back in the block's order."""

    def __init__(self, array, lo: int = 0, hi: int | None = None):
        self.array = array
        self.lo = lo
        self.hi = len(array) if hi is None else hi
        shape = tuple(array.shape)
        self.row_bytes = max(1, math.prod(shape[1:]) * np.dtype(array.dtype).itemsize)

    def __len__(self) -> int:
        return self.hi - self.lo

    def split(self, at: int) -> tuple[RowSource, RowSource]:
        return RowSource(self.array, self.lo, self.lo + at), \
            RowSource(self.array, self.lo + at, self.hi)

    def block_batches(self, batch_size: int) -> int:
        return max(1, BLOCK_BYTES // (self.row_bytes * batch_size))

    def take(self, rows: np.ndarray) -> np.ndarray:
        if rows.size == 0:
            return np.asarray(self.array[self.lo:self.lo])
        first, last = int(rows.min()), int(rows.max())
        if last - first + 1 == rows.size:
            block = np.asarray(self.array[self.lo + first:self.lo + last + 1])
            if np.array_equal(rows, np.arange(first, last + 1)):
                return block
            return block[rows - first]
        if isinstance(self.array, np.ndarray):
            return self.array[self.lo + rows]     # one copy, rows straight from the page cache
        order = np.argsort(rows, kind="stable")
        block = np.asarray(self.array[self.lo + rows[order]])
        out = np.empty_like(block)
        out[order] = block
        return out
