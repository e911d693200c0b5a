"""Models (``keras.models``): Sequential, load_model, model_from_json, clone_model."""

from __future__ import annotations

from fastnn import _lazy
from fastnn.models.functional import Functional
from fastnn.models.model import Model
from fastnn.models.sequential import Sequential

# load_model loads the saving modules and h5py on first use (fastnn._lazy)
__getattr__, __dir__ = _lazy.attach(globals(), {"load_model": "fastnn.saving.keras_file"})


def model_from_json(json_string: str, custom_objects=None):
    """A model (new weights, uncompiled) from :meth:`Sequential.to_json`'s output or Keras's."""
    import json  # (here: json need not load with fastnn)

    from fastnn.saving.archive import MAX_JSON_DEPTH, too_deep
    from fastnn.saving.model_config import model_from_config

    deep = ValueError(f"model_from_json: the JSON nests lists and objects more than "
                      f"{MAX_JSON_DEPTH} levels deep, far beyond any model's config.")
    try:
        config = json.loads(json_string)
    except RecursionError:
        raise deep from None
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json needs a JSON string; {e}") from None
    if too_deep(config):
        raise deep
    return model_from_config(config, custom_objects)


def clone_model(model, input_tensors=None, clone_function=None,
                call_function=None, recursive=False, **kwargs) -> Sequential:
    """A new model with the same layers' configs and freshly initialized weights
    (Sequential and functional models)."""
    if input_tensors is not None or clone_function is not None or call_function is not None:
        raise ValueError("fastnn's clone_model supports models without `input_tensors`, "
                         "`clone_function` or `call_function`.")
    if kwargs:
        raise ValueError(f"Unexpected keyword arguments: {kwargs}")
    if not isinstance(model, (Sequential, Functional)):
        raise ValueError(f"clone_model takes a Sequential or functional model; received "
                         f"{type(model).__name__} (a subclassed model: create a new "
                         "instance of its class instead).")
    return type(model).from_config(model.get_config())


__all__ = ["Functional", "Model", "Sequential", "clone_model", "load_model", "model_from_json"]
