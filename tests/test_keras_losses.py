"""fastnn.losses against Keras 3 (tf.keras): per-sample values under every accepted name,
reductions, sample weights, goldens, names, configs and the engine's view of a loss."""

import numpy as np
import pytest

from fastnn import losses as L
from fastnn._kernels._losses import LOSS_IDS

TOL = {"rtol": 1e-5, "atol": 1e-5}
REDUCTIONS = ["sum_over_batch_size", "sum", "none", None, "mean", "mean_with_sample_weight"]
KERAS2_ALIASES = {
    "logcosh": "log_cosh",
    "huber_loss": "huber",
    "kullback_leibler_divergence": "kl_divergence",
    "cosine_proximity": "cosine_similarity",
}
ALL_NAMES = [n for n in L._REGISTRY.names if n != "LossFunctionWrapper"]


def _canonical(name):
    """The function name behind any accepted name (class names included)."""
    obj = L.get(KERAS2_ALIASES.get(name, name))
    return obj.fn.__name__ if isinstance(obj, L.Loss) else obj.__name__


def make_data(fn_name, rng, n=37, logits=False):
    """float32 (y_true, y_pred) suited to the loss, with edge values where the loss clips."""
    c = 4
    f32 = np.float32
    onehot = np.eye(c, dtype=f32)[rng.integers(0, c, n)]
    probs = rng.dirichlet(np.ones(c), n).astype(f32)
    if fn_name in ("binary_crossentropy", "binary_focal_crossentropy"):
        y = rng.integers(0, 2, (n, 3)).astype(f32)
        p = (
            rng.normal(0, 3, (n, 3)).astype(f32)
            if logits
            else rng.uniform(0, 1, (n, 3)).astype(f32)
        )
        if not logits:
            p[0, 0], p[1, 1], p[2, 2] = 0.0, 1.0, 1e-9
        return y, p
    if fn_name in ("categorical_crossentropy", "kl_divergence"):
        p = rng.normal(0, 3, (n, c)).astype(f32) if logits else probs
        return onehot if fn_name == "categorical_crossentropy" else rng.dirichlet(
            np.ones(c), n
        ).astype(f32), p
    if fn_name == "sparse_categorical_crossentropy":
        p = rng.normal(0, 3, (n, c)).astype(f32) if logits else probs
        return rng.integers(0, c, n), p
    if fn_name == "categorical_hinge":
        return onehot, rng.normal(0, 1, (n, c)).astype(f32)
    if fn_name in ("hinge", "squared_hinge"):
        return rng.integers(0, 2, (n, 3)).astype(f32), rng.normal(0, 1, (n, 3)).astype(f32)
    if fn_name == "circle":  # integer labels, L2-normalized embeddings
        e = rng.normal(0, 1, (n, 3)).astype(f32)
        return rng.integers(0, 5, n), e / np.linalg.norm(e, axis=1, keepdims=True)
    if fn_name == "categorical_focal_crossentropy":
        return onehot, probs
    if fn_name == "poisson":
        return rng.poisson(2, (n, 3)).astype(f32), rng.uniform(0.05, 4, (n, 3)).astype(f32)
    if fn_name in ("dice", "tversky"):
        # Their domain: masks and probabilities. On normal(0, 2) data the batch's denominator
        # can cancel to near 0, and float32 rounding then moves the value by whole units.
        return rng.integers(0, 2, (n, 3)).astype(f32), rng.uniform(0, 1, (n, 3)).astype(f32)
    return rng.normal(0, 2, (n, 3)).astype(f32), rng.normal(0, 2, (n, 3)).astype(f32)


@pytest.fixture(scope="module")
def keras(tf_keras):
    return tf_keras


def keras_loss(keras, name):
    return keras.losses.get(KERAS2_ALIASES.get(name, name))


# --- goldens (section 3.2 of the Keras reference), no TensorFlow needed ------------------------

