"""Counter-based RNG kernels (fastnn/_kernels/_rng.pyx) against tests/_reference.py.

Exact checks (generator, masks, uniforms, split and thread invariance) compare bits; value checks
use conftest's tolerance; statistical checks use 5-sigma bounds computed from the sample size.
"""

import math

import _reference as ref
import numpy as np
import pytest
from conftest import LAYOUTS, as_layout, tolerance
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fastnn._kernels import _rng

SHAPES = [(1, 1), (7, 13), (1000, 13)]  # 1000 x 13 crosses the parallel cut-off, several chunks
STREAM = {"seed": 0x0123456789ABCDEF, "step": 3, "layer": 2}
SIGMAS = 5.0


def run(kind, x_or_out, param=None, *, seed, step, layer, row0=0, n_threads=1, out=None):
    """Call one kernel; returns the output array (a new one unless `out` is given)."""
    fn = getattr(_rng, kind)
    if kind in ("uniform", "normal"):
        fn(x_or_out, seed, step, layer, row0, n_threads)
        return x_or_out
    if out is None:
        out = np.empty_like(x_or_out, order="C")
    fn(x_or_out, out, param, seed, step, layer, row0, n_threads)
    return out


def inputs(shape, dtype, seed=0):
    """Values in +-[0.5, 2]: never zero, so a zero output means a dropped element."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)


def assert_close_to_terms(out, expected, terms, dtype):
    """|out - expected| <= rtol * terms + atol: the forward-error bound of a sum or product whose
    terms have magnitude `terms` (cancellation makes a bound relative to the result meaningless)."""
    tol = tolerance(dtype)
    err = np.abs(out.astype(np.float64) - expected)
    assert np.all(err <= tol["rtol"] * terms + tol["atol"]), err.max()


# ---- the generator -----------------------------------------------------------------------

# Random123's kat_vectors for philox4x32_10: (counter, key, result).
KAT = [
    ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
    ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
    (
        [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
        [0xA4093822, 0x299F31D0],
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
    ),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert ref.philox4x32_10(counter, key).tolist() == expected
    out = np.zeros((1, 4), np.uint32)
    _rng.philox4x32_10(np.array([counter], np.uint32), np.array(key, np.uint32), out)
    assert out[0].tolist() == expected


def test_philox_kernel_matches_reference_on_random_counters():
    rng = np.random.default_rng(1)
    counters = rng.integers(0, 2**32, (500, 4), dtype=np.uint32)
    for key in rng.integers(0, 2**32, (4, 2), dtype=np.uint32):
        out = np.zeros_like(counters)
        _rng.philox4x32_10(counters, key, out)
        np.testing.assert_array_equal(out, ref.philox4x32_10(counters, key))


# ---- each kernel against the reference ---------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 1.0])
def test_dropout_matches_reference(shape, layout, rate, dtype, n_threads):
    x = as_layout(inputs(shape, dtype), layout)
    out = run("dropout", x, rate, row0=5, n_threads=n_threads, **STREAM)
    expected = ref.dropout(x, rate, row0=5, **STREAM)
    if rate < 1.0:
        keep = ref.rng_dropout_keep(shape, rate, row0=5, **STREAM)
        np.testing.assert_array_equal(out != 0, keep)
    np.testing.assert_allclose(out, expected, **tolerance(dtype))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("stddev", [0.0, 0.1, 1.0])
def test_gaussian_noise_matches_reference(shape, layout, stddev, dtype, n_threads):
    x = as_layout(inputs(shape, dtype), layout)
    out = run("gaussian_noise", x, stddev, row0=5, n_threads=n_threads, **STREAM)
    z = ref.rng_normal(shape, row0=5, **STREAM)
    expected = ref.gaussian_noise(x, stddev, row0=5, **STREAM)
    assert_close_to_terms(out, expected, np.abs(x) + stddev * np.abs(z), dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("rate", [0.0, 0.1, 0.5, 0.9])
def test_gaussian_dropout_matches_reference(shape, layout, rate, dtype, n_threads):
    x = as_layout(inputs(shape, dtype), layout)
    out = run("gaussian_dropout", x, rate, row0=5, n_threads=n_threads, **STREAM)
    factor = ref.gaussian_dropout_factor(shape, rate, row0=5, **STREAM)
    expected = ref.gaussian_dropout(x, rate, row0=5, **STREAM)
    assert_close_to_terms(out, expected, np.abs(x) * (1.0 + np.abs(factor - 1.0)), dtype)


@pytest.mark.parametrize("shape", SHAPES)
def test_uniform_matches_reference_exactly(shape, dtype, n_threads):
    out = run("uniform", np.empty(shape, dtype), row0=9, n_threads=n_threads, **STREAM)
    bits = 24 if dtype == np.float32 else 53
    np.testing.assert_array_equal(out, ref.rng_uniform(shape, row0=9, bits=bits, **STREAM))


@pytest.mark.parametrize("shape", SHAPES)
def test_normal_matches_reference(shape, dtype, n_threads):
    out = run("normal", np.empty(shape, dtype), row0=9, n_threads=n_threads, **STREAM)
    np.testing.assert_allclose(out, ref.rng_normal(shape, row0=9, **STREAM), **tolerance(dtype))


@pytest.mark.parametrize("bits, dtype_of_bits", [(24, np.float32), (53, np.float64)])
def test_largest_uniform_is_below_one(bits, dtype_of_bits):
    """All 64 bits set give 1 - 2^-bits, representable in the dtype, so never 1."""
    ones = np.array([0xFFFFFFFF], np.uint32)
    top = ref._u01_pair(ones, ones, bits)[0]
    assert top == 1.0 - 2.0**-bits
    assert dtype_of_bits(top) < 1.0


# ---- invariance: threads, splits, dtypes, in place ---------------------------------------

KINDS = [
    ("dropout", 0.4),
    ("gaussian_noise", 0.7),
    ("gaussian_dropout", 0.3),
    ("uniform", None),
    ("normal", None),
]


def run_rows(kind, param, x, dtype, row0, n_threads):
    if kind in ("uniform", "normal"):
        return run(kind, np.empty(x.shape, dtype), row0=row0, n_threads=n_threads, **STREAM)
    return run(kind, x, param, row0=row0, n_threads=n_threads, **STREAM)


@pytest.mark.parametrize("kind, param", KINDS)
def test_bitwise_same_for_1_and_2_threads(kind, param, dtype):
    x = inputs((2000, 37), dtype)
    one = run_rows(kind, param, x, dtype, 11, 1)
    two = run_rows(kind, param, x, dtype, 11, 2)
    np.testing.assert_array_equal(one.view(np.uint8), two.view(np.uint8))


@pytest.mark.parametrize("kind, param", KINDS)
def test_bitwise_same_for_any_split_into_batches(kind, param, dtype):
    """An epoch of 1500 rows at once, or cut into uneven batches passing each batch's first
    global row: same bits (odd c puts batch starts inside Philox blocks)."""
    x = inputs((1500, 13), dtype)
    whole = run_rows(kind, param, x, dtype, 0, 2)
    for cuts in ([1, 2, 3, 700, 1499], [32, 64, 96, 128, 1000], [333, 334, 1201]):
        parts = [
            run_rows(kind, param, np.ascontiguousarray(x[a:b]), dtype, a, 1)
            for a, b in zip([0, *cuts], [*cuts, 1500])
        ]
        np.testing.assert_array_equal(np.concatenate(parts).view(np.uint8), whole.view(np.uint8))


@pytest.mark.parametrize("kind, param", KINDS[:3])
def test_in_place_equals_out_of_place(kind, param, dtype):
    x = inputs((300, 7), dtype)
    expected = run(kind, x, param, **STREAM)
    run(kind, x, param, out=x, **STREAM)
    np.testing.assert_array_equal(x, expected)


def test_float32_draws_are_the_float64_draws_rounded():
    shape = (400, 9)
    u64 = run("uniform", np.empty(shape, np.float64), **STREAM)
    u32 = run("uniform", np.empty(shape, np.float32), **STREAM)
    np.testing.assert_array_equal(u32, np.floor(u64 * 2.0**24) / 2.0**24)
    z64 = run("normal", np.empty(shape, np.float64), **STREAM)
    z32 = run("normal", np.empty(shape, np.float32), **STREAM)
    np.testing.assert_array_equal(z32, z64.astype(np.float32))
    ones = np.ones(shape)
    d64 = run("dropout", ones, 0.5, **STREAM)
    d32 = run("dropout", ones.astype(np.float32), 0.5, **STREAM)
    np.testing.assert_array_equal(d32 != 0, d64 != 0)


# ---- edge cases --------------------------------------------------------------------------


def test_dropout_rate_zero_is_identity_and_one_is_zeros(dtype):
    x = inputs((50, 7), dtype)
    x[0, :3] = [np.inf, -np.inf, np.nan]
    np.testing.assert_array_equal(run("dropout", x, 0.0, **STREAM), x)
    out = run("dropout", x, 1.0, **STREAM)
    assert np.all(out == 0) and not np.signbit(out).any()


def test_dropout_rate_just_below_one_drops_all_but_rare_elements(dtype):
    # rate > 1 - 2^-32 rounds the threshold up to 2^32: nothing can be kept
    out = run("dropout", inputs((100, 10), dtype), 1.0 - 2.0**-40, **STREAM)
    assert np.all(out == 0)


def test_dropout_drops_nonfinite_to_zero(dtype):
    x = np.full((200, 5), np.nan, dtype)
    x[::2] = np.inf
    out = run("dropout", x, 0.5, **STREAM)
    keep = ref.rng_dropout_keep(x.shape, 0.5, row0=0, **STREAM)
    assert np.all(out[~keep] == 0)
    np.testing.assert_array_equal(out[keep], x[keep])


@pytest.mark.parametrize("kind", ["gaussian_noise", "gaussian_dropout"])
def test_zero_noise_is_identity(kind, dtype):
    x = inputs((50, 7), dtype)
    np.testing.assert_array_equal(run(kind, x, 0.0, **STREAM), x)


def test_empty_arrays_are_a_no_op(dtype):
    for shape in [(0, 5), (5, 0)]:
        assert run("dropout", np.zeros(shape, dtype), 0.5, **STREAM).shape == shape
        assert run("normal", np.zeros(shape, dtype), **STREAM).shape == shape


# ---- backward ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, rate", [("dropout", 0.3), ("gaussian_dropout", 0.3)])
def test_backward_is_forward_on_the_gradient(kind, rate, dtype, n_threads):
    """dx = g * mask / (1 - rate) (or g * factor), reproduced from the same counters."""
    shape = (1000, 13)
    g = inputs(shape, dtype, seed=4)
    dx = run(kind, g, rate, row0=7, n_threads=n_threads, **STREAM)
    multiplier = run(kind, np.ones(shape, dtype), rate, row0=7, **STREAM)  # mask/(1-rate), factor
    np.testing.assert_array_equal(dx, g * multiplier)


@pytest.mark.parametrize("kind, param", [("dropout", 0.4), ("gaussian_dropout", 0.4),
                                         ("gaussian_noise", 0.5)])
def test_gradient_matches_central_differences(kind, param):
    """d/dx sum(w * f(x)) by central differences against the backward (f64)."""
    shape, h = (3, 5), 1e-6
    x = inputs(shape, np.float64)
    w = inputs(shape, np.float64, seed=2)

    def loss(v):
        return float(np.sum(w * run(kind, v, param, **STREAM)))

    numeric = np.zeros(shape)
    for idx in np.ndindex(shape):
        step = np.zeros(shape)
        step[idx] = h
        numeric[idx] = (loss(x + step) - loss(x - step)) / (2 * h)
    # Gaussian noise's backward is the identity; the others run the kernel on the gradient
    analytic = w if kind == "gaussian_noise" else run(kind, w, param, **STREAM)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---- statistics (5-sigma bounds from the sample size) ------------------------------------

N_STAT = 200_000


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_keep_fraction_and_scale(rate, dtype):
    x = np.ones((N_STAT // 100, 100), dtype)
    out = run("dropout", x, rate, **STREAM)
    kept = np.count_nonzero(out)
    p = 1.0 - rate
    assert abs(kept - N_STAT * p) <= SIGMAS * math.sqrt(N_STAT * p * (1 - p))
    np.testing.assert_array_equal(out[out != 0], dtype(1.0 / (1.0 - rate)))
    # E[out] = x: the mean of out over N_STAT draws has sd sqrt(rate / (1 - rate) / N)
    assert abs(out.mean(dtype=np.float64) - 1.0) <= SIGMAS * math.sqrt(rate / p / N_STAT)


def test_uniform_statistics(dtype):
    u = run("uniform", np.empty((N_STAT // 100, 100), dtype), **STREAM).astype(np.float64).ravel()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) <= SIGMAS * math.sqrt(1 / 12 / N_STAT)
    # var of the sample variance of U(0,1): (mu4 - sigma^4) / n with mu4 = 1/80
    assert abs(u.var() - 1 / 12) <= SIGMAS * math.sqrt((1 / 80 - 1 / 144) / N_STAT)
    assert stats.kstest(u, "uniform").pvalue > 1e-6


def test_normal_statistics(dtype):
    z = run("normal", np.empty((N_STAT // 100, 100), dtype), **STREAM).astype(np.float64).ravel()
    assert np.all(np.isfinite(z))
    assert abs(z.mean()) <= SIGMAS * math.sqrt(1 / N_STAT)
    assert abs(z.var() - 1.0) <= SIGMAS * math.sqrt(2 / N_STAT)  # var(s^2) = 2 sigma^4 / n
    assert stats.kstest(z, "norm").pvalue > 1e-6
    # the even (cos) and odd (sin) halves of each Box-Muller pair are uncorrelated
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) <= SIGMAS / math.sqrt(N_STAT / 2)


def test_gaussian_noise_mean_and_variance(dtype):
    stddev = 0.3
    x = inputs((N_STAT // 100, 100), dtype)
    d = (run("gaussian_noise", x, stddev, **STREAM) - x).astype(np.float64).ravel()
    assert abs(d.mean()) <= SIGMAS * stddev / math.sqrt(N_STAT)
    assert abs(d.var() - stddev**2) <= SIGMAS * stddev**2 * math.sqrt(2 / N_STAT)


def test_gaussian_dropout_mean_and_variance(dtype):
    rate = 0.2
    var = rate / (1 - rate)
    x = inputs((N_STAT // 100, 100), dtype)
    f = (run("gaussian_dropout", x, rate, **STREAM) / x).astype(np.float64).ravel()
    assert abs(f.mean() - 1.0) <= SIGMAS * math.sqrt(var / N_STAT)
    assert abs(f.var() - var) <= SIGMAS * var * math.sqrt(2 / N_STAT)


@pytest.mark.parametrize(
    "other",
    [
        {"seed": STREAM["seed"] + 1},
        {"seed": STREAM["seed"] ^ (1 << 63)},
        {"step": STREAM["step"] + 1},
        {"step": STREAM["step"] + (1 << 32)},
        {"layer": STREAM["layer"] + 1},
        {"layer": 0xFFFF},
    ],
)
def test_different_streams_are_uncorrelated(other):
    shape = (N_STAT // 100, 100)
    base = run("normal", np.empty(shape), **STREAM).ravel()
    changed = run("normal", np.empty(shape), **{**STREAM, **other}).ravel()
    assert np.count_nonzero(base == changed) == 0
    assert abs(np.corrcoef(base, changed)[0, 1]) <= SIGMAS / math.sqrt(N_STAT)


def test_rows_of_one_stream_do_not_repeat():
    """Rows far apart (block bits above 32) get their own numbers, and the same row of a
    differently shaped block (other c) gets other numbers."""
    near = run("uniform", np.empty((4, 1000)), row0=0, **STREAM)
    far = run("uniform", np.empty((4, 1000)), row0=2**32 // 1000 * 8, **STREAM)
    assert len(np.intersect1d(near, far)) == 0


# ---- fuzzing -----------------------------------------------------------------------------

VALUES = st.sampled_from([0.0, -0.0, 1e-30, -1e-30, 1.0, -2.5, 1e6, -1e30, 1e30, 3.25e-7])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    c=st.integers(1, 40),
    row0=st.integers(0, 2**40),
    seed=st.integers(0, 2**64 - 1),
    step=st.integers(0, 2**64 - 1),
    layer=st.integers(0, 2**16 - 1),
    rate=st.floats(0.0, 0.95),
    values=st.lists(VALUES, min_size=1, max_size=8),
    use_f32=st.booleans(),
    n_threads=st.sampled_from([1, 2]),
)
def test_fuzz_against_reference(n, c, row0, seed, step, layer, rate, values, use_f32, n_threads):
    dtype = np.float32 if use_f32 else np.float64
    x = np.resize(np.array(values, dtype), (n, c))
    stream = {"seed": seed, "step": step, "layer": layer, "row0": row0}
    kw = {**stream, "n_threads": n_threads}
    out = run("dropout", x, rate, **kw)
    np.testing.assert_allclose(out, ref.dropout(x, rate, **stream), **tolerance(dtype))
    z = ref.rng_normal(x.shape, **stream)
    out = run("gaussian_noise", x, rate, **kw)
    expected = ref.gaussian_noise(x, rate, **stream)
    assert_close_to_terms(out, expected, np.abs(x) + rate * np.abs(z), dtype)
    out = run("gaussian_dropout", x, rate, **kw)
    factor = ref.gaussian_dropout_factor(x.shape, rate, **stream)
    expected = ref.gaussian_dropout(x, rate, **stream)
    assert_close_to_terms(out, expected, np.abs(x) * (1.0 + np.abs(factor - 1.0)), dtype)
    bits = 24 if use_f32 else 53
    u = run("uniform", np.empty((n, c), dtype), **kw)
    np.testing.assert_array_equal(u, ref.rng_uniform((n, c), bits=bits, **stream))
    assert np.all(np.isfinite(run("normal", np.empty((n, c), dtype), **kw)))
