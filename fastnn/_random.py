"""fastnn's own random state: one NumPy Generator for everything drawn in Python.

Initializers without a seed and the shuffling of training data draw from :func:`generator`;
the engine's counter-based RNG (dropout, noise) takes its base seed from :func:`next_seed`.
:func:`fastnn.utils.set_random_seed` reseeds this state together with Python's ``random`` and
NumPy's global RNG, so one call makes a whole run reproducible.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

# Made on first use: numpy.random (and the hashing modules it brings) then loads, not with
# `import fastnn` (~10 ms of it).
_generator: np.random.Generator | None = None
_create_lock = threading.Lock()
# seeded_in_this_thread(): a Generator of one thread's own, so that estimators seeded with
# random_state fit in several threads at once (joblib's threading backend) without drawing
# from each other's state.
_local = threading.local()


def seed(value: int) -> None:
    """Restart the state from ``value`` (a non-negative integer)."""
    global _generator
    _generator = np.random.default_rng(value)


def generator() -> np.random.Generator:
    """This thread's Generator inside :func:`seeded_in_this_thread`, else the shared one
    (replaced, not mutated, by :func:`seed`: do not keep it)."""
    local = getattr(_local, "generator", None)
    if local is not None:
        return local
    return _generator if _generator is not None else _first_generator()


def _first_generator() -> np.random.Generator:
    global _generator
    with _create_lock:      # two threads' first draws share one Generator
        if _generator is None:
            _generator = np.random.default_rng()
        return _generator


@contextlib.contextmanager
def seeded_in_this_thread(value: int):
    """Draw from a Generator seeded with ``value`` in this thread for the block; other
    threads, and this one afterwards, draw from the state they had."""
    previous = getattr(_local, "generator", None)
    _local.generator = np.random.default_rng(value)
    try:
        yield
    finally:
        _local.generator = previous


def next_seed() -> int:
    """A fresh seed in [0, 2**63) for a counter-based RNG stream, drawn from
    :func:`generator`."""
    return int(generator().integers(0, 2**63, dtype=np.int64))
