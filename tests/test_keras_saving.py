"""Saving and loading: the Keras 3 .keras and .weights.h5 formats, both ways with Keras 3,
exact resumption of training, and clear errors for damaged or foreign files."""

import json
import zipfile

import h5py
import numpy as np
import pytest

import fastnn
from fastnn.models import load_model, model_from_json

_rng = np.random.default_rng(7)
X = _rng.normal(size=(37, 6)).astype(np.float32)
Y = np.eye(3, dtype=np.float32)[_rng.integers(0, 3, size=37)]


def mlp(lib):
    L = lib.layers
    return lib.Sequential([lib.Input((6,)), L.Dense(8, activation="relu"),
                           L.BatchNormalization(), L.PReLU(), L.Dropout(0.25),
                           L.Dense(3, activation="softmax")])


def compiled(lib, optimizer=None):
    m = mlp(lib)
    m.compile(optimizer=optimizer or lib.optimizers.Adam(0.01),
              loss="categorical_crossentropy", metrics=["accuracy"])
    return m


def test_keras_file_layout(tmp_path):
    m = compiled(fastnn)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
        config = json.loads(z.read("config.json"))
        meta = json.loads(z.read("metadata.json"))
        z.extract("model.weights.h5", tmp_path)
    assert meta["keras_version"].startswith("3.")
    assert config["class_name"] == "Sequential"
    assert config["build_config"] == {"input_shape": [None, 6]}
    assert config["compile_config"]["loss"] == "categorical_crossentropy"
    with h5py.File(tmp_path / "model.weights.h5") as f:
        assert sorted(f["layers"]) == ["batch_normalization", "dense", "dense_1", "dropout",
                                       "p_re_lu"]
        assert f["layers/dense/vars/0"].shape == (6, 8)
        assert [f["layers/batch_normalization/vars"][str(i)].shape for i in range(4)] == [(8,)] * 4
        assert f["optimizer/vars/0"][()] == 5 and f["optimizer/vars/0"].dtype == np.int64
        assert len(f["optimizer/vars"]) == 2 + 2 * 7  # iterations, lr, (m, v) x 7 variables
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fastnn-")]


def test_fastnn_file_loads_in_keras(tf_keras, tmp_path):
    m = compiled(fastnn)
    m.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    m.save(tmp_path / "f.keras")
    k = tf_keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(k.predict(X, verbose=0), m.predict(X), rtol=1e-5, atol=1e-6)
    assert int(k.optimizer.iterations.numpy()) == m.optimizer.iterations == 10
    from fastnn.saving.weights_h5 import optimizer_state

    ours = optimizer_state(m)
    theirs = [v.numpy() for v in k.optimizer.variables]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(b, a, rtol=1e-6)
    # and from JSON alone
    k2 = tf_keras.models.model_from_json(m.to_json())
    assert [w.shape for w in k2.get_weights()] == [w.shape for w in m.get_weights()]


