"""scikeras's parameter routing with fastnn models: what reaches the build function (by name,
through model__, meta/compile_kwargs/params), the optimizer, loss, metrics and callbacks, and
which value wins (the cases of scikeras's test_param_routing.py, written for fastnn)."""

import inspect

import numpy as np
import pytest
from _wrapper_models import dynamic_classifier, dynamic_regressor

import fastnn
from fastnn.layers import Dense, Input
from fastnn.models import Model, Sequential
from fastnn.sklearn import BaseWrapper, KerasClassifier, KerasRegressor

# scikeras 0.13's meta keys, from its test_param_routing.py.
CLASSIFIER_META = {"X_dtype_", "y_dtype_", "classes_", "target_type_", "n_classes_",
                   "n_features_in_", "X_shape_", "n_outputs_expected_", "y_ndim_", "n_outputs_",
                   "feature_encoder_", "target_encoder_"}
REGRESSOR_META = CLASSIFIER_META - {"classes_", "n_classes_"}
CASES = [(KerasClassifier, dynamic_classifier, CLASSIFIER_META),
         (KerasRegressor, dynamic_regressor, REGRESSOR_META)]


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    return rng.uniform(size=(20, 3)), rng.choice(3, size=20)


@pytest.mark.parametrize("wrapper, builder, expected_meta", CASES)
def test_build_function_gets_named_and_special_arguments(wrapper, builder, expected_meta, data):
    X, y = data
    marker = object()
    seen = []

    def build_fn(hidden_layer_sizes, foo, compile_kwargs, params, meta):
        assert set(params) == set(est.get_params())
        assert set(meta) == expected_meta
        assert set(compile_kwargs) <= wrapper._compile_kwargs
        assert meta["n_features_in_"] == 3 and meta["X_shape_"] == (20, 3)
        seen.append((hidden_layer_sizes, foo))
        return builder(hidden_layer_sizes=hidden_layer_sizes, compile_kwargs=compile_kwargs,
                       meta=meta)

    est = wrapper(model=build_fn, verbose=0, model__hidden_layer_sizes=(7,), model__foo=marker)
    est.fit(X, y)
    est = wrapper(model=build_fn, verbose=0, model__hidden_layer_sizes=(7,), foo=marker)
    est.fit(X, y)
    assert seen == [((7,), marker)] * 2
    assert est.model_.layers[1].units == 7


@pytest.mark.parametrize("wrapper, builder, expected_meta", CASES)
def test_kwargs_build_function_gets_fixed_order(wrapper, builder, expected_meta, data):
    X, y = data

    def build_fn(*args, **kwargs):
        assert args == ()
        assert tuple(kwargs) == ("hidden_layer_sizes", "meta", "compile_kwargs", "params")
        assert set(kwargs["meta"]) == expected_meta
        assert set(kwargs["compile_kwargs"]) <= wrapper._compile_kwargs
        kwargs.pop("params")
        return builder(**kwargs)

    wrapper(model=build_fn, verbose=0, model__hidden_layer_sizes=(4,)).fit(X, y)


@pytest.mark.parametrize("dest", ["fit", "compile", "predict"])
def test_routed_names_are_arguments_of_the_model(dest):
    accepted = set(inspect.signature(getattr(Model, dest)).parameters) - {"self", "kwargs"}
    assert getattr(BaseWrapper, f"_{dest}_kwargs") <= accepted


