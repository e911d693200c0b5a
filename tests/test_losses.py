"""fastnn._kernels._losses against the NumPy reference, Keras's golden values and finite
differences; fused logits forms against the unfused losses; thread-count determinism."""

import numpy as np
import pytest
from _reference import loss_reference, sparse_loss_reference
from conftest import LAYOUTS, as_layout, tolerance
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn._kernels import _losses

IDS = _losses.LOSS_IDS
SPARSE = ("sparse_categorical_crossentropy", "softmax_sparse_categorical_crossentropy")


# ---- inputs -----------------------------------------------------------------------------
# Each generator draws (y_true, y_pred) of shape (n, c) in the loss's domain, away from the
# clip boundaries and kinks (the tests at kinks are separate).


def _one_hot(rng, n, c):
    return np.eye(c)[rng.integers(0, c, n)]


def _rows_summing_to_one(rng, n, c, low=0.05):
    p = rng.uniform(low, 1.0, (n, c))
    return p / p.sum(-1, keepdims=True)


GENERATORS = {
    "real": lambda r, n, c: (r.normal(size=(n, c)), r.normal(size=(n, c))),
    "away_from_zero": lambda r, n, c: (
        r.choice([-1.0, 1.0], (n, c)) * r.uniform(0.5, 2.0, (n, c)),
        r.normal(size=(n, c)),
    ),
    "positive": lambda r, n, c: (r.uniform(-0.5, 3.0, (n, c)), r.uniform(0.05, 3.0, (n, c))),
    "counts": lambda r, n, c: (r.poisson(2.0, (n, c)).astype(float), r.uniform(0.1, 3.0, (n, c))),
    "plus_minus": lambda r, n, c: (r.choice([-1.0, 1.0], (n, c)), r.normal(size=(n, c))),
    "zero_one_real": lambda r, n, c: (r.choice([0.0, 1.0], (n, c)), r.normal(size=(n, c))),
    "binary_prob": lambda r, n, c: (r.choice([0.0, 1.0], (n, c)), r.uniform(0.02, 0.98, (n, c))),
    "soft_prob": lambda r, n, c: (r.uniform(0.0, 1.0, (n, c)), r.uniform(0.02, 0.98, (n, c))),
    "binary_logits": lambda r, n, c: (r.choice([0.0, 1.0], (n, c)), 3.0 * r.normal(size=(n, c))),
    "onehot_prob": lambda r, n, c: (_one_hot(r, n, c), r.uniform(0.05, 1.0, (n, c))),
    "onehot_real": lambda r, n, c: (_one_hot(r, n, c), r.normal(size=(n, c))),
    "onehot_logits": lambda r, n, c: (_one_hot(r, n, c), 3.0 * r.normal(size=(n, c))),
    "soft_logits": lambda r, n, c: (_rows_summing_to_one(r, n, c, 0.0), 3.0 * r.normal(size=(n, c))),
    "distributions": lambda r, n, c: (
        _rows_summing_to_one(r, n, c, 0.0),
        _rows_summing_to_one(r, n, c),
    ),
}

