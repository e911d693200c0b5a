"""fastnn._kernels._activations against the float64 reference (tests/_reference.py)."""

import math

import numpy as np
import pytest
from _reference import SELU_SCALE, activation_grad_ref, activation_ref
from conftest import LAYOUTS, as_layout, tolerance
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fastnn._kernels import _activations as K

# (name, Keras parameters): every activation, and relu/leaky_relu/elu with the parameter
# combinations that take different code paths (and different kink gradients in TensorFlow).
CASES = [
    ("linear", {}),
    ("relu", {}),
    ("relu", {"negative_slope": 0.3}),
    ("relu", {"max_value": 6.0}),
    ("relu", {"max_value": 2.5}),
    ("relu", {"threshold": 0.5}),
    ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}),
    ("relu6", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("leaky_relu", {"negative_slope": -0.5}),
    ("elu", {"alpha": 1.0}),
    ("elu", {"alpha": 0.5}),
    ("elu", {"alpha": -0.5}),
    ("selu", {}),
    ("sigmoid", {}),
    ("hard_sigmoid", {}),
    ("hard_silu", {}),
    ("silu", {}),
    ("gelu", {}),
    ("gelu_approximate", {}),
    ("tanh", {}),
    ("softplus", {}),
    ("softsign", {}),
    ("exponential", {}),
    ("mish", {}),
    ("softmax", {}),
    ("log_softmax", {}),
]
CASE_IDS = [name + "".join(f"-{k[:3]}{v}" for k, v in p.items()) for name, p in CASES]
SHAPES = [(1, 1), (7, 13), (1100, 33)]  # the last crosses the 32768 parallel cut-off


def kernel_params(p):
    """Keras parameters -> the kernels' (negative_slope, max_value, threshold, alpha)."""
    max_value = p.get("max_value")
    return (
        p.get("negative_slope", 0.0),
        math.inf if max_value is None else max_value,
        p.get("threshold", 0.0),
        p.get("alpha", 1.0),
    )


def forward(name, p, z, bias=None, out=None, zb_out=None, n_threads=1):
    out = np.empty_like(z) if out is None else out
    K.activation_forward(K.ACTIVATIONS[name], z, bias, out, zb_out, *kernel_params(p), n_threads)
    return out


def backward(name, p, zb, a, g, dz_out=None, n_threads=1):
    """dz from the kernel, handing it only the arrays activation_needs says it reads."""
    needs = K.activation_needs(K.ACTIVATIONS[name], *kernel_params(p))
    dz_out = np.empty_like(g) if dz_out is None else dz_out
    K.activation_backward(
        K.ACTIVATIONS[name],
        g,
        zb if needs & K.NEEDS_Z else None,
        a if needs & K.NEEDS_A else None,
        dz_out,
        *kernel_params(p),
        n_threads,
    )
    return dz_out


def data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    z = (2 * rng.standard_normal(shape)).astype(dtype)
    bias = rng.standard_normal(shape[1]).astype(dtype)
    g = rng.uniform(-1, 1, shape).astype(dtype)
    return z, bias, g


def expected(ref, dtype):
    """The reference rounded to dtype (so a value beyond float32's range is inf, as it must)."""
    with np.errstate(over="ignore"):
        return ref.astype(dtype)


