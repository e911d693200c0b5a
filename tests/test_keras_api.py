"""The drop-in surface: Keras's names in fastnn's namespaces, the Sequential API, the inputs
fit/evaluate/predict accept, float64 models, and a predict loop that does not leak.

Behaviour is checked against TensorFlow's Keras 3 (the ``tf_keras`` fixture) where Keras
defines it; the names below are those dense-network scripts use.
"""

import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import Input, Sequential
from fastnn.layers import BatchNormalization, Dense, Dropout
from fastnn.utils import set_random_seed

ROOT = Path(__file__).resolve().parents[1]

# Keras 3 names (as exported by ``tensorflow.keras.<module>``) that MLP scripts use.
KERAS3_NAMES = {
    "": "Sequential Input Layer Loss Metric Optimizer Initializer Regularizer Variable "
        "KerasTensor version",
    "layers": "Dense Dropout Activation Input InputLayer BatchNormalization LayerNormalization "
              "Flatten LeakyReLU PReLU ELU ReLU Softmax GaussianNoise GaussianDropout Layer",
    "activations": "relu sigmoid softmax tanh elu selu softplus softsign swish silu gelu "
                   "exponential hard_sigmoid hard_silu hard_swish linear leaky_relu relu6 mish "
                   "log_softmax get serialize deserialize",
    "losses": "Loss MeanSquaredError MeanAbsoluteError MeanAbsolutePercentageError "
              "MeanSquaredLogarithmicError BinaryCrossentropy BinaryFocalCrossentropy "
              "CategoricalCrossentropy SparseCategoricalCrossentropy Hinge SquaredHinge "
              "CategoricalHinge Huber LogCosh KLDivergence Poisson CosineSimilarity "
              "binary_crossentropy binary_focal_crossentropy categorical_crossentropy "
              "sparse_categorical_crossentropy hinge squared_hinge categorical_hinge huber "
              "poisson cosine_similarity get serialize deserialize",
    "metrics": "Metric Mean Accuracy BinaryAccuracy CategoricalAccuracy "
               "SparseCategoricalAccuracy TopKCategoricalAccuracy SparseTopKCategoricalAccuracy "
               "AUC Precision Recall MeanSquaredError MeanAbsoluteError RootMeanSquaredError "
               "MeanAbsolutePercentageError MeanSquaredLogarithmicError R2Score LogCoshError "
               "BinaryCrossentropy CategoricalCrossentropy SparseCategoricalCrossentropy "
               "binary_accuracy categorical_accuracy sparse_categorical_accuracy "
               "top_k_categorical_accuracy get serialize deserialize",
    "optimizers": "Optimizer SGD Adam AdamW RMSprop Adagrad Adadelta Adamax Nadam Lion Ftrl Lamb get "
                  "serialize deserialize schedules",
    "optimizers.schedules": "LearningRateSchedule ExponentialDecay PiecewiseConstantDecay "
                            "PolynomialDecay InverseTimeDecay CosineDecay CosineDecayRestarts",
    "initializers": "Initializer GlorotUniform GlorotNormal HeNormal HeUniform LecunNormal "
                    "LecunUniform RandomNormal RandomUniform TruncatedNormal Zeros Ones Constant "
                    "VarianceScaling Orthogonal Identity get serialize deserialize",
    "regularizers": "Regularizer L1 L2 L1L2 l1 l2 l1_l2 get serialize deserialize",
    "constraints": "Constraint MaxNorm MinMaxNorm NonNeg UnitNorm get serialize deserialize",
    "models": "Sequential load_model clone_model model_from_json",
    "utils": "to_categorical set_random_seed normalize clear_session",
    "config": "floatx set_floatx epsilon set_epsilon",
    "backend": "clear_session floatx set_floatx epsilon set_epsilon",
    "callbacks": "Callback History ProgbarLogger EarlyStopping ModelCheckpoint "
                 "LearningRateScheduler ReduceLROnPlateau TerminateOnNaN CSVLogger "
                 "LambdaCallback CallbackList TensorBoard BackupAndRestore SwapEMAWeights",
}