YT = [[1, 2], [0.5, -1]]
YP = [[1.5, 1], [0, -3]]
ONEHOT, PROBS = [[0, 1, 0], [1, 0, 0]], [[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]
BIN_T, BIN_P = [[1], [0], [1]], [[0.9], [0.2], [0.4]]


@pytest.mark.parametrize(
    "name, y_true, y_pred, expected",
    [
        ("mse", YT, YP, [0.625, 2.125]),
        ("mae", YT, YP, [0.75, 1.25]),
        ("mape", YT, YP, [50, 150]),
        ("huber", YT, YP, [0.3125, 0.8125]),
        ("log_cosh", YT, YP, [0.276948, 0.722559]),
        ("cosine_similarity", YT, YP, [-0.868243, -0.894427]),
        ("hinge", YT, YP, [0, 0.5]),
        ("squared_hinge", YT, YP, [0, 0.5]),
        ("binary_crossentropy", BIN_T, BIN_P, [0.105361, 0.223144, 0.916291]),
        ("binary_focal_crossentropy", BIN_T, BIN_P, [0.001054, 0.008926, 0.329865]),
        ("categorical_crossentropy", ONEHOT, PROBS, [0.356675, 1.203973]),
        ("sparse_categorical_crossentropy", [1, 0], PROBS, [0.356675, 1.203973]),
        ("kl_divergence", ONEHOT, PROBS, [0.356672, 1.203970]),
        ("categorical_hinge", ONEHOT, PROBS, [0.5, 1.1]),
    ],
)
def test_golden_per_sample(name, y_true, y_pred, expected):
    out = L.get(name)(np.array(y_true, np.float32), np.array(y_pred, np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=2e-6)


def test_golden_reduced():
    yt, yp = np.array(BIN_T, np.float32), np.array(BIN_P, np.float32)
    assert L.BinaryCrossentropy()(yt, yp) == pytest.approx(0.414932, abs=1e-6)
    assert L.BinaryCrossentropy(label_smoothing=0.1)(yt, yp) == pytest.approx(0.467899, abs=1e-6)
    assert L.BinaryCrossentropy(from_logits=True)(yt, yp) == pytest.approx(0.550769, abs=1e-6)
    cce = L.CategoricalCrossentropy(label_smoothing=0.1)(ONEHOT, PROBS)
    assert cce == pytest.approx(0.828840, abs=1e-6)
    assert L.MeanSquaredError()(YT, YP, sample_weight=[1, 3]) == pytest.approx(3.5)


# --- every accepted name against Keras ----------------------------------------------------------


@pytest.mark.parametrize("name", ALL_NAMES)
def test_every_name_matches_keras(keras, name):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    y_true, y_pred = make_data(_canonical(name), rng)
    ours, theirs = L.get(name), keras_loss(keras, name)
    assert isinstance(ours, L.Loss) == (
        not callable(theirs) or isinstance(theirs, keras.losses.Loss)
    )
    np.testing.assert_allclose(ours(y_true, y_pred), np.asarray(theirs(y_true, y_pred)), **TOL)


VARIANTS = [
    ("binary_crossentropy", {"from_logits": True}),
    ("binary_crossentropy", {"label_smoothing": 0.2}),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("binary_focal_crossentropy", {"from_logits": True}),
    ("binary_focal_crossentropy", {"apply_class_balancing": True, "alpha": 0.4, "gamma": 1.5}),
    ("binary_focal_crossentropy", {"from_logits": True, "label_smoothing": 0.1, "gamma": 0.0}),
    ("categorical_crossentropy", {"from_logits": True}),
    ("categorical_crossentropy", {"label_smoothing": 0.1}),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.3}),
    ("categorical_crossentropy", {"axis": 0, "label_smoothing": 0.1}),
    ("sparse_categorical_crossentropy", {"from_logits": True}),
    ("huber", {"delta": 0.5}),
    ("cosine_similarity", {"axis": 0}),
]


