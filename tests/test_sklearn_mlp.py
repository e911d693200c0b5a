"""fastnn.sklearn.MLPClassifier / MLPRegressor against scikit-learn's own MLP: same numbers
where the maths is the same, same attributes, same accuracy, plus the contracts joblib, dask and
threads rely on (pickle, clone, memory maps, partial_fit, concurrent predict, float32)."""

import pickle
import threading
import warnings

import joblib
import numpy as np
import pytest
from fastnn._kernels._openmp_helpers import effective_n_threads
from sklearn import neural_network as sk
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from fastnn.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(600, 8, n_informative=5, n_classes=3, random_state=0)
    return StandardScaler().fit_transform(X), y


def _regression(n_outputs=1):
    X, y = make_regression(300, 6, n_targets=n_outputs, noise=0.5, random_state=1)
    return StandardScaler().fit_transform(X), (y - y.mean(0)) / y.std(0)


# ---- the same numbers as scikit-learn ------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression", "multioutput"])
def test_same_trajectory_as_sklearn(blobs, solver, kind):
    """Same init (same RandomState stream), same shuffles, same update rule: with alpha=0 in
    float64 the loss curves agree to rounding, which pins the 1/2 and per-output factors,
    the learning-rate scaling of SGD and the epsilon scaling of Adam."""
    X, y = blobs
    if kind == "binary":
        y = y == 0
    if kind.startswith(("regression", "multioutput")):
        X, y = _regression(1 if kind == "regression" else 3)
    est = MLPRegressor if kind.startswith(("regression", "multioutput")) else MLPClassifier
    params = {"hidden_layer_sizes": (12, 7), "solver": solver, "alpha": 0.0, "max_iter": 8,
                  "batch_size": 64, "random_state": 3, "learning_rate_init": 0.01}
    ours = est(**params).fit(X, y)
    ref = getattr(sk, est.__name__)(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_same_trajectory_with_alpha(blobs, solver):
    """alpha/2 * sum(W**2) / batch rows on kernels only (fastnn.regularizers.L2BatchMean)."""
    X, y = blobs
    params = {"hidden_layer_sizes": (10,), "solver": solver, "alpha": 0.5, "max_iter": 5,
                  "random_state": 0, "learning_rate_init": 0.01}
    ours = MLPClassifier(**params).fit(X, y)
    ref = sk.MLPClassifier(**params).fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_sgd_schedules_and_momentum_like_sklearn(blobs):
    X, y = blobs
    for extra in ({"learning_rate": "invscaling", "power_t": 0.3, "momentum": 0.5},
                  {"learning_rate": "adaptive", "n_iter_no_change": 1, "tol": 0.5},
                  {"nesterovs_momentum": False, "momentum": 0.8}):
        params = dict(hidden_layer_sizes=(9,), solver="sgd", alpha=0.0, max_iter=12,
                      learning_rate_init=0.05, random_state=0, **extra)
        ours = MLPClassifier(**params).fit(X, y)
        ref = sk.MLPClassifier(**params).fit(X, y)
        assert ours.n_iter_ == ref.n_iter_, extra
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_sample_weight_sgd_matches_sklearn(blobs):
    X, y = blobs
    w = np.random.RandomState(0).uniform(0.1, 3.0, X.shape[0])
    params = {"hidden_layer_sizes": (8,), "solver": "sgd", "alpha": 0.0, "max_iter": 6,
                  "random_state": 0, "learning_rate_init": 0.05}
    ours = MLPClassifier(**params).fit(X, y, sample_weight=w)
    ref = sk.MLPClassifier(**params).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-9)


def test_lbfgs_close_to_sklearn(blobs):
    X, y = blobs
    params = {"hidden_layer_sizes": (10,), "solver": "lbfgs", "max_iter": 60, "random_state": 0}
    ours = MLPClassifier(**params).fit(X, y)
    ref = sk.MLPClassifier(**params).fit(X, y)
    assert ours.t_ == 0 and ours.n_iter_ == ref.n_iter_
    assert not hasattr(ours, "loss_curve_")
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=1e-4)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")


@pytest.mark.parametrize("name", ["classification", "digits"])
def test_accuracy_within_002_of_sklearn(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    else:
        X, y = make_classification(5000, 20, random_state=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, random_state=0)
    params = {"max_iter": 30, "random_state": 0}
    ours = MLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    ref = sk.MLPClassifier(**params).fit(Xtr, ytr).score(Xte, yte)
    assert abs(ours - ref) < 0.02, (ours, ref)


# ---- attributes and shapes -----------------------------------------------------------------

@pytest.mark.parametrize("target", ["binary", "multiclass", "multilabel", "strings"])
def test_classifier_attributes_like_sklearn(blobs, target):
    X, y = blobs
    if target == "binary":
        y = np.where(y == 0, 5, -1)
    elif target == "multilabel":
        y = np.stack([y == 0, y == 1, y != 1], axis=1).astype(int)
    elif target == "strings":
        y = np.array(["cat", "dog", "emu"])[y]
    ours = MLPClassifier((7,), max_iter=3, random_state=0).fit(X, y)
    ref = sk.MLPClassifier((7,), max_iter=3, random_state=0).fit(X, y)
    public = {k for k in vars(ref) if k.endswith("_") and not k.startswith("_")}
    assert public == {k for k in vars(ours) if k.endswith("_") and not k.startswith("_")}
    for attr in ("n_layers_", "n_outputs_", "out_activation_", "n_iter_", "t_",
                 "n_features_in_"):
        assert getattr(ours, attr) == getattr(ref, attr), attr
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    assert len(ours.loss_curve_) == ours.n_iter_
    proba = ours.predict_proba(X)
    assert proba.shape == ref.predict_proba(X).shape
    assert ours.predict(X).shape == ref.predict(X).shape
    assert ours.predict(X).dtype == ref.predict(X).dtype
    np.testing.assert_allclose(ours.predict_log_proba(X), np.log(proba))
    if target != "multilabel":
        np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-12)
        np.testing.assert_array_equal(ours.predict(X), ours.classes_[proba.argmax(1)])


