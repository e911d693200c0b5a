"""Saving and loading (``keras.saving``): the Keras 3 ``.keras`` and ``.weights.h5`` formats."""

from fastnn.saving.keras_file import load_model, load_weights, save_model, save_weights
from fastnn.saving.model_config import model_from_config

__all__ = ["load_model", "load_weights", "model_from_config", "save_model", "save_weights"]
