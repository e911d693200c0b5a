"""Dtype policies and mixed_bfloat16 against TensorFlow's Keras 3: the policy objects, their
messages and configs, layers' policies, .keras files both ways; and the numbers of a
mixed_bfloat16 model against a NumPy reference that rounds the products' inputs to bfloat16."""

import json
import pickle
import zipfile

import numpy as np
import pytest
from _reference import gemm_bf16, round_bf16

import fastnn
from fastnn import mixed_precision
from fastnn.models import clone_model, load_model

POLICY_NAMES = ["float32", "float64", "mixed_bfloat16", "mixed_float16", "bfloat16", "float16"]
NOT_RUN = ["mixed_float16", "bfloat16", "float16"]


@pytest.fixture(autouse=True)
def fresh_policies(tf_keras):
    """Each test starts and ends with no global policy, in fastnn and in Keras."""
    fastnn.dtype_policies.reset()
    tf_keras.mixed_precision.set_global_policy("float32")
    yield
    fastnn.dtype_policies.reset()
    tf_keras.mixed_precision.set_global_policy("float32")


def message(call):
    try:
        call()
    except (TypeError, ValueError) as e:
        return type(e), str(e)
    raise AssertionError("no error")


# ---- the policy objects ----------------------------------------------------------------------

def test_module_names_are_keras(tf_keras):
    # LossScaleOptimizer is left out: Keras does not wrap optimizers for bfloat16
    for name in ("DTypePolicy", "Policy", "dtype_policy", "global_policy", "set_dtype_policy",
                 "set_global_policy"):
        assert hasattr(tf_keras.mixed_precision, name)
        assert hasattr(mixed_precision, name)
    for name in ("dtype_policy", "set_dtype_policy"):
        assert hasattr(tf_keras.config, name) and hasattr(fastnn.config, name)
    assert mixed_precision.Policy is fastnn.DTypePolicy is fastnn.dtype_policies.DTypePolicy


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_policy_attributes_are_keras(tf_keras, name):
    ours, theirs = mixed_precision.Policy(name), tf_keras.mixed_precision.Policy(name)
    assert ours.name == theirs.name
    assert ours.compute_dtype == theirs.compute_dtype
    assert ours.variable_dtype == theirs.variable_dtype
    assert repr(ours) == repr(theirs) and str(ours) == str(theirs)
    assert ours.get_config() == theirs.get_config()
    assert ours.quantization_mode is theirs.quantization_mode is None
    assert fastnn.dtype_policies.serialize(ours) == tf_keras.dtype_policies.serialize(theirs)
    again = mixed_precision.Policy.from_config(ours.get_config())
    assert again == ours and pickle.loads(pickle.dumps(ours)) == ours
    for other in POLICY_NAMES:
        assert (ours == mixed_precision.Policy(other)) == \
            (theirs == tf_keras.mixed_precision.Policy(other))
    assert (ours == name) is (theirs == name) is False


@pytest.mark.parametrize("bad", ["foo", "float8", "mixed_float32", 3, 2.5])
def test_bad_policy_names_are_keras_errors(tf_keras, bad):
    assert message(lambda: mixed_precision.Policy(bad)) == \
        message(lambda: tf_keras.mixed_precision.Policy(bad))


@pytest.mark.parametrize("bad", ["foo", 3, None])
def test_bad_global_policy_is_keras_error(tf_keras, bad):
    assert message(lambda: mixed_precision.set_global_policy(bad)) == \
        message(lambda: tf_keras.mixed_precision.set_global_policy(bad))
    assert mixed_precision.global_policy() == mixed_precision.Policy("float32")


def test_global_policy(tf_keras):
    assert repr(mixed_precision.global_policy()) == repr(tf_keras.mixed_precision.global_policy())
    for setter, getter in ((mixed_precision.set_global_policy, fastnn.config.dtype_policy),
                           (fastnn.config.set_dtype_policy, mixed_precision.global_policy)):
        setter("mixed_bfloat16")
        tf_keras.config.set_dtype_policy("mixed_bfloat16")
        assert repr(getter()) == repr(tf_keras.config.dtype_policy())
        setter(mixed_precision.Policy("float64"))
        assert getter().name == "float64"
        fastnn.backend.clear_session()          # as Keras's, it forgets the policy
        assert getter().name == "float32"


