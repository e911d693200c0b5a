"""Training calls that used to end in ZeroDivisionError, OverflowError, TypeError or NaN
weights: a callback that stops training before the first batch (Keras's behaviour, checked
against TensorFlow's Keras), validation data or ``test_on_batch`` with no rows, a batch size
beyond 64 bits, a callback that recompiles the model or changes its layers, and non-finite
optimizer hyperparameters, from the constructor or from a file. Each failure is a ValueError
that leaves the model as it was.
"""

import json
import re
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import Input, Sequential, optimizers
from fastnn.callbacks import Callback, LambdaCallback
from fastnn.layers import Dense

X = np.random.default_rng(3).normal(size=(8, 2)).astype(np.float32)
Y = np.random.default_rng(4).normal(size=(8, 1)).astype(np.float32)


def _pair(lib, seed=0):
    fastnn.utils.set_random_seed(seed)
    m = lib.Sequential([lib.Input((2,)), lib.layers.Dense(3, activation="tanh"),
                        lib.layers.Dense(1)])
    m.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return m


def _state(model):
    return [w.copy() for w in model.get_weights()], int(model.optimizer.iterations)


def _assert_unchanged(model, state):
    weights, iterations = state
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == iterations


# ---- stop_training before a batch: Keras runs one batch, logs the epoch, stops -------------

def _stopper(lib, hook):
    class Stop(lib.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if hook == "train begin":
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            if hook == "epoch 0 begin" or (hook == "epoch 1 begin" and epoch == 1):
                self.model.stop_training = True

        if hook == "batch begin":
            def on_train_batch_begin(self, batch, logs=None):
                self.model.stop_training = True

    return Stop()


@pytest.mark.parametrize("hook", ["train begin", "epoch 0 begin", "epoch 1 begin",
                                  "batch begin"])
def test_stop_training_before_a_batch_is_keras(tf_keras, hook):
    ours, theirs = _pair(fastnn), _pair(tf_keras)
    theirs.set_weights(ours.get_weights())
    kw = {"epochs": 3, "batch_size": 4, "shuffle": False, "verbose": 0}
    h_ours = ours.fit(X, Y, callbacks=[_stopper(fastnn, hook)], **kw)
    h_theirs = theirs.fit(X, Y, callbacks=[_stopper(tf_keras, hook)], **kw)
    assert h_ours.epoch == h_theirs.epoch
    assert sorted(h_ours.history) == sorted(h_theirs.history)
    for key in h_theirs.history:
        np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=1e-5)
    assert ours.optimizer.iterations == int(theirs.optimizer.iterations)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_train_on_batch_after_a_stopped_fit_still_steps():
    model = _pair(fastnn)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[_stopper(fastnn, "train begin")])
    assert model.stop_training
    before = int(model.optimizer.iterations)
    loss = model.train_on_batch(X, Y)
    assert np.isfinite(loss).all() and model.optimizer.iterations == before + 1


# ---- no rows ----------------------------------------------------------------------------------

def test_validation_data_with_no_rows_is_refused_before_training():
    model = _pair(fastnn)
    state = _state(model)
    with pytest.raises(ValueError, match="The validation data has no rows"):
        model.fit(X, Y, validation_data=(X[:0], Y[:0]), verbose=0)
    _assert_unchanged(model, state)


def test_test_on_batch_with_no_rows_is_keras(tf_keras):
    ours, theirs = _pair(fastnn), _pair(tf_keras)
    assert ours.test_on_batch(X[:0], Y[:0]) == theirs.test_on_batch(X[:0], Y[:0])
    assert ours.test_on_batch(X[:0], Y[:0], return_dict=True) == \
        theirs.test_on_batch(X[:0], Y[:0], return_dict=True)


# ---- a callback that recompiles the model or changes its layers ---------------------------

CHANGES = {
    "compile at epoch end": ("on_epoch_end", lambda m: m.compile(optimizer="adam", loss="mae"),
                             ("Cannot compile model '{}' while it is being trained: `compile` "
                             "was called during `fit`")),
    "compile at batch end": ("on_train_batch_end",
                             lambda m: m.compile(optimizer="adam", loss="mae"),
                             "Cannot compile model '{}' while it is being trained"),
    "add a layer": ("on_epoch_end", lambda m: m.add(Dense(1)),
                    ("Cannot add a layer to model '{}' while it is being trained: `add` was "
                    "called during `fit`")),
    "remove a layer": ("on_epoch_end", lambda m: m.pop(),
                       ("Cannot remove a layer from model '{}' while it is being trained: `pop` "
                       "was called during `fit`")),
}


@pytest.mark.parametrize("case", list(CHANGES))
def test_changing_the_model_from_a_callback_is_refused(case):
    """Keras 3.15 fails here too, with a TypeError ('NoneType' object is not callable) from
    inside ``fit`` when a callback recompiles; fastnn refuses the call itself."""
    hook, change, message = CHANGES[case]
    model = _pair(fastnn)
    optimizer, layers = model.optimizer, model.layers
    with pytest.raises(ValueError, match=re.escape(message.format(model.name))):
        model.fit(X, Y, epochs=2, batch_size=4, verbose=0,
                  callbacks=[LambdaCallback(**{hook: lambda *a: change(model)})])
    assert model.optimizer is optimizer and model.loss == "mse"
    assert model.layers == layers
    model.compile(optimizer="adam", loss="mae")   # allowed again once fit has returned
    model.fit(X, Y, verbose=0)


