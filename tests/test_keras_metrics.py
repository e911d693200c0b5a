"""fastnn.metrics against Keras 3 (tf.keras): every metric accumulated over several
update_state calls with and without sample weights, the 'accuracy' resolution rule, names,
configs and bad inputs."""

import inspect

import numpy as np
import pytest

from fastnn import metrics as M

TOL = {"rtol": 1e-5, "atol": 1e-6}
N = 301  # per batch; three batches of unequal sizes below


def batches(kind, rng):
    """Three (y_true, y_pred) batches for a kind of task, float32, with ties and edge values."""
    out = []
    for n in (N, 17, 120):
        c = 5
        if kind == "binary":
            y = rng.integers(0, 2, (n, 1)).astype(np.float32)
            p = np.round(rng.uniform(0, 1, (n, 1)), 2).astype(np.float32)  # ties, 0.5 exactly
            p[:3, 0] = [0.0, 1.0, 0.5]
        elif kind == "multilabel":
            y = rng.integers(0, 2, (n, 3)).astype(np.float32)
            p = rng.uniform(0, 1, (n, 3)).astype(np.float32)
        elif kind == "logits":
            y = rng.integers(0, 2, (n, 1)).astype(np.float32)
            p = rng.normal(0, 2, (n, 1)).astype(np.float32)
        elif kind == "categorical":
            y = np.eye(c, dtype=np.float32)[rng.integers(0, c, n)]
            p = rng.dirichlet(np.ones(c), n).astype(np.float32)
            p[0] = [0.2, 0.2, 0.2, 0.2, 0.2]  # all tied
        elif kind == "sparse":
            y = rng.integers(0, c, n)
            p = rng.dirichlet(np.ones(c), n).astype(np.float32)
            p[0] = [0.3, 0.3, 0.1, 0.2, 0.1]
        elif kind == "regression":
            y = rng.normal(0, 2, (n, 3)).astype(np.float32)
            p = (y + rng.normal(0, 1, (n, 3))).astype(np.float32)
        elif kind == "positive":
            y = rng.poisson(2, (n, 3)).astype(np.float32)
            p = rng.uniform(0.05, 4, (n, 3)).astype(np.float32)
        elif kind == "distribution":
            y = rng.dirichlet(np.ones(c), n).astype(np.float32)
            p = rng.dirichlet(np.ones(c), n).astype(np.float32)
        out.append((y, p, rng.uniform(0, 2, n).astype(np.float32)))
    return out


