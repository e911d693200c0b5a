"""Bad input to the Keras wrappers: each is refused with a message saying what was wrong and
what is valid, and the estimator is left exactly as it was."""

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense
from fastnn.sklearn import KerasClassifier, KerasRegressor
from fastnn.wrappers import SKLearnClassifier, SKLearnRegressor

X = np.random.RandomState(0).normal(size=(40, 3))
Y = np.arange(40) % 2


def build(n_features_in, units=4):
    model = fastnn.Sequential([fastnn.Input((n_features_in,)), Dense(units, activation="relu"),
                               Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def snapshot(est):
    """Every attribute, with routed parameters, by identity."""
    state = {k: v for k, v in vars(est).items() if k != "_extra"}
    return state, dict(vars(est).get("_extra", {}))


def assert_unchanged(est, before):
    state, extra = snapshot(est)
    assert state.keys() == before[0].keys() and extra.keys() == before[1].keys()
    assert all(state[k] is v for k, v in before[0].items())
    assert all(extra[k] is v for k, v in before[1].items())


@pytest.mark.parametrize("bad", [{"unknown": 1}, {"epochs": 5, "unknown": 1},
                                 {"bogus__x": 1}, {"units": 3}])
def test_set_params_refuses_unknown_names(bad):
    est = KerasClassifier(build, epochs=2, verbose=0)
    before = snapshot(est)
    with pytest.raises(ValueError) as info:
        est.set_params(**bad)
    message = str(info.value)
    assert "Invalid parameter(s)" in message and "'epochs'" in message and "'verbose'" in message
    assert "optimizer__" in message and "model__" in message and "fit__" in message
    assert_unchanged(est, before)


@pytest.mark.parametrize("extra, names", [
    ({"unit": 3}, "['unit']"),
    ({"bogus__x": 1}, "['bogus__x']"),
    ({"model__colour": "red"}, "['model__colour']"),
])
def test_fit_refuses_arguments_that_reach_nothing(extra, names):
    est = KerasClassifier(build, verbose=0, **extra)
    before = snapshot(est)
    with pytest.raises(ValueError) as info:
        est.fit(X, Y)
    message = str(info.value)
    assert f"Invalid parameter(s) {names}" in message
    assert "The build function takes ['n_features_in', 'units']" in message
    assert "callbacks__" in message
    assert_unchanged(est, before)


def test_failed_refit_and_predict_change_nothing():
    est = KerasClassifier(build, epochs=2, verbose=0, random_state=0).fit(X, Y)
    before = snapshot(est)
    weights = [w.copy() for w in est.model_.get_weights()]
    with pytest.raises(ValueError, match="requires y to be passed"):
        est.fit(X, None)
    with pytest.raises(ValueError, match="X has 2 features, but KerasClassifier is expecting 3 "
                                         "features as input"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError, match="Found input variables with inconsistent numbers"):
        est.partial_fit(X, Y[:10])
    with pytest.raises(TypeError, match="always trains for 1 epoch"):
        est.partial_fit(X, Y, epochs=3)
    assert_unchanged(est, before)
    for a, b in zip(weights, est.model_.get_weights()):
        np.testing.assert_array_equal(a, b)


def uncompiled(n_features_in):
    return fastnn.Sequential([fastnn.Input((n_features_in,)), Dense(1, activation="sigmoid")])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"model": 42}, TypeError, "`model` must be a function that builds a fastnn model"),
    ({"model": None}, ValueError, "implement `_keras_build_fn`"),
    ({"model": build, "callbacks": ["stop"]}, TypeError, "`callbacks` must be a callback"),
    ({"model": uncompiled, "optimizer": fastnn.optimizers.Adam(), "loss": "bce",
      "optimizer__learning_rate": 0.1},
     TypeError, "is not a class, so it cannot take the parameters \\['learning_rate'\\]"),
    ({"model": build, "loss": "mse"}, ValueError, "loss='mse' but model compiled with"),
])
def test_bad_arguments_fail_at_fit_with_a_message(kwargs, error, match):
    est = KerasClassifier(verbose=0, **kwargs)
    before = snapshot(est)
    with pytest.raises(error, match=match):
        est.fit(X, Y)
    assert_unchanged(est, before)


def test_regressor_refuses_a_different_target_width_when_warm():
    est = KerasRegressor(lambda: _regressor(1), warm_start=True, verbose=0).fit(X, X[:, 0])
    before = snapshot(est)
    with pytest.raises(ValueError, match="y has 2 dimensions, but this KerasRegressor is "
                                         "expecting 1"):
        est.fit(X, X[:, :2])
    assert_unchanged(est, before)


def _regressor(width):
    model = fastnn.Sequential([fastnn.Input((3,)), Dense(width)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("y, match", [
    (np.zeros(40, dtype=int), "only one class is present"),
    (X[:, 0], ("Only binary and multiclass target types are supported. Target type: "
               "continuous")),
])
def test_keras_classifier_wrapper_refuses_targets(y, match):
    est = SKLearnClassifier(lambda X, y: _regressor(2), fit_kwargs={"verbose": 0})
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert not hasattr(est, "model_") and est.fit_kwargs == {"verbose": 0}
    est.fit(X, Y)
    before = snapshot(est)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    assert_unchanged(est, before)


def test_keras_wrappers_refuse_uncompiled_and_non_models():
    def uncompiled(X, y):
        return fastnn.Sequential([fastnn.Input((3,)), Dense(1)])

    with pytest.raises(RuntimeError, match="needs to be compiled, and have a loss"):
        SKLearnRegressor(uncompiled).fit(X, X[:, 0])
    with pytest.raises(TypeError, match="must be a compiled fastnn Model or a function"):
        SKLearnRegressor(42).fit(X, X[:, 0])
