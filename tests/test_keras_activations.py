"""fastnn.activations: values against TensorFlow's Keras 3, names, serialization, kernel specs."""

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

from fastnn import activations, config
from fastnn._kernels import _activations

NAMES = sorted(activations._ACTIVATIONS)
# Keras 3 names fastnn does not implement (not in the kernels), so they must be rejected.
UNSUPPORTED = ["celu", "glu", "hard_tanh", "log_sigmoid", "sparsemax", "squareplus", "threshold"]

EXTREMES = [-1e30, -3e4, -100, -88.5, -30, -20, -6, -3, -1e-30, -0.0, 0.0, 1e-30, 3, 6, 20, 30,
            88.5, 100, 3e4, 1e30]  # fmt: skip


def _inputs(dtype):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 4, 300), rng.uniform(-3.5, 3.5, 60), EXTREMES])
    return x.reshape(-1, 20).astype(dtype)


def _tf(tf_keras, fn, x, **kwargs):
    return np.asarray(fn(tf_keras.ops.convert_to_tensor(x), **kwargs))


def _close(actual, expected, dtype):
    """float32: the brief's rtol 1e-5; atol 1e-7 covers TF flushing subnormal results to 0 and
    its float32 cancellation in log_softmax (fastnn is the accurate one in both cases)."""
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-15}
    assert actual.dtype == dtype
    np.testing.assert_allclose(actual, expected, **tol)


def _close_to_lossy(actual, expected, x):
    """Where TensorFlow itself is only float32-accurate (see LOSSY): within 2e-5 relative plus
    the absolute error of a float32 cancellation, 8 ulp of |x|. fastnn's exact values are
    checked separately against float64 formulas."""
    bound = 2e-5 * np.abs(expected) + 8 * np.finfo(np.float32).eps * np.abs(x)
    assert np.all(np.abs(actual.astype(np.float64) - expected) <= bound)


def _exact_gelu(x):
    return 0.5 * x * special.erfc(-x / np.sqrt(2))


def _exact_gelu_approximate(x):
    u = np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)
    with np.errstate(over="ignore"):
        return x * special.expit(2 * u)


# (name, kwargs, dtype) where TensorFlow loses precision, and the exact float64 formula:
# float64 gelu and leaky_relu use float32 constants (1/sqrt 2, the slope attribute) in TF;
# approximate gelu writes 0.5 x (1 + tanh u), which cancels for x < -3 in either dtype;
# float32 log_softmax takes log(Σ exp(x - max)) of a sum near 1 in float32, losing up to an ulp
# of 1 in absolute terms (x = [8456, 8449, 8449, 8449]: TF -0.00273176, exact -0.00273191).
LOSSY = {
    ("log_softmax", "{}", "float32"): lambda x: x - special.logsumexp(x, axis=-1, keepdims=True),
    ("gelu", "{}", "float64"): _exact_gelu,
    ("gelu", "{'approximate': True}", "float64"): _exact_gelu_approximate,
    ("gelu", "{'approximate': True}", "float32"): _exact_gelu_approximate,
    ("leaky_relu", "{}", "float64"): lambda x: np.where(x > 0, x, 0.2 * x),
    ("leaky_relu", "{'negative_slope': 0.01}", "float64"): lambda x: np.where(x > 0, x, 0.01 * x),
    ("relu", "{'negative_slope': 0.1}", "float64"): lambda x: np.where(x > 0, x, 0.1 * x),
}


def _check(tf_keras, name, kwargs, x):
    fn = activations.get(name)
    with np.errstate(over="ignore"):
        expected = _tf(tf_keras, tf_keras.activations.get(name), x, **kwargs)
    actual = fn(x, **kwargs)
    exact = LOSSY.get((fn.__name__, str(kwargs), x.dtype.name))
    if exact is None:
        _close(actual, expected, x.dtype.type)
        return
    _close_to_lossy(actual, expected, x)
    rtol, tiny = (1e-5, 1e-37) if x.dtype == np.float32 else (1e-12, 1e-300)
    np.testing.assert_allclose(actual, exact(x.astype(np.float64)), rtol=rtol, atol=tiny)


