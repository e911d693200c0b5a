"""Keras 3's preprocessing layers against TensorFlow's Keras: outputs on the same inputs,
``adapt`` results, configs both ways, models that train with them and .keras files both
ways; the engine's forms of Normalization and Rescaling against Keras's formulas."""

import numpy as np
import pytest

import fastnn
from fastnn import layers

_rng = np.random.default_rng(7)
X = (_rng.normal(size=(40, 4)) * [1.0, 10.0, 0.1, 3.0] + [0.0, 5.0, -2.0, 1.0]).astype(
    np.float32)
Y = (X @ np.array([0.5, -0.1, 3.0, 0.2], dtype=np.float32) + 1.0)[:, None]


def both(tf_keras, name, *args, **kwargs):
    return getattr(tf_keras.layers, name)(*args, **kwargs), getattr(layers, name)(*args,
                                                                                   **kwargs)


def plain_config(config):
    """A config without Keras's dtype-policy wrapping, for comparing the two."""
    out = dict(config)
    dtype = out.pop("dtype", None)
    if isinstance(dtype, dict):
        dtype = dtype["config"]["name"]
    return out, dtype


# ---- Normalization ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [{}, {"invert": True}, {"axis": None}])
def test_normalization_adapt_and_outputs_match_keras(tf_keras, dtype, kwargs):
    k, f = both(tf_keras, "Normalization", dtype=dtype, **kwargs)
    x = X.astype(dtype)
    k.adapt(x)
    f.adapt(x)
    for kw, fw in zip(k.get_weights(), f.get_weights()):
        np.testing.assert_allclose(fw, kw, rtol=1e-5)
    tol = {"rtol": 2e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12}
    np.testing.assert_allclose(f(x), np.asarray(k(x)), **tol)
    assert f(x).dtype == np.dtype(dtype)


