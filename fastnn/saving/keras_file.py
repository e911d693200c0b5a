"""``.keras`` files and ``.weights.h5`` files: save and load, atomically and without running
code from the file.

A ``.keras`` file is a zip of ``metadata.json``, ``config.json`` (the model's serialized config
with its compile arguments) and ``model.weights.h5`` (see :mod:`fastnn.saving.weights_h5`), the
layout Keras 3 writes, so either library loads the other's files.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator

import h5py

from fastnn import _random
from fastnn.layers.base import value_budget
from fastnn.saving import archive, assets, legacy_h5, model_config, object_registration, weights_h5
from fastnn.saving.atomic import atomic_path

# The Keras release whose file format fastnn writes.
KERAS_VERSION = "3.15.1"
_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def _require_built(model, what: str) -> None:
    if not model.built:
        raise ValueError(f"You cannot {what} an unbuilt model: call `model.build(input_shape)` "
                         "or train it first, or start it with an `Input`.")


def _weights_bytes(model, include_optimizer: bool) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        weights_h5.write(f, model, include_optimizer)
    return buffer.getvalue()


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True) -> None:
    """Write ``model`` to a ``.keras`` file (replaced atomically), or into a binary file
    object such as ``io.BytesIO`` (Keras 3 takes both); a path ending in ``.h5`` or
    ``.hdf5`` gets Keras's legacy HDF5 format, with Keras's warning."""
    if legacy_h5.is_legacy_path(filepath):
        legacy_h5.save(model, filepath, overwrite, include_optimizer)
        return
    if hasattr(filepath, "write"):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            save_with_entries(model, path, {}, True, include_optimizer)
            with open(path, "rb") as f:
                shutil.copyfileobj(f, filepath)
        return
    save_with_entries(model, filepath, {}, overwrite, include_optimizer)


def save_with_entries(model, filepath, entries: dict[str, str], overwrite: bool = True,
                      include_optimizer: bool = True) -> None:
    """:func:`save_model`, with more zip entries (name -> text) in the same atomic write;
    Keras ignores entries it does not know."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension for the "
            f"native Keras format or a `.h5` extension for the legacy one. Received: "
            f"filepath={filepath}"
        )
    _require_built(model, "save")
    config = json.dumps(model_config.serialize_model(model, include_optimizer))
    metadata = json.dumps({
        "keras_version": KERAS_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
    })
    weights = _weights_bytes(model, include_optimizer)
    with atomic_path(filepath, overwrite) as tmp, zipfile.ZipFile(tmp, "w") as z:
        z.writestr(_METADATA, metadata)
        z.writestr(_CONFIG, config)
        z.writestr(_WEIGHTS, weights)
        for name, text in entries.items():
            z.writestr(name, text)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write the weights (and the optimizer's state) to a ``.weights.h5`` file."""
    filepath = os.fspath(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={filepath}")
    _require_built(model, "save the weights of")
    with atomic_path(filepath, overwrite) as tmp, h5py.File(tmp, "w") as f:
        weights_h5.write(f, model)


@contextlib.contextmanager
def _reading(filepath: str, what: str) -> Iterator[None]:
    """Turn the errors of a damaged file into one ValueError naming the file."""
    try:
        yield
    except (zipfile.BadZipFile, OSError, KeyError, EOFError, UnicodeDecodeError,
            json.JSONDecodeError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"Cannot read {what} '{filepath}': the file is corrupt, truncated or "
                         f"not in the Keras 3 format ({type(e).__name__}: {e}).") from e


def _check_file(filepath: str) -> None:
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"File not found: filepath={filepath}. Please ensure the file "
                                "is an accessible `.keras` zip file.")
    if not os.path.isfile(filepath):  # opening a FIFO would block; a directory cannot be read
        raise ValueError(f"'{filepath}' is not a regular file; fastnn loads models and weights "
                         "from files.")


def _read_archive(filepath: str) -> tuple[dict, int]:
    """``config.json`` of a ``.keras`` file, parsed (its size and depth bounded), and the
    size its weights entry declares (:func:`_read_weights_entry` reads that entry)."""
    _check_file(filepath)
    with _reading(filepath, "the model file"):
        if not zipfile.is_zipfile(filepath):
            hint = (" It is an HDF5 file: name it `.h5` to load it as a legacy Keras model."
                    ) if h5py.is_hdf5(filepath) else ""
            raise ValueError(f"'{filepath}' is not a `.keras` zip file.{hint}")
        with zipfile.ZipFile(filepath) as z:
            names = set(z.namelist())
            missing = sorted({_CONFIG, _WEIGHTS} - names)
            if missing:
                raise ValueError(f"'{filepath}' is not a Keras 3 model file: it lacks "
                                 f"{', '.join(missing)} (it holds {sorted(names)}).")
            config = archive.read_json(z, _CONFIG, filepath)
            if _METADATA in names:
                archive.read_json(z, _METADATA, filepath, archive.METADATA_LIMIT)
            weights_size = z.getinfo(_WEIGHTS).file_size
    if not isinstance(config, dict):
        raise ValueError(f"'{filepath}': config.json does not hold a model config (it holds "
                         f"a JSON {type(config).__name__}).")
    return config, weights_size


def _read_weights_entry(filepath: str, model) -> bytes:
    """``model.weights.h5`` of a ``.keras`` file, refused when it is larger than any weights
    file of ``model`` can be."""
    with _reading(filepath, "the model file"), zipfile.ZipFile(filepath) as z:
        return archive.read_entry(z, _WEIGHTS, archive.weights_limit(model), filepath)


@contextlib.contextmanager
def _random_state_kept() -> Iterator[None]:
    # Building layers draws initial weights that the file then overwrites; keep the shared
    # random stream where it was so that loading does not change later shuffles.
    state = _random.generator().bit_generator.state
    try:
        yield
    finally:
        _random.generator().bit_generator.state = state


def _read_weights_bytes(data: bytes, filepath: str, model, include_optimizer=True,
                        skip_mismatch=False) -> None:
    with _reading(filepath, "the weights of"), h5py.File(io.BytesIO(data), "r") as f:
        weights_h5.read(f, model, include_optimizer, skip_mismatch)
    model._training_ready = False  # the engine picks up the loaded optimizer state


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """A Sequential model from a ``.keras`` file written by fastnn or Keras 3.

    With ``compile`` the model is compiled as it was and the optimizer's state restored, so
    training resumes where it stopped. ``safe_mode`` is accepted for Keras's signature: fastnn
    never runs code from a file, whatever its value.
    """
    if hasattr(filepath, "read"):
        # A binary file object (io.BytesIO, an open file): its bytes go through the same
        # checks as a file's, from a private copy.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as f:
                shutil.copyfileobj(filepath, f)
            return load_model(path, custom_objects, compile, safe_mode)
    filepath = os.fspath(filepath)
    if legacy_h5.is_legacy_path(filepath):
        return legacy_h5.load(filepath, custom_objects, compile)
    config, weights_size = _read_archive(filepath)
    # Every weight value takes at least a byte of the weights entry.
    with _random_state_kept(), object_registration.objects_for_loading(custom_objects), \
            model_config.config_context(f"Cannot load '{filepath}': config.json"), \
            value_budget(weights_size, f"its {_WEIGHTS} ({weights_size:,} bytes)"):
        model = model_config.model_from_config(config, custom_objects)
        if compile:
            model_config.compile_from_config(model, config.get("compile_config"))
    if not model.built:
        raise ValueError(f"'{filepath}' holds a model without an input shape; fastnn cannot "
                         "build it to load its weights.")
    weights = _read_weights_entry(filepath, model)
    _read_weights_bytes(weights, filepath, model, include_optimizer=compile and model.compiled)
    with _reading(filepath, "the model file"), zipfile.ZipFile(filepath) as z:
        assets.read_vocabularies(z, model, filepath)
    return model


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights (and the optimizer's state, when the model is compiled) from a
    ``.weights.h5`` or ``.keras`` file."""
    filepath = os.fspath(filepath)
    _require_built(model, "load weights into")
    if filepath.endswith(".keras"):
        _read_archive(filepath)
        data = _read_weights_entry(filepath, model)
    elif filepath.endswith(".weights.h5"):
        _check_file(filepath)
        with open(filepath, "rb") as f:
            data = f.read()
    else:
        raise ValueError("File format not supported: filepath="
                         f"{filepath}. fastnn loads `.weights.h5` and `.keras` files.")
    _read_weights_bytes(data, filepath, model, include_optimizer=model.compiled,
                        skip_mismatch=skip_mismatch)
