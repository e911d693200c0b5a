"""The F-score, IoU and rate-at-threshold metrics against TensorFlow's Keras 3: values per
batch and accumulated over several update_state calls, with and without sample weights;
direct calls; their state variables; configs and registry names; bad arguments."""

import importlib
import warnings

import numpy as np
import pytest

from fastnn import metrics as M

TOL = {"rtol": 1e-5, "atol": 1e-6}


def batches(kind, rng):
    """Three (y_true, y_pred, sample_weight) batches of unequal sizes, float32."""
    out = []
    for n in (97, 13, 60):
        if kind == "binary":
            y = rng.integers(0, 2, (n, 1)).astype(np.float32)
            p = np.round(np.clip(y * 0.3 + rng.uniform(0, 0.7, (n, 1)), 0, 1), 2)
            p = p.astype(np.float32)
            p[:3, 0] = [0.0, 1.0, 0.5]     # edges and a tie with the default threshold
        elif kind == "multilabel":
            y = rng.integers(0, 2, (n, 3)).astype(np.float32)
            p = np.round(rng.uniform(0, 1, (n, 3)), 2).astype(np.float32)
        elif kind == "categorical":
            y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)]
            p = rng.dirichlet(np.ones(4), n).astype(np.float32)
            p[0] = 0.25                    # all tied: every class is the argmax
            p[1] = [0.0, 0.0, 1.0, 0.0]
        elif kind == "classes":           # class ids, some out of [0, 4) (left out)
            y = rng.integers(0, 4, n)
            p = rng.integers(-1, 5, n)
        out.append((y, p, rng.uniform(0, 2, n).astype(np.float32)))
    return out


def int_weights(batch):
    """The batch with integer sample weights (the IoU metrics' int64 state truncates)."""
    y, p, w = batch
    return y, p, np.floor(w * 2).astype(np.int64)


CASES = [
    ("F1Score", {}, "categorical"),
    ("F1Score", {"threshold": 0.5}, "multilabel"),
    ("F1Score", {"average": "micro", "threshold": 0.4}, "multilabel"),
    ("F1Score", {"average": "macro"}, "categorical"),
    ("F1Score", {"average": "weighted", "threshold": 0.3}, "multilabel"),
    ("FBetaScore", {"beta": 2.0, "threshold": 0.5}, "multilabel"),
    ("FBetaScore", {"beta": 0.5, "average": "micro"}, "categorical"),
    ("FBetaScore", {"beta": 2.0, "average": "weighted"}, "categorical"),
    ("FBetaScore", {"beta": 1.5, "average": "macro", "threshold": 0.6}, "multilabel"),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 2]}, "classes"),
    ("IoU", {"num_classes": 4, "target_class_ids": [1], "ignore_class": 3}, "classes"),
    ("MeanIoU", {"num_classes": 4}, "classes"),
    ("MeanIoU", {"num_classes": 4, "ignore_class": 0}, "classes"),
    ("MeanIoU", {"num_classes": 4, "sparse_y_true": False, "sparse_y_pred": False},
     "categorical"),
    ("BinaryIoU", {}, "binary"),
    ("BinaryIoU", {"target_class_ids": [1], "threshold": 0.3}, "binary"),
    ("OneHotIoU", {"num_classes": 4, "target_class_ids": [0, 3]}, "categorical"),
    ("OneHotMeanIoU", {"num_classes": 4}, "categorical"),
    ("SensitivityAtSpecificity", {"specificity": 0.5}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.8, "num_thresholds": 7}, "binary"),
    ("SensitivityAtSpecificity", {"specificity": 0.3, "class_id": 2}, "categorical"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.7}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5, "num_thresholds": 1}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.6}, "binary"),
    ("PrecisionAtRecall", {"recall": 0.4, "num_thresholds": 11, "class_id": 1}, "categorical"),
    ("RecallAtPrecision", {"precision": 0.7}, "binary"),
    ("RecallAtPrecision", {"precision": 0.9, "num_thresholds": 3}, "binary"),
    ("RecallAtPrecision", {"precision": 1.0}, "multilabel"),
]
IOU = ("IoU", "MeanIoU", "BinaryIoU", "OneHotIoU", "OneHotMeanIoU")


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("cls, kwargs, kind", CASES, ids=[f"{c}-{k}-{d}" for c, k, d in CASES])
def test_matches_keras_per_batch_and_accumulated(tf_keras, cls, kwargs, kind, weighted):
    rng = np.random.default_rng(abs(hash((cls, str(kwargs), kind))) % 2**32)
    ours, theirs = getattr(M, cls)(**kwargs), getattr(tf_keras.metrics, cls)(**kwargs)
    data = batches(kind, rng)
    if cls in IOU:
        data = [int_weights(b) for b in data]
    for y, p, w in data:
        w = w if weighted else None
        fresh_ours, fresh_theirs = getattr(M, cls)(**kwargs), getattr(tf_keras.metrics, cls)(
            **kwargs)
        # The batch alone (a direct call updates and returns the result, as Keras) ...
        np.testing.assert_allclose(fresh_ours(y, p, sample_weight=w),
                                   np.asarray(fresh_theirs(y, p, sample_weight=w)), **TOL)
        # ... and accumulated with the batches before it.
        ours.update_state(y, p, sample_weight=w)
        theirs.update_state(y, p, sample_weight=w)
        np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), **TOL)
    assert np.asarray(ours.result()).dtype == np.float32
    if not weighted:
        # Counts of whole samples: exact in both. (Weighted, Keras's float32 running sums
        # over the thresholds depend on its summation order; the results are compared above.)
        for mine, keras_var in zip(ours.variables, theirs.variables, strict=True):
            np.testing.assert_allclose(mine.numpy(), keras_var.numpy(), **TOL)
    ours.reset_state()
    theirs.reset_state()
    np.testing.assert_allclose(ours.result(), np.asarray(theirs.result()), **TOL)