def test_normalization_adapt_on_batches_equals_whole_array(tf_keras):
    k = tf_keras.layers.Normalization()
    k.adapt(X)
    batches = [X[i:i + 7] for i in range(0, len(X), 7)]

    def gen():
        yield from batches
    for data in (batches, gen(), ((b, b[:, :1]) for b in batches)):
        f = layers.Normalization()
        f.adapt(data)
        np.testing.assert_allclose(f.get_weights()[0], k.get_weights()[0], rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(f.get_weights()[1], k.get_weights()[1], rtol=1e-5)
        assert f.get_weights()[2] == k.get_weights()[2] == 0     # (Keras never counts)


def test_normalization_given_mean_and_variance_and_zero_variance(tf_keras):
    k, f = both(tf_keras, "Normalization", mean=[1.0, 2.0, 0.0, -1.0],
                variance=[4.0, 0.0, 1e-20, 9.0])
    np.testing.assert_allclose(f(X), np.asarray(k(X)), rtol=2e-6)
    assert f.weights == [] and k.weights == []
    # A constant feature adapted: variance 0 divides by epsilon (1e-7) in both.
    x = X.copy()
    x[:, 1] = 3.0
    k, f = both(tf_keras, "Normalization")
    k.adapt(x)
    f.adapt(x)
    # (atol: fastnn subtracts the mean in float64, Keras in float32 with its rounding)
    np.testing.assert_allclose(f(x + 1e-3), np.asarray(k(x + 1e-3)), rtol=1e-5, atol=1e-6)


def test_normalization_three_d_axis_keeps_per_position_stats(tf_keras):
    x = _rng.normal(size=(10, 3, 5)).astype(np.float32) * 4 + 1
    for axis in (-1, 1, (1, 2), None):
        k, f = both(tf_keras, "Normalization", axis=axis)
        k.adapt(x)
        f.adapt(x)
        np.testing.assert_allclose(f(x), np.asarray(k(x)), rtol=1e-5, atol=1e-5)


def test_normalization_bad_arguments():
    with pytest.raises(ValueError, match="both `mean` and `variance`"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    f = layers.Normalization()
    f.adapt(X)
    with pytest.raises(ValueError, match="incompatible shape"):
        f.adapt(X[:, :3])
    with pytest.raises(ValueError, match="empty iterable"):
        layers.Normalization().adapt(iter([]))


def _regression(lib, first):
    return lib.Sequential([lib.Input((4,)), first, lib.layers.Dense(5, activation="relu"),
                           lib.layers.Dense(1)])


@pytest.mark.parametrize("layer", ["Normalization", "Rescaling", "NormalizationInvert"])
def test_models_with_numeric_preprocessing_train_as_keras(tf_keras, layer):
    def first(lib):
        if layer == "Rescaling":
            return lib.layers.Rescaling([0.5, 0.1, 4.0, -0.3], offset=0.25)
        norm = lib.layers.Normalization(invert=layer == "NormalizationInvert")
        norm.adapt(X)
        return norm
    tf_keras.utils.set_random_seed(3)
    km, fm = _regression(tf_keras, first(tf_keras)), _regression(fastnn, first(fastnn))
    fm.set_weights(km.get_weights())
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
    kw = {"batch_size": 8, "epochs": 3, "shuffle": False, "verbose": 0}
    hk, hf = km.fit(X, Y, **kw).history, fm.fit(X, Y, **kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4)
    for kw_, fw in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(fw, kw_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fm.predict(X, verbose=0), km.predict(X, verbose=0),
                               rtol=1e-4, atol=1e-5)


def test_normalization_in_a_model_follows_later_adapt_and_set_weights():
    norm = layers.Normalization()
    model = fastnn.Sequential([layers.Input((4,)), norm])
    np.testing.assert_allclose(model.predict(X, verbose=0), X)      # mean 0, variance 1
    norm.adapt(X)
    expected = (X - X.mean(0)) / X.std(0)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-5)
    norm.set_weights([np.zeros(4), np.full(4, 4.0), np.array(3)])
    np.testing.assert_allclose(model.predict(X, verbose=0), X / 2, rtol=1e-6)


def test_preprocessing_weights_are_not_trained():
    norm = layers.Normalization()
    norm.adapt(X)
    before = [w.copy() for w in norm.get_weights()]
    model = _regression(fastnn, norm)
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=2, verbose=0)
    assert norm.trainable_weights == [] and len(norm.non_trainable_weights) == 3
    for b, a in zip(before, norm.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_normalization_model_files_both_ways(tf_keras, tmp_path):
    def build(lib):
        norm = lib.layers.Normalization()
        norm.adapt(X)
        model = _regression(lib, norm)
        model.compile(optimizer="adam", loss="mse")
        return model
    tf_keras.utils.set_random_seed(4)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    fm.save(tmp_path / "f.keras")
    km.save(tmp_path / "k.keras")
    from_fastnn = tf_keras.models.load_model(tmp_path / "f.keras")
    from_keras = fastnn.saving.load_model(tmp_path / "k.keras")
    expected = km.predict(X, verbose=0)
    np.testing.assert_allclose(from_fastnn.predict(X, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(from_keras.predict(X, verbose=0), expected, rtol=1e-5,
                               atol=1e-6)


# ---- Rescaling and Reshape ----------------------------------------------------------------

def test_rescaling_matches_keras(tf_keras):
    for args in ((1 / 255.0,), (1 / 127.5, -1.0), ([1.0, 2.0, 3.0, 4.0], 0.5)):
        k, f = both(tf_keras, "Rescaling", *args)
        x = np.round(X * 50)
        np.testing.assert_allclose(f(x), np.asarray(k(x)), rtol=1e-6, atol=1e-7)
        kc, kd = plain_config(k.get_config())
        fc, fd = plain_config(f.get_config())
        assert fc == kc and fd == kd
    with pytest.raises(ValueError, match="does not broadcast"):
        layers.Rescaling([1.0, 2.0])(X)


def test_reshape_matches_keras(tf_keras):
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    for target in ((3, 4), (-1, 2), (2, 3, 2)):
        k, f = both(tf_keras, "Reshape", target)
        np.testing.assert_array_equal(f(x), np.asarray(k(x)))
        assert plain_config(f.get_config()) == plain_config(k.get_config())
    model = fastnn.Sequential([layers.Input((12,)), layers.Reshape((3, 4)), layers.Flatten(),
                               layers.Dense(2)])
    assert model.output_shape == (None, 2)
    with pytest.raises(ValueError, match="total size"):
        layers.Reshape((5,))(x)


# ---- Discretization and CategoryEncoding ---------------------------------------------------

@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_matches_keras(tf_keras, mode):
    bounds = [-1.0, 0.0, 0.5, 2.0]
    k, f = both(tf_keras, "Discretization", bin_boundaries=bounds, output_mode=mode)
    x = np.concatenate([X[:, :1], [[-1.0], [0.0], [0.5], [2.0]]]).astype(np.float32)
    x = x if mode != "multi_hot" and mode != "count" else x.reshape(-1, 4)
    np.testing.assert_array_equal(f(x), np.asarray(k(x)))
    assert f(x).dtype == np.asarray(k(x)).dtype
    kc, _ = plain_config(k.get_config())
    fc, _ = plain_config(f.get_config())
    assert fc == kc


@pytest.mark.parametrize("n,num_bins,epsilon", [(10, 3, 0.01), (50, 4, 0.01),
                                                 (1000, 5, 0.01), (3000, 7, 0.05)])
def test_discretization_adapt_matches_keras(tf_keras, n, num_bins, epsilon):
    x = np.random.default_rng(n).normal(size=(n, 2)).astype(np.float32)
    batches = [x[i:i + 128] for i in range(0, n, 128)]
    for data in (x, batches):
        k, f = both(tf_keras, "Discretization", num_bins=num_bins, epsilon=epsilon)
        k.adapt(data)
        f.adapt(data)
        assert f.bin_boundaries == list(k.bin_boundaries)
        np.testing.assert_array_equal(f(x), np.asarray(k(x)))
    # The adapted layer's config rebuilds it in each library.
    k2 = type(k).from_config(f.get_config())
    f2 = type(f).from_config(k.get_config())
    np.testing.assert_array_equal(f2(x), np.asarray(k2(x)))
    with pytest.raises(ValueError, match="call `adapt"):
        layers.Discretization(num_bins=3)(x)
    with pytest.raises(ValueError, match="Both `num_bins` and `bin_boundaries`"):
        layers.Discretization(num_bins=3, bin_boundaries=[0.0])


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_category_encoding_matches_keras(tf_keras, mode):
    k, f = both(tf_keras, "CategoryEncoding", num_tokens=6, output_mode=mode)
    x = np.array([[0, 1, 1], [5, 2, 5], [3, 3, 3]]) if mode != "one_hot" else \
        np.array([[0], [5], [3], [1]])
    np.testing.assert_array_equal(f(x), np.asarray(k(x)))
    if mode == "count":
        w = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 3.0], [1.0, 1.0, 1.0]])
        np.testing.assert_allclose(f(x, count_weights=w), np.asarray(k(x, count_weights=w)))
    assert plain_config(f.get_config()) == plain_config(k.get_config())
    with pytest.raises(ValueError, match="outside"):
        f(np.array([[6]]))