def test_global_policy_follows_floatx_until_set():
    fastnn.config.set_floatx("float64")
    try:
        assert mixed_precision.global_policy().name == "float64"
        assert fastnn.layers.Dense(2).dtype == "float64"
        mixed_precision.set_global_policy("mixed_bfloat16")
        # the policy's float32 weights win over floatx, as in Keras
        layer = fastnn.layers.Dense(2)
        assert (layer.dtype, layer.compute_dtype) == ("float32", "bfloat16")
    finally:
        fastnn.config.set_floatx("float32")


@pytest.mark.parametrize("name", NOT_RUN)
def test_policies_without_kernels_are_refused_and_change_nothing(name):
    mixed_precision.set_global_policy("mixed_bfloat16")
    with pytest.raises(ValueError, match="set_dtype_policy: fastnn cannot run the dtype policy "
                       f"'{name}'.*'mixed_bfloat16'"):
        mixed_precision.set_global_policy(name)
    assert mixed_precision.global_policy().name == "mixed_bfloat16"
    fastnn.backend.clear_session()
    for dtype in (name, mixed_precision.Policy(name),
                  {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name},
                   "registered_name": None}):
        with pytest.raises(ValueError, match=f"Layer 'd': fastnn cannot run the dtype policy "
                           f"'{name}'.*run the policies \\['float32', 'float64', "
                           "'mixed_bfloat16'\\]"):
            fastnn.layers.Dense(3, dtype=dtype, name="d")
        with pytest.raises(ValueError, match=f"Dropout: fastnn cannot run .*'{name}'"):
            fastnn.layers.Dropout(0.5, dtype=dtype)
    # the failed calls took no automatic name
    assert fastnn.layers.Dense(3).name == "dense"
    layer = fastnn.layers.Dense(3)
    with pytest.raises(ValueError, match=f"Layer 'dense_1': fastnn cannot run .*'{name}'"):
        layer.dtype_policy = name
    assert layer.dtype_policy.name == "float32"


def test_quantized_global_policy_is_refused():
    with pytest.raises(ValueError, match="quantized global policy.*model.quantize\\('int8'\\)"):
        mixed_precision.set_global_policy("int8_from_float32")
    assert mixed_precision.global_policy().name == "float32"


# ---- layers --------------------------------------------------------------------------------

def layer_facts(layer):
    return (repr(layer.dtype_policy), layer.compute_dtype, layer.variable_dtype, layer.dtype)


@pytest.mark.parametrize("make", [
    lambda L, p: L.Dense(3, dtype=p),
    lambda L, p: L.Dropout(0.2, dtype=p),
    lambda L, p: L.BatchNormalization(dtype=p),
    lambda L, p: L.Activation("softmax", dtype=p),
], ids=["Dense", "Dropout", "BatchNormalization", "Activation"])
@pytest.mark.parametrize("name", ["float32", "float64", "mixed_bfloat16"])
def test_layer_policy_is_keras(tf_keras, make, name):
    ours = make(fastnn.layers, name)
    theirs = make(tf_keras.layers, name)
    assert layer_facts(ours) == layer_facts(theirs)
    ours_obj = make(fastnn.layers, mixed_precision.Policy(name))
    assert layer_facts(ours_obj) == layer_facts(theirs)
    assert ours.get_config()["dtype"] == theirs.get_config()["dtype"]
    again = type(ours).from_config(ours.get_config())
    assert layer_facts(again) == layer_facts(theirs)


def test_dtype_policy_is_an_attribute_not_an_argument(tf_keras):
    assert message(lambda: fastnn.layers.Dense(3, dtype_policy="mixed_bfloat16")) == \
        message(lambda: tf_keras.layers.Dense(3, dtype_policy="mixed_bfloat16"))
    layer = fastnn.layers.Dense(3)
    layer.dtype_policy = "mixed_bfloat16"
    assert layer_facts(layer) == (repr(mixed_precision.Policy("mixed_bfloat16")), "bfloat16",
                                  "float32", "float32")


