"""Keras's legacy whole-model HDF5 file (``model.save("m.h5")``, ``load_model("m.h5")``).

Layout, as Keras 3 writes it: the root's attributes ``model_config`` (the model's config as
JSON: ``{"class_name", "config"}``), ``training_config`` (the compile arguments, with the
optimizer as ``optimizer_config``) when compiled, ``keras_version`` and ``backend``;
``model_weights`` lists ``layer_names`` and holds a group per layer (sorted by name) whose
``weight_names`` attribute lists its datasets, trainable weights first; ``optimizer_weights``
lists the optimizer's variables (iterations, learning rate, slots) in Keras's order.

Loading is by position, as Keras's: the layers that have weights, in model order, take the
file's layers that list weights, in ``layer_names`` order. Nothing from the file is run; its
JSON and lists are bounded in size and depth; every shape is checked before any value is
read, and nothing changes in the model until everything has been read and checked. The
hostile-file rules of :mod:`fastnn.saving.weights_h5` apply (no links, no external or
virtual storage, no filter plugins).
"""

from __future__ import annotations

import json
import os
import warnings

import h5py
import numpy as np

from fastnn.layers.base import value_budget
from fastnn.saving import archive, model_config, object_registration, weights_h5
from fastnn.saving.atomic import atomic_path

LEGACY_EXTENSIONS = (".h5", ".hdf5")
# A name list attribute longer than this is not a model's (Keras splits long ones in chunks
# of 64 KiB; a 100,000-layer model is far beyond what fastnn builds).
_MAX_NAMES = 100_000

SAVE_WARNING = (
    "You are saving your model as an HDF5 file via `model.save()` or "
    "`keras.saving.save_model(model)`. This file format is considered legacy. We recommend "
    "using instead the native Keras format, e.g. `model.save('my_model.keras')` or "
    "`keras.saving.save_model(model, 'my_model.keras')`. ")


def is_legacy_path(filepath) -> bool:
    return isinstance(filepath, (str, os.PathLike)) and \
        os.fspath(filepath).endswith(LEGACY_EXTENSIONS)


# ---- writing ------------------------------------------------------------------------------

def _names_attr(group, name: str, names: list[str]) -> None:
    # (Keras stores an empty list as an empty float array; h5py cannot store an empty
    # string array.)
    group.attrs[name] = np.array(names, dtype=h5py.string_dtype()) if names \
        else np.zeros((0,))


def _write_subset(group, variables) -> None:
    names = [str(v.path) for v in variables]
    _names_attr(group, "weight_names", names)
    for name, var in zip(names, variables):
        group.create_dataset(name, data=var.value)


# Keras 3.15's legacy loader cannot resolve these short loss names (it looks them up
# as classes in keras.metrics and fails, even on the files it writes itself): fastnn writes
# the full names, which both libraries read.
_LOSS_NAMES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
               "mape": "mean_absolute_percentage_error",
               "msle": "mean_squared_logarithmic_error"}


def _full_loss_names(loss):
    if isinstance(loss, str):
        return _LOSS_NAMES.get(loss, loss)
    if isinstance(loss, list):
        return [_full_loss_names(v) for v in loss]
    if isinstance(loss, dict) and "class_name" not in loss:
        return {k: _full_loss_names(v) for k, v in loss.items()}
    return loss


def _training_config(model) -> dict | None:
    config = model_config.compile_config(model)
    if config is None:
        return None
    config["loss"] = _full_loss_names(config["loss"])
    optimizer = config.pop("optimizer")
    config["optimizer_config"] = {"class_name": optimizer["class_name"],
                                  "config": optimizer["config"]}
    return config


