"""A model's Keras 3 config: to a JSON-ready dict and back, without running code.

The dict is Keras's ``serialize_keras_object(model)`` form plus ``build_config`` and
``compile_config``, as in a ``.keras`` file's ``config.json``. Reading also accepts what
Keras 3 writes: dtype policies are reduced to their dtype name, and arguments Keras adds that
fastnn's layers do not take are dropped when they hold Keras's default (anything else is a
clear error). Only registered classes are built (no code from the file runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from fastnn import activations as _activations
from fastnn import constraints as _constraints
from fastnn import initializers as _initializers
from fastnn import layers as _layers
from fastnn import losses as _losses
from fastnn import metrics as _metrics
from fastnn import optimizers as _optimizers
from fastnn import regularizers as _regularizers

# A layer's fields that hold a serialized object, by the end of their name.
_FIELD_KINDS = {"_initializer": _initializers.get, "_regularizer": _regularizers.get,
                "_constraint": _constraints.get, "activation": _activations.get}


@contextlib.contextmanager
def config_context(where: str) -> Iterator[None]:
    """Whatever goes wrong while building objects from a config becomes one ValueError that
    says where (a layer, a field), before the message of what went wrong."""
    try:
        yield
    except (TypeError, ValueError, KeyError) as e:
        detail = f"it lacks the field {e}" if isinstance(e, KeyError) else str(e)
        raise ValueError(f"{where}: {detail}") from e


# Keras-only layer arguments fastnn accepts only at these (default) values.
_KERAS_ONLY_DEFAULTS = {
    "Dense": {"lora_rank": None, "lora_alpha": None},
    "LayerNormalization": {"rms_scaling": False},
}


def _serialize_entry(value, registry_serialize):
    """A compile argument as Keras writes it: names stay names; a list or dict per output
    keeps its structure."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, dict):
        return {k: _serialize_entry(v, registry_serialize) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialize_entry(v, registry_serialize) for v in value]
    return registry_serialize(value)


