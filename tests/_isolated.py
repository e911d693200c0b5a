"""Run a script in a fresh interpreter, for tests where a failure could be a crash or a hang.

A segfault, an abort or a deadlock in the child fails the test that asked (with the child's
output) instead of taking the whole pytest process down or stalling it.
"""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, timeout: float = 120, env=None) -> str:
    """stdout of `code` run by this interpreter with fastnn from this tree; a non-zero exit
    (a crash, an uncaught exception) or running past `timeout` seconds fails the test."""
    prelude = f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
    try:
        done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                              capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)
    except subprocess.TimeoutExpired as e:
        printed = b"".join(o if isinstance(o, bytes) else o.encode()
                           for o in (e.stdout, e.stderr) if o)
        raise AssertionError(f"the script hung (no exit after {timeout} s); it printed:\n"
                             f"{printed.decode(errors='replace')}") from None
    assert done.returncode == 0, (f"the script exited with status {done.returncode}:\n"
                                  f"{done.stdout}{done.stderr}")
    return done.stdout