# ---- IntegerLookup and StringLookup --------------------------------------------------------

WORDS = np.array([["b", "a"], ["c", "b"], ["b", "d"], ["a", "b"], ["e", "c"]])


@pytest.mark.parametrize("mode,mask", [("int", None), ("int", ""), ("one_hot", None),
                                       ("multi_hot", None), ("count", None),
                                       ("tf_idf", None)])
def test_string_lookup_adapt_matches_keras(tf_keras, mode, mask):
    k, f = both(tf_keras, "StringLookup", output_mode=mode, mask_token=mask)
    k.adapt(WORDS)
    f.adapt(WORDS)
    assert f.get_vocabulary() == [str(t) for t in k.get_vocabulary()]
    assert f.vocabulary_size() == k.vocabulary_size()
    x = WORDS[:, :1] if mode == "one_hot" else np.array([["a", "zz"], ["", "e"], ["b", "b"]])
    np.testing.assert_allclose(f(x), np.asarray(k(x)), rtol=1e-6)


@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_integer_lookup_matches_keras(tf_keras, mode):
    for kwargs in ({"vocabulary": [12, 36, 1138, 42]},
                   {"vocabulary": [12, 36, 1138, 42], "num_oov_indices": 3},
                   {"vocabulary": [12, 36, 1138, 42], "mask_token": 0},
                   {"max_tokens": 4}):
        if mode != "int" and "mask_token" in kwargs:
            continue
        k, f = both(tf_keras, "IntegerLookup", output_mode=mode, **kwargs)
        data = np.array([[12, 1138, 42], [42, 1000, 36], [36, 12, 12], [7, 7, 7]])
        if "vocabulary" not in kwargs:
            k.adapt(data)
            f.adapt(data)
        assert f.get_vocabulary() == [int(t) for t in k.get_vocabulary()]
        x = np.array([[12], [1000], [42], [0], [-5]]) if mode == "one_hot" else data
        np.testing.assert_array_equal(f(x), np.asarray(k(x)))


