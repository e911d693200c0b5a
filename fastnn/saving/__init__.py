"""Saving and loading (``keras.saving``): the Keras 3 ``.keras`` and ``.weights.h5`` formats.

The file functions load their modules (and h5py) on first use, keeping ``import fastnn``
fast (fastnn._lazy); the registration helpers are light and load at once.
"""

from fastnn import _lazy
from fastnn.saving.object_registration import (
    CustomObjectScope,
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    register_keras_serializable,
)

__getattr__, __dir__ = _lazy.attach(globals(), {
    "load_model": "fastnn.saving.keras_file",
    "load_weights": "fastnn.saving.keras_file",
    "save_model": "fastnn.saving.keras_file",
    "save_weights": "fastnn.saving.keras_file",
    "model_from_config": "fastnn.saving.model_config",
})

__all__ = ["CustomObjectScope", "custom_object_scope", "get_custom_objects",
           "get_registered_name", "load_model", "load_weights", "model_from_config",
           "register_keras_serializable", "save_model", "save_weights"]
