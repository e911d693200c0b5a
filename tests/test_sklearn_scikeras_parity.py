"""fastnn.sklearn's wrappers against scikeras 0.13 itself (with TensorFlow's Keras models):
the same parameters, the same meta and compile_kwargs handed to a build function, the same
history keys, and the same target encoding and decoding."""

import numpy as np
import pytest

from fastnn import sklearn as ours
from fastnn.sklearn import _encoders

scikeras = pytest.importorskip("scikeras.wrappers")
transformers = pytest.importorskip("scikeras.utils.transformers")
X = np.random.RandomState(0).uniform(size=(30, 3))
Y = np.arange(30) % 3


def build_recorder(keras, record):
    def build(hidden=4, meta=None, compile_kwargs=None, params=None):
        record.update(meta=meta, compile_kwargs=compile_kwargs, params=params)
        inp = keras.Input((meta["n_features_in_"],))
        hidden_out = keras.layers.Dense(hidden, activation="relu")(inp)
        if "n_classes_" in meta:
            out = keras.layers.Dense(meta["n_classes_"], activation="softmax")(hidden_out)
            loss = compile_kwargs["loss"] or "sparse_categorical_crossentropy"
        else:
            out, loss = keras.layers.Dense(meta["n_outputs_"])(hidden_out), "mse"
        model = keras.Model(inp, out)
        model.compile(optimizer=compile_kwargs["optimizer"], loss=loss,
                      metrics=compile_kwargs["metrics"])
        return model
    return build


@pytest.mark.parametrize("name", ["KerasClassifier", "KerasRegressor"])
@pytest.mark.parametrize("kwargs", [
    {},
    {"epochs": 2, "hidden": 5, "optimizer": "adam", "optimizer__learning_rate": 0.05,
     "metrics": ["accuracy", "sparse_categorical_crossentropy"], "fit__batch_size": 8,
     "predict__batch_size": 4},
])
def test_same_parameters_meta_compile_kwargs_and_history(tf_keras, name, kwargs):
    theirs_rec, ours_rec = {}, {}
    y = Y if name == "KerasClassifier" else X[:, 0]
    if name == "KerasRegressor" and "metrics" in kwargs:
        kwargs = {**kwargs, "metrics": ["mse", "mae"]}
    theirs = getattr(scikeras, name)(build_recorder(tf_keras, theirs_rec), verbose=0, **kwargs)
    mine = getattr(ours, name)(build_recorder(__import__("fastnn"), ours_rec), verbose=0,
                               **kwargs)
    # scikeras's parameters, and fastnn's one addition: n_threads (issue #18).
    assert sorted(mine.get_params()) == sorted([*theirs.get_params(), "n_threads"])
    theirs.fit(X, y)
    mine.fit(X, y)
    assert set(ours_rec["meta"]) == set(theirs_rec["meta"])
    for key in ("n_features_in_", "X_shape_", "n_outputs_", "n_outputs_expected_",
                "target_type_", "y_ndim_", "n_classes_"):
        if key in theirs_rec["meta"]:
            assert np.all(ours_rec["meta"][key] == theirs_rec["meta"][key]), key
    assert str(ours_rec["meta"]["X_dtype_"]) == str(theirs_rec["meta"]["X_dtype_"])
    assert set(ours_rec["compile_kwargs"]) == set(theirs_rec["compile_kwargs"])
    opt_ours, opt_theirs = ours_rec["compile_kwargs"]["optimizer"], \
        theirs_rec["compile_kwargs"]["optimizer"]
    assert type(opt_ours).__name__ == type(opt_theirs).__name__
    assert float(opt_ours.learning_rate) == pytest.approx(float(opt_theirs.learning_rate))
    assert set(ours_rec["params"]) == set(theirs_rec["params"]) | {"n_threads"}
    assert sorted(mine.history_) == sorted(theirs.history_)
    assert mine.current_epoch == theirs.current_epoch == kwargs.get("epochs", 1)
    for attr in ("n_features_in_", "X_shape_", "n_outputs_expected_", "target_type_"):
        assert getattr(mine, attr) == getattr(theirs, attr), attr
    assert mine.predict(X).shape == theirs.predict(X).shape


LABELS = {
    "binary": np.array(["no", "yes"])[np.arange(12) % 2],
    "multiclass": np.array([3, 1, 2, 2, 1, 3, 3, 1, 2, 1, 2, 3]),
    "onehot": np.eye(3, dtype=int)[np.arange(12) % 3],
    "multilabel": (np.arange(24).reshape(12, 2) % 3 == 0).astype(int),
}


@pytest.mark.parametrize("kind", LABELS)
@pytest.mark.parametrize("loss", [None, "categorical_crossentropy"])
def test_classifier_target_encoding_matches(kind, loss):
    y = LABELS[kind]
    mine = _encoders.ClassifierLabelEncoder(loss=loss).fit(y)
    theirs = transformers.ClassifierLabelEncoder(loss=loss).fit(y)
    np.testing.assert_array_equal(mine.transform(y), theirs.transform(y))
    assert mine.get_metadata().keys() == theirs.get_metadata().keys()
    for key, value in theirs.get_metadata().items():
        np.testing.assert_array_equal(mine.get_metadata()[key], value)
    width = mine.transform(y).shape[1] if mine.transform(y).ndim == 2 else 1
    width = 1 if kind == "binary" else max(width, len(mine.classes_))
    raw = np.random.RandomState(1).uniform(size=(12, width)).astype(np.float32)
    np.testing.assert_array_equal(mine.inverse_transform(raw), theirs.inverse_transform(raw))
    np.testing.assert_allclose(mine.inverse_transform(raw, return_proba=True),
                               theirs.inverse_transform(raw, return_proba=True))


def test_partial_fit_categories_and_regressor_encoding_match():
    y = np.array([1, 2, 2])
    mine = _encoders.ClassifierLabelEncoder(categories=[np.array([1, 2, 3])]).fit(y)
    theirs = transformers.ClassifierLabelEncoder(categories=[np.array([1, 2, 3])]).fit(y)
    np.testing.assert_array_equal(mine.transform(y), theirs.transform(y))
    assert mine.n_classes_ == theirs.n_classes_ == 3
    for y in (X[:, 0], X[:, :2]):
        mine, theirs = _encoders.RegressorTargetEncoder().fit(y), \
            transformers.RegressorTargetEncoder().fit(y)
        assert mine.get_metadata() == theirs.get_metadata()
        raw = np.ones((len(y), 1 if y.ndim == 1 else 2))
        assert mine.inverse_transform(raw).shape == theirs.inverse_transform(raw).shape
