"""Metrics inside a model against TensorFlow's Keras 3: the new metrics in compile(metrics=)
through evaluate and fit's validation logs (same weights in both), ``model.metrics`` (the loss
tracker, the compiled metrics, per-output loss trackers) and ``get_metrics_result``."""

import numpy as np
import pytest

import fastnn
from fastnn import metrics as M

TOL = {"rtol": 1e-5, "atol": 1e-6}


def _data(rng, n=150, d=5, classes=3):
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = np.eye(classes, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 1)]
    return x, y, rng.uniform(0.2, 2, n).astype(np.float32)


def _metrics(lib, classes=3):
    """The same metric list built by fastnn or by Keras (tf.keras)."""
    m = lib.metrics
    return [
        m.F1Score(name="f1"), m.F1Score(average="macro", threshold=0.4, name="f1_macro"),
        m.FBetaScore(beta=2.0, average="weighted", name="f2"),
        m.OneHotMeanIoU(classes, name="miou"), m.OneHotIoU(classes, [0, 2], name="iou02"),
        m.PrecisionAtRecall(0.5, class_id=1, name="p_at_r"),
        m.RecallAtPrecision(0.6, num_thresholds=50, class_id=0, name="r_at_p"),
        m.SensitivityAtSpecificity(0.7, class_id=2, name="s_at_s"),
        m.SpecificityAtSensitivity(0.4, class_id=1, name="sp_at_s"),
        m.TruePositives(thresholds=[0.2, 0.5, 0.8], name="tp"), m.FalseNegatives(name="fn"),
        m.R2Score(name="r2"),
        m.MeanMetricWrapper(lib.losses.categorical_crossentropy, name="cce"),
    ]


def _twin_models(tf_keras, d=5, classes=3, metrics=True, weighted=False):
    """A fastnn model and a Keras model with the same weights and compile arguments."""
    fastnn.utils.set_random_seed(0)
    ours = fastnn.Sequential([fastnn.Input((d,)), fastnn.layers.Dense(8, activation="tanh"),
                              fastnn.layers.Dense(classes, activation="softmax")])
    theirs = tf_keras.Sequential([tf_keras.Input((d,)),
                                  tf_keras.layers.Dense(8, activation="tanh"),
                                  tf_keras.layers.Dense(classes, activation="softmax")])
    theirs.set_weights(ours.get_weights())
    for model, lib in ((ours, fastnn), (theirs, tf_keras)):
        listed = _metrics(lib, classes) if metrics else None
        model.compile("sgd", "categorical_crossentropy",
                      metrics=None if weighted else listed,
                      weighted_metrics=listed if weighted else None)
    return ours, theirs


def _assert_logs_equal(ours: dict, theirs: dict):
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        np.testing.assert_allclose(ours[key], np.asarray(value), err_msg=key, **TOL)


@pytest.mark.parametrize("weighted", [False, True], ids=["metrics", "weighted_metrics"])
def test_evaluate_logs_and_get_metrics_result_match_keras(tf_keras, weighted):
    rng = np.random.default_rng(1)
    x, y, w = _data(rng)
    ours, theirs = _twin_models(tf_keras, weighted=weighted)
    kwargs = {"sample_weight": w} if weighted else {}
    # A batch size that splits the rows unevenly: Keras updates batch by batch.
    got = ours.evaluate(x, y, batch_size=32, verbose=0, return_dict=True, **kwargs)
    expected = theirs.evaluate(x, y, batch_size=32, verbose=0, return_dict=True, **kwargs)
    _assert_logs_equal(got, expected)
    _assert_logs_equal(ours.get_metrics_result(), theirs.get_metrics_result())
    assert list(ours.get_metrics_result()) == list(theirs.get_metrics_result())


def test_fit_validation_logs_match_keras_metrics_on_the_fitted_model(tf_keras):
    rng = np.random.default_rng(2)
    x, y, _ = _data(rng)
    xv, yv, _ = _data(rng, n=70)
    ours, _ = _twin_models(tf_keras)
    history = ours.fit(x, y, batch_size=16, epochs=2, validation_data=(xv, yv), verbose=0)
    # The reference: Keras's own metric objects on the fitted model's predictions.
    pred = ours.predict(xv, verbose=0)
    for metric in _metrics(tf_keras):
        metric.update_state(yv, pred)
        np.testing.assert_allclose(history.history[f"val_{metric.name}"][-1],
                                   np.asarray(metric.result()), err_msg=metric.name, **TOL)
    # After fit the metric objects hold the last validation, as Keras's do.
    results = ours.get_metrics_result()
    assert results["loss"] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    np.testing.assert_allclose(results["f1"], history.history["val_f1"][-1], **TOL)


