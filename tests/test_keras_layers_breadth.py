"""Identity, ActivityRegularization, AlphaDropout, UnitNormalization, Embedding and Dense on
inputs of rank > 2, against TensorFlow's Keras 3 (forward values, training trajectories from
copied weights, configs, .keras files both ways), their engine ops' gradients against
central differences, and Embedding's training on 1 and 2 threads bit for bit."""

import numpy as np
import pytest
from _threads import assert_same_bits_on_one_and_two_threads

import fastnn
from fastnn import layers

N, CODES, VOCAB = 12, 4, 9
BATCH = 5
_rng = np.random.default_rng(16)
CODES_X = _rng.integers(0, VOCAB, size=(N, CODES))
Y2 = _rng.normal(size=(N, 2)).astype(np.float32)
X6 = _rng.normal(size=(N, 6)).astype(np.float32)

# SELU's constants (Klambauer et al., 2017), for the hand-computed AlphaDropout.
ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946


def twins(tf_keras, build):
    tf_keras.utils.set_random_seed(3)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    return km, fm


def fit_both(tf_keras, km, fm, x, y, epochs=3, lr=0.05, loss="mse"):
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.SGD(lr, momentum=0.5), loss=loss)
    kw = {"batch_size": BATCH, "epochs": epochs, "shuffle": False, "verbose": 0}
    hk, hf = km.fit(x, y, **kw).history, fm.fit(x, y, **kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4, atol=1e-6)
    for i, (k, f) in enumerate(zip(km.get_weights(), fm.get_weights())):
        np.testing.assert_allclose(f, k, rtol=1e-3, atol=2e-5, err_msg=f"weight {i}")


def _categorical(lib):
    """Codes → vectors → a Dense on each vector (rank 3) → unit vectors → one output."""
    ly = lib.layers
    inp = ly.Input((CODES,), dtype="int32")
    h = ly.Embedding(VOCAB, 3, embeddings_initializer="normal")(inp)
    h = ly.Dense(5, activation="tanh")(h)
    h = ly.UnitNormalization()(h)
    h = ly.Flatten()(h)
    h = ly.ActivityRegularization(l1=0.01, l2=0.02)(h)
    h = ly.Identity()(h)
    return lib.Model(inp, ly.Dense(2)(h))


def test_categorical_stack_forward_and_fit(tf_keras):
    km, fm = twins(tf_keras, _categorical)
    np.testing.assert_allclose(fm.predict(CODES_X, verbose=0), km.predict(CODES_X, verbose=0),
                               rtol=1e-5, atol=1e-6)
    fit_both(tf_keras, km, fm, CODES_X, Y2, lr=0.2)


def _dense_rank3_output(lib):
    ly = lib.layers
    return lib.Sequential([ly.Input((3, 4)), ly.Dense(6, activation="relu"),
                           ly.Dense(2, activation="softmax")])


