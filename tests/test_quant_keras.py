"""model.quantize("int8") against TensorFlow's Keras 3: same int8 weights and scales, same
predictions, .keras files both ways; training refused; the int8 model agrees with the float
one on digits. Every model test runs on the machine's int8 path and on the forced fallback."""

import json
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn.models import load_model
from fastnn.quantizers import abs_max_quantize

_rng = np.random.default_rng(17)
X = _rng.normal(size=(45, 20)).astype(np.float32)


@pytest.fixture(params=["machine", "baseline"])
def int8_path(request, monkeypatch):
    """The int8 path plans pick: the CPU's (VNNI where present) or the forced fallback."""
    if request.param == "baseline":
        monkeypatch.setenv("FASTNN_FORCE_BASELINE", "1")
    else:
        monkeypatch.delenv("FASTNN_FORCE_BASELINE", raising=False)
    return request.param


def mlp(lib, use_bias=True):
    L = lib.layers
    return lib.Sequential([lib.Input((20,)), L.Dense(33, activation="relu", use_bias=use_bias),
                           L.Dense(17, activation="tanh"), L.Dense(5, activation="softmax")])


def twins(tf_keras, use_bias=True):
    """A fastnn model and a Keras one with the same float weights, both quantized."""
    ours, theirs = mlp(fastnn, use_bias), mlp(tf_keras, use_bias)
    theirs.set_weights(ours.get_weights())
    ours.quantize("int8")
    theirs.quantize("int8")
    return ours, theirs


def test_abs_max_quantize_is_keras(tf_keras):
    from keras import quantizers

    w = _rng.normal(size=(30, 7)).astype(np.float32)
    w[:, 3] = 0.0
    for axis in (0, -1):
        q, s = abs_max_quantize(w, axis=axis)
        kq, ks = quantizers.abs_max_quantize(w, axis=axis, to_numpy=True)
        np.testing.assert_array_equal(q, np.asarray(kq))
        np.testing.assert_array_equal(s, np.asarray(ks))
        assert q.dtype == np.int8 and s.dtype == np.float32


@pytest.mark.parametrize("use_bias", [True, False])
def test_weights_and_predictions_match_keras(tf_keras, int8_path, use_bias):
    ours, theirs = twins(tf_keras, use_bias)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert [w.name for w in ours.layers[0].weights] == \
        [w.name for w in theirs.layers[0].weights]
    got = ours.predict(X, verbose=0)
    want = theirs.predict(X, verbose=0)
    # Same quantization and the same float32 steps: Keras's numbers (rounding of TF's
    # elementwise kernels aside).
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.predict(X[:1], verbose=0), want[:1], rtol=1e-6, atol=1e-7)


def test_config_is_keras(tf_keras):
    ours, theirs = twins(tf_keras)
    a, b = ours.layers[1].get_config(), theirs.layers[1].get_config()
    assert ours.layers[1].quantization_mode == "int8"
    from keras.saving import serialize_keras_object

    def as_written(value):     # what a config.json holds (tuples become lists)
        return json.loads(json.dumps(serialize_keras_object(value)))

    assert a["dtype"] == as_written(b["dtype"])
    assert a["quantization_config"] == as_written(b["quantization_config"])