def test_a_callback_may_still_change_the_learning_rate():
    class Halve(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.optimizer.learning_rate = self.model.optimizer.learning_rate / 2

    model = _pair(fastnn)
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[Halve()])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


# ---- non-finite hyperparameters -----------------------------------------------------------

NAN, INF = float("nan"), float("inf")
NON_FINITE = [
    (optimizers.SGD, "learning_rate", NAN), (optimizers.SGD, "learning_rate", INF),
    (optimizers.SGD, "momentum", NAN), (optimizers.SGD, "clipnorm", NAN),
    (optimizers.Adam, "beta_1", NAN), (optimizers.Adam, "beta_2", INF),
    (optimizers.Adam, "epsilon", INF), (optimizers.Adam, "global_clipnorm", NAN),
    (optimizers.AdamW, "weight_decay", NAN), (optimizers.RMSprop, "rho", NAN),
    (optimizers.RMSprop, "epsilon", np.float32("nan")), (optimizers.Adagrad,
                                                        "initial_accumulator_value", INF),
    (optimizers.Adadelta, "rho", NAN), (optimizers.Adamax, "clipvalue", -INF),
    (optimizers.Nadam, "loss_scale_factor", NAN), (optimizers.Lion, "beta_2", NAN),
    (optimizers.Lion, "weight_decay", INF),
]


@pytest.mark.parametrize(("cls", "name", "value"), NON_FINITE,
                         ids=[f"{c.__name__}-{n}={v}" for c, n, v in NON_FINITE])
def test_non_finite_hyperparameters_are_refused(cls, name, value):
    first = cls().name
    with pytest.raises(ValueError, match=rf"Argument `{name}` must be a finite number|"
                                         r"`momentum` must be a float between \[0, 1\]"):
        cls(**{name: value})
    # A failed constructor changes nothing: not even the count behind default names.
    base, _, number = first.rpartition("_")
    expected = f"{base}_{int(number) + 1}" if number.isdigit() else f"{first}_1"
    assert cls().name == expected


def test_a_non_finite_learning_rate_assigned_later_is_refused():
    opt = optimizers.SGD(0.1)
    with pytest.raises(ValueError, match="Argument `learning_rate` must be a finite number"):
        opt.learning_rate = NAN
    assert opt.learning_rate == 0.1


@pytest.mark.parametrize("rate", [
    pytest.param(lambda: optimizers.schedules.ExponentialDecay(NAN, 10, 0.5), id="schedule"),
    pytest.param(lambda: (lambda: NAN), id="callable"),
])
def test_a_learning_rate_that_becomes_nan_stops_fit_before_the_step(rate):
    model = _pair(fastnn)
    model.compile(optimizer=optimizers.SGD(rate()), loss="mse")
    state = _state(model)
    with pytest.raises(ValueError, match=r"The learning rate of step 0 is nan"):
        model.fit(X, Y, verbose=0)
    _assert_unchanged(model, state)


def test_a_nan_learning_rate_in_a_files_compile_config_is_refused(tmp_path):
    model = Sequential([Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        entries = {n: z.read(n) for n in z.namelist()}
    config = json.loads(entries["config.json"])
    config["compile_config"]["optimizer"]["config"]["learning_rate"] = NAN
    entries["config.json"] = json.dumps(config).encode()   # JSON's NaN, as Python writes it
    with zipfile.ZipFile(tmp_path / "nan.keras", "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(ValueError, match=re.escape(
            "config.json: compile_config: field 'optimizer': Argument `learning_rate` must be "
            "a finite number. Received: learning_rate=nan")):
        fastnn.models.load_model(tmp_path / "nan.keras")


# ---- a batch size beyond 64 bits --------------------------------------------------------------

@pytest.mark.parametrize("size", [2**63, 2**64 + 1])
def test_a_batch_larger_than_any_data_is_all_of_it(size):
    """Keras 3.15 fails here (a negative shape, or an OverflowError); one batch of every row
    is what any batch size larger than the data means."""
    big, whole = _pair(fastnn), _pair(fastnn)
    h_big = big.fit(X, Y, batch_size=size, epochs=2, shuffle=False, verbose=0,
                    validation_split=0.25, validation_batch_size=size)
    h_whole = whole.fit(X, Y, batch_size=6, epochs=2, shuffle=False, verbose=0,
                        validation_split=0.25)
    assert h_big.history == h_whole.history
    for a, b in zip(big.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert big.evaluate(X, Y, batch_size=size, verbose=0) == whole.evaluate(X, Y, verbose=0)
    np.testing.assert_array_equal(big.predict(X, batch_size=size), whole.predict(X))
