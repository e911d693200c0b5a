"""scikeras's API with fastnn models: build functions and subclasses, pipelines, searches,
ensembles, calibration, prebuilt models, warm_start, partial_fit and current_epoch,
history_, compiling from the wrapper's parameters and initialize (the dense-model cases of
scikeras's test_api.py, written for fastnn)."""

import inspect
import pickle
from functools import partial

import numpy as np
import pytest
from _wrapper_models import dynamic_classifier, dynamic_regressor
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier, BaggingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import fastnn
from fastnn.layers import Activation, Dense, Input
from fastnn.models import Model, Sequential
from fastnn.sklearn import KerasClassifier, KerasRegressor


def _data(loader, n=100):
    data = loader()
    return data.data[:n], data.target[:n]


def basic_checks(estimator, loader):
    """fit, predict, score, and the same score after a pickle round trip."""
    X, y = _data(loader)
    estimator.fit(X, y)
    estimator.predict(X)
    score = estimator.score(X, y)
    copy = pickle.loads(pickle.dumps(estimator))
    copy.predict(X)
    np.testing.assert_almost_equal(copy.score(X, y), score)


def build_fn_clf(hidden_dim, meta, compile_kwargs):
    model = Sequential([Input(meta["X_shape_"][1:]), Dense(meta["n_features_in_"]),
                        Activation("relu"), Dense(hidden_dim), Activation("relu"),
                        Dense(meta["n_classes_"]), Activation("softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_fn_reg(hidden_dim, meta, compile_kwargs):
    model = Sequential([Input((meta["n_features_in_"],)), Dense(meta["n_features_in_"]),
                        Activation("relu"), Dense(hidden_dim), Activation("relu"), Dense(1)])
    model.compile(optimizer="sgd", loss="mean_absolute_error")
    return model


class InheritedClassifier(KerasClassifier):
    def _keras_build_fn(self, hidden_dim, meta, compile_kwargs):
        return build_fn_clf(hidden_dim, meta, compile_kwargs)


class InheritedRegressor(KerasRegressor):
    def _keras_build_fn(self, hidden_dim, meta, compile_kwargs):
        return build_fn_reg(hidden_dim, meta, compile_kwargs)


@pytest.mark.parametrize("estimator, loader", [
    (KerasClassifier(model=build_fn_clf, hidden_dim=5, verbose=0), load_iris),
    (InheritedClassifier(model=None, hidden_dim=5, verbose=0), load_iris),
    (KerasRegressor(model=build_fn_reg, hidden_dim=5, verbose=0), load_diabetes),
    (InheritedRegressor(model=None, hidden_dim=5, verbose=0), load_diabetes),
], ids=["classifier", "inherited-classifier", "regressor", "inherited-regressor"])
def test_basic_api(estimator, loader):
    basic_checks(estimator, loader)


CONFIG = {"regressor": (load_diabetes, KerasRegressor, dynamic_regressor, BaggingRegressor),
          "classifier": (load_iris, KerasClassifier, dynamic_classifier, BaggingClassifier)}


@pytest.mark.parametrize("config", CONFIG)
def test_standalone_pipeline_and_searches(config):
    loader, wrapper, build, _ = CONFIG[config]
    est = wrapper(build, epochs=1, verbose=0, model__hidden_layer_sizes=[])
    basic_checks(est, loader)
    basic_checks(Pipeline([("s", StandardScaler()), ("e", est)]), loader)
    est = wrapper(build, epochs=1, verbose=0, validation_split=0.1,
                  model__hidden_layer_sizes=[])
    search = GridSearchCV(est, {"model__hidden_layer_sizes": [[], [5]]}, cv=2)
    basic_checks(search, loader)
    assert search.best_estimator_.model_.layers[-1].units in (1, 3)
    random = RandomizedSearchCV(est, {"epochs": [1, 2], "optimizer": ["rmsprop", "sgd"]},
                                n_iter=2, cv=2, random_state=0)
    basic_checks(random, loader)
    assert type(random.best_estimator_.model_.optimizer).__name__.lower() == \
        random.best_params_["optimizer"]
    assert random.best_estimator_.current_epoch == random.best_params_["epochs"]


@pytest.mark.parametrize("config", CONFIG)
def test_ensembles_and_calibration(config):
    loader, wrapper, build, bagging = CONFIG[config]
    # Boosting needs better than chance from each member: a few epochs at a larger rate.
    base = wrapper(build, epochs=10, verbose=0, random_state=0, optimizer__learning_rate=0.05,
                   model__hidden_layer_sizes=[])
    basic_checks(bagging(estimator=base, n_estimators=2), loader)
    if wrapper is KerasClassifier:
        basic_checks(AdaBoostClassifier(estimator=base, n_estimators=2), loader)
        basic_checks(CalibratedClassifierCV(estimator=base, cv=3), loader)


@pytest.mark.parametrize("config", CONFIG)
def test_prebuilt_model_is_used_as_is(config):
    loader, wrapper, build, bagging = CONFIG[config]
    X, y = _data(loader)
    meta = {"n_features_in_": X.shape[1], "n_outputs_": 1, "target_type_": "multiclass",
            "n_classes_": len(np.unique(y)), "n_outputs_expected_": 1}
    model = build(meta=meta, hidden_layer_sizes=(20,),
                  compile_kwargs={"optimizer": "adam", "loss": None, "metrics": None})
    est = wrapper(model=model, verbose=0)
    basic_checks(est, loader)
    assert est.model_ is model           # scikeras trains the model it is given
    basic_checks(bagging(estimator=wrapper(model=model, verbose=0), n_estimators=2), loader)


def test_warm_start_keeps_the_model():
    X, y = _data(load_diabetes)
    est = KerasRegressor(dynamic_regressor, verbose=0, model__hidden_layer_sizes=(10,))
    est.fit(X, y)
    model = est.model_
    est.set_params(warm_start=True).fit(X, y)
    assert est.model_ is model
    est.set_params(warm_start=False)
    for _ in range(2):
        est.fit(X, y)
        assert est.model_ is not model
        model = est.model_


class CustomMetric(fastnn.metrics.MeanAbsoluteError):
    pass


def test_partial_fit_trains_one_epoch_each_and_keeps_the_model():
    X, y = _data(load_diabetes)
    est = KerasRegressor(dynamic_regressor, verbose=0, epochs=9, model__hidden_layer_sizes=[8],
                         metrics=["mse", CustomMetric(name="custom_metric")])
    for k in range(1, 4):
        est.partial_fit(X, y)
        assert len(est.history_["loss"]) == k
    assert set(est.history_) == {"loss", "mean_squared_error", "custom_metric"}
    # (fastnn's .keras files name built-in metrics only, so the pickle round trip uses those)
    est.set_params(metrics=["mse"]).fit(X, y)
    model = est.model_
    est = pickle.loads(pickle.dumps(est)).partial_fit(X, y)
    assert set(est.history_) == {"loss", "mean_squared_error"}
    assert len(est.history_["loss"]) == 10 and est.model_ is not model
    est.fit(X, y)
    assert len(est.history_["loss"]) == 9 and est.model_ is not model
    with pytest.raises(TypeError, match="always trains for 1 epoch"):
        est.partial_fit(X, y, epochs=2)


@pytest.mark.parametrize("warm_start", [True, False])
@pytest.mark.parametrize("prefix", ["", "fit__"])
def test_current_epoch(warm_start, prefix):
    X, y = _data(load_diabetes, 10)
    est = KerasRegressor(dynamic_regressor, verbose=0, model__hidden_layer_sizes=[],
                         warm_start=warm_start)
    est.set_params(**{prefix + "epochs": 2})
    for k in (1, 2):
        est.partial_fit(X, y)
        assert est.current_epoch == k
    est.fit(X, y)
    assert est.current_epoch == 2
    est.partial_fit(X, y)
    assert est.current_epoch == 3


def test_partial_fit_pickle_partial_fit_continues():
    X, y = _data(load_iris)
    clf = KerasClassifier(dynamic_classifier, verbose=0, model__hidden_layer_sizes=[16],
                          random_state=0).partial_fit(X, y)
    clf2 = clf
    for k in (2, 3):
        clf2 = pickle.loads(pickle.dumps(clf2)).partial_fit(X, y)
        assert len(clf.history_["loss"]) == 1 and len(clf2.history_["loss"]) == k
        assert clf2.history_["loss"][0] == clf.history_["loss"][0]
    assert clf2.history_["loss"][-1] < clf.history_["loss"][0]
    moved = [np.linalg.norm(a - b) for a, b in zip(clf.model_.get_weights(),
                                                    clf2.model_.get_weights())]
    assert all(m > 0 for m in moved)


def test_partial_fit_classes_before_they_appear():
    # scikeras's argument order: classes before sample_weight (scikit-learn's convention)
    assert list(inspect.signature(KerasClassifier.partial_fit).parameters) == \
        ["self", "X", "y", "classes", "sample_weight", "kwargs"]
    assert list(inspect.signature(KerasRegressor.partial_fit).parameters) == \
        ["self", "X", "y", "sample_weight", "kwargs"]
    clf = KerasClassifier(dynamic_classifier, verbose=0, loss="sparse_categorical_crossentropy",
                          model__hidden_layer_sizes=[100])
    X1 = np.array([[1, 2, 3], [4, 5, 6]]).T
    y1, y2 = np.array([1, 2, 2]), np.array([2, 3, 3])
    clf.partial_fit(X1, y1, classes=[1, 2, 3])
    np.testing.assert_array_equal(clf.classes_, [1, 2, 3])
    assert clf.model_.layers[-1].units == 3 and clf.target_type_ == "multiclass"
    clf.score(X1, y1)
    clf.partial_fit(X1, y2)
    assert set(clf.predict(X1)) <= {1, 2, 3} and clf.current_epoch == 2


def test_history_keys_are_full_metric_names():
    X, y = load_diabetes(return_X_y=True)

    def force_shorthand(hidden_layer_sizes, meta, compile_kwargs, params):
        model = dynamic_regressor(hidden_layer_sizes, meta, compile_kwargs)
        model.compile(optimizer=compile_kwargs["optimizer"], loss=compile_kwargs["loss"],
                      metrics=params["metrics"])
        return model

    est = KerasRegressor(force_shorthand, verbose=0, model__hidden_layer_sizes=(10,),
                         metrics=["mae"]).fit(X[:100], y[:100])
    assert "mae" not in est.history_ and "mean_absolute_error" in est.history_
    assert isinstance(est.history_, dict) and all(isinstance(v, list) and
                                                  isinstance(v[0], float)
                                                  for v in est.history_.values())
    assert est.history_["missing"] == []      # a defaultdict(list), as scikeras's


def test_uncompiled_model_compiles_from_the_wrapper_and_loss_mismatch_fails():
    X, y = _data(load_diabetes)

    def build_fn(my_loss=None):
        model = Sequential([Input((X.shape[1],)), Dense(X.shape[1]), Activation("relu"),
                            Dense(1)])
        if my_loss is not None:
            model.compile(loss=my_loss)
        return model

    loss = fastnn.losses.MeanAbsoluteError()
    est = KerasRegressor(build_fn, verbose=0, my_loss=loss).fit(X, y)
    assert est.model_.loss is loss
    est = KerasRegressor(build_fn, verbose=0, loss=fastnn.losses.MeanAbsoluteError(),
                         my_loss=loss).fit(X, y)
    assert est.model_.loss is loss
    est = KerasRegressor(build_fn, verbose=0, loss="mse").fit(X, y)   # compiled by the wrapper
    assert est.model_.loss is fastnn.losses.mean_squared_error and type(est.model_.optimizer).__name__ == "RMSprop"
    bad = KerasRegressor(build_fn, verbose=0, loss=fastnn.losses.CosineSimilarity(),
                         my_loss=loss)
    with pytest.raises(ValueError, match=" but model compiled with "):
        bad.fit(X, y)
    assert not bad.initialized_               # the failed fit changed nothing

    class DefaultLossNotNone(KerasRegressor):
        def __init__(self, *args, loss=fastnn.losses.CosineSimilarity(), **kwargs):  # noqa: B008
            super().__init__(*args, **kwargs, loss=loss)

    assert DefaultLossNotNone(build_fn, verbose=0, my_loss=loss).fit(X, y).model_.loss is loss
    with pytest.raises(ValueError, match=" but model compiled with "):
        DefaultLossNotNone(build_fn, verbose=0, loss=fastnn.losses.CategoricalHinge(),
                           my_loss=loss).fit(X, y)


def test_subclass_without_parameters():
    class Tiny(KerasClassifier):
        def __init__(self):
            super().__init__(verbose=0)

        def _keras_build_fn(self):
            model = Sequential([Input((2,)), Dense(2, activation="relu"),
                                Dense(1, activation="sigmoid")])
            model.compile(loss="binary_crossentropy")
            return model

    rng = np.random.RandomState(0)
    X, y = rng.random_sample((100, 2)), rng.randint(0, 2, size=100)
    assert set(Tiny().fit(X, y).predict(X)) <= {0, 1}


@pytest.mark.parametrize("wrapper", [KerasClassifier, KerasRegressor])
def test_initialize_a_trained_model(wrapper):
    inp = Input((1,))
    model = Model(inp, Dense(1)(inp))
    model.compile(loss="mae", optimizer="adam")
    rng = np.random.RandomState(0)
    X, y = rng.random_sample((100, 1)), rng.randint(0, 3, size=100)
    model.fit(X, y, verbose=0)
    expected = model.predict(X).reshape(-1)
    est = wrapper(model=model, verbose=0)
    with pytest.raises(NotFittedError):
        est.predict(X)
    est.initialize(X, y)
    got = est.predict_proba(X) if wrapper is KerasClassifier else est.predict(X)
    np.testing.assert_allclose(got, expected)
    assert est.model_ is model


def build_for_partial(input_size=100):
    inp = Input((input_size,))
    return Model(inp, Dense(1)(inp))


def test_partial_of_a_build_function():
    rng = np.random.RandomState(0)
    X, y = rng.random_sample((100, 1)), rng.uniform(0, 3, size=100)
    reg = KerasRegressor(partial(build_for_partial, input_size=1), loss="mse", verbose=0).fit(X, y)
    pickle.loads(pickle.dumps(reg)).predict(X)