# (case id, loss name, kernel parameters, generator)
CASES = [
    ("mse", "mean_squared_error", {}, "real"),
    ("mae", "mean_absolute_error", {}, "real"),
    ("mape", "mean_absolute_percentage_error", {}, "away_from_zero"),
    ("msle", "mean_squared_logarithmic_error", {}, "positive"),
    ("squared_hinge", "squared_hinge", {}, "plus_minus"),
    ("squared_hinge01", "squared_hinge", {"hinge_binary_labels": True}, "zero_one_real"),
    ("hinge", "hinge", {}, "plus_minus"),
    ("hinge01", "hinge", {"hinge_binary_labels": True}, "zero_one_real"),
    ("categorical_hinge", "categorical_hinge", {}, "onehot_real"),
    ("log_cosh", "log_cosh", {}, "real"),
    ("cce", "categorical_crossentropy", {}, "onehot_prob"),
    ("cce_ls", "categorical_crossentropy", {"label_smoothing": 0.1}, "onehot_prob"),
    ("bce", "binary_crossentropy", {}, "binary_prob"),
    ("bce_soft_ls", "binary_crossentropy", {"label_smoothing": 0.2}, "soft_prob"),
    ("kld", "kl_divergence", {}, "distributions"),
    ("poisson", "poisson", {}, "counts"),
    ("cosine", "cosine_similarity", {}, "real"),
    ("huber", "huber", {}, "real"),
    ("huber_half", "huber", {"delta": 0.5}, "real"),
    ("focal", "binary_focal_crossentropy", {}, "binary_prob"),
    (
        "focal_all",
        "binary_focal_crossentropy",
        {"gamma": 1.5, "alpha": 0.3, "apply_class_balancing": True, "label_smoothing": 0.1},
        "soft_prob",
    ),
    ("focal_gamma0", "binary_focal_crossentropy", {"gamma": 0.0}, "binary_prob"),
    ("focal_logits", "binary_focal_crossentropy", {"from_logits": True}, "binary_logits"),
    (
        "focal_logits_all",
        "binary_focal_crossentropy",
        {"from_logits": True, "gamma": 3.0, "apply_class_balancing": True, "label_smoothing": 0.1},
        "binary_logits",
    ),
    ("softmax_cce", "softmax_categorical_crossentropy", {}, "onehot_logits"),
    ("softmax_cce_ls", "softmax_categorical_crossentropy", {"label_smoothing": 0.2}, "soft_logits"),
    ("sigmoid_bce", "sigmoid_binary_crossentropy", {}, "binary_logits"),
    ("sigmoid_bce_ls", "sigmoid_binary_crossentropy", {"label_smoothing": 0.1}, "binary_logits"),
    ("cfce", "categorical_focal_crossentropy", {}, "onehot_prob"),
    (
        "cfce_all",
        "categorical_focal_crossentropy",
        {"gamma": 1.5, "alpha": 0.4, "label_smoothing": 0.1},
        "onehot_prob",
    ),
    ("cfce_gamma0", "categorical_focal_crossentropy", {"gamma": 0.0}, "onehot_prob"),
    ("softmax_cfce", "softmax_categorical_focal_crossentropy", {}, "onehot_logits"),
    (
        "softmax_cfce_all",
        "softmax_categorical_focal_crossentropy",
        {"gamma": 3.0, "alpha": 0.5, "label_smoothing": 0.2},
        "soft_logits",
    ),
    ("dice", "dice", {}, "soft_prob"),
    ("dice01", "dice", {}, "binary_prob"),
    ("tversky", "tversky", {"alpha": 0.5, "beta": 0.5}, "binary_prob"),
    ("tversky_skew", "tversky", {"alpha": 0.3, "beta": 0.7}, "soft_prob"),
]
CASE_IDS = [case[0] for case in CASES]
# Every layout on the small shapes; the large one (past the parallel cut-off of 32768
# element-operations) in C order, since layouts are converted before the kernel sees them.
SHAPE_LAYOUTS = [((1, 1), layout) for layout in LAYOUTS] + [((7, 13), layout) for layout in LAYOUTS]
SHAPE_LAYOUTS += [((3001, 11), "c")]
SHAPE_LAYOUT_IDS = [f"{s[0]}x{s[1]}-{layout}" for s, layout in SHAPE_LAYOUTS]


def draw(generator, shape, seed=0):
    return GENERATORS[generator](np.random.default_rng(seed), *shape)


def run(name, y_true, y_pred, sample_weight=None, scale=1.0, n_threads=1, grad=True, **params):
    """(values, grad) from the kernel, outputs allocated in y_pred's dtype."""
    values = np.full(y_pred.shape[0], np.nan, dtype=y_pred.dtype)
    g = np.full(y_pred.shape, np.nan, dtype=y_pred.dtype) if grad else None
    _losses.loss_forward_backward(
        IDS[name], y_true, y_pred, sample_weight, scale, values, g, **params, n_threads=n_threads
    )
    return values, g