def test_global_policy_reaches_layers_created_after(tf_keras):
    before, before_k = fastnn.layers.Dense(3), tf_keras.layers.Dense(3)
    mixed_precision.set_global_policy("mixed_bfloat16")
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    after, after_k = fastnn.layers.Dense(3), tf_keras.layers.Dense(3)
    own, own_k = fastnn.layers.Dense(3, dtype="float32"), tf_keras.layers.Dense(3, dtype="float32")
    mixed_precision.set_global_policy("float32")
    tf_keras.mixed_precision.set_global_policy("float32")
    for a, b in ((before, before_k), (after, after_k), (own, own_k)):
        assert layer_facts(a) == layer_facts(b)
    assert after.compute_dtype == "bfloat16"


def mlp(lib, dtype=None):
    L = lib.layers
    return lib.Sequential([lib.Input((12,)), L.Dense(16, activation="relu", dtype=dtype),
                           L.Dropout(0.1, dtype=dtype),
                           L.Dense(4, activation="softmax", dtype=dtype)])


def test_weights_and_optimizer_state_stay_float32():
    fastnn.config.set_floatx("float64")
    try:
        mixed_precision.set_global_policy("mixed_bfloat16")
        model = mlp(fastnn)
    finally:
        fastnn.config.set_floatx("float32")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 12)), rng.integers(0, 4, 40)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    assert {w.dtype for w in model.weights} == {np.dtype("float32")}
    assert {np.asarray(v).dtype for v in model.optimizer.variables
            if np.asarray(v).dtype.kind == "f"} == {np.dtype("float32")}
    assert model.predict(x, verbose=0).dtype == np.float32


def test_bfloat16_products_in_a_float64_model_are_refused():
    L = fastnn.layers
    model = fastnn.Sequential([fastnn.Input((3,)), L.Dense(4, dtype="float64"),
                               L.Dense(2, dtype="mixed_bfloat16", name="mixed")])
    with pytest.raises(ValueError, match="runs in float64.*\\['mixed'\\].*'mixed_bfloat16'"):
        model.predict(np.ones((2, 3)), verbose=0)