# Keras 2 names old scripts import; Keras 3 dropped them, fastnn keeps them (a superset).
KERAS2_NAMES = {
    "losses": "mean_squared_error mean_absolute_error mean_absolute_percentage_error "
              "mean_squared_logarithmic_error",
}

# Keras 3's function aliases of losses (keras.losses.mse, keras.metrics.mae, ...).
KERAS3_FUNCTION_ALIASES = {
    "losses": "mse mae mape msle kld logcosh",
    "metrics": "mse mae mape msle kld logcosh binary_crossentropy categorical_crossentropy "
               "sparse_categorical_crossentropy hinge squared_hinge poisson",
}


def _module(root, dotted):
    for part in dotted.split(".") if dotted else []:
        root = getattr(root, part)
    return root


def _missing(names):
    out = []
    for module, words in names.items():
        for name in words.split():
            namespace = {}
            target = "fastnn" + ("." + module if module else "")
            try:
                exec(f"from {target} import {name}", namespace)  # noqa: S102
            except ImportError:
                out.append(f"{target}.{name}")
                continue
            # `import fastnn as keras; keras.<module>.<name>` is the same object.
            assert getattr(_module(fastnn, module), name) is namespace[name]
    return out


@pytest.mark.parametrize("module", sorted(KERAS3_NAMES))
def test_keras3_names_import_from_fastnn(module):
    assert _missing({module: KERAS3_NAMES[module]}) == []


def test_keras2_names_import_from_fastnn():
    assert _missing(KERAS2_NAMES) == []


def test_keras3_function_aliases_import_from_fastnn():
    assert _missing(KERAS3_FUNCTION_ALIASES) == []


def test_the_lists_hold_keras_names_of_the_same_kind(tf_keras):
    """Every listed name is Keras 3's, as a class where Keras has a class, else a function."""
    wrong = []
    for names in (KERAS3_NAMES, KERAS3_FUNCTION_ALIASES):
        for module, words in names.items():
            theirs = _module(tf_keras, module)
            for name in words.split():
                if not hasattr(theirs, name):
                    wrong.append(f"{module}.{name}: not in Keras")
                    continue
                ours = getattr(_module(fastnn, module), name, None)
                if ours is not None and inspect.isclass(ours) != inspect.isclass(
                        getattr(theirs, name)):
                    wrong.append(f"{module}.{name}: class/function mismatch")
    for module, words in KERAS2_NAMES.items():
        wrong += [f"{module}.{n}: in Keras 3" for n in words.split()
                  if hasattr(_module(tf_keras, module), n)]
    assert wrong == []


def test_import_fastnn_as_keras_reaches_submodules():
    keras = importlib.import_module("fastnn")
    assert keras.layers.Dense is Dense
    assert keras.models.Sequential is keras.Sequential is Sequential
    assert keras.optimizers.schedules.ExponentialDecay.__name__ == "ExponentialDecay"
    assert keras.version() == keras.__version__


# ---- the Sequential API -----------------------------------------------------------------

def test_add_builds_once_the_input_is_known_and_layers_exclude_input_layer():
    model = Sequential(name="stack")
    model.add(Input((4,)))
    assert model.layers == []
    hidden = Dense(5, activation="relu")
    model.add(hidden)
    assert model.built and model.layers == [hidden]
    model.add(Dense(2))
    assert model.input_shape == (None, 4) and model.output_shape == (None, 2)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dense"]
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2


