"""The few ``keras.backend`` functions dense-network scripts call."""

from fastnn.config import epsilon, floatx, set_epsilon, set_floatx
from fastnn.layers.base import reset_names
from fastnn.metrics.base import clear_name_uids


def clear_session() -> None:
    """Restart automatic names of layers, models and metrics (``dense``, ``dense_1``, ...)."""
    reset_names()
    clear_name_uids()


__all__ = ["clear_session", "epsilon", "floatx", "set_epsilon", "set_floatx"]
