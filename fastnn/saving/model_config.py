"""A Sequential model's Keras 3 config: to a JSON-ready dict and back, without running code.

The dict is Keras's ``serialize_keras_object(model)`` form plus ``build_config`` and
``compile_config``, as in a ``.keras`` file's ``config.json``. Reading also accepts what
Keras 3 writes: dtype policies are reduced to their dtype name, and arguments Keras adds that
fastnn's layers do not take are dropped when they hold Keras's default (anything else is a
clear error). Only registered classes are built (no code from the file runs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastnn import layers as _layers
from fastnn import losses as _losses
from fastnn import metrics as _metrics
from fastnn import optimizers as _optimizers

# Keras-only layer arguments fastnn accepts only at these (default) values.
_KERAS_ONLY_DEFAULTS = {
    "Dense": {"quantization_config": None, "lora_rank": None, "lora_alpha": None},
    "LayerNormalization": {"rms_scaling": False},
}


def _serialize_entry(value, registry_serialize):
    if value is None or isinstance(value, str):
        return value
    return registry_serialize(value)


def compile_config(model) -> dict[str, Any] | None:
    """The arguments of the model's ``compile`` call (None when not compiled)."""
    if not getattr(model, "compiled", False):
        return None

    def metric_list(items):
        return [_serialize_entry(m, _metrics.serialize) for m in items] or None

    return {
        "optimizer": _optimizers.serialize(model.optimizer),
        "loss": _serialize_entry(model.loss, _losses.serialize),
        "loss_weights": None,
        "metrics": metric_list(model._compile_metrics),
        "weighted_metrics": metric_list(model._weighted_metrics),
        "run_eagerly": False,
        "steps_per_execution": 1,
        "jit_compile": False,
    }


def serialize_model(model, include_compile: bool = True) -> dict[str, Any]:
    """Keras 3's serialized form of a Sequential model."""
    config: dict[str, Any] = {"module": "keras", "class_name": "Sequential",
                              "config": model.get_config(), "registered_name": None}
    if model.built:
        config["build_config"] = {"input_shape": list(model.input_shape)}
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


def _layer_from_config(item, custom_objects) -> _layers.Layer:
    if not isinstance(item, Mapping) or "class_name" not in item:
        raise ValueError(f"Invalid layer entry in the model config: {item!r}.")
    cls_name = item["class_name"]
    config = dict(item.get("config") or {})
    name = config.get("name", "?")
    for key, default in _KERAS_ONLY_DEFAULTS.get(cls_name, {}).items():
        if key in config:
            value = config.pop(key)
            if value != default:
                raise ValueError(f"Layer '{name}' ({cls_name}) uses {key}={value!r}, which "
                                 "fastnn does not support.")
    custom = (custom_objects or {}).get(cls_name) or (custom_objects or {}).get(
        item.get("registered_name") or "")
    if custom is not None:
        return custom.from_config(config)
    if cls_name not in _layers._LAYERS:
        raise ValueError(
            f"Layer '{name}' is a {cls_name}, which fastnn does not support. Supported "
            f"layers: {', '.join(sorted(_layers._LAYERS))} (or pass it in `custom_objects`)."
        )
    return _layers.deserialize({**item, "config": config})


def model_from_config(serialized: Mapping[str, Any], custom_objects=None):
    """A Sequential model (uncompiled) from Keras's serialized form or a bare config."""
    from fastnn.models.sequential import Sequential

    serialized = _plain(serialized)
    if not isinstance(serialized, Mapping):
        raise ValueError(f"A model config must be a dict; received {type(serialized).__name__}.")
    if "class_name" in serialized:
        if serialized["class_name"] != "Sequential":
            raise ValueError(f"fastnn loads Sequential models only; this config holds a "
                             f"'{serialized['class_name']}' model.")
        config = serialized.get("config")
    else:
        config = serialized
    if not isinstance(config, Mapping) or not isinstance(config.get("layers"), list):
        raise ValueError("Invalid Sequential config: it needs a 'layers' list.")
    model = Sequential(name=config.get("name"), trainable=config.get("trainable", True))
    for item in config["layers"]:
        model.add(_layer_from_config(item, custom_objects), rebuild=False)
    if model._input_layer is None and config.get("build_input_shape") is not None:
        model.build(tuple(config["build_input_shape"]))
    elif model._input_layer is not None and model.layers:
        model.build()
    return model


def compile_from_config(model, config: Mapping[str, Any] | None) -> None:
    """``model.compile`` with the arguments recorded by :func:`compile_config`."""
    if not config:
        return
    config = _plain(config)

    def entries(items, deserialize):
        if items is None:
            return None
        if not isinstance(items, list):
            raise ValueError(f"Unsupported metrics in the compile config: {items!r}.")
        return [m if isinstance(m, str) else deserialize(m) for m in items]

    loss = config.get("loss")
    model.compile(
        optimizer=_optimizers.deserialize(config["optimizer"]),
        loss=loss if loss is None or isinstance(loss, str) else _losses.deserialize(loss),
        metrics=entries(config.get("metrics"), _metrics.deserialize),
        weighted_metrics=entries(config.get("weighted_metrics"), _metrics.deserialize),
    )
