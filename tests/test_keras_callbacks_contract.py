"""The Callback contract against Keras 3: every hook that fit (with validation), evaluate and
predict call, in Keras's order, with Keras's params and log keys, the running per-batch values
Keras hands them, and CallbackList's own methods."""

import numpy as np
import pytest

import fastnn
from fastnn import callbacks as fcb

_rng = np.random.default_rng(5)
X = _rng.normal(size=(10, 3)).astype(np.float32)
Y = _rng.normal(size=(10, 1)).astype(np.float32)

_PLAIN = ("on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin",
          "on_predict_end")
_INDEXED = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
            "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
            "on_predict_batch_end")


def recorder(base):
    """A callback of library `base` recording (hook, index, logs) of every hook."""
    def plain(name):
        def hook(self, logs=None):
            self.events.append((name, None, logs))
        return hook

    def indexed(name):
        def hook(self, index, logs=None):
            self.events.append((name, index, logs))
        return hook

    body = {n: plain(n) for n in _PLAIN} | {n: indexed(n) for n in _INDEXED}
    cls = type("Recorder", (base,), body)
    rec = cls()
    rec.events = []
    return rec


def twins(tf_keras):
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, activation="tanh"),
                            lib.layers.Dense(1)])
        m.compile(lib.optimizers.SGD(0.1), "mse", metrics=["mae"])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    return models


def run_all(model, rec_cls):
    """Events and params of a fit with validation, an evaluate and a predict."""
    out = []
    for call in (lambda cb: model.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                                      validation_data=(X[:5], Y[:5]), callbacks=[cb]),
                 lambda cb: model.evaluate(X, Y, batch_size=4, verbose=0, callbacks=[cb]),
                 lambda cb: model.predict(X, batch_size=4, verbose=0, callbacks=[cb])):
        rec = recorder(rec_cls)
        call(rec)
        assert rec.model is model
        out.append((dict(rec.params), rec.events))
    return out


def test_hook_sequence_params_and_logs_like_keras(tf_keras):
    km, fm = twins(tf_keras)
    theirs, ours = run_all(km, tf_keras.callbacks.Callback), run_all(fm, fcb.Callback)
    for (kp, ke), (fp, fe) in zip(theirs, ours):
        assert fp == kp
        assert [(h, i) for h, i, _ in fe] == [(h, i) for h, i, _ in ke]
        for (h, i, klogs), (_, _, flogs) in zip(ke, fe):
            assert isinstance(flogs, dict), (h, i)        # never None where Keras passes {}
            assert sorted(flogs) == sorted(klogs), (h, i)
            for key, value in klogs.items():
                if key == "outputs":
                    np.testing.assert_allclose(flogs[key], value, rtol=1e-5, atol=1e-6)
                else:   # the running loss and metrics of the batches so far
                    np.testing.assert_allclose(flogs[key], float(value), rtol=1e-5,
                                               atol=1e-6, err_msg=f"{h} {i} {key}")


def test_predict_outputs_are_each_batch(tf_keras):
    fm = twins(tf_keras)[1]
    rec = recorder(fcb.Callback)
    full = fm.predict(X, batch_size=4, verbose=0, callbacks=[rec])
    batches = [logs["outputs"] for h, _, logs in rec.events if h == "on_predict_batch_end"]
    assert [b.shape for b in batches] == [(4, 1), (4, 1), (2, 1)]
    np.testing.assert_array_equal(np.concatenate(batches), full)
    np.testing.assert_array_equal(full, fm.predict(X, verbose=0))


def test_no_batch_hooks_keeps_one_engine_call():
    """A callback with only epoch-level hooks gets on_test_begin/end but no batch loop."""
    class Ends(fcb.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_test_begin(self, logs=None):
            self.seen.append(("begin", logs))

        def on_test_end(self, logs=None):
            self.seen.append(("end", logs))

    m = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(1)])
    m.compile("sgd", "mse")
    cb = Ends()
    assert not fcb.CallbackList([cb]).needs_test_batch_hooks
    result = m.evaluate(X, Y, verbose=0, callbacks=[cb], return_dict=True)
    assert cb.seen == [("begin", {}), ("end", result)]


def test_callback_list_like_keras(tf_keras):
    for lib in (tf_keras, fastnn):
        rec = recorder(lib.callbacks.Callback)
        cl = lib.callbacks.CallbackList([rec], add_history=True, add_progbar=True,
                                        model=None, verbose=0, epochs=3, steps=7)
        assert rec.params == {"verbose": 0, "epochs": 3, "steps": 7}
        names = [type(c).__name__ for c in cl.callbacks]
        assert names[0] == "Recorder" and set(names[1:]) == {"History", "ProgbarLogger"}
        cl.on_predict_begin()
        cl.on_epoch_begin(0)
        cl.on_train_batch_end(1, {"loss": 2.0})
        cl.on_predict_end()
        assert [(h, i) for h, i, _ in rec.events] == [
            ("on_predict_begin", None), ("on_epoch_begin", 0), ("on_train_batch_end", 1),
            ("on_predict_end", None)]
        assert rec.events[2][2] == {"loss": 2.0}


def test_callback_list_rejects_non_callbacks():
    with pytest.raises(ValueError, match="Callback objects"):
        fcb.CallbackList([object()])
