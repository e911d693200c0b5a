"""``keras.backend``: settings, and Keras 2's backend functions for old custom code.

``from fastnn import backend as K`` then ``K.mean(K.square(y_true - y_pred), axis=-1)`` works
as with Keras 2 (`fastnn._keras2_backend`, loaded on first use so that importing fastnn stays
cheap).
"""

from fastnn.config import epsilon, floatx, set_epsilon, set_floatx
from fastnn.layers.base import reset_names
from fastnn.metrics.base import clear_name_uids


def clear_session() -> None:
    """Restart automatic names of layers, models and metrics (``dense``, ``dense_1``, ...)
    and, as Keras, forget the global dtype policy (back to ``floatx()``)."""
    from fastnn import dtype_policies

    reset_names()
    clear_name_uids()
    dtype_policies.reset()


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from fastnn import _keras2_backend

    if name in _keras2_backend.NAMES:
        return getattr(_keras2_backend, name)
    raise AttributeError(f"module 'fastnn.backend' has no attribute {name!r}")


def __dir__():
    from fastnn import _keras2_backend

    return sorted(set(globals()) | set(_keras2_backend.NAMES))


__all__ = ["clear_session", "epsilon", "floatx", "set_epsilon", "set_floatx"]
