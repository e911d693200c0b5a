"""The command line and saving against hostile input: a CSV whose one huge cell would make a
fixed-width string array of gigabytes, output paths that name a directory, and saves killed
with ``kill -9`` that leave their temporary files behind. Runs in subprocesses with a timeout
(and a memory limit where an allocation could run away).
"""

import os
import re
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import Input, Sequential
from fastnn.layers import Dense
from fastnn.models import load_model

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
GiB = 1 << 30


def _run(args, cwd, timeout=120, memory=None):
    def limit():
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    try:
        return subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True,
                              timeout=timeout, preexec_fn=limit, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{args} still running after {timeout} s")


def _cli(*args, cwd, **kw):
    return _run([sys.executable, "-m", "fastnn", *map(str, args)], cwd, **kw)


# ---- a CSV with one huge cell ------------------------------------------------------------

def test_a_huge_cell_is_reported_in_one_line_with_little_memory(tmp_path):
    """About 320 KB: 20,000 rows, one cell of 131,000 characters. As one NumPy string array
    that is 20,001 x 3 cells of 131,000 4-byte characters, 29 GiB."""
    rows = [f"{i % 1000 / 10},{i % 7},{i % 3}" for i in range(20_000)]
    rows[10_000] = "0.5," + "x" * 131_000 + ",1"
    rows[15_000] = "oops,1,1"     # a later line in an earlier column: reported second
    (tmp_path / "big.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    assert 300_000 < (tmp_path / "big.csv").stat().st_size < 340_000
    result = _cli("train", "big.csv", "--target", "y", "--epochs", "1", cwd=tmp_path,
                  memory=3 * GiB)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "fastnn: error: column 'b' of big.csv is not numeric: 'xxxxxxxxxxxxxxxxxxxx'..."
        "'xxxxxxxxxxxxxxxxxxxx' (131,000 characters) on line 10002\n")
    assert not (tmp_path / "big.keras").exists()


def test_long_text_labels_still_train(tmp_path):
    """Cells of any length are fine where text belongs (a class label)."""
    labels = ["short", "l" * 5_000]
    rows = [f"{i % 2 + 0.1 * (i % 5)},{(i * 7) % 3},{labels[i % 2]}" for i in range(60)]
    (tmp_path / "labels.csv").write_text("a,b,y\n" + "\n".join(rows) + "\n")
    result = _cli("train", "labels.csv", "--target", "y", "--epochs", "1", "--test-size", "0",
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "target 'y' (2 classes)" in result.stdout


# ---- output paths that name a directory ----------------------------------------------------

@pytest.mark.parametrize(("args", "path"), [
    (["train", "--output", "models"], "models"),
    (["train", "--out", "dir.keras"], "dir.keras"),
    (["train", "--plot", "models"], "models"),
    (["predict", "m.keras", "data.csv", "--out", "models"], "models"),
])
def test_an_output_path_naming_a_directory_fails_before_any_work(tmp_path, args, path):
    (tmp_path / "models").mkdir()
    (tmp_path / "dir.keras").mkdir()
    if args[0] == "predict":
        model = Sequential([Input((2,)), Dense(1)])
        model.save(tmp_path / "m.keras")
        (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    result = _cli(*args, "--epochs", "1", cwd=tmp_path) if args[0] == "train" \
        else _cli(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (f"fastnn: error: cannot write {path}: it is a directory; name a "
                             f"file in it, e.g. {os.path.join(path, 'model.keras')}\n")
    assert "Data:" not in result.stdout and "Training took" not in result.stdout


def test_saving_onto_a_directory_is_refused_before_writing(tmp_path):
    (tmp_path / "d.keras").mkdir()
    model = Sequential([Input((2,)), Dense(1)])
    with pytest.raises(IsADirectoryError, match="it is a directory"):
        model.save(tmp_path / "d.keras")
    assert [p.name for p in tmp_path.iterdir()] == ["d.keras"]


# ---- a save killed with kill -9 ------------------------------------------------------------

_KILLED_SAVE = """
    import os, signal, sys, zipfile
    import fastnn
    model = fastnn.Sequential([fastnn.Input((2,)), fastnn.layers.Dense(300)])
    write = zipfile.ZipFile.writestr
    def writestr(self, name, data, *a, **k):
        write(self, name, data, *a, **k)
        if name == "model.weights.h5":      # killed with the archive half written
            os.kill(os.getpid(), signal.SIGKILL)
    zipfile.ZipFile.writestr = writestr
    if sys.argv[2] == "api":
        model.save(sys.argv[1])
    else:
        from fastnn.cli import _model_file
        _model_file.save(model, sys.argv[1], {{}})
"""


def _temporaries(folder: Path, target: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".fastnn-{target}."))


@pytest.mark.parametrize("how", ["api", "cli"])
def test_a_killed_save_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path, how):
    fastnn.utils.set_random_seed(0)
    model = Sequential([Input((2,)), Dense(300)])
    target = tmp_path / "m.keras"
    model.save(target)
    original = target.read_bytes()
    code = textwrap.dedent(_KILLED_SAVE.format())
    left = []
    for _ in range(2):   # the second killed save still removes the first one's file
        killed = _run([sys.executable, "-c", code, str(target), how], tmp_path, timeout=120)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        left.append(_temporaries(tmp_path, "m.keras"))
        assert len(left[-1]) == 1 and left[-1][0].endswith(".tmp")
        assert (tmp_path / left[-1][0]).stat().st_size > 0
    assert left[0] != left[1]
    assert target.read_bytes() == original      # the target was never touched

    # A temporary of a writer still running (another process, or this one) is kept.
    # So is one from another host sharing the folder: its pids are not this machine's.
    named = re.fullmatch(r"\.fastnn-m\.keras\.\d+-([A-Za-z0-9-]+)\.\w+\.tmp", left[1][0])
    assert named, left[1][0]    # target, writer's pid and host, random part
    host = named.group(1)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / f".fastnn-m.keras.{alive.pid}-{host}.abcdefgh.tmp"
        ours = tmp_path / f".fastnn-m.keras.{os.getpid()}-{host}.abcdefgh.tmp"
        remote = tmp_path / f".fastnn-m.keras.999999999-elsewhere{host}.abcdefgh.tmp"
        other_target = tmp_path / f".fastnn-n.keras.999999999-{host}.abcdefgh.tmp"
        for path in (theirs, ours, remote, other_target):
            path.write_bytes(b"partial")
        model.save(target)
        assert _temporaries(tmp_path, "m.keras") == sorted([theirs.name, ours.name, remote.name])
        assert other_target.exists()       # another target's files are its own saves' job
    finally:
        alive.kill()
        alive.wait()
    np.testing.assert_array_equal(load_model(target).get_weights()[0], model.get_weights()[0])
    model.save(target)   # the writer that was alive has now ended
    assert _temporaries(tmp_path, "m.keras") == sorted([ours.name, remote.name])