def test_registry():
    assert K.ACTIVATIONS["swish"] == K.ACTIVATIONS["silu"]
    assert K.ACTIVATIONS["hard_swish"] == K.ACTIVATIONS["hard_silu"]
    assert len(set(K.ACTIVATIONS.values())) == len(K.ACTIVATIONS) - 2
    assert {name for name, _ in CASES} <= set(K.ACTIVATIONS)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_forward_matches_reference(name, p, shape, dtype, n_threads):
    z0, bias0, _ = data(shape, dtype)
    tol = tolerance(dtype)
    zb64 = z0.astype(np.float64) + bias0.astype(np.float64)
    with_bias = expected(activation_ref(name, zb64, **p), dtype)
    without = expected(activation_ref(name, z0, **p), dtype)

    np.testing.assert_allclose(forward(name, p, z0, n_threads=n_threads), without, **tol)
    for layout in LAYOUTS:
        z, bias = as_layout(z0, layout), as_layout(bias0, layout)
        out = forward(name, p, z, bias, n_threads=n_threads)
        np.testing.assert_allclose(out, with_bias, **tol, err_msg=layout)

    inplace = z0.copy()  # in place: out is z itself, as the engine calls it
    forward(name, p, inplace, bias0, out=inplace, n_threads=n_threads)
    np.testing.assert_array_equal(inplace, out)
    zb_inplace = z0.copy()  # zb_out keeps z + bias (rounded once, in dtype) in z's buffer
    out2 = forward(name, p, zb_inplace, bias0, zb_out=zb_inplace, n_threads=n_threads)
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(zb_inplace, z0 + bias0)
    zb_out = np.empty_like(z0)
    forward(name, p, z0, zb_out=zb_out, n_threads=n_threads)
    np.testing.assert_array_equal(zb_out, z0)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_backward_matches_reference(name, p, shape, dtype, n_threads):
    z0, bias0, g0 = data(shape, dtype, seed=1)
    zb = z0 + bias0
    a = forward(name, p, z0, bias0)
    ref = expected(activation_grad_ref(name, zb, g0, **p), dtype)

    for layout in LAYOUTS:
        zbl, al, gl = (as_layout(v, layout) for v in (zb, a, g0))
        dz = backward(name, p, zbl, al, gl, n_threads=n_threads)
        np.testing.assert_allclose(dz, ref, **tolerance(dtype), err_msg=layout)
    inplace = g0.copy()
    backward(name, p, zb, a, inplace, dz_out=inplace, n_threads=n_threads)
    np.testing.assert_array_equal(inplace, dz)


KINKS = {"relu6": [0, 6], "hard_sigmoid": [-3, 3], "hard_silu": [-3, 3]}


def kinks(name, p):
    if name in KINKS:
        return KINKS[name]
    points = [0.0, p.get("threshold", 0.0)]
    if p.get("max_value") is not None:
        points.append(p["max_value"])
    return points


@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_backward_matches_central_differences(name, p):
    """dz against d/dz of sum_j g_j f(z + bias)_j by central differences of the kernel forward,
    in float64, away from the kinks; rows are independent, so one column is perturbed at once."""
    z, bias, g = data((6, 9), np.float64, seed=2)
    for k in kinks(name, p):
        z = np.where(np.abs(z + bias - k) < 0.05, z + 0.2, z)
    a = forward(name, p, z, bias)
    dz = backward(name, p, z + bias, a, g)

    h = 1e-6
    numeric = np.empty_like(z)
    for j in range(z.shape[1]):
        zp, zm = z.copy(), z.copy()
        zp[:, j] += h
        zm[:, j] -= h
        lp = np.sum(g * forward(name, p, zp, bias), axis=1)
        lm = np.sum(g * forward(name, p, zm, bias), axis=1)
        numeric[:, j] = (lp - lm) / (2 * h)
    np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-8)


# (name, params, x at a kink, TensorFlow's gradient there)
KINK_GRADIENTS = [
    ("relu", {}, 0.0, 0.0),
    ("relu6", {}, 0.0, 0.0),
    ("relu6", {}, 6.0, 0.0),
    ("relu", {"max_value": 6.0}, 6.0, 0.0),  # Keras uses the relu6 op
    ("relu", {"max_value": 2.5}, 2.5, 1.0),  # Keras uses clip, whose gradient passes
    ("relu", {"max_value": 2.5}, 0.0, 0.0),
    ("relu", {"threshold": 0.5}, 0.5, 0.0),
    ("relu", {"negative_slope": 0.3}, 0.0, 0.3),  # Keras uses the leaky_relu op
    ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}, 0.5, 0.0),
    ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}, 4.0, 1.0),
    ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
    ("leaky_relu", {"negative_slope": -0.5}, 0.0, -0.5),
    ("elu", {"alpha": 1.0}, 0.0, 1.0),
    ("elu", {"alpha": 0.5}, 0.0, 0.5),
    ("elu", {"alpha": -0.5}, 0.0, -0.5),
    ("selu", {}, 0.0, SELU_SCALE),
    ("hard_sigmoid", {}, -3.0, 0.0),
    ("hard_sigmoid", {}, 3.0, 0.0),
    ("hard_silu", {}, -3.0, 0.0),
    ("hard_silu", {}, 3.0, 1.0),
]


