"""KerasClassifier / KerasRegressor: prefix routing, clone keeping every parameter, seeds from
RandomState instances, labels of any type, pickling and parallel searches."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastnn
from fastnn.layers import Dense
from fastnn.sklearn import KerasClassifier, KerasRegressor


def build_classifier(n_features_in, n_classes, units=8, activation="relu"):
    model = fastnn.Sequential([fastnn.Input((n_features_in,)),
                               Dense(units, activation=activation),
                               Dense(n_classes, activation="softmax")])
    model.compile(optimizer=fastnn.optimizers.Adam(0.02),
                  loss="sparse_categorical_crossentropy")
    return model


def build_binary(meta, units=8):
    model = fastnn.Sequential([fastnn.Input((meta["n_features_in_"],)),
                               Dense(units, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def build_regressor(X, n_outputs, units=16):
    model = fastnn.Sequential([fastnn.Input((X.shape[1],)), Dense(units, activation="relu"),
                               Dense(n_outputs)])
    model.compile(optimizer=fastnn.optimizers.Adam(0.02), loss="mse")
    return model


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X).astype(np.float32), np.array(["x", "y", "z"])[y]


def test_routing_reaches_build_fit_compile_predict(data):
    X, y = data
    est = KerasClassifier(build_classifier, random_state=0, model__units=5,
                          model__activation="tanh", fit__epochs=7, fit__batch_size=64,
                          compile__optimizer="sgd",
                          compile__loss="sparse_categorical_crossentropy",
                          predict__batch_size=17).fit(X, y)
    assert est.model_.layers[0].units == 5
    assert est.model_.layers[0].get_config()["activation"] == "tanh"
    assert len(est.history_["loss"]) == 7
    assert type(est.model_.optimizer).__name__ == "SGD"
    assert est.predict(X).shape == (300,)
    with pytest.raises(ValueError, match="Invalid parameter"):
        est.set_params(epochs=3)
    with pytest.raises(ValueError, match="routed parameters"):
        KerasClassifier(build_classifier, bogus__x=1).fit(X, y)


def test_clone_keeps_every_parameter():
    rs = np.random.RandomState(5)
    est = KerasClassifier(build_classifier, random_state=rs, warm_start=True,
                          model__units=4, fit__epochs=3, compile__loss="sparse_categorical_"
                          "crossentropy", predict__batch_size=9)
    copy = clone(est)
    params, copied = est.get_params(), copy.get_params()
    assert params.keys() == copied.keys()
    for key in params:
        if key == "random_state":
            assert copied[key].get_state()[1].tolist() == rs.get_state()[1].tolist()
        else:
            assert copied[key] == params[key], key
    grid_copy = clone(est.set_params(fit__epochs=2, model__units=6))
    assert grid_copy.get_params()["fit__epochs"] == 2
    assert grid_copy.get_params()["model__units"] == 6


def test_random_state_instances_give_distinct_seeds(data):
    X, y = data
    a = KerasClassifier(build_classifier, random_state=np.random.RandomState(0), fit__epochs=2)
    b = clone(a)
    pa, pb = a.fit(X, y).predict_proba(X), b.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(pa, pb)              # clones start from the same state
    assert not np.array_equal(a.fit(X, y).predict_proba(X), pa)   # the state advanced
    others = [KerasClassifier(build_classifier, random_state=np.random.RandomState(s),
                              fit__epochs=1).fit(X, y).predict_proba(X[:5]) for s in (1, 2)]
    assert not np.array_equal(others[0], others[1])    # not every RandomState is seed 0
    fixed = [KerasClassifier(build_classifier, random_state=3, fit__epochs=2).fit(X, y)
             for _ in range(2)]
    np.testing.assert_array_equal(fixed[0].predict_proba(X), fixed[1].predict_proba(X))


def test_labels_and_probabilities(data):
    X, y = data
    est = KerasClassifier(build_classifier, random_state=0, fit__epochs=40).fit(X, y)
    np.testing.assert_array_equal(est.classes_, ["x", "y", "z"])
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(1)])
    assert est.score(X, y) > 0.8
    yb = np.where(y == "x", "yes", "no")
    binary = KerasClassifier(build_binary, random_state=0, fit__epochs=30).fit(X, yb)
    assert binary.predict_proba(X).shape == (300, 2)
    assert set(binary.predict(X)) <= {"yes", "no"} and binary.score(X, yb) > 0.8


def test_compiled_model_is_cloned_not_trained(data):
    X, y = data
    model = build_classifier(6, 3)
    before = [w.copy() for w in model.get_weights()]
    est = KerasClassifier(model, random_state=0, fit__epochs=3).fit(X, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert est.model_ is not model and est.score(X, y) > 0.5


def test_warm_start_appends_history_and_pickle(data):
    X, y = data
    est = KerasClassifier(build_classifier, random_state=0, warm_start=True, fit__epochs=2)
    est.fit(X, y).fit(X, y)
    assert len(est.history_["loss"]) == 4
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))


def test_regressor_multioutput():
    X, y = make_regression(200, 5, n_targets=2, random_state=0)
    y = (y - y.mean(0)) / y.std(0)
    reg = KerasRegressor(build_regressor, random_state=0, fit__epochs=60).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, y) > 0.8


def test_gridsearch_over_routed_parameters_in_processes():
    X, y = make_classification(4000, 40, random_state=0)
    assert X.nbytes > 1_000_000
    pipe = make_pipeline(StandardScaler(),
                         KerasClassifier(build_classifier, random_state=0, fit__epochs=3))
    grid = {"kerasclassifier__model__units": [4, 16], "kerasclassifier__fit__epochs": [2, 4]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert gs.best_score_ > 0.8
    best = gs.best_estimator_[-1]
    assert best.model_.layers[0].units == gs.best_params_["kerasclassifier__model__units"]
    assert len(best.history_["loss"]) == gs.best_params_["kerasclassifier__fit__epochs"]