def test_vector_results_in_the_progress_line(capsys):
    rng = np.random.default_rng(3)
    x, y, _ = _data(rng, n=40)
    model = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", metrics=[M.F1Score(name="f1")])
    history = model.fit(x, y, epochs=1, verbose=2)
    f1 = history.history["f1"][-1]
    assert f1.shape == (3,)
    assert f"f1: {np.mean(f1):.4f}" in capsys.readouterr().out     # Keras shows the mean


def _listing(model):
    return [(type(m).__name__, m.name) for m in model.metrics]


def test_model_metrics_list_as_keras(tf_keras):
    rng = np.random.default_rng(4)
    x, y, _ = _data(rng, n=40)
    ours, theirs = _twin_models(tf_keras)
    assert _listing(ours) == _listing(theirs) == [("Mean", "loss"),
                                                  ("CompileMetrics", "compile_metrics")]
    for model in (ours, theirs):
        with pytest.raises(ValueError, match="not yet been built"):
            model.get_metrics_result()
        model.fit(x, y, epochs=1, verbose=0)
    assert _listing(ours) == _listing(theirs)
    compiled_ours, compiled_theirs = ours.metrics[1], theirs.metrics[1]
    assert [(type(m).__name__, m.name) for m in compiled_ours.metrics] == \
        [(type(m).__name__, m.name) for m in compiled_theirs.metrics]
    assert [v.path for v in compiled_ours.variables] == [v.path for v in compiled_theirs.variables]
    # reset_state on each, as scripts do between evaluations
    for model in (ours, theirs):
        for metric in model.metrics:
            metric.reset_state()
    _assert_logs_equal(ours.get_metrics_result(), theirs.get_metrics_result())
    # CompileMetrics.update_state takes the model's targets and outputs, as Keras's does.
    pred = ours.predict(x, verbose=0)
    compiled_ours.update_state(y, pred)
    compiled_theirs.update_state(y, pred)
    _assert_logs_equal(compiled_ours.result(), compiled_theirs.result())


def test_model_metrics_without_compiled_metrics_and_with_several_outputs(tf_keras):
    rng = np.random.default_rng(5)
    x, y, _ = _data(rng, n=40)
    bare = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(3)])
    assert bare.metrics == []
    bare.compile("sgd", "mse")
    assert _listing(bare) == [("Mean", "loss")]
    bare.fit(x, y, epochs=1, verbose=0)
    assert list(bare.get_metrics_result()) == ["loss"]

    def two_outputs(lib):
        inp = lib.Input((5,))
        model = lib.Model(inp, [lib.layers.Dense(1, name="a")(inp),
                                lib.layers.Dense(3, name="b")(inp)])
        model.compile("sgd", ["mse", "mse"], metrics=[["mae"], ["mse"]])
        return model

    ours, theirs = two_outputs(fastnn), two_outputs(tf_keras)
    theirs.set_weights(ours.get_weights())
    targets = [y[:, :1], y]
    # One batch: Keras's per-output loss trackers average batch means unweighted by batch
    # size (its b_loss differs from its own b_mse over 32 + 8 rows); fastnn logs the mean
    # over rows.
    got = ours.evaluate(x, targets, batch_size=64, verbose=0, return_dict=True)
    expected = theirs.evaluate(x, targets, batch_size=64, verbose=0, return_dict=True)
    _assert_logs_equal(got, expected)
    assert _listing(ours) == _listing(theirs)
    _assert_logs_equal(ours.get_metrics_result(), theirs.get_metrics_result())
    assert list(ours.get_metrics_result()) == list(theirs.get_metrics_result())


def test_compiled_new_metrics_survive_keras_files_both_ways(tf_keras, tmp_path):
    rng = np.random.default_rng(6)
    x, y, _ = _data(rng, n=30, d=4)
    model = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(3, activation="softmax")])
    model.compile("adam", "categorical_crossentropy",
                  metrics=[M.F1Score(average="macro"), M.OneHotMeanIoU(3),
                           M.PrecisionAtRecall(0.5, class_id=1), "f1_score"])
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "ours.keras")
    theirs = tf_keras.models.load_model(tmp_path / "ours.keras")
    expected = theirs.evaluate(x, y, verbose=0, return_dict=True)
    _assert_logs_equal(model.evaluate(x, y, verbose=0, return_dict=True), expected)
    theirs.save(tmp_path / "theirs.keras")
    again = fastnn.models.load_model(tmp_path / "theirs.keras")
    _assert_logs_equal(again.evaluate(x, y, verbose=0, return_dict=True), expected)
