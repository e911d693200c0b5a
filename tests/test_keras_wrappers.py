"""fastnn.wrappers against Keras 3's own keras.wrappers: the same build function, the same
starting weights and full-batch SGD give the same one-hot targets, outputs, labels and losses;
the constructor, attributes and what a fit leaves behind match too."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression

import fastnn
from fastnn import wrappers

WRAPPERS = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


def make_builder(keras, seen):
    """The dynamic_model of Keras's wrapper docs, with fixed starting weights and SGD."""

    def dynamic_model(X, y, loss, layers=(8,)):
        seen.append(np.array(y))
        inp = keras.Input(shape=(X.shape[1],))
        hidden = inp
        for size in layers:
            hidden = keras.layers.Dense(size, activation="relu")(hidden)
        n_outputs = y.shape[1] if len(y.shape) > 1 else 1
        activation = "softmax" if loss == "categorical_crossentropy" else None
        model = keras.Model(inp, keras.layers.Dense(n_outputs, activation=activation)(hidden))
        rng = np.random.RandomState(0)
        model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
        model.compile(loss=loss, optimizer=keras.optimizers.SGD(0.1))
        return model

    return dynamic_model


def fit_both(tf_keras, name, X, y, loss):
    out = []
    for keras, module in ((tf_keras, tf_keras.wrappers), (fastnn, wrappers)):
        seen = []
        est = getattr(module, name)(make_builder(keras, seen), model_kwargs={"loss": loss},
                                    fit_kwargs={"verbose": 0, "shuffle": False})
        est.fit(X, y, epochs=4, batch_size=len(X))
        out.append((est, seen[0]))
    return out


def test_classifier_matches_keras(tf_keras):
    X, y = make_classification(60, 5, n_informative=3, n_classes=3, random_state=0)
    labels = np.array(["ant", "bee", "cat"])[y]
    (theirs, y_theirs), (ours, y_ours) = fit_both(tf_keras, "SKLearnClassifier", X, labels,
                                                  "categorical_crossentropy")
    np.testing.assert_array_equal(y_ours, y_theirs)          # one-hot, classes in order
    assert y_ours.shape == (60, 3)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.history_.history["loss"], theirs.history_.history["loss"],
                               rtol=1e-5)
    assert ours.score(X, labels) == theirs.score(X, labels)


@pytest.mark.parametrize("name", ["SKLearnRegressor", "SKLearnTransformer"])
def test_regressor_and_transformer_match_keras(tf_keras, name):
    X, y = make_regression(50, 4, random_state=0)
    y = y / y.std()
    (theirs, y_theirs), (ours, y_ours) = fit_both(tf_keras, name, X, y, "mse")
    np.testing.assert_array_equal(y_ours, y_theirs)          # a column, as Keras's reshaper
    method = "predict" if name == "SKLearnRegressor" else "transform"
    a, b = getattr(ours, method)(X), getattr(theirs, method)(X)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.history_.history["loss"], theirs.history_.history["loss"],
                               rtol=1e-5)


@pytest.mark.parametrize("name", WRAPPERS)
def test_constructor_attributes_and_tags_match_keras(tf_keras, name):
    theirs = getattr(tf_keras.wrappers, name)(model=None)
    ours = getattr(wrappers, name)(model=None)
    assert ours.get_params() == theirs.get_params()
    from sklearn.utils import get_tags

    assert get_tags(ours) == get_tags(theirs)


def test_a_compiled_model_is_cloned_unless_warm_start():
    X, y = make_classification(40, 4, random_state=0)
    model = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=fastnn.optimizers.SGD(0.1), loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    est = wrappers.SKLearnClassifier(model, fit_kwargs={"epochs": 2, "verbose": 0})
    est.fit(X, y)
    assert est.model_ is not model and type(est.model_.optimizer).__name__ == "SGD"
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert est.epoch_ == 2 and est.fit_kwargs == {"epochs": 2, "verbose": 0}
    assert clone(est).fit_kwargs == {"epochs": 2, "verbose": 0}
    warm = wrappers.SKLearnClassifier(model, warm_start=True, fit_kwargs={"verbose": 0})
    warm.fit(X, y, epochs=3)
    assert warm.model_ is model and warm.epoch_ == 3 and warm.fit_kwargs == {"verbose": 0}
    first_loss = warm.history_.history["loss"][0]
    warm.fit(X, y, epochs=1)
    assert warm.model_ is model and warm.history_.history["loss"][0] < first_loss


def test_keras_name_and_lazy_import():
    assert fastnn.wrappers is wrappers
    assert fastnn.wrappers.SKLearnClassifier.__module__ == "fastnn.wrappers"
