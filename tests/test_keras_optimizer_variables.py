"""optimizer.learning_rate and optimizer.iterations as Keras 3 variables, against TF Keras:
the variable API, schedules (read-only values), and a callback assigning the rate per batch
(the books' ``learning_rate.assign`` and ``K.set_value``) giving Keras's trajectory."""

import numpy as np
import pytest

import fastnn
from fastnn import backend as K
from fastnn import optimizers

_rng = np.random.default_rng(5)
X = _rng.normal(size=(48, 4)).astype(np.float32)
Y = (X @ _rng.normal(size=(4, 1))).astype(np.float32)


def test_learning_rate_variable_like_keras(tf_keras):
    ours, theirs = optimizers.Adam(0.01), tf_keras.optimizers.Adam(0.01)
    a, b = ours.learning_rate, theirs.learning_rate
    assert a.numpy() == b.numpy() and a.numpy().dtype == b.numpy().dtype == np.float32
    assert float(a) == pytest.approx(float(b), rel=1e-7)
    for f in (lambda v: v * 2, lambda v: 1 - v, lambda v: v / 4, lambda v: v ** 2,
              lambda v: -v, lambda v: 0.5 * v + v):
        assert float(f(a)) == pytest.approx(float(f(b)), rel=1e-6)
    assert (a > 0.005) is True and bool(b > 0.005) and a == 0.01 and a != 0.02
    a.assign(0.25)
    b.assign(0.25)
    assert ours.learning_rate.numpy() == theirs.learning_rate.numpy() == np.float32(0.25)
    ours.learning_rate.assign_sub(0.05)
    assert ours.learning_rate == pytest.approx(0.2)
    K.set_value(ours.learning_rate, 0.1)
    assert K.get_value(ours.learning_rate) == np.float32(0.1)  # cast to float32, as Keras 2
    assert ours.get_config()["learning_rate"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="finite"):
        ours.learning_rate.assign(np.nan)
    assert ours.learning_rate == np.float32(0.1)  # a failed assign changes nothing
    with pytest.raises(ValueError, match="scalar"):
        ours.learning_rate.assign([0.1, 0.2])


def test_iterations_variable_like_keras(tf_keras):
    ours, theirs = optimizers.SGD(0.1), tf_keras.optimizers.SGD(0.1)
    w = np.ones(3, dtype=np.float32)
    kw = tf_keras.Variable(np.ones(3, dtype=np.float32))
    for _ in range(3):
        ours.apply([np.ones(3, dtype=np.float32)], [w])
        theirs.apply([np.ones(3, dtype=np.float32)], [kw])
    assert ours.iterations.numpy() == theirs.iterations.numpy() == 3
    assert ours.iterations.numpy().dtype == theirs.iterations.numpy().dtype == np.int64
    assert int(ours.iterations) + 1 == 4 and ours.iterations % 2 == 1 and range(5)[ours.iterations]
    ours.iterations.assign(10)
    assert ours.iterations == 10 and ours.variables[0] == 10
    with pytest.raises(ValueError, match="integer"):
        ours.iterations.assign(1.5)


def test_schedule_learning_rate_is_read_only_value(tf_keras):
    make = lambda lib: lib.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5)
    ours, theirs = optimizers.SGD(make(fastnn)), tf_keras.optimizers.SGD(make(tf_keras))
    ours.iterations = 3
    theirs.iterations.assign(3)
    np.testing.assert_allclose(ours.learning_rate.numpy(), theirs.learning_rate.numpy(),
                               rtol=1e-6)
    assert isinstance(ours._learning_rate, optimizers.schedules.ExponentialDecay)
    with pytest.raises(TypeError, match="not settable"):
        ours.learning_rate.assign(0.1)
    with pytest.raises(TypeError, match="not settable"):
        ours.learning_rate = 0.1


def _batch_callback(lib, how):
    """Halves the rate after every third batch, the ways popular books write it."""

    class Halve(lib.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch % 3 == 2:
                lr = self.model.optimizer.learning_rate
                if how == "assign":
                    lr.assign(lr * 0.5)
                elif how == "set_value":
                    if lib is fastnn:
                        K.set_value(lr, float(lr.numpy()) * 0.5)
                    else:  # what Keras 2's K.set_value did: cast to the dtype, assign
                        lr.assign(np.asarray(float(lr.numpy()) * 0.5, dtype="float32"))
                else:
                    self.model.optimizer.learning_rate = float(lr.numpy()) * 0.5

    return Halve()


@pytest.mark.parametrize("how", ["assign", "set_value", "attribute"])
def test_callback_assigning_learning_rate_per_batch_like_keras(tf_keras, how):
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="tanh"),
                            lib.layers.Dense(1)])
        m.compile(lib.optimizers.SGD(0.2), "mse")
        models.append(m)
    km, fm = models
    initial = km.get_weights()
    fm.set_weights(initial)
    kw = {"batch_size": 8, "epochs": 2, "shuffle": False, "verbose": 0}
    hk = km.fit(X, Y, callbacks=[_batch_callback(tf_keras, how)], **kw)
    hf = fm.fit(X, Y, callbacks=[_batch_callback(fastnn, how)], **kw)
    assert float(fm.optimizer.learning_rate) == pytest.approx(0.2 * 0.5**4, rel=1e-6)
    np.testing.assert_allclose(fm.optimizer.learning_rate.numpy(),
                               km.optimizer.learning_rate.numpy(), rtol=1e-7)
    np.testing.assert_allclose(hf.history["loss"], hk.history["loss"], rtol=1e-5)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Without the callback the losses differ: the assignments took effect mid-epoch.
    plain = fastnn.models.clone_model(fm)
    plain.compile(fastnn.optimizers.SGD(0.2), "mse")
    plain.set_weights(initial)
    h = plain.fit(X, Y, **kw)
    assert not np.allclose(h.history["loss"], hf.history["loss"], rtol=1e-3)


def test_rate_assigned_at_batch_begin_applies_to_that_batch():
    seen = []

    class Probe(fastnn.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate.assign(0.0 if batch == 0 else 0.1)

        def on_train_batch_end(self, batch, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    m = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(1)])
    m.compile(fastnn.optimizers.SGD(0.5), "mse")
    before = [w.copy() for w in m.get_weights()]
    m.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[Probe()])
    for a, b in zip(seen[0], before):  # rate 0 in batch 0: nothing moved
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(seen[1][0], seen[0][0])