def test_string_lookup_hashes_unknown_tokens_into_several_slots_as_keras(tf_keras):
    k, f = both(tf_keras, "StringLookup", vocabulary=["a", "b"], num_oov_indices=5)
    x = np.array([["a", "zebra", "b", "q"], ["", "longer unknown token", "x" * 70, "é"]])
    np.testing.assert_array_equal(f(x), np.asarray(k(x)))


def test_lookup_invert_matches_keras(tf_keras):
    vocab = ["a", "b", "c"]
    k, f = both(tf_keras, "StringLookup", vocabulary=vocab, invert=True)
    idx = np.array([[1, 3], [0, 2], [7, 1]])
    assert f(idx).tolist() == [[t.decode() for t in row] for row in np.asarray(k(idx)).tolist()]
    k, f = both(tf_keras, "IntegerLookup", vocabulary=[5, 9], invert=True)
    np.testing.assert_array_equal(f(np.array([[0, 1, 2]])), np.asarray(k(np.array([[0, 1, 2]]))))


def test_lookup_configs_round_trip_with_keras(tf_keras):
    pairs = [both(tf_keras, "StringLookup", vocabulary=["x", "y"], output_mode="multi_hot"),
             both(tf_keras, "IntegerLookup", vocabulary=[3, 5, 7], num_oov_indices=2),
             both(tf_keras, "StringLookup", vocabulary=["x", "y"], output_mode="tf_idf",
                  idf_weights=[0.5, 0.25])]
    for k, f in pairs:
        kc, kd = plain_config(k.get_config())
        fc, fd = plain_config(f.get_config())
        assert fc == kc and fd == kd
        # Each library rebuilds the other's layer to the same outputs.
        k2 = type(k).from_config(f.get_config())
        f2 = type(f).from_config(k.get_config())
        x = np.array([["x", "q"]]) if isinstance(f, layers.StringLookup) else \
            np.array([[3, 4]])
        np.testing.assert_allclose(f2(x), np.asarray(k2(x)))


def test_lookup_bad_input():
    f = layers.StringLookup(vocabulary=["a"])
    with pytest.raises(ValueError, match="takes string tokens"):
        f(np.array([[1.0]]))
    with pytest.raises(ValueError, match="repeated term"):
        layers.StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="no vocabulary"):
        layers.IntegerLookup()(np.array([[1]]))
    with pytest.raises(ValueError, match="integer tokens"):
        layers.IntegerLookup(vocabulary=[1])(np.array([[1.5]]))
    with pytest.raises(ValueError, match="unknown string token 'b'"):
        layers.StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array([["b"]]))


def test_integer_lookup_inside_a_model_matches_keras(tf_keras):
    def build(lib):
        return lib.Sequential([
            lib.Input((2,), dtype="int64"),
            lib.layers.IntegerLookup(vocabulary=[3, 5, 7, 9], output_mode="multi_hot"),
            lib.layers.Dense(3, activation="relu"), lib.layers.Dense(1)])
    x = np.array([[3, 5], [7, 7], [1, 9], [9, 3], [2, 2], [5, 7]])
    y = np.arange(6, dtype=np.float32)[:, None]
    tf_keras.utils.set_random_seed(5)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
    kw = {"batch_size": 3, "epochs": 3, "shuffle": False, "verbose": 0}
    hk, hf = km.fit(x, y, **kw).history, fm.fit(x, y, **kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4)
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-4,
                               atol=1e-6)