def run_sparse(name, labels, y_pred, sample_weight=None, scale=1.0, n_threads=1, grad=True):
    values = np.full(y_pred.shape[0], np.nan, dtype=y_pred.dtype)
    g = np.full(y_pred.shape, np.nan, dtype=y_pred.dtype) if grad else None
    _losses.sparse_loss_forward_backward(
        IDS[name], labels, y_pred, sample_weight, scale, values, g, n_threads=n_threads
    )
    return values, g


def test_loss_ids_cover_the_enum():
    assert sorted(int(v) for v in IDS.values()) == list(range(len(IDS)))
    assert len(IDS) == 25


# ---- against the reference ----------------------------------------------------------------


@pytest.mark.parametrize("shape, layout", SHAPE_LAYOUTS, ids=SHAPE_LAYOUT_IDS)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_reference(case, shape, layout, dtype, n_threads):
    _, name, params, generator = case
    y, p = (a.astype(dtype) for a in draw(generator, shape))
    w = np.random.default_rng(1).uniform(0.0, 2.0, shape[0]).astype(dtype)
    scale = 1.0 / shape[0]
    values, grad = run(
        name,
        as_layout(y, layout),
        as_layout(p, layout),
        as_layout(w, layout),
        scale,
        n_threads,
        **params,
    )
    ref_values, ref_grad = loss_reference(name, y, p, **params)
    tol = tolerance(dtype)
    np.testing.assert_allclose(values, ref_values, **tol)
    np.testing.assert_allclose(grad, ref_grad * (w.astype(np.float64) * scale)[:, None], **tol)


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("shape, layout", SHAPE_LAYOUTS, ids=SHAPE_LAYOUT_IDS)
@pytest.mark.parametrize("name", SPARSE)
def test_sparse_matches_reference(name, shape, layout, label_dtype, dtype, n_threads):
    rng = np.random.default_rng(2)
    n, c = shape
    labels = rng.integers(0, c, n).astype(label_dtype)
    if name == "sparse_categorical_crossentropy":
        p = rng.uniform(0.05, 1.0, shape)  # not normalised: the loss renormalises
    else:
        p = 3.0 * rng.normal(size=shape)
    p = p.astype(dtype)
    w = rng.uniform(0.0, 2.0, n).astype(dtype)
    values, grad = run_sparse(
        name, as_layout(labels, layout), as_layout(p, layout), as_layout(w, layout), 0.5, n_threads
    )
    ref_values, ref_grad = sparse_loss_reference(name, labels, p)
    tol = tolerance(dtype)
    np.testing.assert_allclose(values, ref_values, **tol)
    np.testing.assert_allclose(grad, ref_grad * (0.5 * w.astype(np.float64))[:, None], **tol)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_values_without_gradient_and_without_weights(case, dtype):
    _, name, params, generator = case
    y, p = (a.astype(dtype) for a in draw(generator, (9, 5), seed=3))
    values, _ = run(name, y, p, grad=False, **params)
    with_grad, grad = run(name, y, p, **params)
    np.testing.assert_array_equal(values, with_grad)
    _, ref_grad = loss_reference(name, y, p, **params)
    np.testing.assert_allclose(grad, ref_grad, **tolerance(dtype))


# ---- Keras 3 golden values (shared/reference/keras.md section 3.2) -----------------------