def test_files_go_both_ways(tf_keras, tmp_path, int8_path):
    ours, theirs = twins(tf_keras)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    with zipfile.ZipFile(tmp_path / "ours.keras") as z:
        assert "model.weights.h5" in z.namelist()
    want = theirs.predict(X, verbose=0)
    from_ours = tf_keras.models.load_model(tmp_path / "ours.keras")
    np.testing.assert_array_equal(from_ours.predict(X, verbose=0), want)
    from_theirs = load_model(tmp_path / "theirs.keras")
    assert from_theirs.layers[0].quantization_mode == "int8"
    np.testing.assert_allclose(from_theirs.predict(X, verbose=0), want, rtol=1e-6, atol=1e-7)
    for a, b in zip(from_theirs.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_set_weights_after_quantize_reaches_predict(tf_keras, int8_path):
    ours, theirs = twins(tf_keras)
    ours.predict(X, verbose=0)                      # a plan exists before the new weights
    new = [w.copy() for w in theirs.get_weights()]
    new[0] = np.flip(new[0], axis=0).copy()         # int8 kernel of the first layer
    new[2] = new[2] * np.float32(0.5)               # its kernel_scale
    theirs.set_weights(new)
    ours.set_weights(new)
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_training_is_refused_and_evaluate_runs():
    model = mlp(fastnn)
    model.compile("adam", "categorical_crossentropy")
    model.quantize("int8")
    y = np.eye(5, dtype=np.float32)[np.arange(45) % 5]
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="quantized to int8"):
        model.fit(X, y, verbose=0)
    with pytest.raises(ValueError, match="quantized to int8"):
        model.train_on_batch(X, y)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    loss = model.evaluate(X, y, verbose=0)
    p = model.predict(X, verbose=0)
    want = -np.mean(np.log(np.clip(p[np.arange(45), np.arange(45) % 5], 1e-7, 1)))
    np.testing.assert_allclose(loss, want, rtol=1e-5)


def test_bad_quantize_calls_change_nothing():
    model = mlp(fastnn)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="Invalid quantization mode"):
        model.quantize("int9")
    with pytest.raises(ValueError, match="int8"):
        model.quantize("int4")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="isn't yet built"):
        fastnn.Sequential([fastnn.layers.Dense(3)]).quantize("int8")
    model.quantize("int8")
    with pytest.raises(ValueError, match="already quantized"):
        model.quantize("int8")
    with pytest.raises(ValueError, match="float32"):
        fastnn.layers.Dense(3, dtype="int8_from_float64")


def test_filters_pick_layers():
    model = mlp(fastnn)
    model.quantize("int8", filters=model.layers[1].name + "$")
    assert [layer.quantization_mode for layer in model.layers] == [None, "int8", None]
    p = model.predict(X, verbose=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_digits_argmax_agrees_with_float32(int8_path):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([fastnn.Input((64,)), fastnn.layers.Dense(64, activation="relu"),
                               fastnn.layers.Dense(10, activation="softmax")])
    model.compile(fastnn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    float_pred = model.predict(x, verbose=0).argmax(axis=1)
    assert (float_pred == y).mean() > 0.97          # a trained model, not a constant one
    model.quantize("int8")
    int8_pred = model.predict(x, verbose=0).argmax(axis=1)
    assert (int8_pred == float_pred).mean() >= 0.99


def test_quantizing_one_layer_of_a_built_model_replans(tf_keras):
    ours, theirs = mlp(fastnn), mlp(tf_keras)
    theirs.set_weights(ours.get_weights())
    ours.predict(X, verbose=0)                      # a float plan exists
    ours.layers[1].quantize("int8")
    theirs.layers[1].quantize("int8")
    np.testing.assert_allclose(ours.predict(X, verbose=0), theirs.predict(X, verbose=0),
                               rtol=1e-6, atol=1e-7)


def test_one_and_two_threads_give_the_same_bits():
    from fastnn._kernels import _quant

    model = fastnn.Sequential([fastnn.Input((300,)), fastnn.layers.Dense(200, activation="relu"),
                               fastnn.layers.Dense(7)])
    model.quantize("int8")
    x = _rng.normal(size=(700, 300)).astype(np.float32)
    outs = []
    for n in (1, 2):
        fastnn.config.set_num_threads(n)
        try:
            outs.append(model.predict(x, verbose=0))
        finally:
            fastnn.config.set_num_threads(None)
    assert outs[0].tobytes() == outs[1].tobytes()
    from fastnn._info import config_info

    assert config_info()["int8"] == _quant.path_name()


def test_a_file_with_a_float_kernel_for_an_int8_layer_is_refused(tmp_path):
    import h5py

    model = mlp(fastnn)
    model.quantize("int8")
    model.save_weights(tmp_path / "m.weights.h5")
    with h5py.File(tmp_path / "m.weights.h5", "r+") as f:
        name = "layers/dense/vars/0"
        assert f[name].dtype == np.int8
        value = f[name][...].astype(np.float32) * 3
        del f[name]
        f[name] = value
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="int8 variable"):
        model.load_weights(tmp_path / "m.weights.h5")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