# ---- string inputs in a model ---------------------------------------------------------------

ANIMALS = np.array([["cat"], ["dog"], ["bird"], ["dog"], ["cat"], ["fish"], ["eel"]])


def as_tf_strings(x):
    """TensorFlow's Keras 3 fits and predicts on string tensors, not NumPy string arrays."""
    import tensorflow as tf

    return tf.constant(x)
ANIMAL_Y = np.array([0, 1, 2, 1, 0, 2, 2])


def _string_model(lib, lookup):
    return lib.Sequential([lib.Input((1,), dtype="string"), lookup,
                           lib.layers.Dense(4, activation="relu"),
                           lib.layers.Dense(3, activation="softmax")])


def test_string_inputs_train_like_keras(tf_keras):
    vocab = ["cat", "dog", "bird", "fish"]
    tf_keras.utils.set_random_seed(6)
    km = _string_model(tf_keras, tf_keras.layers.StringLookup(vocabulary=vocab,
                                                             output_mode="one_hot"))
    fm = _string_model(fastnn, layers.StringLookup(vocabulary=vocab, output_mode="one_hot"))
    fm.set_weights(km.get_weights())
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    kw = {"batch_size": 3, "epochs": 3, "shuffle": False, "verbose": 0}
    hk = km.fit(as_tf_strings(ANIMALS), ANIMAL_Y, **kw).history
    hf = fm.fit(ANIMALS, ANIMAL_Y, **kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4)
    np.testing.assert_allclose(fm.predict(ANIMALS.astype(object), verbose=0),
                               km.predict(as_tf_strings(ANIMALS), verbose=0),
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="takes string tokens"):
        fm.predict(np.array([[1.0]]), verbose=0)
    with pytest.raises(ValueError, match="start it with a StringLookup"):
        fastnn.Sequential([layers.Input((1,), dtype="string"), layers.Dense(2)]).predict(
            ANIMALS, verbose=0)


def test_string_model_files_both_ways(tf_keras, tmp_path):
    lookup = layers.StringLookup(output_mode="multi_hot")
    lookup.adapt(ANIMALS)
    fm = _string_model(fastnn, lookup)
    fm.save(tmp_path / "f.keras")
    from_fastnn = tf_keras.models.load_model(tmp_path / "f.keras")
    np.testing.assert_allclose(from_fastnn.predict(as_tf_strings(ANIMALS), verbose=0),
                               fm.predict(ANIMALS, verbose=0), rtol=1e-5, atol=1e-6)
    km = _string_model(tf_keras, tf_keras.layers.StringLookup(vocabulary=["dog", "cat"]))
    km.save(tmp_path / "k.keras")
    from_keras = fastnn.saving.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(from_keras.predict(ANIMALS, verbose=0),
                               km.predict(as_tf_strings(ANIMALS), verbose=0), rtol=1e-5,
                               atol=1e-6)


# ---- Hashing ---------------------------------------------------------------------------------

def test_fingerprints_match_tensorflow(tf_keras):
    import tensorflow as tf

    from fastnn.layers.preprocessing._fingerprints import fingerprint64, siphash24

    rng = np.random.default_rng(8)
    # Every length class of FarmHash (0-16, 17-32, 33-64, and the 64-byte loop).
    data = [rng.bytes(n) for n in [*range(70), 127, 128, 129, 200, 1000]]
    expected = [int.from_bytes(bytes(row), "little") for row in
                tf.fingerprint(tf.constant(data), method="farmhash64").numpy()]
    assert [fingerprint64(d) for d in data] == expected
    buckets = 2**31 - 1
    strong = tf.strings.to_hash_bucket_strong(tf.constant(data), buckets, key=[7, 2**62 + 5])
    assert [siphash24((7, 2**62 + 5), d) % buckets for d in data] == strong.numpy().tolist()


