"""KerasClassifier / KerasRegressor: routing, clone keeping every parameter, seeds from
RandomState instances, labels of any type, the encoders and their hooks, class and sample
weights, pickling and parallel searches."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.multiclass import type_of_target

import fastnn
from fastnn.layers import Dense
from fastnn.sklearn import ClassifierLabelEncoder, KerasClassifier, KerasRegressor


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
    calls = []

    def build(n_features_in, n_classes, units=8, activation="relu"):
        model = fastnn.Sequential([fastnn.Input((n_features_in,)),
                                   Dense(units, activation=activation),
                                   Dense(n_classes, activation="softmax")])
        original = model.predict
        model.predict = lambda x, **kw: calls.append(kw) or original(x, **kw)
        return model        # uncompiled: compile__ parameters and the wrapper's compile it

    est = KerasClassifier(build, random_state=0, verbose=0, model__units=5,
                          model__activation="tanh", fit__epochs=7, fit__batch_size=64,
                          compile__optimizer="sgd",
                          compile__loss="sparse_categorical_crossentropy",
                          predict__batch_size=17).fit(X, y)
    assert est.model_.layers[0].units == 5
    assert est.model_.layers[0].get_config()["activation"] == "tanh"
    assert len(est.history_["loss"]) == 7
    assert type(est.model_.optimizer).__name__ == "SGD"
    assert est.predict(X).shape == (300,)
    assert calls[-1]["batch_size"] == 17 and calls[-1]["verbose"] == 0


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


def test_compiled_model_is_trained_in_place_and_clone_copies_it(data):
    X, y = data
    model = build_classifier(6, 3)
    before = [w.copy() for w in model.get_weights()]
    est = KerasClassifier(model, random_state=0, verbose=0, epochs=3)
    copy = clone(est)
    assert copy.model is not model            # scikit-learn's clone deep-copies the model
    est.fit(X, y)
    assert est.model_ is model and est.score(X, y) > 0.5    # scikeras trains it as is
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    for a, b in zip(before, copy.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_warm_start_keeps_the_model_history_restarts_and_pickle(data):
    X, y = data
    est = KerasClassifier(build_classifier, random_state=0, warm_start=True, verbose=0,
                          epochs=2)
    est.fit(X, y)
    first, loss = est.model_, est.history_["loss"][-1]
    est.fit(X, y)
    assert est.model_ is first and len(est.history_["loss"]) == 2    # as scikeras
    assert est.history_["loss"][0] < loss
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.predict_proba(X), est.predict_proba(X))
    assert copy.history_ == est.history_


def test_categorical_loss_gets_one_hot_targets_and_multilabel_passes_through(data):
    X, y = data

    def build(meta, compile_kwargs):
        model = fastnn.Sequential([fastnn.Input((meta["n_features_in_"],)),
                                   Dense(8, activation="relu"),
                                   Dense(meta["n_classes_"], activation="softmax")])
        model.compile(optimizer=fastnn.optimizers.Adam(0.02), loss=compile_kwargs["loss"]
                      or "categorical_crossentropy")
        return model

    for loss in ("categorical_crossentropy", None):   # the wrapper's or the model's own
        est = KerasClassifier(build, loss=loss, epochs=30, verbose=0, random_state=0)
        est.fit(X, y)
        assert est.target_encoder_.transform(y[:2]).tolist() == \
            np.eye(3)[np.searchsorted(est.classes_, y[:2])].tolist()
        assert est.score(X, y) > 0.8 and set(est.predict(X)) <= set(y)
    Y = np.stack([y == "x", y != "z"], axis=1).astype(int)

    def multilabel(meta):
        model = fastnn.Sequential([fastnn.Input((6,)), Dense(8, activation="relu"),
                                   Dense(meta["n_classes_"], activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model

    est = KerasClassifier(multilabel, epochs=40, verbose=0, random_state=0).fit(X, Y)
    assert est.target_type_ == "multilabel-indicator" and est.n_classes_ == 2
    assert est.predict(X).shape == (300, 2) and est.score(X, Y) > 0.6


def test_encoder_hooks_and_their_metadata(data):
    X, y = data
    seen = {}

    class Doubling(FunctionTransformer):
        def get_metadata(self):
            return {"doubled_": True}

    class MyClassifier(KerasClassifier):
        @property
        def feature_encoder(self):
            return Doubling(lambda a: 2 * a)

    def build(meta):
        seen.update(meta)
        return build_classifier(meta["n_features_in_"], meta["n_classes_"])

    est = MyClassifier(build, epochs=2, verbose=0, random_state=0).fit(X, y)
    assert seen["doubled_"] is True and est.doubled_ is True
    plain = KerasClassifier(build, epochs=2, verbose=0, random_state=0).fit(2 * X, y)
    np.testing.assert_allclose(est.predict_proba(X), plain.predict_proba(2 * X), rtol=1e-6)


def test_class_weight_and_zero_sample_weights(data):
    X, y = data
    weights = np.where(y == "x", 3.0, 1.0)
    a = KerasClassifier(build_classifier, epochs=3, verbose=0, random_state=0,
                        class_weight={"x": 3.0, "y": 1.0, "z": 1.0}).fit(X, y)
    b = KerasClassifier(build_classifier, epochs=3, verbose=0, random_state=0).fit(
        X, y, sample_weight=weights)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)
    given = np.ones(len(y))
    KerasClassifier(build_classifier, epochs=1, verbose=0, class_weight="balanced").fit(
        X, y, sample_weight=given)
    assert (given == 1).all()                  # the caller's array is left alone
    keep = y != "z"
    c = KerasClassifier(build_classifier, epochs=3, verbose=0, random_state=0).fit(
        X, y, sample_weight=keep.astype(float))
    d = KerasClassifier(build_classifier, epochs=3, verbose=0, random_state=0).fit(X[keep],
                                                                                y[keep])
    assert list(c.classes_) == ["x", "y", "z"] and list(d.classes_) == ["x", "y"]
    assert c.history_["loss"] != d.history_["loss"]    # same rows, different output width
    with pytest.raises(ValueError, match="non-zero"):
        KerasClassifier(build_classifier, verbose=0).fit(X, y, sample_weight=np.zeros(300))


def test_regressor_multioutput():
    X, y = make_regression(200, 5, n_targets=2, random_state=0)
    y = (y - y.mean(0)) / y.std(0)
    reg = KerasRegressor(build_regressor, random_state=0, verbose=0, epochs=60).fit(X, y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, y) > 0.8


def test_gridsearch_over_routed_parameters_in_processes():
    X, y = make_classification(4000, 40, random_state=0)
    assert X.nbytes > 1_000_000
    pipe = make_pipeline(StandardScaler(),
                         KerasClassifier(build_classifier, random_state=0, verbose=0,
                                         fit__epochs=3))
    grid = {"kerasclassifier__model__units": [4, 16], "kerasclassifier__fit__epochs": [2, 4]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = GridSearchCV(pipe, grid, cv=2, n_jobs=2).fit(X, y)
    assert gs.best_score_ > 0.8
    best = gs.best_estimator_[-1]
    assert best.model_.layers[0].units == gs.best_params_["kerasclassifier__model__units"]
    assert len(best.history_["loss"]) == gs.best_params_["kerasclassifier__fit__epochs"]


class SplitLabels(ClassifierLabelEncoder):
    """A multilabel y as one binary column per model output (scikeras's multi-output
    example): the target encoder decides how many outputs the model must have."""

    def fit(self, y):
        self.n_outputs_ = self.n_outputs_expected_ = y.shape[1]
        self.classes_, self.n_classes_ = [np.array([0, 1])] * y.shape[1], [2] * y.shape[1]
        return self

    def transform(self, y):
        return np.split(y.astype(np.float32), y.shape[1], axis=1)

    def inverse_transform(self, y, return_proba=False):
        stacked = np.column_stack(y)
        return stacked if return_proba else np.around(stacked).astype(int)


class MultiOutputClassifier(KerasClassifier):
    @property
    def target_encoder(self):
        return SplitLabels()


def build_heads(meta, heads=None):
    inp = fastnn.Input((meta["n_features_in_"],))
    hidden = Dense(8, activation="relu")(inp)
    outs = [Dense(1, activation="sigmoid")(hidden)
            for _ in range(heads or meta["n_outputs_expected_"])]
    model = fastnn.Model(inp, outs)
    model.compile(optimizer=fastnn.optimizers.Adam(0.05), loss="binary_crossentropy")
    return model


def test_target_encoder_sizes_a_multi_output_model(data):
    X, y = data
    Y = np.stack([y == "x", y != "z", y == "y"], axis=1).astype(int)
    est = MultiOutputClassifier(build_heads, epochs=30, verbose=0, random_state=0).fit(X, Y)
    assert len(est.model_.outputs) == 3 and est.n_outputs_expected_ == 3
    assert est.predict(X).shape == (300, 3) and est.predict_proba(X).shape == (300, 3)
    assert (est.predict(X) == Y).mean() > 0.8
    wrong = MultiOutputClassifier(build_heads, heads=2, verbose=0)
    with pytest.raises(ValueError, match="expects a model with 3 output\\(s\\), but the model "
                                         "has 2"):
        wrong.fit(X, Y)
    assert not wrong.initialized_


def test_encoder_subclass_reading_scikeras_attributes(data):
    # scikeras's multi-output example sets _target_type itself and defers to the base class
    # for other targets: the base class must use that attribute name, not shadow it.
    X, y = data

    class Deferring(ClassifierLabelEncoder):
        def fit(self, y):
            self._target_type = type_of_target(y)
            return super().fit(y)

        def inverse_transform(self, y, return_proba=False):
            assert self._target_type == "multiclass" and self._final_encoder is not None
            return super().inverse_transform(y, return_proba=return_proba)

    class Classifier(KerasClassifier):
        @property
        def target_encoder(self):
            return Deferring()

    est = Classifier(build_classifier, epochs=20, verbose=0, random_state=0).fit(X, y)
    plain = KerasClassifier(build_classifier, epochs=20, verbose=0, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), plain.predict(X))