def drop_object_id(value):
    """Keras marks an object several layers share (its global policy) with the object's
    memory address, meaningless in a file; fastnn writes no such mark."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k != "shared_object_id"}
    return value


def test_config_json_is_keras(tf_keras, tmp_path):
    """A mixed model's config.json (layers' dtypes, the model's own) is Keras's."""
    mixed_precision.set_global_policy("mixed_bfloat16")
    tf_keras.mixed_precision.set_global_policy("mixed_bfloat16")
    ours, theirs = mlp(fastnn), mlp(tf_keras)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")

    def dtypes(path):
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))["config"]
        return [drop_object_id(config["dtype"])] + [
            drop_object_id(item["config"]["dtype"]) for item in config["layers"]]

    assert dtypes(tmp_path / "ours.keras") == dtypes(tmp_path / "theirs.keras")


def test_files_go_both_ways(tf_keras, tmp_path):
    L = fastnn.layers
    inputs = fastnn.Input((12,))
    hidden = L.Dense(8, activation="tanh", dtype="mixed_bfloat16")(inputs)
    ours = fastnn.Model(inputs, L.Dense(3, dtype="float32")(hidden))
    ours.save(tmp_path / "ours.keras")
    theirs = tf_keras.models.load_model(tmp_path / "ours.keras")
    assert [layer_facts(a) for a in ours.layers] == [layer_facts(b) for b in theirs.layers]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)

    keras_model = mlp(tf_keras, "mixed_bfloat16")
    keras_model.save(tmp_path / "theirs.keras")
    back = load_model(tmp_path / "theirs.keras")
    assert [layer_facts(a) for a in back.layers] == [layer_facts(b) for b in keras_model.layers]
    for a, b in zip(back.get_weights(), keras_model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_clone_pickle_and_config_keep_the_policy():
    class Wrapper(fastnn.Model):      # a subclassed model around a nested Sequential
        def __init__(self):
            super().__init__()
            self.inner = mlp(fastnn, "mixed_bfloat16")

        def call(self, x):
            return self.inner(x)

    model = mlp(fastnn, "mixed_bfloat16")
    for copy in (clone_model(model), pickle.loads(pickle.dumps(model)),
                 fastnn.Sequential.from_config(model.get_config())):
        assert [layer.dtype_policy.name for layer in copy.layers] == ["mixed_bfloat16"] * 3
    wrapper = Wrapper()
    x = np.random.default_rng(4).normal(size=(6, 12)).astype(np.float32)
    got = wrapper.predict(x, verbose=0)
    assert [layer.compute_dtype for layer in wrapper.inner.layers] == ["bfloat16"] * 3
    np.testing.assert_array_equal(got, wrapper.inner.predict(x, verbose=0))
    plain = mlp(fastnn)
    plain.set_weights(wrapper.inner.get_weights())
    assert not np.array_equal(got, plain.predict(x, verbose=0))   # bfloat16 products ran


# ---- int8 on a mixed model ---------------------------------------------------------------------

def test_int8_from_mixed_bfloat16_is_keras(tf_keras, tmp_path):
    ours, theirs = mlp(fastnn, "mixed_bfloat16"), mlp(tf_keras, "mixed_bfloat16")
    theirs.set_weights(ours.get_weights())
    plain = mlp(fastnn)
    plain.set_weights(ours.get_weights())
    for model in (ours, theirs, plain):
        model.quantize("int8")
    for a, b in zip(ours.layers, theirs.layers):
        assert layer_facts(a) == layer_facts(b)
        assert a.get_config()["dtype"] == json.loads(json.dumps(b.get_config()["dtype"]))
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(1).normal(size=(9, 12)).astype(np.float32)
    # fastnn keeps activations in float32: the int8 products of int8_from_float32
    np.testing.assert_array_equal(ours.predict(x, verbose=0), plain.predict(x, verbose=0))
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    from_ours = tf_keras.models.load_model(tmp_path / "ours.keras")
    from_theirs = load_model(tmp_path / "theirs.keras")
    for a, b in zip(from_ours.layers, from_theirs.layers):
        assert layer_facts(a) == layer_facts(b)
        assert a.dtype_policy.name in ("int8_from_mixed_bfloat16", "mixed_bfloat16")
    np.testing.assert_array_equal(from_theirs.predict(x, verbose=0), plain.predict(x, verbose=0))


# ---- the numbers: bfloat16 products against NumPy ------------------------------------------

U32 = 2.0 ** -24     # float32's unit roundoff


def test_round_bf16_reference_is_ml_dtypes():
    """The NumPy rounding the tests judge with, against an independent bfloat16 type."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.random.default_rng(3).normal(size=10_000).astype(np.float32) * 1e3
    ties = np.float32(1) + np.arange(1, 9, dtype=np.float32) * np.float32(2.0 ** -8)
    for values in (x, ties, -ties):
        want = values.astype(ml_dtypes.bfloat16).astype(np.float32)
        np.testing.assert_array_equal(round_bf16(values), want)


@pytest.fixture(params=["machine", "baseline"])
def bf16_path(request, monkeypatch):
    """The bfloat16 path plans pick: the CPU's (AMX-BF16 where present) or the forced
    float32 fallback."""
    if request.param == "baseline":
        monkeypatch.setenv("FASTNN_FORCE_BASELINE", "1")
    else:
        monkeypatch.delenv("FASTNN_FORCE_BASELINE", raising=False)
    return request.param


def accumulation_bound(a, b):
    """|fl32(sum a_i b_i) - sum a_i b_i| on bfloat16 inputs: every product is exact in float32,
    so the error is the accumulation's: at most d u sum |a_i b_i| when no term goes through
    more than d float32 additions (Higham's gamma_d). In any order of a dot product of n terms,
    d <= n; the tile path's two chains and its block sums add at most two: d = n + 2."""
    n = a.shape[-1]
    return (n + 2) * U32 * (np.abs(round_bf16(a)).astype(np.float64)
                      @ np.abs(round_bf16(b)).astype(np.float64))


