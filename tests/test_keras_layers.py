"""fastnn.layers against TensorFlow's Keras 3: forward and backward through fit, weights,
configs and names, and the random layers' statistics (their random numbers differ from
TensorFlow's by design, so those are checked against their distributions)."""

import numpy as np
import pytest

import fastnn
from fastnn import layers

N, D = 13, 6
BATCH = 5
FIT_TOL = {"rtol": 1e-3, "atol": 2e-5}

_rng = np.random.default_rng(99)
X = _rng.normal(size=(N, D)).astype(np.float32)
LABELS = _rng.integers(0, 3, size=N)
Y_REG = _rng.normal(size=(N, 2)).astype(np.float32)


def twins(tf_keras, build):
    """The same model from both libraries, fastnn's starting from Keras's initial weights
    (drawn from a fixed seed, so that every run checks the same numbers)."""
    tf_keras.utils.set_random_seed(1)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    return km, fm


def assert_same_weights(km, fm, **tol):
    kw, fw = km.get_weights(), fm.get_weights()
    assert [w.shape for w in fw] == [w.shape for w in kw]
    for i, (k, f) in enumerate(zip(kw, fw)):
        np.testing.assert_allclose(f, k, **(tol or FIT_TOL), err_msg=f"weight {i}")


def fit_both(tf_keras, km, fm, x, y, loss=None, epochs=3, lr=0.05):
    """Fit both models (compiling them first when ``loss`` is given)."""
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        if loss is not None:
            model.compile(optimizer=lib.optimizers.SGD(lr, momentum=0.5), loss=loss)
    kw = {"batch_size": BATCH, "epochs": epochs, "shuffle": False, "verbose": 0}
    hk, hf = km.fit(x, y, **kw).history, fm.fit(x, y, **kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4, atol=1e-6)


def keras_out(km, x, training=False):
    return np.asarray(km(x, training=training))


# ---- deterministic layers: forward and backward -----------------------------------------

def _activation_stack(lib):
    ly = lib.layers
    return lib.Sequential([
        lib.Input((D,)),
        ly.Dense(8), ly.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.2),
        ly.Dense(8, use_bias=False), ly.ReLU(max_value=0.8),
        ly.Dense(8), ly.ReLU(negative_slope=0.3, threshold=0.1),
        ly.Dense(8), ly.LeakyReLU(),
        ly.Dense(8), ly.LeakyReLU(negative_slope=0.05),
        ly.Dense(8), ly.ELU(alpha=0.7),
        ly.Dense(8), ly.PReLU(alpha_initializer=lib.initializers.Constant(0.25)),
        ly.Dense(8), ly.Activation("tanh"),
        ly.Dense(3), ly.Softmax(),
    ])


def test_activation_layers_forward_and_fit(tf_keras):
    km, fm = twins(tf_keras, _activation_stack)
    x = 2 * X
    np.testing.assert_allclose(fm.predict(x), keras_out(km, x), rtol=1e-5, atol=1e-6)
    fit_both(tf_keras, km, fm, x, LABELS, "sparse_categorical_crossentropy", lr=0.2)
    assert_same_weights(km, fm)


def test_flatten_3d_input(tf_keras):
    x3 = _rng.normal(size=(N, 4, 3)).astype(np.float32)

    def build(lib):
        return lib.Sequential([lib.Input((4, 3)), lib.layers.Flatten(),
                               lib.layers.Dense(5, activation="relu"), lib.layers.Dense(2)])

    km, fm = twins(tf_keras, build)
    assert fm.output_shape == km.output_shape == (None, 2)
    assert fm.layers[0].compute_output_shape((None, 4, 3)) == (None, 12)
    np.testing.assert_allclose(fm.predict(x3), keras_out(km, x3), rtol=1e-5, atol=1e-6)
    fit_both(tf_keras, km, fm, x3, Y_REG, "mse")
    assert_same_weights(km, fm)
    with pytest.raises(ValueError, match="channels_last"):
        fastnn.Sequential([fastnn.Input((4, 3)), layers.Flatten(data_format="channels_first")])
    with pytest.raises(ValueError, match="data_format"):
        layers.Flatten(data_format="nhwc")


def _normalized(lib):
    ly = lib.layers
    return lib.Sequential([
        lib.Input((D,)),
        ly.Dense(7, activation="relu"), ly.BatchNormalization(momentum=0.6),
        ly.Dense(5), ly.LayerNormalization(epsilon=0.01),
        ly.Dense(5, activation="tanh"),
        ly.BatchNormalization(momentum=0.8, epsilon=0.01, center=False),
        ly.LayerNormalization(scale=False), ly.Dense(2),
    ])