def test_iou_float_weights_truncate_with_a_warning_as_keras(tf_keras):
    rng = np.random.default_rng(3)
    y, p, w = batches("classes", rng)[0]
    ours, theirs = M.MeanIoU(4), tf_keras.metrics.MeanIoU(4)
    with pytest.warns(UserWarning, match="truncated"):
        ours.update_state(y, p, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(ours.result(), theirs.result(), **TOL)
    np.testing.assert_array_equal(ours.variables[0].numpy(), theirs.variables[0].numpy())
    ours, theirs = M.MeanIoU(4, dtype="float32"), tf_keras.metrics.MeanIoU(4, dtype="float32")
    ours.update_state(y, p, sample_weight=w)
    theirs.update_state(y, p, sample_weight=w)
    np.testing.assert_allclose(ours.result(), theirs.result(), **TOL)


def test_hand_computed_values():
    # F1 per class: y = [[1,0],[1,1],[0,1]], predicted (> 0.5) [[1,1],[0,1],[0,1]]:
    # class 0: tp 1, fp 0, fn 1 -> 2/3; class 1: tp 2, fp 1, fn 0 -> 0.8.
    f1 = M.F1Score(threshold=0.5)
    f1.update_state([[1, 0], [1, 1], [0, 1]], [[0.9, 0.6], [0.2, 0.7], [0.1, 0.8]])
    np.testing.assert_allclose(f1.result(), [2 / 3, 0.8], rtol=1e-5)
    # IoU: cm rows true, columns predicted; y = [0,0,1,1], p = [0,1,1,1]:
    # class 0: 1 / (2 + 1 - 1) = 0.5; class 1: 2 / (2 + 3 - 2) = 2/3.
    iou = M.MeanIoU(2)
    iou.update_state([0, 0, 1, 1], [0, 1, 1, 1])
    np.testing.assert_allclose(iou.result(), (0.5 + 2 / 3) / 2, rtol=1e-5)
    np.testing.assert_array_equal(iou.variables[0].numpy(), [[1, 1], [0, 2]])
    # Recall >= 0.5 holds at thresholds up to 0.8 (the 0.9 positive); precision is best
    # there: at 0.8 only the 0.9 is predicted positive -> precision 1.
    par = M.PrecisionAtRecall(0.5, num_thresholds=11)
    par.update_state([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1])
    assert par.result() == pytest.approx(1.0)


# --- variables, configs, names -------------------------------------------------------------------

EVERY = [
    ("Mean", {}, None), ("Sum", {}, None), ("MeanSquaredError", {}, "regression"),
    ("BinaryAccuracy", {}, "binary"), ("RootMeanSquaredError", {}, "regression"),
    ("TruePositives", {"thresholds": [0.2, 0.5]}, "binary"), ("FalseNegatives", {}, "binary"),
    ("Precision", {}, "binary"), ("Recall", {"thresholds": [0.3, 0.6]}, "binary"),
    ("AUC", {"num_thresholds": 5}, "binary"),
    ("AUC", {"num_thresholds": 4, "multi_label": True}, "multilabel"),
    ("AUC", {"num_thresholds": 4, "multi_label": True, "num_labels": 3}, "multilabel"),
    ("R2Score", {}, "regression"), ("F1Score", {}, "categorical"),
    ("FBetaScore", {"beta": 2.0, "average": "micro"}, "categorical"),
    ("IoU", {"num_classes": 4, "target_class_ids": [0, 1]}, "classes"),
    ("BinaryIoU", {}, "binary"), ("OneHotMeanIoU", {"num_classes": 4}, "categorical"),
    ("PrecisionAtRecall", {"recall": 0.5, "num_thresholds": 7}, "binary"),
    ("SpecificityAtSensitivity", {"sensitivity": 0.5, "num_thresholds": 1}, "binary"),
]


def _variables(metric):
    return [(v.name, v.path, tuple(v.shape), str(np.dtype(v.dtype))) for v in metric.variables]


@pytest.mark.parametrize("cls, kwargs, kind", EVERY, ids=[f"{c}-{k}" for c, k, _ in EVERY])
def test_variables_as_keras(tf_keras, cls, kwargs, kind):
    name = f"m_{cls.lower()}"
    ours = getattr(M, cls)(name=name, **kwargs)
    theirs = getattr(tf_keras.metrics, cls)(name=name, **kwargs)
    assert _variables(ours) == _variables(theirs)       # before the first update too
    rng = np.random.default_rng(5)
    if kind is None:
        args = (rng.normal(size=(6, 2)).astype(np.float32),)
    elif kind == "regression":
        y = rng.normal(size=(6, 2)).astype(np.float32)
        args = (y, y + rng.normal(size=(6, 2)).astype(np.float32))
    else:
        args = batches(kind, rng)[1][:2]
    ours.update_state(*args)
    theirs.update_state(*args)
    assert _variables(ours) == _variables(theirs)
    for mine, keras_var in zip(ours.variables, theirs.variables):
        assert mine.trainable is False
        np.testing.assert_allclose(mine.numpy(), keras_var.numpy(), **TOL)


def test_assigning_a_variable_changes_the_result():
    tp = M.TruePositives()
    tp.variables[0].assign([7.0])
    assert tp.result() == 7.0
    mean = M.Mean()
    mean.total.assign(6.0)
    mean.count.assign(4.0)
    assert mean.result() == 1.5
    mean.reset_state()
    assert [v.numpy() for v in mean.variables] == [0.0, 0.0]


NEW = {
    "F1Score": {}, "FBetaScore": {}, "BinaryIoU": {},
    "IoU": {"num_classes": 3, "target_class_ids": [0, 2]}, "MeanIoU": {"num_classes": 3},
    "OneHotIoU": {"num_classes": 3, "target_class_ids": [1]},
    "OneHotMeanIoU": {"num_classes": 3},
    "PrecisionAtRecall": {"recall": 0.5}, "RecallAtPrecision": {"precision": 0.5},
    "SensitivityAtSpecificity": {"specificity": 0.5},
    "SpecificityAtSensitivity": {"sensitivity": 0.5},
}


@pytest.mark.parametrize("cls", sorted(NEW))
def test_configs_match_keras_and_round_trip(tf_keras, cls):
    kwargs = {**NEW[cls], "name": "m"}
    ours, theirs = getattr(M, cls)(**kwargs), getattr(tf_keras.metrics, cls)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert type(theirs).from_config(ours.get_config()).get_config() == theirs.get_config()
    again = M.deserialize(M.serialize(ours))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert getattr(M, cls).from_config(theirs.get_config()).get_config() == ours.get_config()


def test_default_names_and_registry_as_keras(tf_keras):
    M.clear_name_uids()
    tf_keras.backend.clear_session()
    for cls, kwargs in NEW.items():
        assert getattr(M, cls)(**kwargs).name == getattr(tf_keras.metrics, cls)(**kwargs).name
    for name in ("f1_score", "F1Score", "f_beta_score", "FBetaScore", "binary_io_u",
                 "BinaryIoU"):
        ours, theirs = M.get(name), tf_keras.metrics.get(name)
        assert type(ours).__name__ == type(theirs).__name__
    for name in ("IoU", "mean_io_u", "precision_at_recall"):   # required arguments
        with pytest.raises(TypeError):
            tf_keras.metrics.get(name)
        with pytest.raises(TypeError):
            M.get(name)


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="average"):
        M.F1Score(average="samples")
    with pytest.raises(ValueError, match="beta"):
        M.FBetaScore(beta=2)
    with pytest.raises(ValueError, match="threshold"):
        M.F1Score(threshold=1.5)
    with pytest.raises(ValueError, match="2D"):
        M.F1Score().update_state(np.zeros(4), np.zeros(4))
    f1 = M.F1Score()
    f1.update_state(np.eye(3), np.eye(3))
    with pytest.raises(ValueError, match="3 classes"):
        f1.update_state(np.eye(4), np.eye(4))
    np.testing.assert_allclose(f1.result(), [1, 1, 1], rtol=1e-5)   # the failed call changed nothing
    with pytest.raises(ValueError, match="out of the range"):
        M.IoU(3, [0, 3])
    with pytest.raises(ValueError, match="num_classes"):
        M.MeanIoU(0)
    with pytest.raises(ValueError, match="labels"):
        M.MeanIoU(3).update_state([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="sample_weight"):
        M.MeanIoU(3).update_state([0, 1, 2], [0, 1, 2], sample_weight=[1, 2])
    with pytest.raises(ValueError, match=r"specificity.*\[0, 1\]"):
        M.SensitivityAtSpecificity(1.5)
    with pytest.raises(ValueError, match="num_thresholds"):
        M.PrecisionAtRecall(0.5, num_thresholds=0)
    with pytest.raises(ValueError, match="class_id"):
        M.RecallAtPrecision(0.5, class_id=1).update_state([1, 0], [0.3, 0.2])


# --- the existing metrics the issue lists, beyond test_keras_metrics.py -----------------------


def test_mean_metric_wrapper_matches_keras(tf_keras):
    rng = np.random.default_rng(11)
    y, p, w = batches("binary", rng)[0]
    for module, fn_name, kwargs in (("losses", "mean_squared_error", {}),
                                    ("metrics", "binary_accuracy", {"threshold": 0.3})):
        ours = M.MeanMetricWrapper(getattr(M, fn_name), name="w", **kwargs)
        # (keras 3's own modules: tf.keras leaves these function names out)
        keras_fn = getattr(importlib.import_module(f"keras.{module}"), fn_name)
        theirs = tf_keras.metrics.MeanMetricWrapper(keras_fn, name="w", **kwargs)
        for sample_weight in (None, w):
            ours.update_state(y, p, sample_weight=sample_weight)
            theirs.update_state(y, p, sample_weight=sample_weight)
            np.testing.assert_allclose(ours.result(), theirs.result(), **TOL)
        assert ours.get_config() == theirs.get_config()
        # Each reads the other's config.
        again = M.MeanMetricWrapper.from_config(theirs.get_config())
        assert again.get_config() == ours.get_config()
        back = tf_keras.metrics.MeanMetricWrapper.from_config(ours.get_config())
        assert back.get_config() == theirs.get_config()


@pytest.mark.parametrize("cls", ["TruePositives", "FalsePositives", "TrueNegatives",
                                 "FalseNegatives"])
def test_confusion_counts_with_threshold_lists_match_keras(tf_keras, cls):
    rng = np.random.default_rng(12)
    # An evenly spread list takes Keras's bucketing path; an uneven one the general path.
    for thresholds in ([0.0, 0.25, 0.5, 0.75, 1.0], [0.9, 0.1, 0.5]):
        ours = getattr(M, cls)(thresholds=thresholds)
        theirs = getattr(tf_keras.metrics, cls)(thresholds=thresholds)
        seen = 0.0
        for y, p, w in batches("binary", rng):
            ours.update_state(y, p, sample_weight=w)
            theirs.update_state(y, p, sample_weight=w)
            seen += w.sum()
            # Keras keeps these weighted counts as float32 differences of running sums, so
            # its values carry absolute errors of float32's resolution at the total weight.
            np.testing.assert_allclose(ours.result(), theirs.result(), rtol=1e-5,
                                       atol=1e-5 * seen)
        assert ours.result().shape == (len(thresholds),)


def test_new_metrics_are_maximized_by_early_stopping_auto(tf_keras):
    import operator

    import fastnn

    rng = np.random.default_rng(13)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.float32)
    for cls, kwargs in (("F1Score", {"average": "micro", "threshold": 0.5}),
                        ("BinaryIoU", {}), ("PrecisionAtRecall", {"recall": 0.5})):
        assert getattr(tf_keras.metrics, cls)(**kwargs)._direction == "up"    # the reference
        model = fastnn.Sequential([fastnn.Input((3,)),
                                   fastnn.layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy",
                      metrics=[getattr(M, cls)(name="m", **kwargs)])
        stop = fastnn.callbacks.EarlyStopping(monitor="val_m", patience=5)
        model.fit(x, y, epochs=2, validation_data=(x, y), callbacks=[stop], verbose=0)
        assert stop.monitor_op is operator.gt