def assert_bf16_close(got, want, bound, plain):
    """``got`` within ``bound`` of the bfloat16 reference, and the float32 product ``plain``
    not: the test can tell bfloat16 products from float32 ones."""
    err = np.abs(np.asarray(got, np.float64) - want)
    assert np.all(err <= bound), float(np.max(err - bound))
    assert np.any(np.abs(plain - want) > bound)


@pytest.mark.parametrize("rank", [2, 3])
def test_dense_predict_is_the_bfloat16_reference(rank, bf16_path):
    rng = np.random.default_rng(7)
    shape = (50,) if rank == 2 else (3, 50)
    model = fastnn.Sequential([fastnn.Input(shape),
                               fastnn.layers.Dense(23, dtype="mixed_bfloat16")])
    kernel = rng.normal(size=(50, 23)).astype(np.float32)
    bias = rng.normal(size=23).astype(np.float32)
    model.set_weights([kernel, bias])
    x = rng.normal(size=(37, *shape)).astype(np.float32)
    got = model.predict(x, verbose=0)
    assert got.dtype == np.float32 and got.shape == (37, *shape[:-1], 23)
    rows = x.reshape(-1, 50)
    want = gemm_bf16(rows, kernel) + bias
    # the bias is added to the float32 sum: one more rounding
    bound = accumulation_bound(rows, kernel) + U32 * (np.abs(want) + np.abs(bias))
    plain = rows.astype(np.float64) @ kernel + bias
    assert_bf16_close(got.reshape(-1, 23), want, bound, plain)


def test_functional_nested_predict_is_the_bfloat16_reference(bf16_path):
    """Dense layers in a functional model and in a Sequential nested in it: each layer's
    output against the reference computed on the engine's own input to that layer."""
    L = fastnn.layers
    mixed_precision.set_global_policy("mixed_bfloat16")
    inputs = fastnn.Input((20,))
    first = L.Dense(31, activation="relu")
    h1 = first(inputs)
    inner = fastnn.Sequential([fastnn.Input((31,)), L.Dense(17, activation="relu")])
    h2 = inner(h1)
    last = L.Dense(5)
    model = fastnn.Model(inputs, last(h2))
    mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(11)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.weights])
    x = rng.normal(size=(29, 20)).astype(np.float32)
    seen = [x, fastnn.Model(inputs, h1).predict(x, verbose=0),
            fastnn.Model(inputs, h2).predict(x, verbose=0), model.predict(x, verbose=0)]
    dense = [first, inner.layers[0], last]
    for layer, x_in, got in zip(dense, seen, seen[1:]):
        kernel, bias = layer.get_weights()
        z = gemm_bf16(x_in, kernel) + bias
        bound = accumulation_bound(x_in, kernel) + U32 * (np.abs(z) + np.abs(bias))
        relu = layer is not last
        want = np.maximum(z, 0) if relu else z    # relu moves values by at most |dz|
        plain = x_in.astype(np.float64) @ kernel + bias
        assert_bf16_close(got, want, bound, np.maximum(plain, 0) if relu else plain)


def near_bf16_tie(values, slack):
    """Whether some value lies within ``slack`` of a point where bfloat16 rounding changes
    (a midpoint between neighbours): there, the reference could round differently from an
    engine value that differs from it by less than ``slack``."""
    v = np.asarray(values, np.float64)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(v) + 1e-300)) - 7)
    frac = np.abs(v) / ulp
    return bool(np.any(np.abs(frac - np.floor(frac) - 0.5) * ulp <= slack))


