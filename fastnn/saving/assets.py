"""The ``assets/`` entries of a Keras 3 ``.keras`` file: what Keras writes outside the config
and the weights. Keras writes an adapted lookup layer's vocabulary to
``assets/layers/<key>/vocabulary.txt`` (one token a line, the special tokens first; ``<key>``
as in the weights file); fastnn reads it into the layer. (fastnn itself writes the vocabulary
into the layer's config, which Keras reads as a given vocabulary.)
"""

from __future__ import annotations

import zipfile

from fastnn.saving import archive
from fastnn.saving.weights_h5 import layer_keys

VOCABULARY_LIMIT = 64 * 2**20       # bytes of one vocabulary file


def read_vocabularies(z: zipfile.ZipFile, model, filepath: str, prefix: str = "assets") -> None:
    """Give each lookup layer of ``model`` without a vocabulary the one its asset holds."""
    names = set(z.namelist())
    for key, layer in zip(layer_keys(model.layers), model.layers):
        where = f"{prefix}/layers/{key}"
        if hasattr(layer, "_emit"):          # a nested model: its layers are below its key
            read_vocabularies(z, layer, filepath, where)
            continue
        entry = f"{where}/vocabulary.txt"
        if entry not in names or not hasattr(layer, "set_vocabulary") \
                or layer.input_vocabulary is not None:
            continue
        data = archive.read_entry(z, entry, VOCABULARY_LIMIT, filepath)
        try:
            tokens = data.decode("utf-8").split("\n") if data else []
            layer.set_vocabulary(tokens)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"Cannot load '{filepath}': {entry} is not a vocabulary for "
                             f"layer '{layer.name}': {exc}") from None