def test_keras_file_loads_in_fastnn_and_resumes(tf_keras, tmp_path):
    k = compiled(tf_keras)
    k.fit(X, Y, epochs=2, batch_size=8, verbose=0, shuffle=False)
    k.save(tmp_path / "k.keras")
    m = load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(m.predict(X), k.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert m.optimizer.iterations == 10 and isinstance(m.optimizer, fastnn.optimizers.Adam)
    # The optimizer state came along: one more epoch (dropout off) gives the same weights.
    for model in (k, m):
        model.layers[3].rate = 0.0
    k2, m2 = (tf_keras.models.load_model(tmp_path / "k.keras"), m)
    k2.layers[3].rate = 0.0
    m2 = load_model(tmp_path / "k.keras")
    m2.layers[3].rate = 0.0
    m2._invalidate_plan()
    k2.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    m2.fit(X, Y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    for a, b in zip(m2.get_weights(), k2.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-5)


def test_weights_files_both_ways(tf_keras, tmp_path):
    k = compiled(tf_keras)
    k.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    k.save_weights(tmp_path / "k.weights.h5")
    m = compiled(fastnn)
    m.load_weights(tmp_path / "k.weights.h5")
    for a, b in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    m.save_weights(tmp_path / "f.weights.h5")
    k.load_weights(tmp_path / "f.weights.h5")
    for a, b in zip(m.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        m.save_weights(tmp_path / "w.h5")
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        m.save(tmp_path / "m.zip")


def _resume_run(tmp_path, shuffle, split):
    fastnn.utils.set_random_seed(3)
    fastnn.backend.clear_session()
    L = fastnn.layers
    m = fastnn.Sequential([fastnn.Input((6,)), L.Dense(8, activation="tanh"),
                           L.BatchNormalization(), L.Dense(3, activation="softmax")])
    m.compile(fastnn.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    kw = {"batch_size": 8, "verbose": 0, "shuffle": shuffle}
    if split is None:
        h = m.fit(X, Y, epochs=4, **kw).history
        return m, h
    m.fit(X, Y, epochs=2, **kw)
    m.save(tmp_path / "half.keras")
    m = load_model(tmp_path / "half.keras")
    h = m.fit(X, Y, epochs=4, initial_epoch=2, **kw).history
    return m, h


@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_training_is_bitwise(tmp_path, shuffle):
    full, hf = _resume_run(tmp_path, shuffle, None)
    resumed, hr = _resume_run(tmp_path, shuffle, 2)
    for a, b in zip(full.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert hf["loss"][2:] == hr["loss"]
    assert resumed.optimizer.iterations == full.optimizer.iterations == 20


def test_json_and_config_round_trip():
    m = mlp(fastnn)
    clone = model_from_json(m.to_json())
    assert clone.get_config() == m.get_config()
    assert json.loads(clone.to_json()) == json.loads(m.to_json())
    copy = fastnn.models.clone_model(m)
    assert copy.get_config() == m.get_config()
    with pytest.raises(ValueError, match="JSON"):
        model_from_json("{not json")


@pytest.fixture
def saved(tmp_path):
    m = compiled(fastnn)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "good.keras"
    m.save(path)
    return m, path


def test_truncated_and_corrupt_files(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for name, content in [("trunc.keras", data[: len(data) // 2]),
                          ("noise.keras", np.random.default_rng(0).bytes(2000)),
                          ("empty.keras", b"")]:
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="not a `.keras` zip file|corrupt"):
            load_model(bad)
    # A zip with a damaged weights file inside.
    bad = tmp_path / "badh5.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.namelist():
            body = src.read(item)
            dst.writestr(item, body[:100] if item == "model.weights.h5" else body)
    with pytest.raises(ValueError, match="corrupt, truncated"):
        load_model(bad)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.keras")


def _rewrite(path, out, config_edit=None, drop=None):
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            if item == drop:
                continue
            body = src.read(item)
            if item == "config.json" and config_edit:
                config = json.loads(body)
                config_edit(config)
                body = json.dumps(config).encode()
            dst.writestr(item, body)
    return out


def test_foreign_and_unsupported_files(saved, tmp_path):
    _, path = saved
    with pytest.raises(ValueError, match="lacks model.weights.h5"):
        load_model(_rewrite(path, tmp_path / "a.keras", drop="model.weights.h5"))

    def conv(config):
        config["config"]["layers"][1] = {"module": "keras.layers", "class_name": "Conv2D",
                                         "config": {"name": "conv2d", "filters": 3}}
    with pytest.raises(ValueError, match="'conv2d' is a Conv2D, which fastnn does not support"):
        load_model(_rewrite(path, tmp_path / "b.keras", conv))

    def functional(config):
        config["class_name"] = "Functional"
    with pytest.raises(ValueError, match="Invalid input_layers/output_layers in the functional"):
        load_model(_rewrite(path, tmp_path / "c.keras", functional))

    def subclassed(config):
        config["class_name"] = "MyModel"
    with pytest.raises(ValueError, match="fastnn loads Sequential and functional models"):
        load_model(_rewrite(path, tmp_path / "c2.keras", subclassed))

    def wider(config):
        config["config"]["layers"][1]["config"]["units"] = 9
    with pytest.raises(ValueError, match=r"Shape mismatch .*dense(_\d+)?/kernel.*\(6, 9\).*\(6, 8\)"):
        load_model(_rewrite(path, tmp_path / "d.keras", wider))
    h5 = tmp_path / "legacy.h5"
    with h5py.File(h5, "w") as f:
        f.attrs["model_config"] = "{}"
    with pytest.raises(ValueError, match="legacy `.h5`"):
        load_model(h5)


def test_load_weights_errors_leave_model_unchanged(saved, tmp_path):
    m, _ = saved
    other = fastnn.Sequential([fastnn.Input((6,)), fastnn.layers.Dense(4)])
    other.save_weights(tmp_path / "o.weights.h5")
    before = m.get_weights()
    with pytest.raises(ValueError, match="Shape mismatch for layer"):
        m.load_weights(tmp_path / "o.weights.h5")
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.save_weights(tmp_path / "nan.weights.h5")
    with h5py.File(tmp_path / "nan.weights.h5", "r+") as f:
        f["layers/dense/vars/1"][0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        m.load_weights(tmp_path / "nan.weights.h5")
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_failed_save_keeps_the_old_file(saved, monkeypatch):
    m, path = saved
    original = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("fastnn.saving.weights_h5.write", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        m.save(path)
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".fastnn-")] == []
    with pytest.raises(FileExistsError):
        monkeypatch.undo()
        m.save(path, overwrite=False)


def test_models_save_to_and_load_from_file_objects_both_ways_with_keras(tf_keras, tmp_path):
    import io

    import fastnn

    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(2, activation="tanh")])
    model.compile("adam", "mse")
    model.fit(x, x[:, :2], epochs=2, verbose=0)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    again = fastnn.models.load_model(buffer)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.optimizer.iterations == model.optimizer.iterations
    (tmp_path / "f.keras").write_bytes(buffer.getvalue())     # Keras's load_model takes paths
    from_fastnn = tf_keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(from_fastnn.predict(x, verbose=0), model.predict(x), rtol=1e-6)
    keras_buffer = io.BytesIO()
    from_fastnn.save(tmp_path / "k.keras")
    keras_buffer.write((tmp_path / "k.keras").read_bytes())
    keras_buffer.seek(0)
    np.testing.assert_allclose(fastnn.models.load_model(keras_buffer).predict(x),
                               model.predict(x), rtol=1e-6)
    with pytest.raises(ValueError, match="not a `.keras` zip file"):
        fastnn.models.load_model(io.BytesIO(b"not a zip"))


def test_models_pickle_and_deepcopy_at_every_stage_and_resume_exactly():
    import copy
    import pickle

    import fastnn

    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
    y = x[:, :2] ** 2
    unbuilt = fastnn.Sequential([fastnn.layers.Dense(4, activation="relu"),
                                 fastnn.layers.Dense(2)])
    unbuilt.compile("adam", "mse")
    again = pickle.loads(pickle.dumps(unbuilt))
    assert not again.built and again.compiled and [lay.units for lay in again.layers] == [4, 2]

    fastnn.utils.set_random_seed(1)
    model = fastnn.Sequential([fastnn.Input((3,)), fastnn.layers.Dense(4, activation="relu"),
                               fastnn.layers.Dense(2)])
    model.compile("adam", "mse")
    compiled = copy.deepcopy(model)
    np.testing.assert_array_equal(compiled.predict(x), model.predict(x))
    model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    trained = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(trained.predict(x), model.predict(x))
    for m in (model, trained):      # resumes where it stopped: optimizer state travels too
        m.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
