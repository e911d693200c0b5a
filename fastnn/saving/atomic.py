"""Atomic file writes: write a temporary file next to the target, then rename it into place,
so a crash or an error never leaves a half-written file under the target's name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator


@contextlib.contextmanager
def atomic_path(filepath: str, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``filepath``."""
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"File {filepath} already exists and overwrite=False.")
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix=".fastnn-", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a saved model gets the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, filepath)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
