"""Concurrent calls on one model: workspaces belong to the call, so threads that predict at
once get the bits of serial calls, and a second fit of a model in training is refused."""

import threading

import numpy as np
import pytest

import fastnn


def _model():
    fastnn.utils.set_random_seed(2)
    a = fastnn.Input((12,))
    h = fastnn.layers.Dense(32, activation="relu")(a)
    out = fastnn.layers.Dense(5, activation="softmax")(fastnn.layers.concatenate([h, a]))
    model = fastnn.Model(a, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_threads_predicting_at_once_match_serial_calls_bit_for_bit():
    model = _model()
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(n, 12)).astype(np.float32) for n in (1, 7, 300, 2000)]
    expected = [model.predict(x, batch_size=b) for x in batches for b in (1, 64)]
    errors, results = [], {}

    def work(k):
        try:
            for r in range(40):
                i = (k + r) % len(expected)
                x, b = batches[i // 2], (1, 64)[i % 2]
                out = model.evaluate(x, np.zeros(len(x), dtype=np.int64), verbose=0) \
                    if r % 5 == 4 else model.predict(x, batch_size=b)
                if r % 5 != 4:
                    results.setdefault(k, []).append(np.array_equal(out, expected[i]))
        except Exception as e:     # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert all(all(v) for v in results.values()) and len(results) == 8


def test_second_fit_at_once_is_refused_and_predict_waits():
    model = _model()
    x = np.random.default_rng(1).normal(size=(20000, 12)).astype(np.float32)
    y = np.zeros(20000, dtype=np.int64)
    started, outcome = threading.Event(), {}

    class Signal(fastnn.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.set()

    def train():
        model.fit(x, y, epochs=3, batch_size=32, verbose=0, callbacks=[Signal()])

    t = threading.Thread(target=train)
    t.start()
    started.wait(30)
    with pytest.raises(RuntimeError, match="already being trained"):
        model.fit(x[:10], y[:10], epochs=1, verbose=0)
    outcome["pred"] = model.predict(x[:5])
    t.join(120)
    assert np.all(np.isfinite(outcome["pred"]))