CASES = [
    ("Accuracy", {}, "binary"),
    ("BinaryAccuracy", {}, "binary"),
    ("BinaryAccuracy", {"threshold": 0.3}, "binary"),
    ("CategoricalAccuracy", {}, "categorical"),
    ("SparseCategoricalAccuracy", {}, "sparse"),
    ("TopKCategoricalAccuracy", {}, "categorical"),
    ("TopKCategoricalAccuracy", {"k": 2}, "categorical"),
    ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
    ("SparseTopKCategoricalAccuracy", {"k": 1}, "sparse"),
    ("MeanSquaredError", {}, "regression"),
    ("MeanAbsoluteError", {}, "regression"),
    ("MeanAbsolutePercentageError", {}, "regression"),
    ("MeanSquaredLogarithmicError", {}, "positive"),
    ("RootMeanSquaredError", {}, "regression"),
    ("CosineSimilarity", {}, "regression"),
    ("LogCoshError", {}, "regression"),
    ("R2Score", {}, "regression"),
    ("R2Score", {"class_aggregation": "variance_weighted_average"}, "regression"),
    ("R2Score", {"class_aggregation": None}, "regression"),
    ("R2Score", {"num_regressors": 2}, "regression"),
    ("Hinge", {}, "multilabel"),
    ("SquaredHinge", {}, "regression"),
    ("CategoricalHinge", {}, "categorical"),
    ("Poisson", {}, "positive"),
    ("KLDivergence", {}, "distribution"),
    ("BinaryCrossentropy", {}, "binary"),
    ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}, "logits"),
    ("CategoricalCrossentropy", {}, "categorical"),
    ("CategoricalCrossentropy", {"label_smoothing": 0.2}, "categorical"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("AUC", {}, "binary"),
    ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PRGAIN"}, "binary"),
    ("AUC", {"summation_method": "minoring"}, "binary"),
    ("AUC", {"curve": "PR", "summation_method": "majoring"}, "binary"),
    ("AUC", {"num_thresholds": 7}, "binary"),
    ("AUC", {"thresholds": [0.1, 0.5, 0.7, 0.75]}, "binary"),
    ("AUC", {"thresholds": [0.25, 0.5, 0.75]}, "binary"),
    ("AUC", {"from_logits": True}, "logits"),
    ("AUC", {}, "multilabel"),
    ("AUC", {"label_weights": [0.2, 1.0, 0.5]}, "multilabel"),
    ("AUC", {"multi_label": True}, "multilabel"),
    ("AUC", {"multi_label": True, "num_labels": 3, "label_weights": [0.2, 1.0, 0.5]}, "multilabel"),
    ("AUC", {"multi_label": True, "curve": "PR"}, "multilabel"),
    ("Precision", {}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.5, 0.0, 0.9]}, "binary"),
    ("Precision", {"thresholds": [0.0, 0.25, 0.5, 0.75, 1.0]}, "binary"),
    ("Precision", {"top_k": 2}, "categorical"),
    ("Precision", {"class_id": 2}, "categorical"),
    ("Precision", {"top_k": 2, "class_id": 1}, "categorical"),
    ("Recall", {}, "multilabel"),
    ("Recall", {"thresholds": 0.7}, "binary"),
    ("Recall", {"thresholds": [0.3, 0.6]}, "binary"),
    ("Recall", {"top_k": 1}, "categorical"),
    ("Recall", {"class_id": 0}, "categorical"),
    ("TruePositives", {}, "binary"),
    ("FalsePositives", {"thresholds": [0.2, 0.5, 0.9]}, "binary"),
    ("TrueNegatives", {"thresholds": 0.3}, "binary"),
    ("FalseNegatives", {}, "multilabel"),
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls, kwargs, kind", CASES, ids=[f"{c}-{k}-{d}" for c, k, d in CASES])
def test_metric_matches_keras_over_several_updates(tf_keras, cls, kwargs, kind, weighted):
    rng = np.random.default_rng(abs(hash((cls, str(kwargs), kind))) % 2**32)
    ours, theirs = getattr(M, cls)(**kwargs), getattr(tf_keras.metrics, cls)(**kwargs)
    for y, p, w in batches(kind, rng):
        w = w if weighted else None
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), **TOL)
    assert np.asarray(ours.result()).dtype == np.float32
    ours.reset_state()
    theirs.reset_state()
    y, p, _ = batches(kind, rng)[1]
    np.testing.assert_allclose(ours(y, p), np.asarray(theirs(y, p)), **TOL)


def test_metric_functions_match_keras(tf_keras):
    rng = np.random.default_rng(7)
    (yb, pb, _), *_ = batches("binary", rng)
    (yc, pc, _), *_ = batches("categorical", rng)
    (ys, ps, _), *_ = batches("sparse", rng)
    km = tf_keras.metrics
    cases = [
        (M.binary_accuracy, km.binary_accuracy, yb, pb, {}),
        (M.binary_accuracy, km.binary_accuracy, yb, pb, {"threshold": 0.7}),
        (M.categorical_accuracy, km.categorical_accuracy, yc, pc, {}),
        (M.sparse_categorical_accuracy, km.sparse_categorical_accuracy, ys, ps, {}),
        (M.sparse_categorical_accuracy, km.sparse_categorical_accuracy, ys[:, None], ps, {}),
        (M.top_k_categorical_accuracy, km.top_k_categorical_accuracy, yc, pc, {"k": 3}),
        (
            M.sparse_top_k_categorical_accuracy,
            km.sparse_top_k_categorical_accuracy,
            ys,
            ps,
            {"k": 2},
        ),
    ]
    for ours, theirs, y, p, kw in cases:
        got, expected = ours(y, p, **kw), np.asarray(theirs(y, p, **kw))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, **TOL)
    ids = np.argsort(-pc, axis=1).astype(np.float32)
    np.testing.assert_allclose(
        M.sparse_top_k_categorical_accuracy(ys, ids, k=2, from_sorted_ids=True),
        km.sparse_top_k_categorical_accuracy(ys, ids, k=2, from_sorted_ids=True),
    )


def test_sparse_crossentropy_ignore_class_matches_keras(tf_keras):
    rng = np.random.default_rng(8)
    ours = M.SparseCategoricalCrossentropy(ignore_class=0)
    theirs = tf_keras.metrics.SparseCategoricalCrossentropy(ignore_class=0)
    for y, p, w in batches("sparse", rng):
        ours.update_state(y, p, w)
        theirs.update_state(y, p, w)
    np.testing.assert_allclose(ours.result(), theirs.result(), **TOL)


