"""The ``training`` argument in graph models, against TensorFlow's Keras 3: Python branching
on ``training`` in a subclassed ``call`` (two graphs, one set of weights); a model or layer
called with ``training=`` inside a functional graph, which Keras 3 honours only in a
``model(x)`` call without ``training`` (fit, predict and evaluate override it); constant
``training=`` in a subclassed ``call``, which always counts; the call arguments in files."""

import json
import zipfile

import numpy as np
import pytest
from _threads import assert_same_bits_on_one_and_two_threads

import fastnn

N, BATCH, EPOCHS = 15, 5, 3
_rng = np.random.default_rng(11)
X = _rng.normal(size=(N, 6)).astype(np.float32)
LABELS = _rng.integers(0, 3, size=N)
FIT_TOL = {"rtol": 1e-3, "atol": 2e-5}


def branching(lib):
    """A layer that runs only in training: the training graph has it, the inference one not."""

    class Branching(lib.Model):
        def __init__(self):
            super().__init__()
            self.hidden = lib.layers.Dense(8, activation="relu")
            self.aux = lib.layers.Dense(8, activation="tanh")
            self.out = lib.layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            h = self.hidden(inputs)
            if training:
                h = self.aux(h)
            return self.out(h)

    model = Branching()
    model(np.zeros((1, 6), dtype=np.float32), training=True)   # builds every layer
    return model


def inner_in_inference(lib):
    """A part called with training=False, the transfer-learning idiom of Keras 2."""
    inner = lib.Sequential([lib.Input((6,)), lib.layers.Dense(5),
                            lib.layers.BatchNormalization()], name="inner")
    inputs = lib.Input((6,))
    x = inner(inputs, training=False)
    return lib.Model(inputs, lib.layers.Dense(3, activation="softmax")(x))


def twins(tf_keras, build):
    tf_keras.utils.set_random_seed(3)
    km, fm = build(tf_keras), build(fastnn)
    # Vectors (biases, BatchNormalization's statistics) moved off their 0 and 1 starts, so
    # that inference and batch statistics differ.
    weights = [w + np.float32(0.1 * (i + 1)) if w.ndim == 1 else w
               for i, w in enumerate(km.get_weights())]
    km.set_weights(weights)
    fm.set_weights(weights)
    return km, fm