def _normalized_reference(weights, x):
    """_normalized's inference in float64 NumPy, from its weights in Keras's order."""
    w = [a.astype(np.float64) for a in weights]

    def batch_norm(h, gamma, beta, mean, var, eps):
        return (h - mean) / np.sqrt(var + eps) * gamma + beta

    def layer_norm(h, gamma, beta, eps):
        centered = h - h.mean(axis=1, keepdims=True)
        return centered / np.sqrt(h.var(axis=1, keepdims=True) + eps) * gamma + beta

    h = batch_norm(np.maximum(x @ w[0] + w[1], 0), *w[2:6], 1e-3)
    h = layer_norm(h @ w[6] + w[7], w[8], w[9], 0.01)
    h = batch_norm(np.tanh(h @ w[10] + w[11]), w[12], 0.0, w[13], w[14], 0.01)
    return layer_norm(h, 1.0, w[15], 1e-3) @ w[16] + w[17]


def test_normalization_weights_order_and_shapes(tf_keras):
    km, fm = twins(tf_keras, _normalized)
    assert [w.shape for w in fm.get_weights()] == [w.shape for w in km.get_weights()]
    assert [w.name for w in fm.weights] == [w.name for w in km.weights]
    assert [w.name for w in fm.trainable_weights] == [w.name for w in km.trainable_weights]
    assert fm.count_params() == km.count_params()


def test_normalization_training_inference_and_moving_stats(tf_keras):
    km, fm = twins(tf_keras, _normalized)
    # Inference from fresh moving statistics, then one training-mode call: batch statistics,
    # and the moving statistics move as Keras moves them.
    np.testing.assert_allclose(fm.predict(X), keras_out(km, X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm.predict(X), _normalized_reference(km.get_weights(), X),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm(X, training=True), keras_out(km, X, training=True),
                               rtol=1e-5, atol=1e-5)
    assert_same_weights(km, fm, rtol=1e-5, atol=1e-6)
    fit_both(tf_keras, km, fm, X, Y_REG, "mse", lr=0.01)
    assert_same_weights(km, fm)
    # A training-mode call between two fits: its moving statistics carry into the next fit.
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm(X[:9], training=True), keras_out(km, X[:9], training=True),
                               rtol=1e-5, atol=1e-5)
    fit_both(tf_keras, km, fm, X, Y_REG, epochs=1)
    assert_same_weights(km, fm)
    # Inference with the trained moving statistics. The last LayerNormalization (ε = 1e-3)
    # amplifies float32 rounding: Keras's output is about 1e-6 off the float64 result, so
    # fastnn is checked against that result instead.
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm.predict(X), _normalized_reference(km.get_weights(), X),
                               rtol=1e-5, atol=1e-6)


def test_frozen_layers_are_not_trained(tf_keras):
    def build(lib):
        ly = lib.layers
        return lib.Sequential([
            lib.Input((D,)),
            # A frozen layer's regularizer adds nothing to the loss (Keras).
            ly.Dense(7, activation="relu", trainable=False,
                     kernel_regularizer=lib.regularizers.L2(0.5)),
            ly.BatchNormalization(momentum=0.5, trainable=False), ly.Dense(5, activation="relu"),
            ly.BatchNormalization(momentum=0.5), ly.Dense(3, activation="softmax"),
        ])

    km, fm = twins(tf_keras, build)
    # Keras runs a frozen BatchNormalization in inference mode, even in fit.
    km.layers[1].set_weights([w * 1.5 + 0.1 for w in km.layers[1].get_weights()])
    fm.layers[1].set_weights(km.layers[1].get_weights())
    frozen_bn = [w.copy() for w in fm.layers[1].get_weights()]
    frozen_dense = [w.copy() for w in fm.layers[0].get_weights()]
    assert len(fm.trainable_weights) == len(km.trainable_weights) == 6
    fit_both(tf_keras, km, fm, X, LABELS, "sparse_categorical_crossentropy")
    assert_same_weights(km, fm)
    for before, after in zip(frozen_dense + frozen_bn,
                             fm.layers[0].get_weights() + fm.layers[1].get_weights()):
        assert np.array_equal(before, after)


# ---- random layers ----------------------------------------------------------------------

def _noise_model(layer):
    return fastnn.Sequential([fastnn.Input((400,)), layer])


def test_dropout_statistics():
    x = np.ones((300, 400), dtype=np.float32)
    model = _noise_model(layers.Dropout(0.3, seed=1))
    out = model(x, training=True)
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01          # 120000 draws: sd of the mean ~ 0.0013
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert np.array_equal(model.predict(x), x)
    assert not np.array_equal(model(x, training=True), out)   # a fresh mask per call
    assert np.array_equal(_noise_model(layers.Dropout(1.0))(x, training=True), 0 * x)


