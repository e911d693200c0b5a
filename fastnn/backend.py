"""The few ``keras.backend`` functions dense-network scripts call."""

from fastnn.config import epsilon, floatx, set_epsilon, set_floatx
from fastnn.layers.base import reset_names


def clear_session() -> None:
    """Restart automatic layer and model names (``dense``, ``dense_1``, ...)."""
    reset_names()


__all__ = ["clear_session", "epsilon", "floatx", "set_epsilon", "set_floatx"]
