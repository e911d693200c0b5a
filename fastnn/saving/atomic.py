"""Atomic file writes: write a temporary file next to the target, then rename it into place,
so a crash or an error never leaves a half-written file under the target's name.

A writer killed outright (``kill -9``, power loss) cannot remove its temporary file, so each
one is named after its target, its writer's process id and host,
``.fastnn-<target>.<pid>-<host>.<random>.tmp``; the next save of the same target removes the
ones whose writer ran on this host and is no longer running. A live writer's file (another
process, or another thread of this one, saving the same target now) is never touched, nor is
one written from another machine or container sharing the folder (its pids are not ours).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from collections.abc import Iterator

# Keeps the temporary name within the 255 bytes most file systems allow.
_NAME_CHARS = 120


@contextlib.contextmanager
def atomic_path(filepath: str, overwrite: bool = True) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``filepath``."""
    filepath = os.fspath(filepath)
    if os.path.isdir(filepath):
        raise IsADirectoryError(f"Cannot write {filepath}: it is a directory; name a file "
                                "in it instead.")
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"File {filepath} already exists and overwrite=False.")
    directory = os.path.dirname(os.path.abspath(filepath))
    prefix = f".fastnn-{os.path.basename(filepath)[:_NAME_CHARS]}."
    remove_stale_temporaries(directory, prefix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-{_host()}.", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a saved model gets the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, filepath)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stale_temporaries(directory: str, prefix: str) -> list[str]:
    """Remove the temporary files ``<prefix><pid>-<host>.<random>.tmp`` in ``directory``
    written on this host by a process that has ended; returns their names."""
    pattern = re.compile(re.escape(f"{prefix}") + r"(\d+)-" + re.escape(_host())
                         + r"\.[^.]+\.tmp\Z")
    removed = []
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix)]
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match is None or _running(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):  # another saver removed it first
            os.unlink(os.path.join(directory, name))
            removed.append(name)
    return removed


def _host() -> str:
    """This machine's name as it can appear in a file name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32] or "host"


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts as running)."""
    if pid == os.getpid() or os.name == "nt":  # on Windows, signal 0 would be a Ctrl-C
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _umask() -> int:
    """The process's umask (reading it means setting it; it is put straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