def test_one_sgd_step_is_the_bfloat16_reference(bf16_path):
    """Both backward products: dW = bf16(x)^T bf16(delta), delta_in = bf16(delta) bf16(W)^T.

    MSE's gradient 2 (y - t) / (rows * units) with rows * units a power of two is one float32
    rounding (of y - t), so the reference's delta is the engine's bit for bit; the hidden
    layer's delta is the engine's to within an accumulation bound, and the test first checks
    that no reference value sits that close to a bfloat16 rounding point."""
    L = fastnn.layers
    inputs = fastnn.Input((6,))
    hidden = L.Dense(5, use_bias=False, dtype="mixed_bfloat16")(inputs)
    model = fastnn.Model(inputs, L.Dense(4, use_bias=False, dtype="mixed_bfloat16")(hidden))
    rng = np.random.default_rng(5)
    w1, w2 = (rng.normal(size=s).astype(np.float32) for s in ((6, 5), (5, 4)))
    model.set_weights([w1, w2])
    x = rng.normal(size=(8, 6)).astype(np.float32)
    t = rng.normal(size=(8, 4)).astype(np.float32)
    h = fastnn.Model(inputs, hidden).predict(x, verbose=0)
    y = model.predict(x, verbose=0)
    lr = 0.5
    model.compile(fastnn.optimizers.SGD(learning_rate=lr), "mse")
    model.fit(x, t, batch_size=8, epochs=1, shuffle=False, verbose=0)

    delta2 = ((y - t) * np.float32(2 / 32)).astype(np.float32)      # exact scaling
    dw2 = gemm_bf16(h.T, delta2)
    delta1 = gemm_bf16(delta2, w2.T)
    slack = accumulation_bound(delta2, w2.T) + U32 * np.abs(delta1)
    assert not near_bf16_tie(delta1, slack.max())
    dw1 = gemm_bf16(x.T, delta1.astype(np.float32))
    plain_delta1 = delta2.astype(np.float64) @ w2.T
    for got, w, dw, bound, plain_dw in (
            (model.layers[2].kernel.numpy(), w2, dw2, accumulation_bound(h.T, delta2),
             h.T.astype(np.float64) @ delta2),
            (model.layers[1].kernel.numpy(), w1, dw1,
             accumulation_bound(x.T, delta1.astype(np.float32)),
             x.T.astype(np.float64) @ plain_delta1)):
        want = w - lr * dw
        # the step's float32 rounding: lr * dW, then the subtraction
        bound = lr * bound + U32 * (np.abs(want) + 2 * lr * np.abs(dw))
        assert_bf16_close(got, want, bound, w - lr * plain_dw)


# ---- accuracy: mixed_bfloat16 trains as well as float32 -------------------------------------

def digits_accuracy(policy):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.25,
                                                        random_state=0, stratify=y)
    mixed_precision.set_global_policy(policy)
    fastnn.utils.set_random_seed(0)
    L = fastnn.layers
    model = fastnn.Sequential([fastnn.Input((64,)), L.Dense(128, activation="relu"),
                               L.Dense(64, activation="relu"),
                               L.Dense(10, activation="softmax")])
    mixed_precision.set_global_policy("float32")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=15, verbose=0)
    return model.evaluate(x_test, y_test, verbose=0)[1]


def test_digits_reach_float32_accuracy(bf16_path):
    full, mixed = digits_accuracy("float32"), digits_accuracy("mixed_bfloat16")
    assert full > 0.95
    assert abs(mixed - full) <= 0.005, (full, mixed)


def tutorial_accuracy(policy, capsys):
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "tutorial_train_predict.py"
    mixed_precision.set_global_policy(policy)
    try:
        namespace = runpy.run_path(str(script))
    finally:
        mixed_precision.set_global_policy("float32")
    capsys.readouterr()
    assert [layer.compute_dtype for layer in namespace["model"].layers] == \
        ["bfloat16" if policy == "mixed_bfloat16" else "float32"] * 3
    return namespace["accuracy"]


def test_tutorial_reaches_float32_accuracy(capsys, bf16_path):
    """The tutorial's own script (examples/tutorial_train_predict.py: 20 epochs, its seeds)
    under the global policy."""
    full, mixed = tutorial_accuracy("float32", capsys), tutorial_accuracy("mixed_bfloat16", capsys)
    assert full > 0.9
    assert abs(mixed - full) <= 0.005, (full, mixed)


def test_setting_a_built_layers_policy_plans_again(bf16_path):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(16, 12)).astype(np.float32)
    model, mixed = mlp(fastnn), mlp(fastnn, "mixed_bfloat16")
    mixed.set_weights(model.get_weights())
    before = model.predict(x, verbose=0)
    for layer in model.layers:
        layer.dtype_policy = "mixed_bfloat16"
    after = model.predict(x, verbose=0)
    np.testing.assert_array_equal(after, mixed.predict(x, verbose=0))
    assert not np.array_equal(after, before)