@pytest.mark.parametrize("name", NAMES)
def test_matches_keras(tf_keras, name, dtype):
    _check(tf_keras, name, {}, _inputs(dtype))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("relu", {"negative_slope": 0.1}),
        ("relu", {"max_value": 6.0}),
        ("relu", {"max_value": 2.5, "threshold": 0.5}),
        ("relu", {"negative_slope": 0.3, "max_value": 4.0, "threshold": -1.0}),
        ("relu", {"threshold": 1.0}),
        ("leaky_relu", {"negative_slope": 0.01}),
        ("elu", {"alpha": 0.5}),
        ("elu", {"alpha": 2.0}),
        ("gelu", {"approximate": True}),
    ],
)
def test_parameters_match_keras(tf_keras, name, kwargs, dtype):
    _check(tf_keras, name, kwargs, _inputs(dtype))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax_axes_match_keras(tf_keras, name, axis, dtype):
    x = np.random.default_rng(1).normal(0, 30, (3, 5, 4)).astype(dtype)
    expected = _tf(tf_keras, getattr(tf_keras.activations, name), x, axis=axis)
    _close(getattr(activations, name)(x, axis=axis), expected, dtype)


@settings(max_examples=40, deadline=None)
@given(
    x=hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=9),
        elements=st.floats(-1e4, 1e4, width=32),
    ),
    name=st.sampled_from(NAMES),
)
def test_fuzz_matches_keras(tf_keras, x, name):
    _check(tf_keras, name, {}, x)