REGRESSION_Y = [[1.0, 2.0], [0.5, -1.0]]
REGRESSION_P = [[1.5, 1.0], [0.0, -3.0]]
BINARY_Y = [[1.0], [0.0], [1.0]]
BINARY_P = [[0.9], [0.2], [0.4]]
ONEHOT_Y = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
CATEGORICAL_P = [[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]

GOLDEN = [
    ("mean_squared_error", REGRESSION_Y, REGRESSION_P, {}, [0.625, 2.125]),
    ("mean_absolute_error", REGRESSION_Y, REGRESSION_P, {}, [0.75, 1.25]),
    ("mean_absolute_percentage_error", REGRESSION_Y, REGRESSION_P, {}, [50.0, 150.0]),
    ("huber", REGRESSION_Y, REGRESSION_P, {}, [0.3125, 0.8125]),
    ("log_cosh", REGRESSION_Y, REGRESSION_P, {}, [0.276948, 0.722559]),
    ("cosine_similarity", REGRESSION_Y, REGRESSION_P, {}, [-0.868243, -0.894427]),
    ("hinge", REGRESSION_Y, REGRESSION_P, {}, [0.0, 0.5]),
    ("squared_hinge", REGRESSION_Y, REGRESSION_P, {}, [0.0, 0.5]),
    ("binary_crossentropy", BINARY_Y, BINARY_P, {}, [0.105361, 0.223144, 0.916291]),
    ("binary_focal_crossentropy", BINARY_Y, BINARY_P, {}, [0.001054, 0.008926, 0.329865]),
    ("categorical_crossentropy", ONEHOT_Y, CATEGORICAL_P, {}, [0.356675, 1.203973]),
    ("kl_divergence", ONEHOT_Y, CATEGORICAL_P, {}, [0.356672, 1.203970]),
    ("categorical_hinge", ONEHOT_Y, CATEGORICAL_P, {}, [0.5, 1.1]),
]

GOLDEN_MEANS = [
    ("binary_crossentropy", BINARY_Y, BINARY_P, {}, 0.414932),
    ("binary_crossentropy", BINARY_Y, BINARY_P, {"label_smoothing": 0.1}, 0.467899),
    ("sigmoid_binary_crossentropy", BINARY_Y, BINARY_P, {}, 0.550769),
    ("categorical_crossentropy", ONEHOT_Y, CATEGORICAL_P, {"label_smoothing": 0.1}, 0.828840),
]


@pytest.mark.parametrize("name, y, p, params, expected", GOLDEN, ids=[g[0] for g in GOLDEN])
def test_keras_golden_values(name, y, p, params, expected, dtype):
    values, _ = run(name, np.array(y, dtype), np.array(p, dtype), **params)
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, y, p, params, expected", GOLDEN_MEANS)
def test_keras_golden_batch_means(name, y, p, params, expected, dtype):
    values, _ = run(name, np.array(y, dtype), np.array(p, dtype), **params)
    np.testing.assert_allclose(values.mean(), expected, rtol=1e-5)


def test_keras_golden_sparse(dtype):
    values, _ = run_sparse(
        "sparse_categorical_crossentropy", np.array([1, 0]), np.array(CATEGORICAL_P, dtype)
    )
    np.testing.assert_allclose(values, [0.356675, 1.203973], rtol=1e-5)


def test_sample_weight_and_scale_give_the_keras_batch_gradient():
    """sum(w_i l_i) / N: Keras's "sum_over_batch_size" with sample_weight = [1, 3] is 3.5."""
    y, p = np.array(REGRESSION_Y), np.array(REGRESSION_P)
    w = np.array([1.0, 3.0])
    values, grad = run("mean_squared_error", y, p, w, 0.5)
    assert (w * values).sum() / 2 == 3.5
    np.testing.assert_allclose(grad, (2.0 * (p - y) / 2) * w[:, None] * 0.5)


# ---- gradients against central differences -----------------------------------------------


def central_differences(values_of, p, h=1e-6):
    """d values_of(p)[i] / d p[i, j] by central differences."""
    grad = np.empty_like(p)
    for j in range(p.shape[1]):
        step = np.zeros_like(p)
        step[:, j] = h
        grad[:, j] = (values_of(p + step) - values_of(p - step)) / (2 * h)
    return grad


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_gradient_matches_central_differences(case):
    _, name, params, generator = case
    y, p = draw(generator, (5, 6), seed=4)
    _, grad = run(name, y, p, **params)
    numeric = central_differences(lambda q: run(name, y, q, grad=False, **params)[0], p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", SPARSE)
def test_sparse_gradient_matches_central_differences(name):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 6, 5)
    p = rng.uniform(0.05, 1.0, (5, 6)) if name == SPARSE[0] else 3.0 * rng.normal(size=(5, 6))
    _, grad = run_sparse(name, labels, p)
    numeric = central_differences(lambda q: run_sparse(name, labels, q, grad=False)[0], p)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_cosine_gradient_below_eps_norm():
    """Rows with |p| < eps divide by the constant eps: the loss is linear in p there."""
    rng = np.random.default_rng(6)
    y, p = rng.normal(size=(3, 4)), 1e-9 * rng.normal(size=(3, 4))
    values, grad = run("cosine_similarity", y, p)
    numeric = central_differences(lambda q: run("cosine_similarity", y, q, grad=False)[0], p, 1e-11)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6)
    np.testing.assert_allclose(values, loss_reference("cosine_similarity", y, p)[0], rtol=1e-12)


