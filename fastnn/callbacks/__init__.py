"""Callbacks (``keras.callbacks``)."""

from fastnn.callbacks.base import Callback, CallbackList, History
from fastnn.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