def test_routed_and_unrouted_build_arguments_are_equivalent(data):
    X, y = data
    a = KerasClassifier(dynamic_classifier, verbose=0, random_state=0,
                        model__hidden_layer_sizes=(6,)).fit(X, y)
    b = KerasClassifier(dynamic_classifier, verbose=0, random_state=0,
                        hidden_layer_sizes=(6,)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_fit_keyword_beats_routed_beats_plain(data):
    X, y = data[0][:, :1], (data[1] > 0).astype(int)
    calls = []

    class Recording(Sequential):
        def fit(self, *args, **kwargs):
            calls.append((kwargs["class_weight"], kwargs.pop("custom"), kwargs["batch_size"]))
            return super().fit(*args, **kwargs)

    def get_model():
        return Recording([Input((1,)), Dense(1, activation="sigmoid")])

    clf = KerasClassifier(get_model, loss="binary_crossentropy", verbose=0, batch_size=4,
                          fit__batch_size=5, fit__class_weight={0: 0.5, 1: 0.5},
                          fit__custom="constructor")
    clf.fit(X, y, custom="fit keyword")
    assert calls == [({0: 0.5, 1: 0.5}, "fit keyword", 5)]


def test_fit_and_predict_arguments_reach_the_model(data):
    X, y = data
    seen = {}

    class Recording(Sequential):
        def fit(self, *args, **kwargs):
            seen["fit"] = dict(kwargs)
            return super().fit(*args, **kwargs)

        def predict(self, *args, **kwargs):
            seen["predict"] = dict(kwargs)
            return super().predict(*args, **kwargs)

    def build(meta):
        return Recording([Input((3,)), Dense(meta["n_classes_"], activation="softmax")])

    clf = KerasClassifier(build, loss="sparse_categorical_crossentropy", verbose=0, epochs=3,
                          batch_size=-1, validation_batch_size=7, validation_split=0.25,
                          shuffle=False, run_eagerly=True, predict__batch_size=-1)
    clf.fit(X, y)
    fit = seen["fit"]
    assert (fit["batch_size"], fit["validation_batch_size"], fit["validation_split"]) == \
        (20, 7, 0.25)
    assert (fit["shuffle"], fit["verbose"], fit["epochs"], fit["initial_epoch"]) == \
        (False, 0, 3, 0)
    assert fit["sample_weight"] is None and fit["callbacks"] == []
    assert set(clf.history_) == {"loss", "val_loss"} and len(clf.history_["val_loss"]) == 3
    clf.predict(X)
    assert seen["predict"] == {"batch_size": 20, "verbose": 0, "callbacks": []}
    clf.partial_fit(X, y)
    assert (seen["fit"]["epochs"], seen["fit"]["initial_epoch"]) == (4, 3)
    assert clf.current_epoch == 4


def test_build_fn_is_the_older_name_of_model(data):
    X, y = data
    with pytest.warns(UserWarning, match="`build_fn` is the older name of `model`"):
        clf = KerasClassifier(build_fn=dynamic_classifier, verbose=0).fit(X, y)
    assert clf.model_.layers[-1].units == 3


def test_further_routed_keys_do_not_reach_the_optimizer(data):
    X, y = data[0][:, :1], (data[1] > 0).astype(int)
    clf = KerasClassifier(lambda: Sequential([Input((1,)), Dense(1, activation="sigmoid")]),
                          loss="binary_crossentropy", verbose=0,
                          optimizer__this_should_not_pass__abc="error!")
    clf.fit(X, y)
    assert type(clf.model_.optimizer).__name__ == "RMSprop"


def test_optimizer_loss_metrics_callbacks_are_built_from_routed_parameters(data):
    X, y = data

    def build(meta):   # uncompiled: the wrapper compiles it from its own parameters
        return Sequential([Input((meta["n_features_in_"],)), Dense(meta["n_classes_"],
                                                                   activation="softmax")])

    stops = []

    class Recorder(fastnn.callbacks.Callback):
        def __init__(self, tag="none"):
            super().__init__()
            self.tag = tag

        def on_train_end(self, logs=None):
            stops.append(self.tag)

    clf = KerasClassifier(build, verbose=0, epochs=3, optimizer="sgd",
                          optimizer__learning_rate=0.05, optimizer__momentum=0.5,
                          loss=fastnn.losses.SparseCategoricalCrossentropy,
                          loss__from_logits=False, metrics=[fastnn.metrics.SparseTopKCategoricalAccuracy],
                          metrics__0__k=2, metrics__0__name="top2",
                          callbacks=[Recorder], callbacks__0__tag="first",
                          fit__callbacks=[Recorder("fit only")])
    clf.fit(X, y)
    opt = clf.model_.optimizer
    assert type(opt).__name__ == "SGD"
    assert float(opt.learning_rate) == pytest.approx(0.05) and opt.momentum == 0.5
    assert isinstance(clf.model_.loss, fastnn.losses.SparseCategoricalCrossentropy)
    assert set(clf.history_) == {"loss", "top2"} and len(clf.history_["top2"]) == 3
    assert stops == ["first", "fit only"]


def test_set_params_reaches_routed_and_named_parameters(data):
    X, y = data
    clf = KerasClassifier(dynamic_classifier, verbose=0, hidden_layer_sizes=(3,))
    clf.set_params(hidden_layer_sizes=(5,), optimizer__learning_rate=0.2, fit__epochs=2)
    assert clf.hidden_layer_sizes == (5,) and clf.optimizer__learning_rate == 0.2
    clf.fit(X, y)
    assert clf.model_.layers[1].units == 5
    assert float(clf.model_.optimizer.learning_rate) == pytest.approx(0.2)
    assert clf.current_epoch == 2
