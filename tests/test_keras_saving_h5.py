"""Keras's legacy whole-model `.h5` format: fastnn's files load in TensorFlow's Keras 3 and
Keras's in fastnn (predictions, weights, compile arguments and optimizer state, so training
resumes the same), with Keras's warning; damaged and hostile files are refused before the
model changes, and nothing in a file is run."""

import json

import h5py
import numpy as np
import pytest

import fastnn
from fastnn.models import load_model

_rng = np.random.default_rng(8)
X = _rng.normal(size=(16, 5)).astype(np.float32)
Y = _rng.normal(size=(16, 2)).astype(np.float32)


def _functional(lib):
    ly = lib.layers
    inp = ly.Input((5,))
    h = ly.Dense(6, activation="relu", kernel_regularizer="l2")(inp)
    h = ly.BatchNormalization()(h)
    return lib.Model(inp, ly.Dense(2)(h))


def _sequential(lib):
    ly = lib.layers
    return lib.Sequential([ly.Input((5,)), ly.Dense(4, activation="tanh"), ly.Dense(2)])


def _trained_twins(tf_keras, build):
    tf_keras.utils.set_random_seed(2)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
        model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return km, fm


def _text(names):
    return [n.decode() if isinstance(n, bytes) else n for n in names]


def _resume(model):
    model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


@pytest.mark.parametrize("build", [_functional, _sequential], ids=["functional", "sequential"])
def test_h5_files_both_ways(tf_keras, tmp_path, build):
    km, fm = _trained_twins(tf_keras, build)
    with pytest.warns(UserWarning, match="HDF5 file via `model.save"):
        fm.save(tmp_path / "fastnn.h5")
    km.save(tmp_path / "keras.h5")
    from_fastnn = tf_keras.models.load_model(tmp_path / "fastnn.h5")
    from_keras = load_model(tmp_path / "keras.h5")
    # Each file holds its writer's model exactly.
    for loaded, original in ((from_fastnn, fm), (from_keras, km)):
        np.testing.assert_allclose(loaded.predict(X, verbose=0), original.predict(X, verbose=0),
                                   rtol=1e-6, atol=1e-7)
        assert loaded.optimizer.__class__.__name__ == "Adam"
        assert int(loaded.optimizer.iterations) == 4
    assert [layer.name for layer in from_keras.layers] == [layer.name for layer in km.layers]
    # The optimizers' states came through. Keras 3.15's legacy loader restores only the step
    # count and rate (it builds no slots, and cannot train the model it made: "Unknown
    # variable"), so fastnn's file is checked against Keras's layout for the rest; one more
    # epoch of Keras's model loaded in fastnn follows Keras's own (the parity tests'
    # training tolerance).
    from fastnn.saving.weights_h5 import optimizer_state

    fastnn_state = optimizer_state(fm)
    assert [float(v) for v in from_fastnn.optimizer.variables[:2]] == \
        [float(v) for v in fastnn_state[:2]]
    with h5py.File(tmp_path / "fastnn.h5") as f, h5py.File(tmp_path / "keras.h5") as k:
        group, keras_group = f["optimizer_weights"], k["optimizer_weights"]
        names = _text(group.attrs["weight_names"])
        keras_names = _text(keras_group.attrs["weight_names"])
        assert len(names) == len(keras_names) == len(fastnn_state)
        for name, keras_name, value in zip(names, keras_names, fastnn_state):
            assert group[name].shape == keras_group[keras_name].shape
            np.testing.assert_array_equal(group[name][()], value)
    for k, f in zip(_resume(km), _resume(from_keras)):
        np.testing.assert_allclose(f, k, rtol=1e-3, atol=2e-5)