@pytest.mark.parametrize("fn_name, kwargs", VARIANTS, ids=[f"{n}-{k}" for n, k in VARIANTS])
def test_function_variants_match_keras(keras, fn_name, kwargs):
    rng = np.random.default_rng(1)
    y_true, y_pred = make_data(fn_name, rng, logits=kwargs.get("from_logits", False))
    ours = getattr(L, fn_name)(y_true, y_pred, **kwargs)
    theirs = keras.losses.get(fn_name)(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(ours, np.asarray(theirs), **TOL)


CLASS_CASES = [
    ("MeanSquaredError", {}),
    ("MeanAbsolutePercentageError", {}),
    ("Huber", {"delta": 2.0}),
    ("CosineSimilarity", {}),
    ("Hinge", {}),
    ("KLDivergence", {}),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
    ("BinaryFocalCrossentropy", {"apply_class_balancing": True}),
    ("CategoricalCrossentropy", {"label_smoothing": 0.1}),
    ("SparseCategoricalCrossentropy", {"from_logits": True}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cls, kwargs", CLASS_CASES, ids=[c for c, _ in CLASS_CASES])
def test_class_reductions_and_weights_match_keras(keras, cls, kwargs, reduction):
    fn_name = _canonical(cls)
    rng = np.random.default_rng(2)
    y_true, y_pred = make_data(fn_name, rng, logits=kwargs.get("from_logits", False))
    ours = getattr(L, cls)(reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, cls)(reduction=reduction, **kwargs)
    for weights in (None, rng.uniform(0, 2, len(y_pred)).astype(np.float32)):
        expected = np.asarray(theirs(y_true, y_pred, sample_weight=weights))
        got = ours(y_true, y_pred, sample_weight=weights)
        assert np.shape(got) == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_ignore_class_matches_keras(keras, reduction):
    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 4, 50)
    probs = rng.dirichlet(np.ones(4), 50).astype(np.float32)
    w = rng.uniform(0, 2, 50).astype(np.float32)
    ours = L.SparseCategoricalCrossentropy(ignore_class=-1, reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1, reduction=reduction)
    for weights in (None, w):
        np.testing.assert_allclose(
            ours(labels, probs, weights), np.asarray(theirs(labels, probs, weights)), **TOL
        )
    fn = L.sparse_categorical_crossentropy(labels, probs, ignore_class=-1)
    np.testing.assert_allclose(
        fn, keras.losses.sparse_categorical_crossentropy(labels, probs, ignore_class=-1), **TOL
    )


def test_rank_squeeze_expand_matches_keras(keras):
    rng = np.random.default_rng(4)
    y = rng.normal(size=20).astype(np.float32)
    p = rng.normal(size=(20, 1)).astype(np.float32)
    w = rng.uniform(size=20).astype(np.float32)
    for cls in ("MeanSquaredError", "MeanAbsoluteError", "Huber", "LogCosh"):
        for a, b in ((y, p), (p, y), (y[:, None], p)):
            expected = getattr(keras.losses, cls)(reduction="none")(a, b, sample_weight=w)
            np.testing.assert_allclose(getattr(L, cls)(reduction="none")(a, b, w), expected, **TOL)
    yb = rng.integers(0, 2, 20).astype(np.float32)
    pb = rng.uniform(size=(20, 1)).astype(np.float32)
    np.testing.assert_allclose(
        L.BinaryCrossentropy()(yb, pb), keras.losses.BinaryCrossentropy()(yb, pb), **TOL
    )
    labels = rng.integers(0, 3, (20, 1))
    probs = rng.dirichlet(np.ones(3), 20).astype(np.float32)
    np.testing.assert_allclose(
        L.SparseCategoricalCrossentropy()(labels, probs),
        keras.losses.SparseCategoricalCrossentropy()(labels, probs),
        **TOL,
    )


def test_rank_three_and_rank_one_inputs_match_keras(keras):
    rng = np.random.default_rng(5)
    y = rng.normal(size=(6, 5, 3)).astype(np.float32)
    p = rng.normal(size=(6, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(L.mean_squared_error(y, p), keras.losses.get("mse")(y, p), **TOL)
    np.testing.assert_allclose(
        L.MeanSquaredError()(y, p), keras.losses.MeanSquaredError()(y, p), **TOL
    )
    sw = rng.uniform(size=(6, 5)).astype(np.float32)
    np.testing.assert_allclose(
        L.MeanSquaredError()(y, p, sw), keras.losses.MeanSquaredError()(y, p, sw), **TOL
    )
    # A scalar per-sample value for 1-D inputs, as Keras (the mean over the only axis).
    got = L.mean_squared_error(y[0, 0], p[0, 0])
    assert got.shape == ()
    np.testing.assert_allclose(got, keras.losses.get("mse")(y[0, 0], p[0, 0]), **TOL)


@pytest.mark.parametrize("last_label", [1.0, 0.5, -1.0])
def test_hinge_label_conversion_is_decided_over_the_whole_input(keras, last_label):
    """0/1 labels become -1/+1 only if every label of the input is 0 or 1: one 0.5 or -1 in
    the last row leaves all rows unconverted."""
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, (5, 3)).astype(np.float32)
    y[-1, -1] = last_label
    p = rng.normal(size=(5, 3)).astype(np.float32)
    for name in ("hinge", "squared_hinge"):
        np.testing.assert_allclose(L.get(name)(y, p), keras.losses.get(name)(y, p), **TOL)


def test_float64_inputs_stay_float64():
    y = np.array(YT, np.float64)
    out = L.mean_squared_error(y, np.array(YP, np.float64))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [0.625, 2.125], rtol=1e-14)
    assert L.MeanSquaredError(dtype="float64")(YT, YP).dtype == np.float64
    assert L.mean_squared_error([[1, 2]], [[1, 3]]).dtype == np.float32


# --- names, configs and errors ------------------------------------------------------------------


def test_keras3_names_are_all_accepted(keras):
    keras3_names = [
        "mean_squared_error",
        "mse",
        "MSE",
        "mean_absolute_error",
        "mae",
        "MAE",
        "mean_absolute_percentage_error",
        "mape",
        "MAPE",
        "mean_squared_logarithmic_error",
        "msle",
        "MSLE",
        "hinge",
        "squared_hinge",
        "categorical_hinge",
        "log_cosh",
        "huber",
        "kl_divergence",
        "kld",
        "KLD",
        "poisson",
        "cosine_similarity",
        "binary_crossentropy",
        "bce",
        "BCE",
        "binary_focal_crossentropy",
        "categorical_crossentropy",
        "sparse_categorical_crossentropy",
    ]
    for name in keras3_names + [c.__name__ for c in L.BUILTIN_CLASSES] + list(KERAS2_ALIASES):
        assert name in L._REGISTRY.names
    for name in keras3_names:
        assert keras.losses.get(name) is not None


def test_keras2_aliases_are_the_keras3_functions():
    assert L.get("logcosh") is L.log_cosh
    assert L.get("huber_loss") is L.huber
    assert L.get("kullback_leibler_divergence") is L.kl_divergence
    assert L.get("cosine_proximity") is L.cosine_similarity


def test_unknown_name_lists_valid_names():
    with pytest.raises(
        ValueError, match="Could not interpret loss identifier: 'msee'.*mean_squared_error"
    ):
        L.get("msee")
    with pytest.raises(ValueError, match="Valid names"):
        L.get("Mse")  # case-sensitive, as Keras


def test_invalid_reduction():
    with pytest.raises(ValueError, match="reduction"):
        L.MeanSquaredError(reduction="avg")


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.mean_squared_error(np.zeros((4, 3)), np.zeros((4, 2))),
        lambda: L.binary_crossentropy(np.zeros(5), np.zeros((4, 1))),
        lambda: L.MeanSquaredError()(np.zeros((4, 3)), np.zeros((4, 3)), sample_weight=np.ones(5)),
        lambda: L.sparse_categorical_crossentropy([0, 3], np.full((2, 3), 1 / 3)),
        lambda: L.sparse_categorical_crossentropy([0, -1], np.full((2, 3), 1 / 3)),
        lambda: L.sparse_categorical_crossentropy([0, 1.5], np.full((2, 3), 1 / 3)),
        lambda: L.sparse_categorical_crossentropy([[0, 1]], np.full((2, 3), 1 / 3)),
        lambda: L.cosine_similarity(np.zeros((2, 3)), np.zeros((2, 3)), axis=2),
    ],
)
def test_bad_inputs_raise_clear_value_errors(call):
    with pytest.raises(ValueError, match="shape|labels|axis|sample_weight"):
        call()