@pytest.mark.parametrize(("name", "p", "x", "grad"), KINK_GRADIENTS)
def test_kink_gradient_is_tensorflows(name, p, x, grad, dtype):
    z = np.full((1, 3), x, dtype=dtype)
    g = np.ones_like(z)
    assert activation_grad_ref(name, z, g, **p)[0, 0] == pytest.approx(grad)
    dz = backward(name, p, z, forward(name, p, z), g)
    np.testing.assert_allclose(dz, np.full_like(z, grad), rtol=1e-7)


X_GOLDEN = [-4, -3, -1, 0, 1, 3, 4]
# Keras 3.15.1 outputs, float32, x = X_GOLDEN ([verified] in shared/reference/keras.md §2).
KERAS_GOLDEN = [
    ("hard_sigmoid", {}, [0, 0, 0.33333334, 0.5, 0.6666667, 1, 1], 1e-7),
    ("leaky_relu", {"negative_slope": 0.2}, [-0.8, -0.6, -0.2, 0, 1, 3, 4], 1e-7),
    ("leaky_relu", {"negative_slope": 0.3}, [-1.2, -0.9, -0.3, 0, 1, 3, 4], 1e-7),
    ("hard_silu", {}, [-0.0, -0.0, -0.33333334, 0, 0.6666667, 3, 4], 1e-7),
    # printed to 6 significant digits in the reference, hence the looser rtol
    (
        "gelu",
        {},
        [-1.26685e-4, -4.04970e-3, -0.15865526, 0, 0.84134471, 2.9959502, 3.9998734],
        5e-6,
    ),
]


@pytest.mark.parametrize(("name", "p", "values", "rtol"), KERAS_GOLDEN)
def test_keras_golden_values(name, p, values, rtol):
    z = np.array([X_GOLDEN], dtype=np.float32)
    out = forward(name, p, z)
    np.testing.assert_allclose(out[0], np.array(values, dtype=np.float32), rtol=rtol, atol=0)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_softmax_rows_sum_to_one_and_log_softmax_normalises(dtype, scale):
    rng = np.random.default_rng(3)
    z = (scale * rng.standard_normal((50, 40))).astype(dtype)
    s = forward("softmax", {}, z)
    log_s = forward("log_softmax", {}, z)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(log_s))
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=4 * np.finfo(dtype).eps)
    lse = np.log(np.sum(np.exp(log_s.astype(np.float64)), axis=1))
    np.testing.assert_allclose(lse, 0.0, atol=8 * np.finfo(dtype).eps)


@pytest.mark.parametrize(("name", "p"), CASES, ids=CASE_IDS)
def test_threads_give_identical_bits(name, p, dtype):
    z, bias, g = data((1100, 33), dtype, seed=4)
    zb = z + bias
    one = forward(name, p, z, bias, n_threads=1)
    two = forward(name, p, z, bias, n_threads=2)
    assert one.tobytes() == two.tobytes()
    assert (
        backward(name, p, zb, one, g, n_threads=1).tobytes()
        == backward(name, p, zb, one, g, n_threads=2).tobytes()
    )


EXTREMES = [0.0, -0.0, 1e-30, -1e-30, 1e-7, 20.0, -20.0, 50.0, -50.0, 88.0, 89.0, -104.0, 710.0]
EXTREMES += [1e4, -1e4, 1e8, -1e8, 1e30, -1e30]


def values(dtype):
    big = 1e4 if dtype == np.float32 else 1e6
    return st.one_of(
        st.sampled_from(EXTREMES), st.floats(-big, big, allow_nan=False, width=32)
    ).map(lambda v: dtype(v))


@st.composite
def matrices(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=9))
    z = draw(hnp.arrays(dtype, shape, elements=values(dtype)))
    return z


