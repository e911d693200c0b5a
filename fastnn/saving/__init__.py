"""Saving and loading (``keras.saving``): the Keras 3 ``.keras`` and ``.weights.h5`` formats."""

from fastnn.saving.keras_file import load_model, load_weights, save_model, save_weights
from fastnn.saving.model_config import model_from_config
from fastnn.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    register_keras_serializable,
)

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "load_model", "load_weights", "model_from_config",
           "register_keras_serializable", "save_model", "save_weights"]
