"""Optimizers' use_ema / ema_momentum / ema_overwrite_frequency and SwapEMAWeights against
Keras 3: the same model, weights and data give the same weights, moving averages and logs
(validation runs on the averages when SwapEMAWeights swaps them in)."""

import numpy as np
import pytest

import fastnn
from fastnn import callbacks as fcb

_rng = np.random.default_rng(21)
X = _rng.normal(size=(24, 4)).astype(np.float32)
Y = (np.tanh(X @ _rng.normal(size=(4, 2)))).astype(np.float32)
XV, YV = X[:8] * 0.9, Y[:8]


def twins(tf_keras, optimizer, **ema):
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(5, activation="tanh"),
                            lib.layers.Dense(2)])
        m.compile(getattr(lib.optimizers, optimizer)(0.05, use_ema=True, **ema), "mse",
                  metrics=["mae"])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    return models


def _close(a, b, atol=2e-5):
    # The tolerances of the fit parity tests (float32 sums in another order for 15 steps).
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("optimizer,ema,swap", [
    ("SGD", {"ema_momentum": 0.9}, None),
    ("Adam", {"ema_momentum": 0.8}, False),
    ("Adam", {"ema_momentum": 0.7, "ema_overwrite_frequency": 4}, None),
    ("RMSprop", {"ema_momentum": 0.9}, True),
])
def test_trajectory_like_keras(tf_keras, optimizer, ema, swap):
    km, fm = twins(tf_keras, optimizer, **ema)
    kw = {"batch_size": 5, "epochs": 3, "shuffle": False, "verbose": 0,
          "validation_data": (XV, YV)}
    kcb = [] if swap is None else [tf_keras.callbacks.SwapEMAWeights(swap_on_epoch=swap)]
    fcb_ = [] if swap is None else [fcb.SwapEMAWeights(swap_on_epoch=swap)]
    hk, hf = km.fit(X, Y, callbacks=kcb, **kw), fm.fit(X, Y, callbacks=fcb_, **kw)
    assert sorted(hf.history) == sorted(hk.history)
    for key in hk.history:
        _close(hf.history[key], hk.history[key], atol=1e-6)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        _close(a, b)                   # fit ends with the averages in the model, as Keras
    averages = [np.asarray(v) for v in km.optimizer._model_variables_moving_average]
    for a, b in zip(fm.optimizer._model_variables_moving_average, averages):
        _close(a, b)


def test_average_by_hand():
    """Two SGD steps on one batch: the average is the weights after step 1, then
    m * that + (1 - m) * the weights after step 2 (checked against plain NumPy)."""
    m = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(2, use_bias=False)])
    m.compile(fastnn.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.75), "mse")
    w0 = m.get_weights()[0].astype(np.float64)
    x, y = X[:6].astype(np.float64), Y[:6].astype(np.float64)
    w = w0
    trajectory = []
    for _ in range(2):
        grad = 2 * x.T @ (x @ w - y) / y.size
        w = w - 0.1 * grad
        trajectory.append(w)
    m.fit(X[:6], Y[:6], batch_size=6, epochs=2, shuffle=False, verbose=0)
    expected = 0.75 * trajectory[0] + 0.25 * trajectory[1]
    np.testing.assert_allclose(m.optimizer._model_variables_moving_average[0], expected,
                               rtol=1e-5)
    np.testing.assert_allclose(m.get_weights()[0], expected, rtol=1e-5)


def test_swap_around_evaluate_and_predict():
    m = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(2)])
    m.compile(fastnn.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), "mse")
    m.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    # fit ended with weights = averages; one more step makes them differ.
    m.train_on_batch(X, Y)
    trained = [w.copy() for w in m.get_weights()]
    averages = [a.copy() for a in m.optimizer._model_variables_moving_average]
    assert not np.allclose(trained[0], averages[0])
    swap = fcb.SwapEMAWeights()
    with_averages = m.predict(X, verbose=0, callbacks=[swap])
    m.set_weights(averages)
    np.testing.assert_array_equal(with_averages, m.predict(X, verbose=0))
    m.set_weights(trained)
    m.evaluate(X, Y, verbose=0, callbacks=[swap])
    for a, b in zip(m.get_weights(), trained):        # the training weights are back
        np.testing.assert_array_equal(a, b)


def test_swap_needs_use_ema():
    m = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(2)])
    m.compile("sgd", "mse")
    with pytest.raises(ValueError, match="use_ema=True"):
        m.fit(X, Y, verbose=0, callbacks=[fcb.SwapEMAWeights()])
    assert fcb.deserialize(fcb.serialize(fcb.SwapEMAWeights(True))).swap_on_epoch is True