def test_cce_with_one_column_warns_like_keras():
    with pytest.warns(SyntaxWarning, match="binary_crossentropy"):
        L.categorical_crossentropy([[1.0]], [[0.7]])


@pytest.mark.parametrize("cls", L.BUILTIN_CLASSES, ids=lambda c: c.__name__)
def test_class_config_round_trip(cls):
    obj = L.get(cls.__name__)
    config = obj.get_config()
    import inspect

    assert set(config) == set(inspect.signature(cls).parameters)
    again = L.deserialize(L.serialize(obj))
    assert type(again) is cls and again.get_config() == config
    custom = cls.from_config({**config, "name": "custom", "reduction": "sum"})
    assert custom.get_config() == {**config, "name": "custom", "reduction": "sum"}


def test_function_round_trip_and_wrapper():
    for name, fn in L.BUILTIN_FUNCTIONS.items():
        assert L.serialize(fn) == name and L.deserialize(name) is fn
    wrapper = L.LossFunctionWrapper(L.huber, name="h", delta=0.5)
    again = L.deserialize(L.serialize(wrapper))
    assert again.fn is L.huber and again.get_config() == wrapper.get_config()
    assert again(YT, YP) == pytest.approx(L.Huber(delta=0.5)(YT, YP))


def test_keras_class_defaults_and_names(keras):
    for cls in L.BUILTIN_CLASSES:
        ours, theirs = cls(), getattr(keras.losses, cls.__name__)()
        assert ours.name == theirs.name and ours.reduction == theirs.reduction
        for key, value in theirs.get_config().items():
            assert ours.get_config()[key] == value, (cls.__name__, key)