# ---- clips and kinks: TF's autodiff conventions ------------------------------------------


def test_clipped_probabilities_have_zero_gradient(dtype):
    y = np.array([[1.0, 0.0, 1.0, 0.0]], dtype)
    p = np.array([[0.0, 1.0, 1e-9, 1.5]], dtype)  # every entry clipped by BCE
    for name in ("binary_crossentropy", "kl_divergence", "binary_focal_crossentropy"):
        values, grad = run(name, y, p)
        assert np.isfinite(values).all() and np.isfinite(grad).all(), name
        if dtype == np.float64:  # in float32 1 - eps rounds to 1 - 1.19e-7, as in Keras
            ref_values, ref_grad = loss_reference(name, y, p)
            np.testing.assert_allclose(values, ref_values, rtol=1e-12)
            np.testing.assert_allclose(grad, ref_grad, rtol=1e-12)
    np.testing.assert_array_equal(run("binary_crossentropy", y, p)[1], 0.0)
    np.testing.assert_array_equal(run("kl_divergence", y, p)[1][0, 2:], 0.0)


def test_kinks_follow_tf():
    """At the kink max(x, 0) passes the gradient (TF's mask x >= 0); |0| has gradient 0;
    a tie for categorical hinge's max shares the gradient."""
    _, grad = run("hinge", np.array([[1.0, -1.0]]), np.array([[1.0, -1.0]]))
    np.testing.assert_array_equal(grad, [[-0.5, 0.5]])
    _, grad = run("mean_absolute_error", np.array([[2.0]]), np.array([[2.0]]))
    np.testing.assert_array_equal(grad, [[0.0]])
    values, grad = run("categorical_hinge", np.array([[1.0, 0.0, 0.0]]), np.array([[0.5, 2.0, 2.0]]))
    np.testing.assert_array_equal(values, [2.5])
    np.testing.assert_array_equal(grad, [[-1.0, 0.5, 0.5]])


# ---- fused logits forms ------------------------------------------------------------------


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("ls", [0.0, 0.1])
def test_softmax_cce_equals_cce_on_softmax(ls):
    rng = np.random.default_rng(7)
    y, z = _one_hot(rng, 50, 7), rng.normal(size=(50, 7))
    s = softmax(z)
    values, grad = run("softmax_categorical_crossentropy", y, z, label_smoothing=ls)
    unfused, grad_p = run("categorical_crossentropy", y, s, label_smoothing=ls)
    np.testing.assert_allclose(values, unfused, rtol=1e-12)
    # chain rule through softmax: dz = s * (dp - sum(s dp))
    np.testing.assert_allclose(grad, s * (grad_p - (s * grad_p).sum(-1, keepdims=True)), atol=1e-12)