def test_legacy_input_shape_argument_warns_and_builds():
    model = Sequential()
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`"):
        model.add(Dense(3, input_shape=(6,)))
    assert model.built and model.input_shape == (None, 6) and model.count_params() == 21


def test_unbuilt_model_shapes_raise_as_keras():
    model = Sequential([Dense(3)], name="lazy")
    for attribute, what in [("input_shape", "input shape"), ("output_shape", "output shape"),
                            ("inputs", "inputs"), ("outputs", "outputs")]:
        with pytest.raises(AttributeError) as info:
            getattr(model, attribute)
        assert str(info.value) == f"Sequential model 'lazy' has no defined {what} yet."
    with pytest.raises(ValueError, match="isn't built"):
        model.count_params()


def test_build_with_an_input_shape():
    model = Sequential([Dense(5), Dense(2)])
    model.build((None, 3))
    assert model.built and model.output_shape == (None, 2)
    assert [w.shape for w in model.get_weights()] == [(3, 5), (5,), (5, 2), (2,)]


def test_lazy_build_from_the_first_call():
    model = Sequential([Dense(5), Dense(2)])
    assert model.predict(np.ones((3, 7)), verbose=0).shape == (3, 2)
    assert model.input_shape == (None, 7)


def test_pop_removes_the_last_layer():
    model = Sequential([Input((4,)), Dense(6, name="a"), Dense(3, name="b")])
    removed = model.pop()
    assert removed.name == "b" and [layer.name for layer in model.layers] == ["a"]
    assert model.output_shape == (None, 6)
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 6)
    model.add(Dense(2, name="c"))
    assert model.predict(np.ones((2, 4)), verbose=0).shape == (2, 2)
    model.pop()
    model.pop()
    with pytest.raises(TypeError, match="There are no layers in the model."):
        model.pop()


def test_add_rejects_non_layers_and_duplicate_names():
    model = Sequential([Input((4,)), Dense(2, name="same")])
    with pytest.raises(ValueError, match="Only instances of `keras.Layer` can be added"):
        model.add("dense")
    with pytest.raises(ValueError, match="should have unique names"):
        model.add(Dense(2, name="same"))


def _twin_models(tf_keras, seed=0):
    """The same MLP (with BatchNormalization) in fastnn and in Keras, fastnn's weights in
    both: set_weights only works if both list them in the same order and shapes."""
    set_random_seed(seed)
    ours = Sequential([Input((5,)), Dense(7, activation="relu"), BatchNormalization(),
                       Dense(3, activation="softmax")])
    theirs = tf_keras.Sequential([tf_keras.Input((5,)),
                                  tf_keras.layers.Dense(7, activation="relu"),
                                  tf_keras.layers.BatchNormalization(),
                                  tf_keras.layers.Dense(3, activation="softmax")])
    weights = [w + np.float32(0.05) * i for i, w in enumerate(ours.get_weights())]
    weights[5] = np.abs(weights[5]) + 0.5          # a valid moving variance
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def test_weights_order_shapes_and_count_match_keras(tf_keras):
    ours, theirs = _twin_models(tf_keras)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape)
                                                     for w in theirs.get_weights()]
    assert ours.count_params() == theirs.count_params()
    x = np.random.default_rng(1).normal(size=(9, 5)).astype(np.float32)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_set_weights_takes_effect_in_place():
    source = Sequential([Input((3,)), Dense(4), Dense(2)])
    target = Sequential([Input((3,)), Dense(4), Dense(2)])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    target.predict(x, verbose=0)                    # compiled into an engine plan first
    target.set_weights(source.get_weights())
    np.testing.assert_array_equal(target.predict(x, verbose=0), source.predict(x, verbose=0))
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b, strict=True)


def test_results_have_keras_forms_and_values(tf_keras):
    ours, theirs = _twin_models(tf_keras)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(20, 5)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "sparse_top_k_categorical_accuracy"])
    as_list = ours.evaluate(x, y, verbose=0)
    keras_list = theirs.evaluate(x, y, verbose=0)
    assert isinstance(as_list, list) and all(type(v) is float for v in as_list)
    np.testing.assert_allclose(as_list, keras_list, rtol=1e-5)
    as_dict = ours.evaluate(x, y, verbose=0, return_dict=True)
    assert list(as_dict) == sorted(as_dict) == list(theirs.evaluate(x, y, verbose=0,
                                                                    return_dict=True))
    tested = ours.test_on_batch(x, y)
    assert isinstance(tested, list)
    np.testing.assert_allclose(tested, theirs.test_on_batch(x, y), rtol=1e-5)
    trained = ours.train_on_batch(x, y, return_dict=True)
    assert list(trained) == list(theirs.train_on_batch(x, y, return_dict=True))
    out = ours.predict_on_batch(x)
    assert type(out) is np.ndarray and out.dtype == np.float32 and out.shape == (20, 3)


def test_without_metrics_results_are_plain_floats():
    model = Sequential([Input((2,)), Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 2)), np.zeros(4)
    assert type(model.evaluate(x, y, verbose=0)) is float
    assert type(model.train_on_batch(x, y)) is float
    assert type(model.test_on_batch(x, y)) is float
    assert model.evaluate(x, y, verbose=0, return_dict=True).keys() == {"loss"}


def test_predict_needs_no_compile():
    model = Sequential([Input((2,)), Dense(3)])
    assert model.predict(np.ones((1, 2)), verbose=0).shape == (1, 3)


# ---- inputs of any dtype and memory order -----------------------------------------------

class _ArrayLike:
    """An object that only offers ``__array__`` (as tensors of other libraries do)."""

    def __init__(self, data):
        self._data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)


def _strided(a):
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    wide[:, ::2] = a
    view = wide[:, ::2]
    assert not view.flags.c_contiguous
    return view


def _read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


X64 = np.random.default_rng(3).normal(size=(11, 4))
LAYOUTS = {
    "float64": lambda a: a,
    "fortran": np.asfortranarray,
    "strided-view": _strided,
    "read-only": _read_only,
    "list": lambda a: a.tolist(),
    "tuple": lambda a: tuple(map(tuple, a.tolist())),
    "__array__": _ArrayLike,
}


@pytest.fixture(scope="module")
def regressor():
    set_random_seed(4)
    model = Sequential([Input((4,)), Dense(6, activation="tanh"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_any_layout_predicts_the_same(regressor, layout):
    expected = regressor.predict(X64.astype(np.float32), verbose=0)
    np.testing.assert_array_equal(regressor.predict(LAYOUTS[layout](X64), verbose=0), expected)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.bool_, np.float16])
def test_any_numeric_dtype_predicts_as_its_float32_values(regressor, dtype):
    x = (np.arange(44).reshape(11, 4) % 7).astype(dtype)
    np.testing.assert_array_equal(regressor.predict(x, verbose=0),
                                  regressor.predict(x.astype(np.float32), verbose=0))


def _fit_weights(x, y, loss="sparse_categorical_crossentropy", sample_weight=None):
    set_random_seed(8)
    model = Sequential([Input((4,)), Dense(5, activation="relu"), Dropout(0.1),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, sample_weight=sample_weight)
    return model.get_weights()


@pytest.mark.parametrize(
    "variant",
    ["int-x", "fortran-x", "list-x", "list-y", "column-y", "uint8-y", "float-y",
     "array-like-y", "list-sample-weight"],
)
def test_fit_is_the_same_for_equivalent_inputs(variant):
    x = np.arange(48).reshape(12, 4) % 5
    y = np.arange(12) % 3
    w = np.linspace(0.5, 1.5, 12)
    expected = _fit_weights(x.astype(np.float32), y, sample_weight=w)
    x_in, y_in, w_in = {
        "int-x": (x, y, w),
        "fortran-x": (np.asfortranarray(x.astype(np.float64)), y, w),
        "list-x": (x.tolist(), y, w),
        "list-y": (x, y.tolist(), w),
        "column-y": (x, y.reshape(-1, 1), w),
        "uint8-y": (x, y.astype(np.uint8), w),
        "float-y": (x, y.astype(np.float32), w),
        "array-like-y": (x, _ArrayLike(y), w),
        "list-sample-weight": (x, y, w.tolist()),
    }[variant]
    for a, b in zip(_fit_weights(x_in, y_in, sample_weight=w_in), expected):
        np.testing.assert_array_equal(a, b)


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    # Mixed column types: to_numpy() alone would give an object array.
    frame = pd.DataFrame({"a": X64[:, 0], "b": (X64[:, 1] > 0), "c": np.arange(11),
                          "d": X64[:, 3].astype(np.float32)})
    as_array = np.column_stack([X64[:, 0], X64[:, 1] > 0, np.arange(11), X64[:, 3]
                                .astype(np.float32)]).astype(np.float32)
    set_random_seed(4)
    model = Sequential([Input((4,)), Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    np.testing.assert_array_equal(model.predict(frame, verbose=0),
                                  model.predict(as_array, verbose=0))
    labels = pd.Series(np.arange(11) % 3)
    model.fit(frame, labels, verbose=0)
    model.evaluate(frame, labels.to_frame(), verbose=0)
    one_feature = Sequential([Input((1,)), Dense(1)])
    assert one_feature.predict(pd.Series([1.0, 2.0, 3.0]), verbose=0).shape == (3, 1)


def test_pandas_non_numeric_columns_and_missing_values_are_rejected():
    pd = pytest.importorskip("pandas")
    model = Sequential([Input((2,)), Dense(1)])
    cities = pd.Categorical(["Oslo", "Rome"])
    with pytest.raises(ValueError) as info:
        model.predict(pd.DataFrame({"age": [1.0, 2.0], "city": cities}), verbose=0)
    assert str(info.value) == ("`x` must be numeric; these columns are not: "
                               "{'city': 'category'}. Encode them as numbers first.")
    with pytest.raises(ValueError, match=r"^`x` must be numeric; these columns are not: "
                                         r"\{'city': '(object|str|string)'\}"):
        model.predict(pd.DataFrame({"age": [1.0, 2.0], "city": ["Oslo", "Rome"]}), verbose=0)
    with_missing = pd.DataFrame({"a": pd.array([1, None], dtype="Int64"), "b": [0.5, 1.5]})
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinity \(the first at row 1, "
                                         r"column 0: nan\)"):
        model.predict(with_missing, verbose=0)


# ---- float64 models ---------------------------------------------------------------------

@pytest.fixture
def floatx64():
    fastnn.config.set_floatx("float64")
    try:
        yield
    finally:
        fastnn.config.set_floatx("float32")


def test_float64_model(floatx64):
    set_random_seed(6)
    model = Sequential([Input((4,)), Dense(8, activation="tanh"), Dense(1)])
    model.compile(optimizer=fastnn.optimizers.Adam(learning_rate=0.02), loss="mse")
    assert all(w.dtype == np.float64 for w in model.get_weights())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)        # float32 data is widened
    y = x @ np.array([0.5, -1.0, 0.25, 2.0])
    history = model.fit(x, y, batch_size=16, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float64 and out.shape == (64, 1)
    assert all(w.dtype == np.float64 for w in model.get_weights())
    fastnn.config.set_floatx("float32")
    narrow = Sequential([Input((4,)), Dense(8, activation="tanh"), Dense(1)])
    narrow.set_weights(model.get_weights())
    assert narrow.get_weights()[0].dtype == np.float32
    np.testing.assert_allclose(narrow.predict(x, verbose=0), out, rtol=1e-5, atol=1e-5)


def test_floatx_is_back_to_float32_after_the_float64_test():
    assert fastnn.config.floatx() == "float32"
    assert Sequential([Input((2,)), Dense(1)]).get_weights()[0].dtype == np.float32


# ---- predict in a loop ------------------------------------------------------------------

_PREDICT_LOOP = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import fastnn
    from fastnn.layers import Dense

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    model = fastnn.Sequential([fastnn.Input((8,)), Dense(16, activation="relu"),
                               Dense(3, activation="softmax")])
    x = np.random.default_rng(0).random((1, 8))
    for _ in range(2_000):          # warm up: first-call allocations and caches
        model.predict(x, verbose=0)
    before = rss()
    start = time.perf_counter()
    for _ in range(100_000):
        model.predict(x, verbose=0)
    seconds = time.perf_counter() - start
    print(rss() - before, seconds / 100_000)
""")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc")
def test_predict_loop_does_not_grow_memory():
    """100,000 single-sample predicts; RSS may grow by at most 1 MiB.

    1 MiB is allocator noise (a few arenas' pages); a leak of just 11 bytes per call, one
    small object, would exceed it. The per-call time is printed, not asserted.
    """
    done = subprocess.run([sys.executable, "-c", _PREDICT_LOOP, str(ROOT)], capture_output=True,
                          text=True, check=True, timeout=300)
    growth, per_call = done.stdout.split()
    print(f"\npredict on one sample: {float(per_call) * 1e6:.1f} us per call, RSS growth "
          f"{int(growth) / 1024:.0f} KiB over 100,000 calls")
    assert int(growth) <= 1 << 20
