"""BackupAndRestore: a fit killed mid-training (SIGKILL, in a child process) and resumed in a
new process ends with the same weights, bit for bit on one thread, as a fit never
interrupted; Keras's files, metadata keys, save_freq counting and clean-up."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _isolated import ROOT, run_python

import fastnn
from fastnn import callbacks as fcb

_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

# One training job: a dropout net shuffled every epoch with Adam, so that the weights, the
# optimizer's slots and step count, the shuffling and the dropout masks must all resume.
_JOB = """
import sys, os, numpy as np
sys.path.insert(0, {root!r})
import fastnn
from fastnn import callbacks as fcb

fastnn.utils.set_random_seed(7)
rng = np.random.default_rng(0)
x = rng.normal(size=(60, 5)).astype("float32")
y = (x @ rng.normal(size=(5, 1))).astype("float32")
model = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(8, activation="relu"),
                           fastnn.layers.Dropout(0.3), fastnn.layers.Dense(1)])
model.compile(fastnn.optimizers.Adam(0.01), "mse")


class Kill(fcb.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == {kill_at}:
            os.kill(os.getpid(), 9)          # no clean-up of any kind, as a crash


callbacks = [{callback}] + ([Kill()] if {kill_at} >= 0 else [])
history = model.fit(x, y, batch_size=8, epochs=6, verbose=0, callbacks=callbacks)
print("epochs run:", history.epoch)
np.savez({out!r}, *model.get_weights(), iterations=model.optimizer.iterations)
"""


def _job(tmp_path, callback: str, kill_at: int, out: str) -> subprocess.CompletedProcess:
    code = _JOB.format(root=str(ROOT), callback=callback, kill_at=kill_at,
                       out=str(tmp_path / out))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=_ENV,
                          capture_output=True, text=True, timeout=300, check=False)


def test_killed_fit_resumes_to_the_same_weights(tmp_path):
    backup = tmp_path / "backup"
    callback = f"fcb.BackupAndRestore({str(backup)!r})"
    killed = _job(tmp_path, callback, 3, "never.npz")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    metadata = json.loads((backup / "training_metadata.json").read_text())
    assert metadata["epoch"] == 3 and metadata["batch"] == 0
    assert (backup / "latest.weights.h5").exists()

    resumed = _job(tmp_path, callback, -1, "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr
    assert "epochs run: [3, 4, 5]" in resumed.stdout
    assert not backup.exists()                       # deleted once the fit completed

    plain = _job(tmp_path, "fcb.History()", -1, "plain.npz")
    assert plain.returncode == 0, plain.stderr
    a, b = np.load(tmp_path / "resumed.npz"), np.load(tmp_path / "plain.npz")
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert int(a["iterations"]) == 6 * 8


def _model():
    m = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(1)])
    m.compile("sgd", "mse")
    return m


X = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
Y = X[:, :1].copy()


def test_save_freq_in_batches_as_keras(tmp_path, tf_keras):
    """Every `save_freq` batches, counted across epochs; the metadata says the batch, and a
    restart begins at the saved epoch (Keras restarts the interrupted epoch)."""
    saved = {}
    for name, lib, cb_mod in (("k", tf_keras, tf_keras.callbacks), ("f", fastnn, fcb)):
        class Spy(cb_mod.Callback):
            def __init__(self, path):
                super().__init__()
                self.path, self.seen = path, []

            def on_train_batch_end(self, batch, logs=None):
                meta = self.path / "training_metadata.json"
                self.seen.append(json.loads(meta.read_text()) if meta.exists() else None)

        path = tmp_path / name
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        m.compile("sgd", "mse")
        spy = Spy(path)
        m.fit(X, Y, batch_size=4, epochs=3, verbose=0,
              callbacks=[cb_mod.BackupAndRestore(path, save_freq=3, delete_checkpoint=False),
                         spy])
        saved[name] = [None if s is None else (s["epoch"], s["batch"]) for s in spy.seen]
        restarted = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        restarted.compile("sgd", "mse")
        h = restarted.fit(X, Y, batch_size=4, epochs=5, verbose=0,
                          callbacks=[cb_mod.BackupAndRestore(path, save_freq=3)])
        saved[name + "_epochs"] = h.epoch
    assert saved["f"] == saved["k"]
    assert saved["f_epochs"] == saved["k_epochs"]


def test_restores_weights_and_optimizer_state(tmp_path):
    m = _model()
    m.fit(X, Y, epochs=2, verbose=0,
          callbacks=[fcb.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    fresh = _model()
    fresh.build((None, 3))
    cb = fcb.BackupAndRestore(tmp_path, delete_checkpoint=False)
    cb.set_model(fresh)
    cb.on_train_begin()
    for a, b in zip(fresh.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert fresh.optimizer.iterations == m.optimizer.iterations
    assert fresh._initial_epoch == 2


def test_double_checkpoint_falls_back(tmp_path):
    m = _model()
    m.fit(X, Y, epochs=3, verbose=0,
          callbacks=[fcb.BackupAndRestore(tmp_path, double_checkpoint=True,
                                          delete_checkpoint=False)])
    (tmp_path / "latest.weights.h5").write_bytes(b"torn write")
    h = _model().fit(X, Y, epochs=4, verbose=0,
                     callbacks=[fcb.BackupAndRestore(tmp_path, double_checkpoint=True)])
    assert h.epoch == [2, 3]          # the backup of epoch 2 (the .bkp) was used


def test_bad_arguments():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        fcb.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        fcb.BackupAndRestore("/tmp/x", save_freq="sometimes")
    cb = fcb.BackupAndRestore("/tmp/x", save_freq=5)
    assert fcb.deserialize(fcb.serialize(cb)).get_config() == cb.get_config()


def test_no_backup_starts_at_the_given_epoch(tmp_path):
    h = _model().fit(X, Y, epochs=3, initial_epoch=1, verbose=0,
                     callbacks=[fcb.BackupAndRestore(tmp_path / "none")])
    assert h.epoch == [1, 2]


def test_unbuilt_model_is_refused(tmp_path):
    out = run_python(f"""
        import fastnn
        m = fastnn.Sequential([fastnn.layers.Dense(1)])
        cb = fastnn.callbacks.BackupAndRestore({str(tmp_path)!r})
        cb.set_model(m)
        try:
            cb.on_train_begin()
        except ValueError as e:
            print(e)
        """)
    assert "must be built before you call `fit()`" in out