def save(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` to a legacy ``.h5`` file (replaced atomically), with Keras's warning."""
    from fastnn.saving.keras_file import KERAS_VERSION, _require_built

    filepath = os.fspath(filepath)
    _require_built(model, "save")
    warnings.warn(SAVE_WARNING, UserWarning, stacklevel=3)
    serialized = model_config.serialize_model(model, include_compile=False)
    layers = model.layers
    training = _training_config(model) if include_optimizer else None
    state = weights_h5.optimizer_state(model) if include_optimizer else None
    with atomic_path(filepath, overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["keras_version"] = KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(
            {"class_name": serialized["class_name"], "config": serialized["config"]})
        if training is not None:
            f.attrs["training_config"] = json.dumps(training)
        weights = f.create_group("model_weights")
        _names_attr(weights, "layer_names", [layer.name for layer in layers])
        weights.attrs["backend"] = "tensorflow"
        weights.attrs["keras_version"] = KERAS_VERSION
        for layer in sorted(layers, key=lambda layer: layer.name):
            _write_subset(weights.create_group(layer.name), _legacy_weights(layer))
        _write_subset(weights.create_group("top_level_model_weights"), [])
        if state is not None:
            group = f.create_group("optimizer_weights")
            prefix = model.optimizer.name
            names = [f"{prefix}/variable_{i}" for i in range(len(state))]
            _names_attr(group, "weight_names", names)
            for name, value in zip(names, state):
                group.create_dataset(name, data=value)


def _legacy_weights(layer) -> list:
    """Keras's legacy order: trainable weights, then the others."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


# ---- reading ------------------------------------------------------------------------------

def _refuse(filepath: str, why: str) -> ValueError:
    return ValueError(f"Cannot load '{filepath}' as a legacy `.h5` Keras model: {why}")


def _text_attr(node, name: str, filepath: str, limit: int = archive.JSON_LIMIT) -> str | None:
    """A string attribute, refused when it is larger than ``limit`` bytes. (HDF5 stores
    attributes uncompressed, so reading one takes no more memory than the file's size.)"""
    if name not in node.attrs:
        return None
    if node.attrs.get_id(name).shape not in ((), None):
        raise _refuse(filepath, f"its '{name}' attribute is not text.")
    value = node.attrs[name]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        value = value.decode("utf8")
    if not isinstance(value, str):
        raise _refuse(filepath, f"its '{name}' attribute is not text.")
    if len(value) > limit:
        raise _refuse(filepath, f"its '{name}' attribute holds more than {limit:,} bytes.")
    return value


def _json_attr(node, name: str, filepath: str):
    text = _text_attr(node, name, filepath)
    if text is None:
        return None
    value = json.loads(text)
    if archive.too_deep(value):
        raise _refuse(filepath, f"its '{name}' nests deeper than {archive.MAX_JSON_DEPTH} "
                      "levels.")
    return value


def _names(node, name: str, filepath: str, where: str) -> list[str]:
    """A list-of-names attribute (Keras splits long ones into ``name0``, ``name1``, ...)."""
    keys = [name] if name in node.attrs else []
    if not keys:
        while f"{name}{len(keys)}" in node.attrs:
            keys.append(f"{name}{len(keys)}")
    out: list[str] = []
    for key in keys:
        aid = node.attrs.get_id(key)
        if aid.shape is None or len(aid.shape) > 1 or (aid.shape and aid.shape[0] > _MAX_NAMES):
            raise _refuse(filepath, f"{where} attribute '{key}' is not a list of names.")
        values = np.atleast_1d(node.attrs[key])
        if values.size == 0:
            continue
        if values.dtype.kind not in "OSU":
            raise _refuse(filepath, f"{where} attribute '{key}' is not a list of names.")
        out += [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]
        if len(out) > _MAX_NAMES:
            raise _refuse(filepath, f"{where} lists more than {_MAX_NAMES:,} names.")
    return out


def _dataset(group, path: str, where: str) -> h5py.Dataset:
    """The dataset at ``path`` (``a/b/c``) under ``group``, walked one hard link at a time."""
    node = group
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"Corrupt weights file: {where} names an invalid path {path!r}.")
    for i, part in enumerate(parts):
        if not isinstance(node, h5py.Group):
            node = None
            break
        node = weights_h5._member(node, part, f"{where}/{'/'.join(parts[:i + 1])}")
        if node is None:
            break
    if not isinstance(node, h5py.Dataset):
        raise ValueError(f"Corrupt weights file: {where} lists {path!r}, which is not a "
                         "dataset in the file.")
    weights_h5._check_stored_here(node, f"{where}/{path}")
    return node


def _subset(group, filepath: str, where: str) -> list[h5py.Dataset]:
    return [_dataset(group, name, where)
            for name in _names(group, "weight_names", filepath, where)]


def _read_weights(f, model, filepath: str) -> list:
    """(variable, value) pairs for every weight of the model, checked."""
    group = weights_h5._member(f, "model_weights", "model_weights")
    if not isinstance(group, h5py.Group):
        raise _refuse(filepath, "it has no 'model_weights' group.")
    stored = []
    for name in _names(group, "layer_names", filepath, "model_weights"):
        node = weights_h5._member(group, name, f"model_weights/{name}")
        if not isinstance(node, h5py.Group):
            raise _refuse(filepath, f"model_weights lists layer {name!r} without its group.")
        items = _subset(node, filepath, f"model_weights/{name}")
        if items:
            stored.append((name, items))
    layers = [layer for layer in model.layers if _legacy_weights(layer)]
    if len(stored) != len(layers):
        raise ValueError(f"Layer count mismatch when loading weights from file. Model "
                         f"expected {len(layers)} layers, found {len(stored)} saved layers.")
    pending = []
    for layer, (name, items) in zip(layers, stored):
        own = _legacy_weights(layer)
        problem = weights_h5._mismatch(own, items, f"layer '{layer.name}' (named {name} in "
                                                   "the file)")
        if problem:
            raise ValueError(problem)
        pending += list(zip(own, items))
    top = weights_h5._member(group, "top_level_model_weights",
                             "model_weights/top_level_model_weights")
    if isinstance(top, h5py.Group) and _subset(top, filepath,
                                               "model_weights/top_level_model_weights"):
        raise _refuse(filepath, "it holds top-level model weights, which fastnn's models do "
                      "not have.")
    out = []
    for var, item in pending:
        value = np.asarray(item[()])
        weights_h5._check_finite(value, var.path)
        out.append((var, value))
    return out


def _compile(model, training: dict, filepath: str) -> None:
    if not isinstance(training, dict) or not isinstance(training.get("optimizer_config"),
                                                        dict):
        raise _refuse(filepath, "its training_config has no optimizer_config.")
    config = {k: v for k, v in training.items() if k != "optimizer_config"}
    config["optimizer"] = training["optimizer_config"]
    model_config.compile_from_config(model, config)


def load(filepath, custom_objects=None, compile: bool = True):
    """A model from a legacy ``.h5`` file written by Keras (2 or 3) or fastnn."""
    from fastnn.saving.keras_file import _check_file, _random_state_kept, _reading

    filepath = os.fspath(filepath)
    _check_file(filepath)
    if not h5py.is_hdf5(filepath):
        raise _refuse(filepath, "it is not an HDF5 file.")
    size = os.path.getsize(filepath)
    with _reading(filepath, "the legacy model file"), h5py.File(filepath, "r") as f:
        config = _json_attr(f, "model_config", filepath)
        if not isinstance(config, dict) or not config:
            raise _refuse(filepath, "no model config found in the file.")
        training = _json_attr(f, "training_config", filepath) if compile else None
        # Every weight value takes at least a byte of the file.
        with _random_state_kept(), object_registration.objects_for_loading(custom_objects), \
                model_config.config_context(f"Cannot load '{filepath}': model_config"), \
                value_budget(size, f"the file ({size:,} bytes)"):
            model = model_config.model_from_config(config, custom_objects)
            if training is not None:
                _compile(model, training, filepath)
        if not model.built:
            raise _refuse(filepath, "its model has no input shape.")
        pending = _read_weights(f, model, filepath)
        state = None
        opt_group = weights_h5._member(f, "optimizer_weights", "optimizer_weights") \
            if training is not None else None
        if isinstance(opt_group, h5py.Group):
            state = weights_h5._read_optimizer(
                _subset(opt_group, filepath, "optimizer_weights"), model, False)
    # Everything is read and checked: only now does the model change.
    for var, value in pending:
        var.assign(value.astype(var.dtype, copy=False))
    if state is not None:
        weights_h5._set_optimizer(model.optimizer, *state)
        model._training_ready = False
    return model