def test_h5_layout_is_keras_s(tmp_path):
    fastnn.utils.set_random_seed(0)
    m = _functional(fastnn)
    m.compile("sgd", "mse")
    with pytest.warns(UserWarning):
        m.save(tmp_path / "m.hdf5")
    with h5py.File(tmp_path / "m.hdf5") as f:
        assert json.loads(f.attrs["model_config"])["class_name"] == "Functional"
        training = json.loads(f.attrs["training_config"])
        assert training["loss"] == "mean_squared_error" and training["optimizer_config"]["class_name"] == "SGD"
        group = f["model_weights"]
        names = _text(group.attrs["layer_names"])
        assert names == [layer.name for layer in m.layers]
        dense = m.layers[1].name
        assert _text(group[dense].attrs["weight_names"]) == \
            [f"{dense}/kernel", f"{dense}/bias"]
        np.testing.assert_array_equal(group[dense][dense]["kernel"][()],
                                      m.layers[1].kernel.numpy())
    again = load_model(tmp_path / "m.hdf5", compile=False)
    assert not again.compiled
    np.testing.assert_array_equal(again.predict(X, verbose=0), m.predict(X, verbose=0))


def _saved(tmp_path):
    fastnn.utils.set_random_seed(0)
    m = _sequential(fastnn)
    with pytest.warns(UserWarning):
        m.save(tmp_path / "good.h5")
    return m


def _copy(tmp_path, name, edit):
    import shutil

    path = tmp_path / name
    shutil.copy(tmp_path / "good.h5", path)
    with h5py.File(path, "a") as f:
        edit(f)
    return path


def test_damaged_and_hostile_files_are_refused(tmp_path):
    m = _saved(tmp_path)
    dense = m.layers[0].name
    cases = {
        "no config": (lambda f: f.attrs.__delitem__("model_config"), "no model config"),
        "config not json": (lambda f: f.attrs.__setitem__("model_config", "{not json"),
                            "corrupt"),
        "deep config": (lambda f: f.attrs.__setitem__("model_config", "[" * 500 + "]" * 500),
                        "nests deeper"),
        "lambda layer": (lambda f: f.attrs.__setitem__("model_config", json.dumps(
            {"class_name": "Sequential", "config": {"layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 5]}},
                {"class_name": "Lambda", "config": {"function": "os.system"}}]}})),
            "Lambda|function|safe"),
        "wrong shape": (lambda f: _replace(f, f"model_weights/{dense}/{dense}/kernel",
                                           np.zeros((5, 9), np.float32)), "Shape mismatch"),
        "missing dataset": (lambda f: f[f"model_weights/{dense}/{dense}"].__delitem__("bias"),
                            "not a dataset"),
        "soft link": (lambda f: _soft(f, f"model_weights/{dense}/{dense}", "bias",
                                      f"/model_weights/{dense}/{dense}/kernel"), "soft link"),
        "external link": (lambda f: _external(f, f"model_weights/{dense}/{dense}", "bias"),
                          "external link"),
        "non-finite": (lambda f: _replace(f, f"model_weights/{dense}/{dense}/bias",
                                          np.full(4, np.nan, np.float32)), "non-finite"),
        "path escape": (lambda f: f[f"model_weights/{dense}"].attrs.__setitem__(
            "weight_names", np.array([b"../x", b"y"])), "invalid path"),
        "names not a list": (lambda f: f["model_weights"].attrs.__setitem__(
            "layer_names", np.array([[b"a"]])), "not a list of names"),
        "unknown layer": (lambda f: f["model_weights"].attrs.__setitem__(
            "layer_names", np.array([b"ghost"])), "without its group"),
    }
    for name, (edit, message) in cases.items():
        path = _copy(tmp_path, name.replace(" ", "_") + ".h5", edit)
        with pytest.raises(ValueError, match=message):
            load_model(path)


def _replace(f, path, value):
    del f[path]
    f[path] = value


def _soft(f, group, name, target):
    del f[group][name]
    f[group][name] = h5py.SoftLink(target)


def _external(f, group, name):
    del f[group][name]
    f[group][name] = h5py.ExternalLink("/etc/passwd", "/x")


def test_failed_load_leaves_the_file_and_save_refuses_unbuilt(tmp_path):
    with pytest.raises(ValueError, match="unbuilt"):
        fastnn.Sequential([fastnn.layers.Dense(2)]).save(tmp_path / "u.h5")
    assert not (tmp_path / "u.h5").exists()
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_model(tmp_path / "text.h5")