X_GOLDEN = [-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0]
GOLDEN = {
    "hard_sigmoid": [0, 0, 0.33333334, 0.5, 0.6666667, 1, 1],
    "leaky_relu": [-0.8, -0.6, -0.2, 0, 1, 3, 4],
    "gelu": [-1.26685e-4, -4.04970e-3, -0.15865526, 0, 0.84134471, 2.9959502, 3.9998734],
    "hard_silu": [-0.0, -0.0, -0.33333334, 0, 0.6666667, 3, 4],
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_values(name):
    np.testing.assert_allclose(activations.get(name)(X_GOLDEN), GOLDEN[name], rtol=1e-5, atol=0)


def test_leaky_relu_layer_slope():
    # The LeakyReLU layer's default slope (0.3) differs from the function's (0.2).
    layer = functools.partial(activations.leaky_relu, negative_slope=0.3)
    np.testing.assert_allclose(layer(X_GOLDEN), [-1.2, -0.9, -0.3, 0, 1, 3, 4], rtol=1e-6)


def test_dtypes_and_shapes():
    assert activations.relu(np.ones(3)).dtype == np.float64
    assert activations.relu(np.ones(3, np.float32)).dtype == np.float32
    assert activations.relu([1, -2]).dtype == np.float32
    assert activations.relu(np.arange(4)).dtype == np.float32
    assert activations.relu(np.ones(3, np.float16)).dtype == np.float32
    assert activations.relu(-2.0).shape == ()
    assert activations.softmax(5.0) == 1.0
    assert activations.sigmoid(np.zeros((0, 3))).shape == (0, 3)
    assert activations.softmax(np.zeros((2, 0))).shape == (2, 0)
    x = np.arange(12.0).reshape(3, 4)[:, ::2]  # non-contiguous input
    np.testing.assert_array_equal(activations.linear(x), x)
    readonly = np.arange(4.0)
    readonly.flags.writeable = False
    np.testing.assert_array_equal(activations.relu(readonly), readonly)


def test_floatx_float64():
    config.set_floatx("float64")
    try:
        assert activations.tanh([0.5]).dtype == np.float64
    finally:
        config.set_floatx("float32")


def test_large_input_uses_threads(tf_keras):
    # Above the kernels' serial cut-off: the threaded path must give the same values.
    x = np.random.default_rng(2).normal(0, 3, (2000, 40)).astype(np.float32)
    _close(activations.mish(x), _tf(tf_keras, tf_keras.activations.mish, x), np.float32)
    _close(activations.softmax(x), _tf(tf_keras, tf_keras.activations.softmax, x), np.float32)


def test_names_are_keras_names(tf_keras):
    for name in NAMES:
        assert tf_keras.activations.get(name).__name__ == activations.get(name).__name__
    assert activations.get("swish") is activations.silu is activations.swish
    assert activations.get("hard_swish") is activations.hard_silu is activations.hard_swish
    assert activations.get(None) is activations.linear
    assert activations.get(activations.tanh) is activations.tanh


@pytest.mark.parametrize("name", ["ReLU", "Relu", "LeakyReLU", "softmax2", "", *UNSUPPORTED])
def test_unknown_names_raise(name):
    with pytest.raises(ValueError, match="Could not interpret activation function identifier") as e:
        activations.get(name)
    assert "relu, relu6, selu" in str(e.value)  # lists the valid names


def test_non_callable_raises():
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.get(3)


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(tf_keras, name):
    fn = activations.get(name)
    name_out = activations.serialize(fn)
    assert name_out == tf_keras.activations.serialize(tf_keras.activations.get(name))
    assert activations.deserialize(name_out) is fn
    assert activations.get(name_out) is fn


def test_deserialize_keras_long_form(tf_keras):
    long_form = tf_keras.utils.serialize_keras_object(tf_keras.activations.relu)
    assert activations.deserialize(long_form) is activations.relu
    assert activations.get(long_form) is activations.relu


def test_serialize_custom_raises():
    with pytest.raises(ValueError, match="not a registered activation"):
        activations.serialize(lambda x: x)


@pytest.mark.parametrize("name", NAMES)
def test_kernel_spec_of_names(name):
    spec = activations.kernel_spec(name)
    assert spec.kernel == _activations.ACTIVATIONS[name]
    assert activations.kernel_spec(activations.get(name)) == spec
    assert activations.kernel_spec(spec) is spec


def test_kernel_spec_defaults():
    S = activations.ActivationSpec
    ids = _activations.ACTIVATIONS
    assert activations.kernel_spec(None) == S(ids["linear"], 0.0, math.inf, 0.0, 1.0)
    assert activations.kernel_spec("relu") == S(ids["relu"], 0.0, math.inf, 0.0, 1.0)
    assert activations.kernel_spec("leaky_relu") == S(ids["leaky_relu"], 0.2, math.inf, 0.0, 1.0)
    assert activations.kernel_spec("elu") == S(ids["elu"], 0.0, math.inf, 0.0, 1.0)


PARTIALS = [
    (activations.relu, {"max_value": 6.0}),
    (activations.relu, {"negative_slope": 0.1, "max_value": 3, "threshold": 0.5}),
    (activations.relu, {"max_value": None}),
    (activations.leaky_relu, {"negative_slope": 0.3}),
    (activations.elu, {"alpha": 0.7}),
    (activations.gelu, {"approximate": True}),
    (activations.gelu, {"approximate": False}),
    (activations.softmax, {"axis": -1}),
    (activations.log_softmax, {}),
]


@pytest.mark.parametrize("fn, kwargs", PARTIALS)
def test_kernel_spec_of_partials_runs_the_same(fn, kwargs):
    # The spec, run by the kernel the way the engine will, gives the function's own values.
    partial = functools.partial(fn, **kwargs)
    spec = activations.kernel_spec(partial)
    x = _inputs(np.float64)
    out = np.empty_like(x)
    _activations.activation_forward(spec.kernel, x, None, out, None, *spec[1:], 1)
    np.testing.assert_array_equal(out, partial(x))


def test_kernel_spec_gelu_approximate_kernel():
    spec = activations.kernel_spec(functools.partial(activations.gelu, approximate=True))
    assert spec.kernel == _activations.ACTIVATIONS["gelu_approximate"]


def test_kernel_spec_matches_keras_layers(tf_keras):
    x = _inputs(np.float32)
    layers = [
        (tf_keras.layers.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5),
         functools.partial(activations.relu, max_value=6.0, negative_slope=0.1, threshold=0.5)),
        (tf_keras.layers.LeakyReLU(), functools.partial(activations.leaky_relu, negative_slope=0.3)),
        (tf_keras.layers.ELU(alpha=0.5), functools.partial(activations.elu, alpha=0.5)),
    ]  # fmt: skip
    for layer, partial in layers:
        spec = activations.kernel_spec(partial)
        out = np.empty_like(x)
        _activations.activation_forward(spec.kernel, x, None, out, None, *spec[1:], 1)
        _close(out, np.asarray(layer(x)), np.float32)


def custom_activation(x):
    return x


@pytest.mark.parametrize(
    "activation",
    [
        custom_activation,
        lambda x: x,
        np.tanh,
        functools.partial(custom_activation),
        functools.partial(activations.relu, 1.0),  # binds x positionally
    ],
)
def test_kernel_spec_rejects_custom_callables(activation):
    with pytest.raises(ValueError, match="not a built-in activation") as e:
        activations.kernel_spec(activation)
    assert "relu, relu6" in str(e.value)


def test_kernel_spec_names_the_custom_function():
    with pytest.raises(ValueError, match="custom_activation"):
        activations.kernel_spec(custom_activation)


def test_kernel_spec_rejects_bad_partials():
    with pytest.raises(ValueError, match="Invalid arguments for activation 'elu'"):
        activations.kernel_spec(functools.partial(activations.elu, slope=0.1))
    with pytest.raises(ValueError, match="last axis"):
        activations.kernel_spec(functools.partial(activations.softmax, axis=1))
    with pytest.raises(ValueError, match="Could not interpret"):
        activations.kernel_spec("bogus")
