"""fit / evaluate / predict on a memory-mapped array whose dtype or layout differs from the
model's: read and converted a block of rows at a time, never whole. Judged against the same
data converted in memory (same order: the same weights, bit for bit), and by the process's own
anonymous memory."""

import json

import numpy as np
import pytest
from _isolated import run_python

import fastnn
from fastnn.layers import Dense
from fastnn.models import adapters

RNG = np.random.default_rng(5)
N, F = 300, 6
X64 = RNG.normal(size=(N, F))
Y = (X64 @ RNG.normal(size=(F, 3))).argmax(axis=1)


@pytest.fixture
def small_blocks(monkeypatch):
    # A few batches per block, so that an epoch crosses many blocks.
    monkeypatch.setattr(adapters, "BLOCK_BYTES", 3 * 16 * F * 8)


@pytest.fixture
def memmap64(tmp_path):
    mm = np.memmap(tmp_path / "x.f64", dtype=np.float64, mode="w+", shape=(N, F))
    mm[:] = X64
    mm.flush()
    return np.memmap(tmp_path / "x.f64", dtype=np.float64, mode="r", shape=(N, F))


def _model(metrics=("accuracy",)):
    fastnn.utils.set_random_seed(11)
    model = fastnn.Sequential([fastnn.Input((F,)), Dense(7, activation="relu"),
                               Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _same_weights(a, b):
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("shuffle", [True, "batch", False])
def test_float64_memmap_trains_as_the_converted_array(memmap64, small_blocks, shuffle):
    ref = _model()
    h_ref = ref.fit(X64.astype(np.float32), Y, batch_size=16, epochs=2, shuffle=shuffle,
                    validation_split=0.2, verbose=0)
    model = _model()
    h = model.fit(memmap64, Y, batch_size=16, epochs=2, shuffle=shuffle,
                  validation_split=0.2, verbose=0)
    _same_weights(ref, model)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert h.history[key] == pytest.approx(h_ref.history[key], rel=1e-6), key


def test_steps_per_epoch_and_fortran_layout(tmp_path, small_blocks):
    f32 = X64.astype(np.float32)
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=(N, F), order="F")
    mm[:] = f32
    assert not mm.flags.c_contiguous
    ref = _model()
    ref.fit(f32, Y, batch_size=32, epochs=3, steps_per_epoch=3, verbose=0)
    model = _model()
    model.fit(mm, Y, batch_size=32, epochs=3, steps_per_epoch=3, verbose=0)
    _same_weights(ref, model)


def test_predict_and_evaluate_on_a_memmap(memmap64, small_blocks):
    model = _model()
    model.fit(X64.astype(np.float32), Y, batch_size=16, verbose=0)
    np.testing.assert_array_equal(model.predict(memmap64), model.predict(X64.astype(np.float32)))
    got = model.evaluate(memmap64, Y, verbose=0, return_dict=True)
    ref = model.evaluate(X64.astype(np.float32), Y, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(ref["loss"], rel=1e-6)
    assert got["accuracy"] == ref["accuracy"]
    h = model.fit(X64.astype(np.float32), Y, validation_data=(memmap64, Y), verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(
        model.evaluate(X64.astype(np.float32), Y, verbose=0, return_dict=True)["loss"],
        rel=1e-6)


def test_nan_in_a_memmap_block_names_the_batch(tmp_path, small_blocks):
    x = X64.copy()
    x[17 * 16 + 3, 2] = np.nan
    mm = np.memmap(tmp_path / "nan.f64", dtype=np.float64, mode="w+", shape=(N, F))
    mm[:] = x
    model = _model()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="Batch 17 of epoch 1 from the memory-mapped array"):
        model.fit(mm, Y, batch_size=16, shuffle=False, verbose=0)
    for got, expected in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, expected)


def test_float64_memmap_trains_in_bounded_anonymous_memory(tmp_path):
    # 320 MB of float64 on disk: converting it whole to float32 would take 160 MB of
    # anonymous memory; reading it in blocks takes a few MB. The child samples its own
    # RssAnon through fit (shuffled) and predict.
    rows, features = 208_000, 192
    path = tmp_path / "big.f64"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(rows, features))
    for lo in range(0, rows, 20_000):
        mm[lo:lo + 20_000] = np.random.default_rng(lo).normal(
            size=(min(20_000, rows - lo), features))
    mm.flush()
    del mm
    out = run_python(f"""
        import json, threading, time
        import numpy as np
        import fastnn

        def rss_anon():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1]) * 1024

        x = np.memmap({str(path)!r}, dtype=np.float64, mode="r", shape=({rows}, {features}))
        y = (np.arange({rows}) % 3).astype(np.int64)
        model = fastnn.Sequential([fastnn.Input(({features},)),
                                   fastnn.layers.Dense(16, activation="relu"),
                                   fastnn.layers.Dense(3, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.predict(np.zeros((2, {features}), np.float32))   # plans and workspaces
        base = rss_anon()
        peak = [base]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_anon())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        model.fit(x, y, batch_size=256, epochs=1, shuffle=True, verbose=0)
        pred = model.predict(x, batch_size=1024)
        done.set()
        sampler.join()
        peak[0] = max(peak[0], rss_anon())
        print(json.dumps({{"growth": peak[0] - base, "pred": pred.nbytes}}))
    """, timeout=300)
    report = json.loads(out.strip().splitlines()[-1])
    # The predictions (2.5 MB) and the epoch's order and targets (3.3 MB) are the only
    # arrays of the data's length.
    print(report)
    assert report["growth"] < 64 * 2**20, report


def test_h5py_dataset_is_read_in_blocks(tmp_path, small_blocks):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["x"] = X64
    with h5py.File(tmp_path / "x.h5", "r") as f:
        ref = _model()
        ref.fit(X64.astype(np.float32), Y, batch_size=16, epochs=2, verbose=0)
        model = _model()
        model.fit(f["x"], Y, batch_size=16, epochs=2, verbose=0)   # shuffled: rows by index
        _same_weights(ref, model)
        np.testing.assert_array_equal(model.predict(f["x"]),
                                      model.predict(X64.astype(np.float32)))