@pytest.mark.parametrize("params", [{}, {"gamma": 0.5, "alpha": 1.0, "label_smoothing": 0.1}])
def test_softmax_cfce_equals_cfce_on_softmax(params):
    """The fused kernel the engine runs on a softmax output's logits is the unfused loss on the
    softmax, chain rule included (Keras applies no fusion here, so the two must agree)."""
    rng = np.random.default_rng(17)
    y, z = _one_hot(rng, 50, 7), 2.0 * rng.normal(size=(50, 7))
    s = softmax(z)
    values, grad = run("softmax_categorical_focal_crossentropy", y, z, **params)
    unfused, grad_p = run("categorical_focal_crossentropy", y, s, **params)
    np.testing.assert_allclose(values, unfused, rtol=1e-12)
    np.testing.assert_allclose(grad, s * (grad_p - (s * grad_p).sum(-1, keepdims=True)),
                               atol=1e-12)


def test_softmax_sparse_equals_sparse_on_softmax():
    rng = np.random.default_rng(8)
    labels, z = rng.integers(0, 7, 50), rng.normal(size=(50, 7))
    s = softmax(z)
    values, grad = run_sparse("softmax_sparse_categorical_crossentropy", labels, z)
    unfused, grad_p = run_sparse("sparse_categorical_crossentropy", labels, s)
    np.testing.assert_allclose(values, unfused, rtol=1e-12)
    np.testing.assert_allclose(grad, s * (grad_p - (s * grad_p).sum(-1, keepdims=True)), atol=1e-12)


@pytest.mark.parametrize(
    "fused, unfused, params",
    [
        ("sigmoid_binary_crossentropy", "binary_crossentropy", {}),
        ("sigmoid_binary_crossentropy", "binary_crossentropy", {"label_smoothing": 0.1}),
        ("binary_focal_crossentropy", "binary_focal_crossentropy", {"label_smoothing": 0.1}),
    ],
)
def test_sigmoid_forms_equal_loss_on_sigmoid(fused, unfused, params):
    rng = np.random.default_rng(9)
    y, z = rng.choice([0.0, 1.0], (40, 3)), 3.0 * rng.normal(size=(40, 3))
    s = sigmoid(z)
    logits = {"from_logits": True} if fused == "binary_focal_crossentropy" else {}
    values, grad = run(fused, y, z, **params, **logits)
    ref, grad_p = run(unfused, y, s, **params)
    np.testing.assert_allclose(values, ref, rtol=1e-9)
    np.testing.assert_allclose(grad, grad_p * s * (1.0 - s), rtol=1e-8, atol=1e-14)


EXTREME_LOGITS = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [3.0, 1e4, -2.0]])


