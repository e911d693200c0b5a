"""Dtype policies and mixed_bfloat16 against TensorFlow's Keras 3: the policy objects, their
messages and configs, layers' policies, .keras files both ways; and the numbers of a
mixed_bfloat16 model against a NumPy reference that rounds the products' inputs to bfloat16."""

import json
import pickle
import zipfile

import numpy as np
import pytest

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
    wrapper.predict(np.ones((2, 12)), verbose=0)
    assert [layer.compute_dtype for layer in wrapper.inner.layers] == ["bfloat16"] * 3


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