def test_mean_and_sum_match_keras(tf_keras):
    rng = np.random.default_rng(9)
    for cls in ("Mean", "Sum"):
        ours, theirs = getattr(M, cls)(), getattr(tf_keras.metrics, cls)()
        for shape, wshape in (
            ((10,), (10,)),
            ((6, 3), (6,)),
            ((4, 2), (4, 2)),
            ((), None),
            ((5,), None),
        ):
            v = rng.normal(size=shape).astype(np.float32)
            w = None if wshape is None else rng.uniform(size=wshape).astype(np.float32)
            ours.update_state(v, w)
            theirs.update_state(v, w)
            np.testing.assert_allclose(ours.result(), theirs.result(), **TOL)


def test_large_update_is_accepted():
    rng = np.random.default_rng(10)
    n = 200_000
    y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    p = rng.uniform(size=(n, 1)).astype(np.float32)
    auc = M.AUC()
    auc.update_state(y, p)
    assert 0.45 < auc.result() < 0.55
    acc = M.SparseCategoricalAccuracy()
    acc.update_state(rng.integers(0, 10, n), rng.uniform(size=(n, 10)).astype(np.float32))
    assert 0.08 < acc.result() < 0.12


# --- the 'accuracy' rule and names ---------------------------------------------------------------


@pytest.mark.parametrize(
    "y_true_shape, y_pred_shape, expected",
    [
        ((32, 1), (32, 1), M.BinaryAccuracy),
        ((32,), (32, 1), M.BinaryAccuracy),
        ((32, 4), (32, 1), M.BinaryAccuracy),
        ((32,), (32, 5), M.SparseCategoricalAccuracy),
        ((32, 1), (32, 5), M.SparseCategoricalAccuracy),
        ((32, 5), (32, 5), M.CategoricalAccuracy),
        ((32, 3, 5), (32, 3, 5), M.CategoricalAccuracy),
        ((32, 3), (32, 3, 5), M.SparseCategoricalAccuracy),
    ],
)
@pytest.mark.parametrize("identifier", ["accuracy", "acc", "Accuracy", "ACC"])
def test_accuracy_resolution_by_shapes(identifier, y_true_shape, y_pred_shape, expected):
    metric = M.resolve_compile_metric(identifier, y_true_shape, y_pred_shape)
    assert type(metric) is expected and metric.name == identifier


@pytest.mark.parametrize(
    "y_true_shape, y_pred_shape, expected",
    [
        ((32,), (32, 1), M.BinaryCrossentropy),
        ((32,), (32, 5), M.SparseCategoricalCrossentropy),
        ((32, 5), (32, 5), M.CategoricalCrossentropy),
    ],
)
@pytest.mark.parametrize("identifier", ["crossentropy", "ce"])
def test_crossentropy_resolution_by_shapes(identifier, y_true_shape, y_pred_shape, expected):
    metric = M.resolve_compile_metric(identifier, y_true_shape, y_pred_shape)
    assert type(metric) is expected and metric.name == identifier


def test_compile_metric_names_are_the_users_strings():
    from fastnn import losses

    shapes = ((8, 1), (8, 1))
    assert M.resolve_compile_metric("mse", *shapes).name == "mse"
    assert type(M.resolve_compile_metric("mse", *shapes)) is M.MeanSquaredError
    assert M.resolve_compile_metric("mean_squared_error", *shapes).name == "mean_squared_error"
    auc = M.AUC(name="my_auc")
    assert M.resolve_compile_metric(auc, *shapes) is auc and auc.name == "my_auc"
    wrapped = M.resolve_compile_metric(losses.mean_absolute_error, *shapes)
    assert isinstance(wrapped, M.MeanMetricWrapper) and wrapped.name == "mean_absolute_error"
    wrapped.update_state([[1.0], [2.0]], [[1.5], [1.0]])
    assert wrapped.result() == pytest.approx(0.75)
    assert type(M.resolve_compile_metric(M.Precision, *shapes)) is M.Precision
    with pytest.raises(ValueError, match="Could not interpret metric identifier"):
        M.resolve_compile_metric("accuracyy", *shapes)


def test_get_outside_compile():
    assert type(M.get("accuracy")) is M.Accuracy
    for name in ("acc", "ACC", "crossentropy", "Mse"):
        with pytest.raises(
            ValueError, match=f"Could not interpret metric identifier: '{name}'.*auc"
        ):
            M.get(name)
    assert type(M.get("logcosh")) is M.LogCoshError and M.get("logcosh").name == "logcosh"
    assert type(M.get("kld")) is M.KLDivergence


