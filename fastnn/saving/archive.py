"""Reading the entries of a ``.keras`` zip without trusting it.

A zip entry can inflate a thousandfold, and the size its header declares can lie, so every
entry is bounded twice: by its declared size before reading and by the bytes actually read.
JSON is bounded in depth as well, so that a deeply nested file gives the loader's ValueError
instead of exhausting the stack in the parser or in the code that walks the config.
"""

from __future__ import annotations

import json
import zipfile

MiB = 1 << 20
# Far above what any model's JSON needs (a 10,000-layer config is a few MiB).
JSON_LIMIT = 64 * MiB
METADATA_LIMIT = 1 * MiB
# Keras's configs nest about 8 levels per model (a model nested in a model adds ~4).
MAX_JSON_DEPTH = 100


def read_entry(z: zipfile.ZipFile, name: str, limit: int, filepath: str) -> bytes:
    """The bytes of entry ``name``, refused when it inflates to more than ``limit`` bytes."""
    info = z.getinfo(name)
    if info.file_size > limit:
        raise ValueError(_too_large(filepath, name, f"declares {info.file_size:,} bytes", limit))
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(_too_large(filepath, name, f"inflates to more than {limit:,} bytes",
                                    limit))
    return data


def _too_large(filepath: str, name: str, what: str, limit: int) -> str:
    return (f"Refusing '{filepath}': its entry {name} {what}, more than the {limit:,} bytes "
            "fastnn reads for it (a damaged or hostile file).")


def read_json(z: zipfile.ZipFile, name: str, filepath: str, limit: int = JSON_LIMIT):
    """Entry ``name`` parsed as JSON, its size and depth bounded."""
    data = read_entry(z, name, limit, filepath)
    try:
        value = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(_too_deep(filepath, name)) from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, a 5,000-digit number
        raise ValueError(f"Cannot read '{filepath}': the file is corrupt, truncated or not in "
                         f"the Keras 3 format: its entry {name} is not valid JSON "
                         f"({type(e).__name__}: {e}).") from None
    if too_deep(value):
        raise ValueError(_too_deep(filepath, name))
    return value


def too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests lists and objects deeper than ``limit`` (walked without
    recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _too_deep(filepath: str, name: str, limit: int = MAX_JSON_DEPTH) -> str:
    return (f"Refusing '{filepath}': its entry {name} nests lists and objects more than "
            f"{limit} levels deep, far beyond any model's config (a damaged or hostile file).")


def weights_limit(model) -> int:
    """The most bytes a ``model.weights.h5`` for ``model`` can need: every value in float64,
    four times over (the weights and up to three optimizer slots each), twice that as margin,
    plus HDF5's bookkeeping per variable and per file."""
    variables = list(model.weights)
    values = sum(int(v.value.size) for v in variables)
    return 16 * MiB + 64 * values + 64 * 1024 * 4 * len(variables)