def test_dense_on_rank_3_inputs_as_the_model_output(tf_keras):
    x = _rng.normal(size=(N, 3, 4)).astype(np.float32)
    y = _rng.uniform(size=(N, 3, 2)).astype(np.float32)
    km, fm = twins(tf_keras, _dense_rank3_output)
    out = fm.predict(x, verbose=0)
    assert out.shape == (N, 3, 2)
    np.testing.assert_allclose(out, km.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    fm.compile("sgd", "mse")
    with pytest.raises(ValueError, match="2-D outputs"):
        fm.fit(x, y, verbose=0)
    # Trained through a Flatten, as Keras trains it.
    km, fm = twins(tf_keras, lambda lib: lib.Sequential([*_dense_rank3_output(lib).layers,
                                                        lib.layers.Flatten()]))
    fit_both(tf_keras, km, fm, x, y.reshape(N, -1), lr=0.5)


def test_unit_normalization_and_identity_forward(tf_keras):
    x = np.concatenate([X6, np.zeros((1, 6), np.float32)])     # a zero row: clipped, 0 out
    for lib_layer in ("UnitNormalization", "Identity"):
        expected = np.asarray(getattr(tf_keras.layers, lib_layer)()(x))
        np.testing.assert_allclose(getattr(layers, lib_layer)()(x), expected, rtol=1e-6,
                                   atol=1e-7)
    norms = np.linalg.norm(layers.UnitNormalization()(X6), axis=1)
    np.testing.assert_allclose(norms, 1, rtol=1e-6)


def test_alpha_dropout_inference_identity_and_training_formula(tf_keras):
    rate = 0.3
    layer = layers.AlphaDropout(rate, seed=4)
    np.testing.assert_array_equal(layer(X6), X6)
    np.testing.assert_array_equal(np.asarray(tf_keras.layers.AlphaDropout(rate)(X6)), X6)
    x = np.random.default_rng(0).normal(size=(4000, 10))
    out = layers.AlphaDropout(rate, seed=4, dtype="float64")(x, training=True)
    a = ((1 - rate) * (1 + rate * ALPHA_P ** 2)) ** -0.5
    b = -a * ALPHA_P * rate
    dropped = np.isclose(out, a * ALPHA_P + b, rtol=0, atol=1e-12)
    assert abs(dropped.mean() - rate) < 0.01
    np.testing.assert_allclose(out[~dropped], a * x[~dropped] + b, rtol=1e-12)
    # The point of the layer: standard normal inputs keep mean 0 and variance 1.
    assert abs(out.mean()) < 0.03 and abs(out.var() - 1) < 0.04


def _every_new_op(dtype="float64"):
    ly = fastnn.layers
    inp = ly.Input((CODES,), dtype="int32")
    h = ly.Embedding(VOCAB, 3, embeddings_initializer="normal", dtype=dtype)(inp)
    h = ly.Dense(4, activation="tanh", dtype=dtype)(h)
    h = ly.UnitNormalization(dtype=dtype)(h)
    h = ly.Flatten(dtype=dtype)(h)
    h = ly.AlphaDropout(0.25, seed=2, dtype=dtype)(h)
    h = ly.ActivityRegularization(l2=0.05, dtype=dtype)(h)
    return fastnn.Model(inp, ly.Dense(2, dtype=dtype)(h))


def test_gradients_against_central_differences():
    fastnn.utils.set_random_seed(0)
    model = _every_new_op()
    model.compile(optimizer="sgd", loss="mse")
    y = Y2.astype(np.float64)
    plan = model._ensure_plan()
    xs = model._inputs(CODES_X)
    ys, ws, _ = model._targets(y, None, None, N)
    plan.engine.loss_and_gradients(xs, ys, ws, 1)
    grads = plan.grads.copy()
    params = plan.params
    used = np.zeros(params.size, bool)   # embedding rows no code picks have no gradient
    eps = 1e-6
    for i in range(params.size):
        keep = params[i]
        params[i] = keep + eps
        up = plan.engine.loss_and_gradients(xs, ys, ws, 1)
        params[i] = keep - eps
        down = plan.engine.loss_and_gradients(xs, ys, ws, 1)
        params[i] = keep
        used[i] = up != down
        np.testing.assert_allclose(grads[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-8,
                                   err_msg=f"parameter {i}")
    assert used.sum() > params.size // 2


def _train_embedding():
    fastnn.utils.set_random_seed(5)
    ly = fastnn.layers
    rng = np.random.default_rng(2)
    x = rng.integers(0, 50, size=(400, 6))
    y = rng.normal(size=(400, 1))
    inp = ly.Input((6,), dtype="int32")
    h = ly.Flatten()(ly.Dense(8, activation="relu")(ly.Embedding(50, 16)(inp)))
    model = fastnn.Model(inp, ly.Dense(1)(h))
    model.compile("adam", "mse")
    model.fit(x, y, batch_size=200, epochs=2, verbose=0)
    return model


def test_embedding_training_same_bits_on_one_and_two_threads():
    assert_same_bits_on_one_and_two_threads(_train_embedding)


def test_embedding_refuses_bad_codes_and_mask_zero():
    fastnn.utils.set_random_seed(1)
    inp = layers.Input((2,), dtype="int32")
    model = fastnn.Model(inp, layers.Flatten()(layers.Embedding(3, 2)(inp)))
    for bad in ([[0, 3]], [[-1, 0]], [[0.5, 1]]):
        with pytest.raises(ValueError, match=r"integer in \[0, 3\)"):
            model.predict(np.array(bad), verbose=0)
    with pytest.raises(ValueError, match=r"integer in \[0, 3\)"):    # the engine's own check
        layers.Embedding(3, 2)(np.array([[0, 5]]))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.array([[np.nan, 1]]), verbose=0)
    model.compile("sgd", "mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"integer in \[0, 3\)"):
        # (the bad code in the last batch: refused before the first one is applied)
        model.fit(np.array([[0, 1], [1, 2], [2, 7]]), np.zeros((3, 4)), batch_size=1,
                  verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], before[0])
    # An Embedding on the second of two inputs reads its own columns only.
    a, b = layers.Input((1,)), layers.Input((2,), dtype="int32")
    two = fastnn.Model([a, b], layers.Concatenate()(
        [a, layers.Flatten()(layers.Embedding(3, 2, name="codes")(b))]))
    assert two.predict([np.array([[-5.5]]), np.array([[2, 0]])], verbose=0).shape == (1, 5)
    with pytest.raises(ValueError, match=r"'codes' received 3\.0 \(row 0, column 1\)"):
        two.predict([np.array([[0.0]]), np.array([[2, 3]])], verbose=0)
    with pytest.raises(ValueError, match="mask_zero"):
        layers.Embedding(3, 2, mask_zero=True)
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 2)
    with pytest.raises(ValueError, match="rate < 1"):
        layers.AlphaDropout(1.0)
    with pytest.raises(ValueError, match="last axis"):
        layers.UnitNormalization(axis=1)(np.ones((2, 3, 4)))
    # A Python activation would see each row's vectors side by side: refused on rank > 2.
    with pytest.raises(ValueError, match="Python activation function on Dense"):
        fastnn.Sequential([layers.Input((2, 3)), layers.Dense(2, activation=lambda t: t * 2)]
                          ).predict(np.ones((1, 2, 3)), verbose=0)