@pytest.mark.parametrize("kwargs", [{}, {"salt": 133}, {"salt": [1, 2**40]},
                                    {"mask_value": "b"}, {"output_mode": "multi_hot"},
                                    {"output_mode": "count", "salt": 9}])
def test_hashing_matches_keras(tf_keras, kwargs):
    k, f = both(tf_keras, "Hashing", num_bins=7, **kwargs)
    words = np.array([["a", "b", "hello"], ["b", "b", "a much longer token than sixteen"]])
    np.testing.assert_array_equal(f(words), np.asarray(k(words)))
    ints = np.array([[1, 2, 12345], [-7, 0, 2**40]])
    if "mask_value" not in kwargs:          # (a string mask is for string inputs)
        np.testing.assert_array_equal(f(ints), np.asarray(k(ints)))
    kc, kd = plain_config(k.get_config())
    fc, fd = plain_config(f.get_config())
    assert fc == kc and fd == kd
    with pytest.raises(ValueError, match="strings or integers"):
        f(np.array([[0.5]]))


def test_hashing_inside_a_model_matches_keras(tf_keras):
    def build(lib):
        return lib.Sequential([lib.Input((2,), dtype="int64"),
                               lib.layers.Hashing(num_bins=5, output_mode="multi_hot"),
                               lib.layers.Dense(1)])
    tf_keras.utils.set_random_seed(9)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    x = np.array([[3, 5], [70, 7], [1, 9], [9999, 3]])
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-6)


def test_keras_files_with_adapted_vocabularies_load(tf_keras, tmp_path):
    """Keras writes an adapted vocabulary as an asset file, not in the config."""
    k_lookup = tf_keras.layers.StringLookup(output_mode="one_hot")
    k_lookup.adapt(ANIMALS)
    tf_keras.utils.set_random_seed(10)
    km = _string_model(tf_keras, k_lookup)
    km.save(tmp_path / "k.keras")
    fm = fastnn.saving.load_model(tmp_path / "k.keras")
    assert fm.layers[0].get_vocabulary() == k_lookup.get_vocabulary()
    np.testing.assert_allclose(fm.predict(ANIMALS, verbose=0),
                               km.predict(as_tf_strings(ANIMALS), verbose=0), rtol=1e-5,
                               atol=1e-6)
    k_ints = tf_keras.layers.IntegerLookup(output_mode="multi_hot")
    k_ints.adapt(np.array([[3, 5], [5, 9], [9, 9]]))
    km = tf_keras.Sequential([tf_keras.Input((2,), dtype="int64"), k_ints,
                              tf_keras.layers.Dense(1)])
    km.save(tmp_path / "ki.keras")
    fm = fastnn.saving.load_model(tmp_path / "ki.keras")
    x = np.array([[3, 9], [4, 5]])
    np.testing.assert_allclose(fm.predict(x, verbose=0), km.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


def test_functional_model_with_numeric_and_category_inputs(tf_keras, tmp_path):
    ids = np.random.default_rng(11).integers(0, 6, size=(len(X), 1))

    def build(lib):
        numbers = lib.Input((4,), name="numbers")
        category = lib.Input((1,), dtype="int64", name="category")
        norm = lib.layers.Normalization()
        norm.adapt(X)
        lookup = lib.layers.IntegerLookup(vocabulary=[1, 2, 3], output_mode="one_hot")
        joined = lib.layers.Concatenate()([norm(numbers), lookup(category)])
        return lib.Model([numbers, category], lib.layers.Dense(1)(joined))
    tf_keras.utils.set_random_seed(12)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    expected = km.predict([X, ids], verbose=0)
    np.testing.assert_allclose(fm.predict([X, ids], verbose=0), expected, rtol=1e-5, atol=1e-6)
    fm.save(tmp_path / "f.keras")
    km.save(tmp_path / "k.keras")
    np.testing.assert_allclose(tf_keras.models.load_model(tmp_path / "f.keras").predict(
        [X, ids], verbose=0), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fastnn.saving.load_model(tmp_path / "k.keras").predict(
        [X, ids], verbose=0), expected, rtol=1e-5, atol=1e-6)
