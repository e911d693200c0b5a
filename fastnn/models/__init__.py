"""Models (``keras.models``): Sequential."""

from fastnn.models.sequential import Sequential

__all__ = ["Sequential"]