CONFIG_CASES = {
    "Identity": lambda lib: lib.layers.Identity(),
    "ActivityRegularization": lambda lib: lib.layers.ActivityRegularization(l1=0.1, l2=0.2),
    "AlphaDropout": lambda lib: lib.layers.AlphaDropout(0.2, seed=3),
    "UnitNormalization": lambda lib: lib.layers.UnitNormalization(axis=-1),
    "Embedding": lambda lib: lib.layers.Embedding(7, 3, embeddings_regularizer="l2"),
}


def _plain(value):
    if isinstance(value, dict) and "class_name" in value:
        return value["class_name"].lower(), _plain(value.get("config", {}))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()
                if k not in ("module", "registered_name")}
    return value


@pytest.mark.parametrize("name", CONFIG_CASES)
def test_configs_match_keras_and_round_trip(tf_keras, name):
    layer = CONFIG_CASES[name](fastnn)
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    assert layers.deserialize(layers.serialize(layer)).get_config() == config
    # (`keras.layers`: tf.keras's AlphaDropout is Keras's deprecated legacy class.)
    import keras

    keras_config = CONFIG_CASES[name](keras).get_config()
    assert set(config) == set(keras_config)
    for key in set(config) - {"name", "dtype"}:
        assert _plain(config[key]) == _plain(keras_config[key]), key


def _with_alpha_dropout(lib):
    ly = lib.layers
    return lib.Sequential([ly.Input((CODES,), dtype="int32"), ly.Embedding(VOCAB, 2),
                           ly.Flatten(), ly.Dense(5, activation="selu"),
                           ly.AlphaDropout(0.2, seed=7), ly.Dense(2)])


@pytest.mark.parametrize("build", [_categorical, _with_alpha_dropout],
                         ids=["functional", "sequential"])
def test_keras_files_both_ways(tf_keras, tmp_path, build):
    km, fm = twins(tf_keras, build)
    fm.save(tmp_path / "fastnn.keras")
    km.save(tmp_path / "keras.keras")
    expected = km.predict(CODES_X, verbose=0)
    from_fastnn = tf_keras.models.load_model(tmp_path / "fastnn.keras")
    from_keras = fastnn.models.load_model(tmp_path / "keras.keras")
    np.testing.assert_allclose(from_fastnn.predict(CODES_X, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(from_keras.predict(CODES_X, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)
    assert [type(layer).__name__ for layer in from_keras.layers] == \
        [type(layer).__name__ for layer in km.layers]
