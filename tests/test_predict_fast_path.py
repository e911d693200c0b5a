"""predict's per-call path for small in-memory inputs (one engine call, no data-source check,
no thread policy) gives what the full path gives, and the cases it leaves to the full path
still take it. Every output is checked against a NumPy forward pass of the current weights."""

import numpy as np
import pytest

import fastnn
from fastnn import _thread_policy
from fastnn._bench.workloads import reference_forward
from fastnn.models import streaming

LAYERS = [(16, "relu"), (32, "relu"), (2, "softmax")]


def _model(dtype="float32", n_in=3, seed=0):
    rng = np.random.default_rng(seed)
    model = fastnn.Sequential([fastnn.Input((n_in,), dtype=dtype)]
                              + [fastnn.layers.Dense(u, activation=a, dtype=dtype)
                                 for u, a in LAYERS])
    model.set_weights([rng.normal(size=w.shape).astype(dtype) for w in model.get_weights()])
    return model


def _numpy_forward(model, x):
    weights = model.get_weights()
    return reference_forward(np.asarray(x), list(zip(weights[::2], weights[1::2])), LAYERS)


def _forbid(monkeypatch):
    """Make the pieces the per-call path skips fail loudly if called."""
    def boom(*args, **kwargs):
        raise AssertionError("the per-call path of a small predict went through this")
    monkeypatch.setattr(_thread_policy, "predict", boom)
    monkeypatch.setattr(streaming, "source_kind", boom)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("form", ["array", "list", "tuple", "call", "on_batch"])
def test_one_row_skips_stream_check_and_thread_policy(monkeypatch, dtype, tol, form):
    model = _model(dtype)
    x = np.random.default_rng(1).normal(size=(1, 3)).astype(dtype)
    _forbid(monkeypatch)
    got = {"array": lambda: model.predict(x, verbose=0),
           "list": lambda: model.predict(x.tolist(), verbose=0),
           "tuple": lambda: model.predict(tuple(map(tuple, x.tolist())), verbose=0),
           "call": lambda: model(x),
           "on_batch": lambda: model.predict_on_batch(x)}[form]()
    assert np.asarray(got).dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, _numpy_forward(model, x), rtol=tol, atol=tol)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_many_rows_still_go_through_the_thread_policy(monkeypatch, n_threads):
    model = _model()
    x = np.random.default_rng(2).normal(size=(3000, 3)).astype(np.float32)
    calls = []
    real = _thread_policy.predict
    monkeypatch.setattr(_thread_policy, "predict",
                        lambda *a, **k: (calls.append(a[1].shape[0]), real(*a, **k))[1])
    with fastnn.config.num_threads(n_threads):
        got = model.predict(x, batch_size=32, verbose=0)
    assert calls == [3000]
    np.testing.assert_allclose(got, _numpy_forward(model, x), rtol=1e-5, atol=1e-5)


def test_streams_still_stream():
    model = _model()
    x = np.random.default_rng(3).normal(size=(10, 3)).astype(np.float32)
    got = model.predict(((x[i:i + 4],) for i in range(0, 10, 4)), verbose=0)
    np.testing.assert_allclose(got, _numpy_forward(model, x), rtol=1e-5, atol=1e-5)


def test_predict_after_training_mode_call_and_new_weights_reads_current_weights():
    # model(x, training=True) runs a plan of its own, which takes the variables into its
    # buffers; predict must take them back (Plan.adopt) even though it only re-checks the
    # owners after some variable moved.
    model = _model()
    x = np.random.default_rng(4).normal(size=(2, 3)).astype(np.float32)
    first = model.predict(x, verbose=0)
    model(x, training=True)
    model.set_weights([w * 0.5 for w in model.get_weights()])
    again = model.predict(x, verbose=0)
    np.testing.assert_allclose(again, _numpy_forward(model, x), rtol=1e-5, atol=1e-5)
    assert not np.allclose(first, again)
    # The weights the engine updates in place remain the variables' values.
    model.layers[0].kernel.assign(np.zeros((3, 16), np.float32))
    np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_forward(model, x),
                               rtol=1e-5, atol=1e-5)


def test_two_models_sharing_layers_each_adopt_them():
    # Two models over the same Dense layers: each predict must run on the layers' current
    # values, whichever model's plan last held them.
    dense = [fastnn.layers.Dense(u, activation=a) for u, a in LAYERS]
    a = fastnn.Sequential([fastnn.Input((3,)), *dense])
    b = fastnn.Sequential([fastnn.Input((3,)), *dense])
    x = np.random.default_rng(5).normal(size=(3, 3)).astype(np.float32)
    for step in range(3):
        a.set_weights([w + 0.1 for w in a.get_weights()])
        np.testing.assert_allclose(b.predict(x, verbose=0), _numpy_forward(a, x),
                                   rtol=1e-5, atol=1e-5)
        b.set_weights([w * 0.9 for w in b.get_weights()])
        np.testing.assert_allclose(a.predict(x, verbose=0), _numpy_forward(b, x),
                                   rtol=1e-5, atol=1e-5)


def test_bad_one_row_input_still_refused():
    model = _model()
    with pytest.raises(ValueError, match="NaN or infinity"):
        model.predict(np.array([[0.0, np.nan, 1.0]], np.float32), verbose=0)
    with pytest.raises(ValueError, match="incompatible"):
        model.predict([[0.0, 1.0]], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.predict(np.zeros((1, 3), np.float32), batch_size=0, verbose=0)