# --- compile-time resolution and the engine spec -----------------------------------------------


@pytest.mark.parametrize(
    "y_true_shape, y_pred_shape, expected",
    [
        ((32, 1), (32, 1), "binary_crossentropy"),
        ((32,), (32, 1), "binary_crossentropy"),
        ((32,), (32, 5), "sparse_categorical_crossentropy"),
        ((32, 1), (32, 5), "sparse_categorical_crossentropy"),
        ((32, 5), (32, 5), "categorical_crossentropy"),
    ],
)
@pytest.mark.parametrize("identifier", ["crossentropy", "ce", "CE", "CrossEntropy"])
def test_resolve_crossentropy_shortcut(identifier, y_true_shape, y_pred_shape, expected):
    loss = L.resolve_compile_loss(identifier, y_true_shape, y_pred_shape)
    assert loss.fn.__name__ == expected and loss.name == identifier
    assert L.engine_spec(loss).kernel == LOSS_IDS[expected]


def test_resolve_compile_loss_names():
    assert L.resolve_compile_loss("mse", (4, 1), (4, 1)).name == "mse"
    assert L.resolve_compile_loss(L.huber, (4, 1), (4, 1)).name == "huber"
    obj = L.Huber(delta=3.0)
    assert L.resolve_compile_loss(obj, (4, 1), (4, 1)) is obj
    assert L.resolve_compile_loss(L.Poisson, (4, 1), (4, 1)).name == "poisson"


@pytest.mark.parametrize(
    "loss, kernel, sparse, from_logits",
    [
        ("mse", "mean_squared_error", False, False),
        ("MSE", "mean_squared_error", False, False),
        ("logcosh", "log_cosh", False, False),
        (L.hinge, "hinge", False, False),
        (L.CategoricalCrossentropy(), "categorical_crossentropy", False, False),
        (
            L.CategoricalCrossentropy(from_logits=True),
            "softmax_categorical_crossentropy",
            False,
            True,
        ),
        (L.SparseCategoricalCrossentropy(), "sparse_categorical_crossentropy", True, False),
        (
            L.SparseCategoricalCrossentropy(from_logits=True),
            "softmax_sparse_categorical_crossentropy",
            True,
            True,
        ),
        (L.BinaryCrossentropy(from_logits=True), "sigmoid_binary_crossentropy", False, True),
        (L.BinaryFocalCrossentropy(from_logits=True), "binary_focal_crossentropy", False, True),
        ({"class_name": "Huber", "config": {"delta": 2.0}}, "huber", False, False),
        (L.KLDivergence, "kl_divergence", False, False),
    ],
)
def test_engine_spec(loss, kernel, sparse, from_logits):
    spec = L.engine_spec(loss)
    assert (
        spec.kernel == LOSS_IDS[kernel]
        and spec.sparse is sparse
        and spec.from_logits is from_logits
    )
    assert spec.reduction == "sum_over_batch_size"