def test_gaussian_noise_statistics():
    x = _rng.normal(size=(300, 400)).astype(np.float32)
    model = _noise_model(layers.GaussianNoise(0.5, seed=2))
    noise = model(x, training=True) - x
    assert abs(noise.mean()) < 0.005               # sd of the mean ~ 0.5 / sqrt(120000)
    assert abs(noise.std() - 0.5) < 0.005
    assert np.array_equal(model.predict(x), x)


def test_gaussian_dropout_statistics():
    x = np.full((300, 400), 2.0, dtype=np.float32)
    rate = 0.2
    model = _noise_model(layers.GaussianDropout(rate, seed=3))
    factor = model(x, training=True) / x
    assert abs(factor.mean() - 1) < 0.005
    assert abs(factor.std() - np.sqrt(rate / (1 - rate))) < 0.005
    assert np.array_equal(model.predict(x), x)


def test_training_call_differs_from_predict():
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([fastnn.Input((D,)), layers.Dense(16, activation="relu"),
                               layers.Dropout(0.5), layers.Dense(2)])
    assert not np.allclose(model(X, training=True), model.predict(X))
    np.testing.assert_array_equal(model(X), model.predict(X))


# ---- configs and names ------------------------------------------------------------------

LAYER_CASES = [
    lambda lib: lib.layers.Dense(4, activation="relu", use_bias=False,
                                 kernel_regularizer=lib.regularizers.L2(0.1)),
    lambda lib: lib.layers.Activation("tanh"),
    lambda lib: lib.layers.Dropout(0.25, seed=3),
    lambda lib: lib.layers.GaussianNoise(0.1, seed=4),
    lambda lib: lib.layers.GaussianDropout(0.2),
    lambda lib: lib.layers.BatchNormalization(momentum=0.9, epsilon=0.01, center=False),
    lambda lib: lib.layers.LayerNormalization(epsilon=0.02, scale=False),
    lambda lib: lib.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
    lambda lib: lib.layers.LeakyReLU(negative_slope=0.2),
    lambda lib: lib.layers.PReLU(),
    lambda lib: lib.layers.ELU(alpha=0.5),
    lambda lib: lib.layers.Softmax(),
    lambda lib: lib.layers.Flatten(),
]


def _plain(value):
    """A config value with Keras's serialization wrappers reduced to comparable data."""
    if isinstance(value, dict) and "class_name" in value:
        return value["class_name"].lower(), _plain(value.get("config", {}))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in ("module",
                                                                    "registered_name")}
    return value


@pytest.mark.parametrize("make", LAYER_CASES, ids=[
    "Dense", "Activation", "Dropout", "GaussianNoise", "GaussianDropout", "BatchNormalization",
    "LayerNormalization", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Flatten"])
def test_config_round_trip_and_keras_keys(tf_keras, make):
    layer = make(fastnn)
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert layers.deserialize(layers.serialize(layer)).get_config() == config
    keras_config = make(tf_keras).get_config()
    for key, value in config.items():
        if key in ("name", "dtype"):
            continue
        assert key in keras_config, key
        if isinstance(value, (int, float, bool, str, type(None))):
            assert value == keras_config[key], key


def test_automatic_names(tf_keras):
    fastnn.backend.clear_session()
    names = [layers.Dense(2).name, layers.Dense(2).name, layers.Dense(2).name,
             layers.BatchNormalization().name, layers.LeakyReLU().name, layers.PReLU().name,
             layers.Dense(2, name="out").name]
    assert names == ["dense", "dense_1", "dense_2", "batch_normalization", "leaky_re_lu",
                     "p_re_lu", "out"]
    tf_keras.backend.clear_session()
    keras_names = [tf_keras.layers.LeakyReLU().name, tf_keras.layers.PReLU().name]
    assert keras_names == names[4:6]


def test_initializer_none_is_glorot_uniform_as_keras(tf_keras):
    # TensorFlow's imbalanced-data tutorial passes Dense(bias_initializer=None): Keras 3 then
    # draws the weight with glorot_uniform (limit sqrt(6 / (fan_in + fan_out))), keeping None
    # in the config; fastnn failed with "'NoneType' object is not callable".
    ours = layers.Dense(500, bias_initializer=None)
    ours.build((None, 3))
    theirs = tf_keras.layers.Dense(500, bias_initializer=None)
    theirs.build((None, 3))
    bias = ours.bias.numpy()
    limit = np.sqrt(6 / (500 + 500))     # a 1-D weight's fans are both its length
    assert np.abs(bias).max() <= limit and np.abs(bias).max() > 0.9 * limit
    assert np.abs(theirs.bias.numpy()).max() <= limit
    assert ours.get_config()["bias_initializer"] is theirs.get_config()["bias_initializer"] is None
