"""fastnn.sklearn's MLPs through skl2onnx (``register_onnx_converters``): the converted file,
run by ONNX Runtime, gives ``predict`` and ``predict_proba`` (labels exactly, values to 1e-5
in float32), alone and inside a pipeline, with the outputs skl2onnx gives scikit-learn's
MLPClassifier."""

import sys
import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastnn.sklearn import MLPClassifier, MLPRegressor, register_onnx_converters

TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-12, "atol": 1e-12}}
_rng = np.random.default_rng(0)
X = _rng.normal(size=(60, 5))
Y_CLASS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)


@pytest.fixture(autouse=True, scope="module")
def _converters():
    register_onnx_converters()
    register_onnx_converters()      # again: harmless


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def _run(onx, X):
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session, session.run(None, {session.get_inputs()[0].name: X})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("labels", ["int", "str", "binary"])
def test_classifier(labels, activation, dtype):
    y = {"int": Y_CLASS + 3, "str": np.array(["ant", "bee", "cat"])[Y_CLASS],
         "binary": Y_CLASS > 0}[labels]
    Xd = X.astype(dtype)
    clf = _fit(MLPClassifier((7, 4), activation=activation, max_iter=30, random_state=0), Xd, y)
    onx = skl2onnx.to_onnx(clf, Xd[:1], options={id(clf): {"zipmap": False}})
    session, (label, proba) = _run(onx, Xd)
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]
    assert proba.dtype == dtype
    np.testing.assert_allclose(proba, clf.predict_proba(Xd), **TOL[dtype])
    expected = clf.predict(Xd)
    assert label.tolist() == (expected.astype(np.int64) if labels == "binary"
                              else expected).tolist()


def test_outputs_are_those_of_sklearns_own_converter():
    y = np.array(["ant", "bee", "cat"])[Y_CLASS]
    Xf = X.astype(np.float32)
    ours = _fit(MLPClassifier((6,), max_iter=20, random_state=0), Xf, y)
    theirs = _fit(SkMLPClassifier((6,), max_iter=20, random_state=0), Xf, y)
    seen = []
    for est in (ours, theirs):
        session, out = _run(skl2onnx.to_onnx(est, Xf[:1]), Xf)     # zipmap by default
        seen.append(([(o.name, o.type) for o in session.get_outputs()], sorted(out[1][0])))
    assert seen[0] == seen[1]
    assert seen[0][1] == ["ant", "bee", "cat"]


def test_zipmap_probabilities_match():
    Xf = X.astype(np.float32)
    clf = _fit(MLPClassifier((6,), max_iter=20, random_state=1), Xf, Y_CLASS)
    _, (label, maps) = _run(skl2onnx.to_onnx(clf, Xf[:1]), Xf)
    proba = np.array([[m[c] for c in clf.classes_] for m in maps])
    np.testing.assert_allclose(proba, clf.predict_proba(Xf), **TOL[np.float32])
    np.testing.assert_array_equal(label, clf.predict(Xf))


def test_multilabel():
    Xf = X.astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] > 0.3, X[:, 0] + X[:, 2] > 0], axis=1).astype(int)
    clf = _fit(MLPClassifier((8,), max_iter=30, random_state=0), Xf, Y)
    _, (label, proba) = _run(skl2onnx.to_onnx(clf, Xf[:1], options={"zipmap": False}), Xf)
    np.testing.assert_allclose(proba, clf.predict_proba(Xf), **TOL[np.float32])
    np.testing.assert_array_equal(label, clf.predict(Xf))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regressor(n_targets, loss, dtype):
    Xd = X.astype(dtype)
    y = np.abs(X[:, :n_targets]) + 0.1
    reg = _fit(MLPRegressor(loss=loss, hidden_layer_sizes=(9,), activation="tanh",
                            max_iter=30, random_state=0), Xd, y if n_targets > 1 else y[:, 0])
    _, (pred,) = _run(skl2onnx.to_onnx(reg, Xd[:1]), Xd)
    assert pred.shape == (len(X), n_targets) and pred.dtype == dtype
    np.testing.assert_allclose(pred, reg.predict(Xd).reshape(len(X), n_targets), **TOL[dtype])


def test_pipeline_and_convert_sklearn():
    Xf = (X * [1, 10, 100, 0.1, 1]).astype(np.float32)
    pipe = _fit(make_pipeline(StandardScaler(), MLPClassifier((8,), max_iter=30,
                                                              random_state=0)), Xf, Y_CLASS)
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[("x", FloatTensorType([None, 5]))],
                                   options={MLPClassifier: {"zipmap": False}})
    _, (label, proba) = _run(onx, Xf)
    np.testing.assert_allclose(proba, pipe.predict_proba(Xf), **TOL[np.float32])
    np.testing.assert_array_equal(label, pipe.predict(Xf))

    reg = _fit(make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(5,),
                                                            max_iter=30, random_state=0)),
               X, X[:, 0] * 2)
    onx = skl2onnx.convert_sklearn(reg, initial_types=[("x", DoubleTensorType([None, 5]))])
    _, (pred,) = _run(onx, X)
    np.testing.assert_allclose(pred[:, 0], reg.predict(X), **TOL[np.float64])


def test_float32_model_on_double_input():
    # predict casts its input to the weights' dtype; so does the converted graph.
    Xf = X.astype(np.float32)
    reg = _fit(MLPRegressor(hidden_layer_sizes=(5,), max_iter=30, random_state=0), Xf, X[:, 1])
    onx = skl2onnx.to_onnx(reg, X[:1])
    _, (pred,) = _run(onx, X)
    assert pred.dtype == np.float64
    np.testing.assert_array_equal(pred[:, 0], reg.predict(X))


def test_without_skl2onnx_the_error_names_the_extra(monkeypatch):
    import fastnn.export._skl2onnx as module

    monkeypatch.setattr(module, "_REGISTERED", False)
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match="fastnn\\[onnx\\]"):
        register_onnx_converters()