def test_engine_spec_carries_parameters():
    spec = L.engine_spec(
        L.BinaryFocalCrossentropy(
            apply_class_balancing=True, alpha=0.3, gamma=1.5, label_smoothing=0.2, reduction="sum"
        )
    )
    assert spec == L.LossSpec(
        LOSS_IDS["binary_focal_crossentropy"], False, 0.2, 1.0, 1.5, 0.3, True, False, "sum"
    )
    assert L.engine_spec(L.Huber(delta=0.25)).delta == 0.25
    assert L.engine_spec(
        L.CategoricalCrossentropy(label_smoothing=0.1)
    ).label_smoothing == pytest.approx(0.1)
    assert L.engine_spec(L.LossFunctionWrapper(L.huber, delta=3.0)).delta == 3.0


def test_engine_spec_rejects_what_the_engine_cannot_run():
    def my_loss(y_true, y_pred):
        return (y_true - y_pred) ** 2

    class Custom(L.Loss):
        def call(self, y_true, y_pred):
            return y_pred

    class Overridden(L.MeanSquaredError):
        def call(self, y_true, y_pred):
            return y_pred

    for loss, name in (
        (my_loss, "my_loss"),
        (Custom(name="mine"), "mine"),
        (Overridden(), "mean_squared_error"),
    ):
        with pytest.raises(ValueError, match=f"'{name}' is custom Python code"):
            L.engine_spec(loss)
    with pytest.raises(ValueError, match="resolve_compile_loss"):
        L.engine_spec("crossentropy")
    with pytest.raises(ValueError, match="last axis"):
        L.engine_spec(L.CategoricalCrossentropy(axis=0))
    with pytest.raises(ValueError, match="ignore_class"):
        L.engine_spec(L.SparseCategoricalCrossentropy(ignore_class=0))
    with pytest.raises(ValueError, match="Could not interpret"):
        L.engine_spec("nope")


@pytest.mark.parametrize(
    "loss, activation, fused",
    [
        ("categorical_crossentropy", "softmax", "softmax_categorical_crossentropy"),
        ("sparse_categorical_crossentropy", "softmax", "softmax_sparse_categorical_crossentropy"),
        ("binary_crossentropy", "sigmoid", "sigmoid_binary_crossentropy"),
        ("binary_focal_crossentropy", "sigmoid", "binary_focal_crossentropy"),
        ("binary_crossentropy", "softmax", None),
        ("categorical_crossentropy", "sigmoid", None),
        ("categorical_crossentropy", "relu", None),
        ("categorical_crossentropy", None, None),
        ("mse", "sigmoid", None),
        (L.CategoricalCrossentropy(from_logits=True), "softmax", None),
    ],
)
def test_fused_logits_spec(loss, activation, fused):
    spec = L.engine_spec(loss)
    out = L.fused_logits_spec(spec, activation)
    if fused is None:
        assert out is None
    else:
        assert out.kernel == LOSS_IDS[fused] and out.from_logits
        assert out._replace(kernel=spec.kernel, from_logits=False) == spec


def test_fused_spec_computes_keras_loss_of_the_softmax_output(keras):
    """Fused on logits = Keras's unclipped loss of softmax(logits), here at a confident row where
    the clipped probability formula would differ."""
    z = np.array([[30.0, 0.0, -5.0], [0.1, 0.2, 0.3]], np.float32)
    y = np.array([[0, 1, 0], [0, 0, 1]], np.float32)
    spec = L.fused_logits_spec(
        L.engine_spec(L.CategoricalCrossentropy(label_smoothing=0.1)), "softmax"
    )
    values = np.empty(2, np.float32)
    from fastnn._kernels import _losses

    _losses.loss_forward_backward(
        spec.kernel, y, z, None, 1.0, values, None, label_smoothing=spec.label_smoothing
    )
    expected = keras.losses.categorical_crossentropy(y, z, from_logits=True, label_smoothing=0.1)
    np.testing.assert_allclose(values, expected, **TOL)
    assert values[0] > -np.log(1e-7) * 0.9  # unclipped: about 30, not capped at 16.1
