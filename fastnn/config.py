"""Process-wide settings: the float type of new models and the kernels' thread count.

Mirrors ``keras.config`` for the names Keras scripts use (``floatx``, ``set_floatx``,
``epsilon``, ``set_epsilon``) and adds the thread setting that Keras leaves to TensorFlow.
"""

from __future__ import annotations

import contextlib
import threading

_FLOATX = "float32"
_EPSILON = 1e-7
_NUM_THREADS: int | None = None


class _ThreadCount(threading.local):
    """num_threads(): a count for the calls of one thread. None (the class's value) until a
    thread sets its own: reading it is a plain attribute lookup, where getattr with a default
    would raise and catch an AttributeError on every kernel call of a thread that never set
    one (~0.3 µs of a one-row predict)."""

    n_threads = None


_LOCAL = _ThreadCount()

_VALID_FLOATX = ("float32", "float64")


def floatx() -> str:
    """The default float type, ``"float32"`` unless changed by :func:`set_floatx`."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: ``"float32"`` or ``"float64"``."""
    global _FLOATX
    value = str(value)
    if value not in _VALID_FLOATX:
        raise ValueError(f"Unknown floatx type: {value!r}. Expected one of {list(_VALID_FLOATX)}.")
    _FLOATX = value


def dtype_policy():
    """The global dtype policy (``keras.config.dtype_policy``): the one last set with
    :func:`set_dtype_policy`, else the policy named by :func:`floatx`."""
    from fastnn import dtype_policies

    return dtype_policies.dtype_policy()


def set_dtype_policy(policy) -> None:
    """Set the dtype policy of the layers created from now on: ``"float32"``, ``"float64"``
    or ``"mixed_bfloat16"`` (see ``fastnn.mixed_precision``)."""
    from fastnn import dtype_policies

    dtype_policies.set_dtype_policy(policy)


def epsilon() -> float:
    """The fuzz factor Keras uses to clip probabilities and avoid division by zero (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`."""
    global _EPSILON
    _EPSILON = float(value)


def get_num_threads() -> int | None:
    """The thread count set by :func:`set_num_threads`, or None (OpenMP's default)."""
    return _NUM_THREADS


def set_num_threads(n_threads: int | None) -> None:
    """Use ``n_threads`` threads in the kernels; None returns to OpenMP's default.

    OpenMP's default honours ``OMP_NUM_THREADS``; threadpoolctl's limits cap either, in
    every thread; a negative value counts back from the available CPUs (-1 = all).
    """
    global _NUM_THREADS
    _check_n_threads(n_threads)
    _NUM_THREADS = n_threads


def _check_n_threads(n_threads) -> None:
    if n_threads is not None and (
        isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads == 0
    ):
        raise ValueError(f"n_threads must be a non-zero integer or None, got {n_threads!r}")


@contextlib.contextmanager
def num_threads(n_threads: int | None):
    """Run the calls made by this thread inside the block on ``n_threads`` threads.

    Other threads keep theirs, which makes it the tool for a thread pool's workers (joblib's
    threading backend, Dask's worker threads): ``with fastnn.config.num_threads(1):
    model.fit(...)``. None leaves the count to the process-wide setting. Like an explicit
    count, it is not capped by threadpoolctl's limits.
    """
    _check_n_threads(n_threads)
    previous = _LOCAL.n_threads
    _LOCAL.n_threads = n_threads
    try:
        yield
    finally:
        _LOCAL.n_threads = previous


def thread_num_threads() -> int | None:
    """The count :func:`num_threads` set for this thread, or None."""
    return _LOCAL.n_threads
