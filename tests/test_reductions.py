"""fastnn._kernels._reductions against exactly rounded sums (math.fsum) and NumPy, on every
layout, with extreme values, and bit for bit across thread counts."""

import functools

import _reference as ref
import numpy as np
import pytest
from conftest import LAYOUTS, as_layout, tolerance
from fastnn._kernels._openmp_helpers import openmp_enabled, parallel_min_work
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn._kernels import _reductions

SHAPES = [(1, 1), (7, 13), (5000, 257)]  # the last crosses the parallel cut-off
ULP64 = 2.0**-53
# Sums accumulate in double whatever the dtype, so a sum of squares (positive terms) is within
# a few hundred double ulps of the exact value; see _reductions.pyx.
SUMSQ_RTOL = 1e-12


def _data(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


@functools.cache
def _expected_sum_squares(shape, dtype):
    """The reference for _data(shape, dtype), computed once for every layout and thread count."""
    return ref.sum_squares(_data(shape, dtype))


@functools.cache
def _expected_column_sums(shape, dtype):
    return ref.column_sums(_data(shape, dtype))


def assert_column_sums_close(got, x, dtype, start=None, exact=None):
    """Against the exactly rounded sums (`exact`, when already known): the double sum's own
    error is bounded by n_rows ulps of sum |x| (it can cancel), then a float32 result is
    rounded once."""
    x64 = x.astype(np.float64)
    exact = ref.column_sums(x64) if exact is None else exact
    want = exact + (0.0 if start is None else start.astype(np.float64))
    scale = np.abs(x64).sum(axis=0) + (0.0 if start is None else np.abs(start))
    bound = x.shape[0] * ULP64 * scale
    if dtype == np.float32:
        bound = bound + tolerance(dtype)["rtol"] * np.abs(want)
    err = np.abs(got.astype(np.float64) - want)
    assert (err <= bound).all(), (np.argmax(err - bound), got, want)


# ---- against the reference on every layout --------------------------------------------------
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_sum_squares_and_norm(shape, layout, dtype, n_threads):
    x = as_layout(_data(shape, dtype), layout).ravel()
    want = _expected_sum_squares(shape, dtype)
    assert _reductions.sum_squares(x, n_threads) == pytest.approx(want, rel=SUMSQ_RTOL)
    assert _reductions.l2_norm(x, n_threads) == pytest.approx(np.sqrt(want), rel=SUMSQ_RTOL)


@pytest.mark.parametrize("accumulate", [False, True], ids=["write", "accumulate"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_column_sums(shape, layout, accumulate, dtype, n_threads):
    x = as_layout(_data(shape, dtype), layout)
    start = _data(shape[1], dtype, seed=1)
    out = start.copy() if accumulate else np.full(shape[1], np.nan, dtype)
    _reductions.column_sums(x, out, accumulate, n_threads)
    assert_column_sums_close(
        out, x, dtype, start if accumulate else None, _expected_column_sums(shape, dtype)
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_scale_and_clip_in_place(shape, layout, dtype, n_threads):
    x = as_layout(_data(shape, dtype), layout).ravel()
    if layout == "readonly":
        with pytest.raises(ValueError, match="read-only"):
            _reductions.scale_inplace(x, 0.3, n_threads)
        with pytest.raises(ValueError, match="read-only"):
            _reductions.clip_inplace(x, -0.5, 0.5, n_threads)
        return
    scaled = x.copy()
    _reductions.scale_inplace(scaled, 0.3, n_threads)
    assert scaled.tobytes() == (x * dtype(0.3)).tobytes()
    clipped = x.copy()
    _reductions.clip_inplace(clipped, -0.5, 0.25, n_threads)
    assert clipped.tobytes() == np.clip(x, dtype(-0.5), dtype(0.25)).tobytes()


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_all_finite(shape, layout, dtype, n_threads):
    x = as_layout(_data(shape, dtype), layout).ravel()
    assert _reductions.all_finite(x, n_threads) is True
    for bad in (np.inf, -np.inf, np.nan):
        for where in sorted({0, x.size // 2, x.size - 1}):
            y = x.copy()
            y[where] = bad
            assert _reductions.all_finite(y, n_threads) is False, (bad, where)
            assert ref.all_finite(y) is False


def test_nan_passes_through_clip():
    x = np.array([np.nan, 3.0, -3.0])
    _reductions.clip_inplace(x, -1.0, 1.0, 1)
    assert np.isnan(x[0]) and x[1:].tolist() == [1.0, -1.0]


def test_empty_buffers():
    empty = np.zeros(0)
    assert _reductions.sum_squares(empty, 2) == 0.0
    assert _reductions.all_finite(empty, 2) is True
    out = np.full(3, np.nan)
    _reductions.column_sums(np.zeros((0, 3)), out, False, 2)
    assert out.tolist() == [0.0, 0.0, 0.0]


# ---- the same bits for any thread count -------------------------------------------------------
@pytest.mark.skipif(not openmp_enabled(), reason="serial build")
def test_threads_give_identical_bits(dtype):
    x = _data(1_000_003, dtype) * dtype(3)
    assert x.size > 4 * parallel_min_work()
    assert _reductions.sum_squares(x, 1) == _reductions.sum_squares(x, 2)
    m = _data((5000, 257), dtype)
    sums = []
    for n_threads in (1, 2):
        out = np.ones(257, dtype)
        _reductions.column_sums(m, out, True, n_threads)
        scaled, clipped = x.copy(), x.copy()
        _reductions.scale_inplace(scaled, 0.7, n_threads)
        _reductions.clip_inplace(clipped, -1.0, 1.0, n_threads)
        sums.append((out.tobytes(), scaled.tobytes(), clipped.tobytes()))
    assert sums[0] == sums[1]


def test_sum_squares_order_is_fixed_by_the_chunking():
    """A sum that rounding makes order-dependent: 1 and 2 threads must still agree, and the
    result must not be the plain serial left-to-right sum (so the chunking is really used)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.0, 1.0, 200_003) * 10.0 ** rng.integers(-8, 8, 200_003)
    serial = 0.0
    for v in x:
        serial += v * v
    got = [_reductions.sum_squares(x, n) for n in (1, 2)]
    assert got[0] == got[1]
    assert got[0] == pytest.approx(ref.sum_squares(x), rel=SUMSQ_RTOL)
    assert got[0] != serial


# ---- hypothesis: shapes and extreme values ----------------------------------------------------
@st.composite
def matrices(draw):
    """A matrix mixing zeros with magnitudes 10**lo .. 10**hi (down to 1e-30, up to 1e30) of
    random signs; hypothesis picks the shape, the range, the share of zeros and the seed, and
    NumPy fills it (drawing elements one by one would be far slower)."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.tuples(st.integers(1, 60), st.integers(1, 150)))
    lo = draw(st.integers(-30, 30))
    hi = draw(st.integers(lo, 30))
    zeros = draw(st.sampled_from([0.0, 0.1, 0.9, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = (
        rng.choice([-1.0, 1.0], shape)
        * rng.uniform(1, 10, shape)
        * 10.0 ** rng.integers(lo, hi + 1, shape)
    )
    x[rng.random(shape) < zeros] = 0.0
    return x.astype(dtype)


@settings(max_examples=80, deadline=None)
@given(
    x=matrices(),
    n_threads=st.sampled_from([1, 2]),
    factor=st.sampled_from([0.0, 1e-3, 0.5, 1.0, 7.0]),
)
def test_fuzz(x, n_threads, factor):
    dtype = x.dtype.type
    flat = x.ravel()
    got = _reductions.sum_squares(flat, n_threads)
    assert np.isfinite(got)
    assert got == pytest.approx(ref.sum_squares(flat), rel=SUMSQ_RTOL, abs=0.0)
    assert _reductions.all_finite(flat, n_threads) is True

    out = np.zeros(x.shape[1], dtype)
    _reductions.column_sums(x, out, False, n_threads)
    assert np.isfinite(out).all()
    assert_column_sums_close(out, x, dtype)

    scaled = flat.copy()
    _reductions.scale_inplace(scaled, factor, n_threads)
    assert scaled.tobytes() == (flat * dtype(factor)).tobytes()
    clipped = flat.copy()
    _reductions.clip_inplace(clipped, -1e-3, 1e20, n_threads)
    assert clipped.tobytes() == np.clip(flat, dtype(-1e-3), dtype(1e20)).tobytes()