@pytest.mark.parametrize("build", [branching, inner_in_inference])
def test_training_argument_matches_keras(tf_keras, build):
    km, fm = twins(tf_keras, build)
    np.testing.assert_allclose(fm.predict(X), km.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    for m in (km, fm):
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    hk = km.fit(X, LABELS, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    hf = fm.fit(X, LABELS, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=1e-4, err_msg=key)
    for i, (k, f) in enumerate(zip(km.get_weights(), fm.get_weights())):
        np.testing.assert_allclose(f, k, **FIT_TOL, err_msg=f"weight {i}")
    np.testing.assert_allclose(fm.predict(X), km.predict(X, verbose=0), **FIT_TOL)
    np.testing.assert_allclose(fm.evaluate(X, LABELS, verbose=0),
                               km.evaluate(X, LABELS, verbose=0), rtol=1e-4)


def test_graph_training_arguments_count_only_in_a_call_without_training(tf_keras):
    km, fm = twins(tf_keras, inner_in_inference)
    stats = fm.get_layer("inner").layers[1].non_trainable_weights
    before = [w.numpy().copy() for w in stats]
    for training in (None, False):    # the inner model in inference mode
        np.testing.assert_allclose(fm(X, training=training), km(X, training=training),
                                   rtol=1e-5, atol=1e-6, err_msg=str(training))
    for a, w in zip(before, stats):
        np.testing.assert_array_equal(w.numpy(), a)
    # training=True overrides the inner call's training=False: batch statistics, and the
    # moving ones move, as Keras's do; fit does the same.
    np.testing.assert_allclose(fm(X, training=True), km(X, training=True),
                               rtol=1e-5, atol=1e-6)
    assert not np.array_equal(stats[0].numpy(), before[0])
    for k, f in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(f, k, rtol=1e-5, atol=1e-6)


def test_branching_model_trains_the_same_bits_on_one_and_two_threads():
    def train():
        fastnn.utils.set_random_seed(5)
        model = branching(fastnn)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(X, LABELS, batch_size=BATCH, epochs=2, verbose=0)
        return model

    assert_same_bits_on_one_and_two_threads(train)


def test_passing_training_on_keeps_one_engine():
    class PassesOn(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = fastnn.layers.Dense(4)
            self.drop = fastnn.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.drop(self.hidden(inputs), training=training)

    model = PassesOn()
    model.build((None, 6))
    plan = model._ensure_plan()
    assert len(plan.engines) == 1 and not plan.forces_training
    x = np.ones((200, 6), np.float32)
    np.testing.assert_array_equal(model.predict(x), model.predict(x))   # inference: no dropout
    assert (model(x, training=True) == 0).mean() > 0.3                  # training: dropout


def mc_dropout(lib):
    inputs = lib.Input((6,))
    x = lib.layers.Dense(6, use_bias=False, kernel_initializer="identity")(inputs)
    return lib.Model(inputs, lib.layers.Dropout(0.5)(x, training=True))


def _check_dropout_draw(out, x):
    # Inverted dropout at rate 0.5: every entry is 0 or twice its input, about half of each.
    zero = out == 0
    np.testing.assert_allclose(out[~zero], 2 * x[~zero], rtol=1e-6)
    assert 0.4 < zero.mean() < 0.6


def test_functional_monte_carlo_dropout_as_keras_3(tf_keras):
    x = np.abs(_rng.normal(size=(500, 6))).astype(np.float32) + 0.1
    for lib in (tf_keras, fastnn):
        model = mc_dropout(lib)
        # predict and training=False override the node's training=True ...
        np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), x, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(model(x, training=False)), x, rtol=1e-6)
        # ... a call without `training` honours it.
        first, second = np.asarray(model(x)), np.asarray(model(x))
        _check_dropout_draw(first, x)
        assert not np.array_equal(first, second)


def monte_carlo_subclassed(lib):
    class MonteCarlo(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(6, use_bias=False, kernel_initializer="identity")
            self.drop = lib.layers.Dropout(0.5)

        def call(self, inputs, training=None):
            return self.drop(self.dense(inputs), training=True)    # Python: always counts

    return MonteCarlo()


def test_subclassed_constant_training_draws_in_every_predict(tf_keras):
    x = np.abs(_rng.normal(size=(500, 6))).astype(np.float32) + 0.1
    for lib in (tf_keras, fastnn):
        model = monte_carlo_subclassed(lib)
        first = np.asarray(model.predict(x, verbose=0))
        second = np.asarray(model.predict(x, verbose=0))
        _check_dropout_draw(first, x)
        _check_dropout_draw(second, x)
        assert not np.array_equal(first, second)
    # Batches of one predict call draw different masks too.
    chunks = model.predict(np.repeat(x[:1], 400, axis=0), batch_size=32)
    assert len({tuple(r) for r in (chunks == 0)}) > 20


def batch_stats_subclassed(lib):
    class BatchStats(lib.Model):
        def __init__(self):
            super().__init__()
            self.dense = lib.layers.Dense(4)
            self.norm = lib.layers.BatchNormalization()

        def call(self, inputs, training=None):
            return self.norm(self.dense(inputs), training=True)

    model = BatchStats()
    model(np.zeros((2, 6), np.float32), training=False)
    return model


def test_batch_norm_called_with_training_true_normalizes_by_the_batch_in_predict(tf_keras):
    km, fm = twins(tf_keras, batch_stats_subclassed)
    np.testing.assert_allclose(fm.predict(X, batch_size=5), km.predict(X, batch_size=5,
                                                                       verbose=0),
                               rtol=1e-5, atol=1e-5)
    for k, f in zip(km.get_weights(), fm.get_weights()):     # moving statistics moved alike
        np.testing.assert_allclose(f, k, rtol=1e-5, atol=1e-6)


def test_training_arguments_travel_in_files_both_ways(tf_keras, tmp_path):
    km, fm = twins(tf_keras, inner_in_inference)
    fm.save(tmp_path / "f.keras")
    km.save(tmp_path / "k.keras")
    with zipfile.ZipFile(tmp_path / "f.keras") as z:
        layers = json.loads(z.read("config.json"))["config"]["layers"]
    inner = next(item for item in layers if item["name"] == "inner")
    assert inner["inbound_nodes"][0]["kwargs"] == {"training": False}
    from_fastnn = tf_keras.models.load_model(tmp_path / "f.keras")
    from_keras = fastnn.models.load_model(tmp_path / "k.keras")
    for training in (None, True):
        np.testing.assert_allclose(from_keras(X, training=training),
                                   from_fastnn(X, training=training),
                                   rtol=1e-5, atol=1e-6, err_msg=str(training))
    mk = mc_dropout(tf_keras)
    mk.save(tmp_path / "mc.keras")
    x = np.abs(_rng.normal(size=(300, 6))).astype(np.float32) + 0.1
    loaded = fastnn.models.load_model(tmp_path / "mc.keras")
    np.testing.assert_allclose(loaded.predict(x), x, rtol=1e-6)
    _check_dropout_draw(loaded(x), x)


def test_outputs_that_differ_between_modes_are_refused():
    class Shapeshifter(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.narrow = fastnn.layers.Dense(2)
            self.wide = fastnn.layers.Dense(3)

        def call(self, inputs, training=None):
            return self.wide(inputs) if training else self.narrow(inputs)

    model = Shapeshifter()
    model.build((None, 4))
    with pytest.raises(ValueError, match="same in both modes"):
        model.predict(np.ones((2, 4), np.float32))