def compile_config(model) -> dict[str, Any] | None:
    """The arguments of the model's ``compile`` call (None when not compiled)."""
    if not getattr(model, "compiled", False):
        return None

    def metric_list(items):
        return _serialize_entry(items, _metrics.serialize) or None

    return {
        "optimizer": _optimizers.serialize(model.optimizer),
        "loss": _serialize_entry(model.loss, _losses.serialize),
        "loss_weights": _serialize_entry(getattr(model, "loss_weights", None), None),
        "metrics": metric_list(model._compile_metrics),
        "weighted_metrics": metric_list(model._weighted_metrics),
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def serialize_model(model, include_compile: bool = True) -> dict[str, Any]:
    """Keras 3's serialized form of a Sequential or functional model."""
    if type(model).__name__ == "Sequential":
        config: dict[str, Any] = {"module": "keras", "class_name": "Sequential",
                                  "config": model.get_config(), "registered_name": None}
        if model.built:
            config["build_config"] = {"input_shape": list(model.input_shape)}
    elif type(model).__name__ == "Functional":
        config = {"module": "keras.src.models.functional", "class_name": "Functional",
                  "config": model.get_config(), "registered_name": "Functional",
                  "build_config": {"input_shape": None}}
    else:
        raise ValueError(
            f"Model '{model.name}' is a subclassed model ({type(model).__name__}); fastnn "
            "saves Sequential and functional models. Save its weights with `save_weights`, "
            "or build it with `fastnn.Model(inputs, outputs)`.")
    compiled = compile_config(model) if include_compile else None
    if compiled is not None:
        config["compile_config"] = compiled
    return config


def _plain(value):
    """Keras's dtype policies reduced to their names; object ids dropped."""
    if isinstance(value, Mapping):
        if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
            return (value.get("config") or {}).get("name")
        return {k: _plain(v) for k, v in value.items() if k != "shared_object_id"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def layer_from_config(item, custom_objects) -> _layers.Layer:
    if not isinstance(item, Mapping) or "class_name" not in item:
        raise ValueError(f"Invalid layer entry in the model config: {item!r}.")
    cls_name = item["class_name"]
    if not isinstance(cls_name, str):
        raise ValueError(f"Invalid layer entry in the model config: its 'class_name' must be "
                         f"a string; received {cls_name!r}.")
    if cls_name in ("Sequential", "Functional", "Model"):
        return model_from_config(item, custom_objects)
    config = item.get("config") or {}
    if not isinstance(config, Mapping):
        raise ValueError(f"Invalid layer entry in the model config: the 'config' of a "
                         f"{cls_name} must be a dict; received {type(config).__name__}.")
    config = dict(config)
    name = config.get("name", "?")
    for key, default in _KERAS_ONLY_DEFAULTS.get(cls_name, {}).items():
        if key in config:
            value = config.pop(key)
            if value != default:
                raise ValueError(f"Layer '{name}' ({cls_name}) uses {key}={value!r}, which "
                                 "fastnn does not support.")
    custom = (custom_objects or {}).get(cls_name) or (custom_objects or {}).get(
        item.get("registered_name") or "")
    if custom is None and item.get("registered_name"):
        from fastnn.saving.object_registration import lookup_custom

        custom = lookup_custom(cls_name, item.get("registered_name"))
    if custom is None and cls_name not in _layers._LAYERS:
        from fastnn.saving.object_registration import lookup_custom

        custom = lookup_custom(cls_name)
    if custom is not None:
        return custom.from_config(_plain(config))
    if cls_name not in _layers._LAYERS:
        raise ValueError(
            f"Layer '{name}' is a {cls_name}, which fastnn does not support. Supported "
            f"layers: {', '.join(sorted(_layers._LAYERS))} (or pass it in `custom_objects`)."
        )
    with config_context(f"layer '{name}' ({cls_name})"):
        _check_fields(config)
        return _layers.deserialize({**item, "config": config})


def _check_fields(config: dict) -> None:
    """Resolve each serialized object of a layer's config once, so that a bad one is named by
    its field (the layer resolves it again itself)."""
    for key, value in config.items():
        get = next((g for end, g in _FIELD_KINDS.items() if key.endswith(end)), None)
        if get is not None and value is not None:
            with config_context(f"field '{key}'"):
                get(value)


def model_from_config(serialized: Mapping[str, Any], custom_objects=None):
    """A Sequential model (uncompiled) from Keras's serialized form or a bare config."""
    from fastnn.models.sequential import Sequential

    serialized = _plain(serialized)
    if not isinstance(serialized, Mapping):
        raise ValueError(f"A model config must be a dict; received {type(serialized).__name__}.")
    if "class_name" in serialized:
        if serialized["class_name"] in ("Functional", "Model"):
            from fastnn.saving.functional_config import functional_from_config

            return functional_from_config(serialized.get("config"), custom_objects)
        if serialized["class_name"] != "Sequential":
            raise ValueError(f"fastnn loads Sequential and functional models; this config "
                             f"holds a '{serialized['class_name']}' model.")
        config = serialized.get("config")
    else:
        config = serialized
        if isinstance(config, Mapping) and "input_layers" in config:
            from fastnn.saving.functional_config import functional_from_config

            return functional_from_config(config, custom_objects)
    if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
        raise ValueError("Invalid Sequential config: it needs a 'layers' list.")
    model = Sequential(name=config.get("name"), trainable=config.get("trainable", True))
    for item in config["layers"]:
        model.add(layer_from_config(item, custom_objects), rebuild=False)
    if model._input_layer is None and config.get("build_input_shape") is not None:
        model.build(tuple(config["build_input_shape"]))
    elif model._input_layer is not None and model.layers:
        model.build()
    return model


def compile_from_config(model, config: Mapping[str, Any] | None) -> None:
    """``model.compile`` with the arguments recorded by :func:`compile_config`."""
    if not config:
        return
    if not isinstance(config, Mapping):
        raise ValueError(f"compile_config must be a dict; received {type(config).__name__}.")
    config = _plain(config)

    def entries(items, deserialize):
        """Names stay names; serialized objects are rebuilt; lists and dicts per output
        keep their structure."""
        if items is None or isinstance(items, (str, int, float)):
            return items
        if isinstance(items, list):
            return [entries(m, deserialize) for m in items]
        if isinstance(items, Mapping) and "class_name" not in items:
            return {k: entries(v, deserialize) for k, v in items.items()}
        if isinstance(items, Mapping):
            return deserialize(items)
        raise ValueError(f"Unsupported entry in the compile config: {items!r}.")

    arguments = {}
    for field, read in (("optimizer", _optimizers.deserialize), ("loss", _losses.deserialize),
                        ("loss_weights", None), ("metrics", _metrics.deserialize),
                        ("weighted_metrics", _metrics.deserialize)):
        with config_context(f"compile_config: field '{field}'"):
            if field == "optimizer":
                arguments[field] = read(config[field])
            else:
                value = config.get(field)
                arguments[field] = value if read is None else entries(value, read)
    with config_context("compile_config"):
        model.compile(**arguments)