@settings(max_examples=60, deadline=None)
@given(z=matrices(), case=st.sampled_from(CASES))
def test_extreme_values_are_finite_and_accurate(z, case):
    """Large logits, zeros, 1e-30: finite where the maths is, and close to the reference."""
    name, p = case
    dtype = z.dtype.type
    tol = tolerance(dtype)
    z64 = z.astype(np.float64)
    a = forward(name, p, z)
    ref = expected(activation_ref(name, z64, **p), dtype)
    assert np.array_equal(np.isfinite(a), np.isfinite(ref))
    np.testing.assert_allclose(a, ref, **tol)

    g = np.linspace(-1, 1, z.size).reshape(z.shape).astype(dtype)
    dz = backward(name, p, z, a, g)
    dz_ref = activation_grad_ref(name, z64, g.astype(np.float64), **p)
    if name != "exponential":  # e^x overflows for large x: that is the maths
        assert np.all(np.isfinite(dz))
    finite = np.isfinite(a)
    np.testing.assert_allclose(dz[finite], expected(dz_ref[finite], dtype), **tol)


def softplus(x):
    return np.logaddexp(np.zeros_like(x), x)


def ulp_error(got, exact, dtype):
    """|got - exact| in units of the last place of exact rounded to dtype."""
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(exact.astype(dtype))).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - exact) / spacing


@pytest.mark.parametrize(
    ("name", "low", "high", "max_ulp"),
    [
        ("exponential", None, None, 1.0),
        ("tanh", -25, 25, 3.0),
        ("elu", -30, 0, 2.0),
        # log1p(exp(x)): exp's 0.9 ulp passes through (condition <= 1), plus ~2 roundings
        ("softplus", -100, 100, 3.5),
    ],
)
def test_own_exp_expm1_tanh_log1p_are_accurate_to_a_few_ulp(name, low, high, max_ulp, dtype):
    """The kernels' libm-free exp/expm1/tanh/log1p over their range, against long double."""
    if low is None:  # exp: from where it underflows to 0 to where it overflows
        low, high = (-103.9, 88.7) if dtype == np.float32 else (-745.0, 709.7)
    rng = np.random.default_rng(5)
    near_zero = rng.uniform(max(low, -1.0), min(high, 1.0), 5000)
    x = np.concatenate([rng.uniform(low, high, 20000), near_zero, [0.0, 1e-30, -1e-30]])
    x = x.astype(dtype)[None, :]
    exact = {"exponential": np.exp, "tanh": np.tanh, "elu": np.expm1, "softplus": softplus}[name](
        x.astype(np.longdouble)
    )
    assert np.max(ulp_error(forward(name, {"alpha": 1.0}, x), exact, dtype)) <= max_ulp


def test_own_exp_range_ends(dtype):
    """Subnormal results, the overflow edge, inf, -inf and NaN come out as np.exp gives them."""
    x = np.array(
        [[88.72, 88.73, 709.78, 709.79, -87.4, -103.9, -104.0, -745.0, -746.0, 1e30, -1e30]]
        + [[np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, 1.0, -1.0, 0.5, 50.0, -50.0]],
        dtype=dtype,
    )
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(forward("exponential", {}, x), np.exp(x), rtol=2e-7)


def test_gelu_lower_tail_is_accurate(dtype):
    """x Phi(x) to a few ulp down to where it underflows, against 30-digit mpmath (a float64
    erfc at a rounded x / sqrt2 is off by ~x^2 ulp there)."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    low = -13.5 if dtype == np.float32 else -37.5
    x = np.random.default_rng(6).uniform(low, 4, 1500).astype(dtype)[None, :]
    exact = np.array([float(mp.mpf(float(v)) * mp.ncdf(float(v))) for v in x[0]])
    # measured: 8.6 ulp in float32 (rounding through the 13-term Chebyshev sum), 5 in float64
    max_ulp = 10 if dtype == np.float32 else 6
    got = forward("gelu", {}, x)[0]
    assert np.max(ulp_error(got, exact.astype(np.longdouble), dtype)) <= max_ulp