def test_registry_holds_keras3_names(tf_keras):
    from keras.src.metrics import ALL_OBJECTS_DICT

    ours = set(M._REGISTRY.names)
    implemented = {n for n, cls in ALL_OBJECTS_DICT.items() if cls.__name__ in ours}
    assert implemented <= ours
    assert {
        "auc",
        "AUC",
        "r2_score",
        "log_cosh_error",
        "bce",
        "MSLE",
        "top_k_categorical_accuracy",
    } <= ours


def test_auto_naming_like_keras():
    M.clear_name_uids()
    assert [M.AUC().name, M.AUC().name, M.AUC(name="x").name, M.AUC().name] == [
        "auc",
        "auc_1",
        "x",
        "auc_2",
    ]
    assert [M.Precision().name, M.Recall().name, M.Precision().name] == [
        "precision",
        "recall",
        "precision_1",
    ]
    assert M.MeanSquaredError().name == M.MeanSquaredError().name == "mean_squared_error"
    M.clear_name_uids()
    assert M.AUC().name == "auc"


def _needs_arguments(cls) -> bool:
    """Whether the class has required arguments (IoU, PrecisionAtRecall, ...: their configs
    are checked in test_keras_metrics_families.py)."""
    return any(p.default is inspect.Parameter.empty
               for p in inspect.signature(cls).parameters.values())


def test_defaults_and_configs_match_keras(tf_keras):
    for name in M.__all__:
        cls = getattr(M, name)
        if not isinstance(cls, type) or cls in (M.Metric, M.MeanMetricWrapper) \
                or _needs_arguments(cls):
            continue
        ours, theirs = cls(), getattr(tf_keras.metrics, name)()
        ours_config = ours.get_config()
        for key, value in theirs.get_config().items():
            if key != "name":
                assert ours_config[key] == value, (name, key)
        assert ours.name.split("_")[0] == theirs.name.split("_")[0]


@pytest.mark.parametrize(
    "cls",
    [
        getattr(M, n)
        for n in M.__all__
        if isinstance(getattr(M, n), type) and getattr(M, n) not in (M.Metric, M.MeanMetricWrapper)
        and not _needs_arguments(getattr(M, n))
    ],
    ids=lambda c: c.__name__,
)
def test_config_round_trip(cls):
    obj = M.get(cls.__name__)
    config = obj.get_config()
    assert set(config) == set(inspect.signature(cls).parameters)
    again = M.deserialize(M.serialize(obj))
    assert type(again) is cls and again.get_config() == config


def test_round_trip_with_arguments():
    for obj in (
        M.AUC(curve="PR", thresholds=[0.2, 0.6], multi_label=True, label_weights=[1, 2], name="a"),
        M.Precision(thresholds=[0.2, 0.7], top_k=3, class_id=1, name="p"),
        M.SparseTopKCategoricalAccuracy(k=2, from_sorted_ids=True),
        M.R2Score(class_aggregation=None, num_regressors=3),
        M.MeanMetricWrapper(M.binary_accuracy, name="w", threshold=0.3),
    ):
        again = M.deserialize(M.serialize(obj))
        assert again.get_config() == obj.get_config()


# --- bad inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "metric, y_true, y_pred",
    [
        (M.BinaryAccuracy(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.CategoricalAccuracy(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.SparseCategoricalAccuracy(), np.zeros((5,)), np.zeros((4, 3))),
        (M.TopKCategoricalAccuracy(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.MeanSquaredError(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.RootMeanSquaredError(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.R2Score(), np.zeros((4,)), np.zeros((4, 3))),
        (M.AUC(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.Precision(), np.zeros((4, 2)), np.zeros((4, 3))),
        (M.SparseCategoricalCrossentropy(), np.array([0, 5]), np.full((2, 3), 1 / 3)),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, M.Metric) else None,
)
def test_shape_mismatch_raises_clear_value_error(metric, y_true, y_pred):
    with pytest.raises(ValueError, match="shape|labels"):
        metric.update_state(y_true, y_pred)


def test_bad_sample_weight_and_arguments():
    with pytest.raises(ValueError, match="sample_weight"):
        M.MeanSquaredError().update_state(
            np.zeros((4, 2)), np.zeros((4, 2)), sample_weight=np.ones(3)
        )
    with pytest.raises(ValueError, match="sample_weight"):
        M.AUC().update_state(np.zeros((4, 1)), np.zeros((4, 1)), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="roc_curve")
    with pytest.raises(ValueError, match="summation"):
        M.AUC(summation_method="trapezoid")
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        M.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="class_aggregation"):
        M.R2Score(class_aggregation="mean")
    auc = M.AUC(multi_label=True)
    auc.update_state(np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="labels"):
        auc.update_state(np.zeros((4, 2)), np.zeros((4, 2)))
