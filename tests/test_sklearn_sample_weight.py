"""Sample weights in MLPClassifier/MLPRegressor exactly as scikit-learn 1.9 has them: every
batch's objective is Σ w·loss / Σ w + alpha/2 · ΣW² / Σ w, so a weight of k is k repeated rows
whatever the solver and the batch size. The engine's "weights" normalization behind it is
checked against NumPy and central differences; Keras models keep Σ w·loss / rows."""

import warnings

import numpy as np
import pytest
from sklearn import neural_network as sk

import fastnn
from fastnn import regularizers
from fastnn.layers import Dense
from fastnn.sklearn import MLPClassifier

N = 200


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(N, 5)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    Y = np.c_[2 * X[:, 0] + X[:, 1], X[:, 2] - X[:, 3], X[:, 4] * X[:, 0]]
    return X, y, Y


def _fit_both(est_name, X, y, w, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # ConvergenceWarning after 3 epochs, both sides
        ours = getattr(fastnn.sklearn, est_name)(**params).fit(X, y, sample_weight=w)
        ref = getattr(sk, est_name)(**params).fit(X, y, sample_weight=w)
    return ours, ref


# lbfgs is full-batch: batch_size is not used.
SOLVER_BATCHES = [(s, b) for s in ("adam", "sgd") for b in (1, 7, 50, 200)] + [("lbfgs", N)]


@pytest.mark.parametrize(("solver", "batch_size"), SOLVER_BATCHES)
@pytest.mark.parametrize("est_name", ["MLPClassifier", "MLPRegressor"])
def test_coefficients_equal_sklearns_with_integer_weights(data, est_name, solver, batch_size):
    """Three outputs for the regressor: its loss scale c = 2/3 is not a power of two."""
    X, y, Y = data
    # Zero weights too, except where a batch of one zero-weight row would divide by zero.
    w = np.random.RandomState(batch_size).randint(0 if batch_size > 1 else 1, 5, N)
    ours, ref = _fit_both(est_name, X, y if est_name == "MLPClassifier" else Y, w,
                          hidden_layer_sizes=(6, 4), solver=solver, batch_size=batch_size,
                          max_iter=3, alpha=0.05, learning_rate_init=0.01, random_state=0)
    assert ours.n_iter_ == ref.n_iter_
    for a, b in zip(ours.coefs_ + ours.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.loss_, ref.loss_, rtol=1e-12)
    if solver != "lbfgs":
        np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-12)


