"""A model as the bytes of its ``.keras`` file, so that ``pickle`` and ``copy.deepcopy`` work
on models as they do in Keras 3 (whose models pickle through their saving library): config,
weights, compile arguments and optimizer state travel; no Python code does."""

from __future__ import annotations

import os
import tempfile


def model_to_bytes(model) -> bytes:
    from fastnn.saving.keras_file import save_model

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        save_model(model, path)
        with open(path, "rb") as f:
            return f.read()


def model_from_bytes(blob: bytes):
    from fastnn.saving.keras_file import load_model

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as f:
            f.write(blob)
        return load_model(path)


def model_to_config_text(model) -> str:
    """An unbuilt model (no weights yet) as the JSON of its config and compile arguments."""
    import json

    from fastnn.saving.model_config import serialize_model

    return json.dumps(serialize_model(model, include_compile=True))


def model_from_config_text(text: str):
    import json

    from fastnn.saving.model_config import compile_from_config, model_from_config

    config = json.loads(text)
    model = model_from_config(config)
    compile_from_config(model, config.get("compile_config"))
    return model