def test_regressor_multioutput_and_poisson():
    X, y = _regression(3)
    reg = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=200, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (300, 3) and reg.n_outputs_ == 3
    assert reg.score(X, y) > 0.9
    counts = np.random.RandomState(0).poisson(np.exp(0.5 * X[:, 0]))
    p = MLPRegressor(hidden_layer_sizes=(8,), loss="poisson", max_iter=50, random_state=0).fit(X, counts)
    ref = sk.MLPRegressor(hidden_layer_sizes=(8,), loss="poisson", max_iter=50, random_state=0).fit(X, counts)
    assert p.out_activation_ == "exp"
    np.testing.assert_allclose(p.loss_, ref.loss_, rtol=1e-3)


def test_early_stopping_keeps_best(blobs):
    X, y = blobs
    est = MLPClassifier((8,), early_stopping=True, max_iter=40, n_iter_no_change=3,
                        random_state=0).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 40
    assert est.best_validation_score_ == max(est.validation_scores_)
    plain = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_convergence_warning_and_warm_start(blobs):
    X, y = blobs
    est = MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    first = [c.copy() for c in est.coefs_]
    est.fit(X, y)
    assert len(est.loss_curve_) == 4 and est.n_iter_ == 2
    assert not np.array_equal(first[0], est.coefs_[0])


def test_invalid_parameters_raise_in_fit_only(blobs):
    X, y = blobs
    est = MLPClassifier(solver="newton", alpha=-1)   # no error here
    with pytest.raises(ValueError, match="solver"):
        est.fit(X, y)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier(hidden_layer_sizes=(3, 0)).fit(X, y)


# ---- streaming, dtypes, copies and threads -------------------------------------------------

def test_partial_fit_equals_one_epoch_of_fit(blobs):
    X, y = blobs
    B, classes = 50, np.unique(y)
    full = MLPClassifier((9,), max_iter=1, shuffle=False, batch_size=B, random_state=0)
    full.fit(X, y)
    chunked = MLPClassifier((9,), shuffle=False, batch_size=B, random_state=0)
    for lo in range(0, len(X), B):
        chunked.partial_fit(X[lo:lo + B], y[lo:lo + B], classes=classes)
    for a, b in zip(full.coefs_ + full.intercepts_, chunked.coefs_ + chunked.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert chunked.t_ == len(X) and chunked.n_iter_ == 1
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="features"):
        chunked.partial_fit(X[:10, :5], y[:10])


def test_float32_stays_float32(blobs):
    X, y = blobs
    X32 = X.astype(np.float32)
    est = MLPClassifier((6,), max_iter=3, random_state=0).fit(X32, y)
    assert est._params.dtype == np.float32   # the engine's parameter buffer: float32 kernels
    assert all(w.dtype == np.float32 for w in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X32).dtype == np.float32
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0).fit(
        X32, y.astype(np.float32))
    assert reg.predict(X32).dtype == np.float32
    assert MLPClassifier((4,), max_iter=2).fit(X.astype(np.int64), y).coefs_[0].dtype \
        == np.float64


def test_clone_pickle_and_memmap_give_identical_predictions(blobs, tmp_path):
    X, y = blobs
    est = MLPClassifier((10,), alpha=1e-3, max_iter=5, random_state=0).fit(X, y)
    expected = est.predict_proba(X)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and not hasattr(copy, "coefs_")
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).predict_proba(X), expected)
    joblib.dump(est, tmp_path / "m.joblib")
    mapped = joblib.load(tmp_path / "m.joblib", mmap_mode="r")
    np.testing.assert_array_equal(mapped.predict_proba(X), expected)
    # training continues after a round trip (the optimizer's state travels too)
    again = pickle.loads(pickle.dumps(est)).partial_fit(X, y)
    est.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


def test_readonly_and_fortran_inputs(blobs):
    X, y = blobs
    ro = np.asfortranarray(X)
    ro.setflags(write=False)
    a = MLPClassifier((5,), max_iter=3, random_state=0).fit(ro, y).predict_proba(ro)
    b = MLPClassifier((5,), max_iter=3, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_predict_from_four_threads(blobs):
    X, y = blobs
    est = MLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)
    Xb = np.tile(X, (5, 1))
    expected = est.predict_proba(Xb)
    results, errors = [None] * 4, []

    def work(i):
        try:
            for _ in range(5):
                results[i] = est.predict_proba(Xb)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_threadpoolctl_limits_fastnn(blobs):
    X, y = blobs
    est = MLPClassifier((8,), max_iter=3, random_state=0)
    with threadpool_limits(1):
        assert effective_n_threads() == 1
        one = est.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(clone(est).fit(X, y).predict_proba(X), one, rtol=1e-12)


def test_pipeline_gridsearch_and_cross_val_on_memmapped_data():
    X, y = make_classification(8000, 40, n_informative=10, random_state=0)
    assert X.nbytes > 1_000_000    # joblib memory-maps it read-only in the workers
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=20, random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2],
            "mlpclassifier__hidden_layer_sizes": [(16,), (16, 8)]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gs = GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
        serial = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3, n_jobs=2)
    assert gs.best_score_ > 0.8 and hasattr(gs.best_estimator_[-1], "coefs_")
    np.testing.assert_allclose(gs.cv_results_["mean_test_score"],
                               serial.cv_results_["mean_test_score"])
    assert scores.min() > 0.8