def test_mixed_fit_gives_the_same_bits_on_any_thread_count_and_either_path(monkeypatch):
    # The bfloat16 products split C between threads in whole tiles and the AMX path and the
    # fallback share one arithmetic, so the weights after a fit are bit-equal across both.
    rng = np.random.default_rng(11)
    x = rng.normal(size=(600, 300)).astype(np.float32)
    y = rng.integers(0, 10, 600)
    weights = []
    for force_baseline in ("0", "1"):
        for n_threads in (1, 2):
            monkeypatch.setenv("FASTNN_FORCE_BASELINE", force_baseline)
            fastnn.utils.set_random_seed(3)
            L = fastnn.layers
            model = fastnn.Sequential([
                fastnn.Input((300,)), L.Dense(256, activation="relu", dtype="mixed_bfloat16"),
                L.Dense(10, activation="softmax", dtype="mixed_bfloat16")])
            model.compile("adam", "sparse_categorical_crossentropy")
            with fastnn.config.num_threads(n_threads):
                model.fit(x, y, batch_size=128, epochs=2, verbose=0, shuffle=False)
            weights.append(model.get_weights())
    for other in weights[1:]:
        for a, b in zip(weights[0], other):
            np.testing.assert_array_equal(a, b)


def images_model(optimizer, images):
    """A mixed_bfloat16 model whose kernels take every kind of image: a first layer (no input
    gradient), middle ones (both images), a layer called twice (one pair of images for two
    ops, gradients added), one of 513 inputs (two k-blocks of 257 rows: written whole only, so
    without images), and a float32 head."""
    fastnn.utils.set_random_seed(4)
    L = fastnn.layers
    inp = fastnn.Input((40,))
    h = L.Dense(70, activation="relu", dtype="mixed_bfloat16")(inp)
    h = L.Dense(513, activation="relu", dtype="mixed_bfloat16")(h)
    h = L.Dense(64, activation="tanh", dtype="mixed_bfloat16")(h)
    shared = L.Dense(64, activation="relu", dtype="mixed_bfloat16")
    h = shared(shared(h))
    h = L.Dense(33, activation="gelu", dtype="mixed_bfloat16")(h)
    out = L.Dense(5, activation="softmax", dtype="float32")(h)
    model = fastnn.Model(inp, out)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model._ensure_plan().engine.bf16_images = images
    return model


@pytest.mark.parametrize("optimizer", [
    "adam", "nadam", "lamb", "ftrl", "lion", "rmsprop",
    lambda: fastnn.optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
    lambda: fastnn.optimizers.AdamW(1e-3, weight_decay=0.1, global_clipnorm=0.5)],
    ids=["adam", "nadam", "lamb", "ftrl", "lion", "rmsprop", "sgd", "adamw"])
def test_weight_images_change_no_bit(optimizer, monkeypatch):
    # The optimizer step packs each mixed_bfloat16 kernel's bfloat16 images piece by piece
    # right after updating it; the products read them instead of converting the weights.
    # Training with them must give exactly the weights of training without them, also when
    # the weights change between calls (set_weights) and the images are packed afresh. Two
    # threads throughout (the thread policy could pick one), so that both threads pack.
    from fastnn import _thread_policy
    monkeypatch.setattr(_thread_policy, "_in_pieces",
                        lambda key, n_threads, n_units, run_piece:
                        run_piece(n_threads, 0, n_units)[0])
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 40)).astype(np.float32)
    y = rng.integers(0, 5, 300)
    results = []
    for images in (True, False):
        model = images_model(optimizer() if callable(optimizer) else optimizer, images)
        with fastnn.config.num_threads(2):
            model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
            model.set_weights([w * np.float32(0.9) for w in model.get_weights()])
            model.fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False)
        results.append((model.get_weights(), model.predict(x[:50], verbose=0),
                        model._ensure_plan().engine.bf16_image_count))
    (with_images, predicted, count), (without, predicted_without, none) = results
    assert (count, none) == (4, 0)   # all mixed_bfloat16 kernels but the one of 513 inputs
    for a, b in zip(with_images, without):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predicted, predicted_without)