@pytest.mark.parametrize(
    "name, params",
    [
        ("softmax_categorical_crossentropy", {}),
        ("softmax_categorical_crossentropy", {"label_smoothing": 0.1}),
        ("sigmoid_binary_crossentropy", {}),
        ("sigmoid_binary_crossentropy", {"label_smoothing": 0.1}),
        ("binary_focal_crossentropy", {"from_logits": True}),
        ("binary_focal_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ],
)
def test_extreme_logits(name, params, dtype):
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype)
    z = EXTREME_LOGITS.astype(dtype)
    values, grad = run(name, y, z, **params)
    assert np.isfinite(values).all() and np.isfinite(grad).all()
    ref_values, ref_grad = loss_reference(name, y, z, **params)
    np.testing.assert_allclose(values, ref_values, **tolerance(dtype))
    np.testing.assert_allclose(grad, ref_grad, **tolerance(dtype))


def test_extreme_logits_sparse(dtype):
    z = EXTREME_LOGITS.astype(dtype)
    labels = np.array([1, 0, 1])
    values, grad = run_sparse("softmax_sparse_categorical_crossentropy", labels, z)
    assert np.isfinite(values).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(values, [2e4, 2e4, 0.0], rtol=1e-6)
    _, ref_grad = sparse_loss_reference("softmax_sparse_categorical_crossentropy", labels, z)
    np.testing.assert_allclose(grad, ref_grad, **tolerance(dtype))


# ---- determinism --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_one_and_two_threads_bitwise_equal(case, dtype):
    _, name, params, generator = case
    y, p = (a.astype(dtype) for a in draw(generator, (4001, 9), seed=10))
    w = np.random.default_rng(11).uniform(0.0, 2.0, 4001).astype(dtype)
    one = run(name, y, p, w, 0.25, 1, **params)
    two = run(name, y, p, w, 0.25, 2, **params)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("name", SPARSE)
def test_sparse_one_and_two_threads_bitwise_equal(name, dtype):
    rng = np.random.default_rng(12)
    labels, p = rng.integers(0, 9, 4001), rng.uniform(0.05, 1.0, (4001, 9)).astype(dtype)
    one = run_sparse(name, labels, p, None, 0.25, 1)
    two = run_sparse(name, labels, p, None, 0.25, 2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


# ---- fuzzing ------------------------------------------------------------------------------

EXTREMES = [0.0, 1e-30, -1e-30, 1e-3, 0.5, 1.0, -1.0, 1e4, -1e4]
REAL = st.one_of(st.sampled_from(EXTREMES), st.floats(-100.0, 100.0))
UNIT = st.one_of(st.sampled_from([0.0, 1e-30, 1e-3, 0.5, 1.0]), st.floats(0.0, 1.0))
DOMAINS = {  # (y_true elements, y_pred elements) per generator
    "real": (REAL, REAL),
    "away_from_zero": (REAL, REAL),
    "positive": (REAL, st.one_of(UNIT, st.floats(0.0, 1e4))),
    "counts": (st.integers(0, 100).map(float), st.one_of(UNIT, st.floats(0.0, 1e4))),
    "plus_minus": (st.sampled_from([-1.0, 1.0]), REAL),
    "zero_one_real": (st.sampled_from([0.0, 1.0]), REAL),
    "binary_prob": (st.sampled_from([0.0, 1.0]), UNIT),
    "soft_prob": (UNIT, UNIT),
    "binary_logits": (st.sampled_from([0.0, 1.0]), REAL),
    "onehot_prob": (st.sampled_from([0.0, 1.0]), UNIT),
    "onehot_real": (st.sampled_from([0.0, 1.0]), REAL),
    "onehot_logits": (st.sampled_from([0.0, 1.0]), REAL),
    "soft_logits": (UNIT, REAL),
    "distributions": (UNIT, UNIT),
}


@st.composite
def fuzz_inputs(draw_, generator):
    n, c = draw_(st.integers(1, 6)), draw_(st.integers(1, 8))
    y_el, p_el = DOMAINS[generator]
    y = np.array(draw_(st.lists(y_el, min_size=n * c, max_size=n * c))).reshape(n, c)
    p = np.array(draw_(st.lists(p_el, min_size=n * c, max_size=n * c))).reshape(n, c)
    return y, p


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_fuzz_matches_reference(case):
    _, name, params, generator = case

    @settings(max_examples=25, deadline=None)
    @given(fuzz_inputs(generator))
    def check(yp):
        y, p = yp
        if name in ("categorical_crossentropy", "categorical_focal_crossentropy"):
            p[:, 0] += 1e-3  # renormalising a row that sums to 0 has no value
        values, grad = run(name, y, p, **params)
        ref_values, ref_grad = loss_reference(name, y, p, **params)
        assert np.isfinite(ref_values).all() and np.isfinite(ref_grad).all()
        assert np.isfinite(values).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(values, ref_values, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)

    check()


@pytest.mark.parametrize("name", SPARSE)
def test_fuzz_sparse_matches_reference(name):
    @settings(max_examples=40, deadline=None)
    @given(fuzz_inputs("onehot_prob" if name == SPARSE[0] else "onehot_logits"), st.data())
    def check(yp, data):
        _, p = yp
        labels = np.array(data.draw(st.lists(st.integers(0, p.shape[1] - 1), min_size=len(p),
                                             max_size=len(p))))
        values, grad = run_sparse(name, labels, p)
        ref_values, ref_grad = sparse_loss_reference(name, labels, p)
        assert np.isfinite(values).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(values, ref_values, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-12)

    check()
