"""fastnn's own random state: one NumPy Generator for everything drawn in Python.

Initializers without a seed and the shuffling of training data draw from :func:`generator`;
the engine's counter-based RNG (dropout, noise) takes its base seed from :func:`next_seed`.
:func:`fastnn.utils.set_random_seed` reseeds this state together with Python's ``random`` and
NumPy's global RNG, so one call makes a whole run reproducible.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def seed(value: int) -> None:
    """Restart the state from ``value`` (a non-negative integer)."""
    global _generator
    _generator = np.random.default_rng(value)


def generator() -> np.random.Generator:
    """The shared Generator (replaced, not mutated, by :func:`seed`: do not keep it)."""
    return _generator


def next_seed() -> int:
    """A fresh seed in [0, 2**63) for a counter-based RNG stream, drawn from the shared state."""
    return int(_generator.integers(0, 2**63, dtype=np.int64))
