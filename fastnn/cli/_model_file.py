"""A trained model and what the command line knows about its data, in one ``.keras`` file.

The model is saved as Keras 3 writes it; one more zip entry, ``fastnn_data.json``, records the
task, the target's name, the feature columns in order and the class labels, so that
``fastnn predict`` and ``fastnn evaluate`` can pick the columns and print labels. Keras and
``fastnn.models.load_model`` read only the entries they know and ignore this one.
"""

from __future__ import annotations

import json
import os
import zipfile

from fastnn.cli._errors import CLIError

DATA_ENTRY = "fastnn_data.json"
_META_KEYS = {"task", "target", "features", "classes", "numeric_labels"}


def check_output_path(path: str) -> None:
    """Fail before training, not after, when the model could not be written to ``path``."""
    check_file_path(path)
    if not path.endswith(".keras"):
        raise CLIError(f"the output path must end in .keras (got {path!r})")


def check_file_path(path: str) -> None:
    """Fail unless ``path`` can name a file to write: not a directory, in a folder that
    exists."""
    if os.path.isdir(path):
        raise CLIError(f"cannot write {path}: it is a directory; name a file in it, e.g. "
                       f"{os.path.join(path, 'model.keras')}")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise CLIError(f"cannot write {path}: the folder {folder!r} does not exist")


def save(model, path: str, meta: dict) -> None:
    """Write ``model`` and ``meta`` to ``path``, replacing it atomically."""
    from fastnn.saving.keras_file import save_with_entries

    save_with_entries(model, path, {DATA_ENTRY: json.dumps(meta)})


def load(path: str):
    """(model, meta) from a ``.keras`` file; meta is None for a model saved elsewhere."""
    from fastnn.models import load_model
    from fastnn.saving import archive

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    model = load_model(path)
    with zipfile.ZipFile(path) as z:
        if DATA_ENTRY not in z.namelist():
            return model, None
        try:
            meta = archive.read_json(z, DATA_ENTRY, path)
        except ValueError:
            meta = None
    if not isinstance(meta, dict) or not _META_KEYS <= set(meta):
        raise CLIError(f"{path}: its {DATA_ENTRY} entry is damaged")
    n_inputs = model.input_shape[-1]
    if len(meta["features"]) != n_inputs:
        raise CLIError(f"{path}: {DATA_ENTRY} names {len(meta['features'])} features but the "
                       f"model takes {n_inputs}")
    return model, meta