def test_integer_weights_equal_repeated_rows(data):
    """The property itself, minibatch Adam with batches of different weight sums: fit on
    weights, and on the rows repeated, in full batches (the batches then hold the same
    samples)."""
    X, y, _ = data
    w = np.random.RandomState(1).randint(0, 4, N)
    params = {"hidden_layer_sizes": (5,), "batch_size": N, "max_iter": 4, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = MLPClassifier(**params).fit(X, y, sample_weight=w)
        repeated = MLPClassifier(**{**params, "batch_size": int(w.sum())}).fit(
            X.repeat(w, axis=0), y.repeat(w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=1e-12)


def test_poisson_loss_curve_uses_each_batchs_weighted_constant(data):
    """Poisson's y·log y - y constant enters the reported loss as each batch's own weighted
    mean (Keras's poisson adds 1e-7 inside the log, hence rtol 1e-6)."""
    X, _, _ = data
    counts = np.random.RandomState(2).poisson(np.exp(0.5 * X[:, :2]))
    w = np.random.RandomState(3).randint(0, 5, N)
    ours, ref = _fit_both("MLPRegressor", X, counts, w, loss="poisson",
                          hidden_layer_sizes=(6,), batch_size=7, max_iter=3,
                          learning_rate_init=0.01, random_state=0)
    np.testing.assert_allclose(ours.loss_curve_, ref.loss_curve_, rtol=1e-6)


def test_a_batch_of_zero_weight_raises_like_sklearn(data):
    X, y, _ = data
    w = np.ones(N)
    w[5] = 0
    params = {"hidden_layer_sizes": (4,), "batch_size": 1, "max_iter": 2, "shuffle": False}
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        sk.MLPClassifier(**params).fit(X, y, sample_weight=w)
    with pytest.raises(ZeroDivisionError, match="batch 5 .*larger batch_size"):
        MLPClassifier(**params).fit(X, y, sample_weight=w)
    w = np.where(np.arange(N) % 2, 1.0, -1.0)     # not all zero, but summing to zero
    with pytest.raises(ZeroDivisionError, match="Weights sum to zero"):
        sk.MLPClassifier(solver="lbfgs", max_iter=2).fit(X, y, sample_weight=w)
    with pytest.raises(ZeroDivisionError, match="divided by the sum of the sample weights"):
        MLPClassifier(solver="lbfgs", max_iter=2).fit(X, y, sample_weight=w)


# ---- the engine's normalization -------------------------------------------------------------

def _engine_model(l2, dtype="float64"):
    model = fastnn.Sequential([
        fastnn.Input((3,), dtype=dtype),
        Dense(4, activation="tanh", kernel_regularizer=regularizers.L2BatchMean(l2),
              dtype=dtype),
        Dense(2, kernel_regularizer=regularizers.L2BatchMean(l2), dtype=dtype)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.RandomState(4)
    for var in model.trainable_weights:
        var.assign(rng.uniform(-1, 1, var.shape))
    return model


def _numpy_objective(model, x, y, w, l2, by):
    k1, b1, k2, b2 = (np.asarray(v.numpy(), dtype=np.float64) for v in model.trainable_weights)
    p = np.tanh(x @ k1 + b1) @ k2 + b2
    denom = w.sum() if by == "weights" else x.shape[0]
    return (w * ((p - y) ** 2).mean(axis=1)).sum() / denom \
        + l2 * ((k1 ** 2).sum() + (k2 ** 2).sum()) / denom


@pytest.mark.parametrize("by", ["rows", "weights"])
def test_engine_normalization_matches_numpy_and_central_differences(by):
    rng = np.random.RandomState(5)
    x, y = rng.randn(9, 3), rng.randn(9, 2)
    w = rng.randint(1, 4, 9).astype(np.float64)
    w[2] = 0
    l2 = 0.3
    model = _engine_model(l2)
    plan = model._ensure_plan()
    assert plan.engine.normalization == "rows"     # Keras's reduction by default
    plan.engine.set_normalization(by)
    xs, ys, ws, _ = model._training_arrays(x, y, w, None)
    loss = plan.engine.loss_and_gradients(xs, ys[0], ws[0], 1)
    expected = _numpy_objective(model, x, y, w, l2, by)
    np.testing.assert_allclose(loss, expected, rtol=1e-13)
    np.testing.assert_allclose(plan.engine.penalty_sum / 9,
                               l2 * sum((v.numpy() ** 2).sum()
                                        for v in model.trainable_weights[::2])
                               / (w.sum() if by == "weights" else 9), rtol=1e-13)
    grads = plan.grads.copy()
    h = 1e-6
    for i in range(plan.params.shape[0]):
        keep = plan.params[i]
        plan.params[i] = keep + h
        up = _numpy_objective(model, x, y, w, l2, by)
        plan.params[i] = keep - h
        down = _numpy_objective(model, x, y, w, l2, by)
        plan.params[i] = keep
        np.testing.assert_allclose(grads[i], (up - down) / (2 * h), rtol=1e-6, atol=1e-9)
    total = plan.engine.evaluate(xs, ys[0], ws[0], 4, None, 1)    # batches of 4, 4, 1 rows
    batches = [slice(0, 4), slice(4, 8), slice(8, 9)]
    np.testing.assert_allclose(
        total, sum((b.stop - b.start) * _numpy_objective(model, x[b], y[b], w[b], l2, by)
                   for b in batches), rtol=1e-13)


def test_engine_normalization_rejects_bad_values():
    plan = _engine_model(0.1)._ensure_plan()
    with pytest.raises(ValueError, match="'rows' or 'weights'"):
        plan.engine.set_normalization("mean")
    assert plan.engine.normalization == "rows"
    a, b = fastnn.Input((3,)), Dense(2)
    two = fastnn.Model(a, [b(a), Dense(1)(a)])
    two.compile(optimizer="sgd", loss=["mse", "mse"])
    with pytest.raises(ValueError, match="one output; this one has 2"):
        two._ensure_plan().engine.set_normalization("weights")


def test_sklearn_face_normalizes_by_weight_and_keras_by_rows(data):
    X, y, _ = data
    est = MLPClassifier((4,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est._network(est._optimizer).plan.engine.normalization == "weights"
    model = _engine_model(0.1)
    model.fit(X[:, :3], np.c_[y, y].astype(float), epochs=1, verbose=0)
    assert model._ensure_plan().engine.normalization == "rows"
