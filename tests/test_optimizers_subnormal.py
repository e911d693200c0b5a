"""The optimizer kernels flush subnormal moments to zero (csrc/optimizers.c says why: a moment
whose gradient stays 0 sticks in the subnormal range under IEEE rounding and every later step
then runs ~14x slower) and leave the calling thread's floating-point mode as they found it."""

import numpy as np
import pytest
from conftest import THREADS

from fastnn._kernels import _optimizers

N = 100_000  # several kernel chunks, so that 2 threads split the buffer


def stuck_state(dtype):
    """Weights, zero gradients, and Adam moments where every other m is a few subnormal units:
    under IEEE rounding m + (0 - m) * 0.1 gives m back for those."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal(N).astype(dtype)
    g = np.zeros(N, dtype)
    smallest = np.finfo(dtype).smallest_subnormal
    m = np.where(np.arange(N) % 2 == 0, 3 * smallest, 0.01).astype(dtype)
    v = np.full(N, 1e-4, dtype)
    return w, g, m, v


def numpy_adam(w, g, m, v, t, flush):
    """Keras's Adam step in NumPy, in the arrays' dtype, optionally flushing subnormal m and v
    (inputs and results) to zero as x86's FTZ/DAZ modes do."""
    w, m, v = w.copy(), m.copy(), v.copy()
    tiny = np.finfo(w.dtype).tiny

    def flushed(x):
        return np.where(np.abs(x) < tiny, x.dtype.type(0), x) if flush else x

    m, v, g = flushed(m), flushed(v), flushed(g)
    b1, b2 = w.dtype.type(0.9), w.dtype.type(0.999)
    m = flushed(m + (g - m) * (1 - b1))
    v = flushed(v + (g * g - v) * (1 - b2))
    alpha = w.dtype.type(1e-3 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t))
    w = w - (m * alpha) / (np.sqrt(v) + w.dtype.type(1e-7))
    return w, m, v


@pytest.mark.parametrize("n_threads", THREADS)
def test_adam_flushes_stuck_subnormal_moments(dtype, n_threads):
    w, g, m, v = stuck_state(dtype)
    ieee_w, ieee_m, _ = numpy_adam(w, g, m, v, 3, flush=False)
    assert np.count_nonzero((ieee_m != 0) & (np.abs(ieee_m) < np.finfo(dtype).tiny)) == N // 2
    want_w, want_m, want_v = numpy_adam(w, g, m, v, 3, flush=True)
    _optimizers.adam_update(w, g, m, v, None, 1e-3, 0.9, 0.999, 1e-7, 3, 0.0, 1.0, np.inf,
                            n_threads)
    np.testing.assert_array_equal(m, want_m)
    assert np.all(m[::2] == 0)
    np.testing.assert_allclose(v, want_v, rtol=np.finfo(dtype).eps)
    np.testing.assert_allclose(w, want_w, rtol=np.finfo(dtype).eps)
    # A moment of a few subnormal units moves a weight by far less than its rounding unit.
    np.testing.assert_array_equal(want_w[::2], ieee_w[::2])


def test_calling_thread_keeps_ieee_subnormals(dtype):
    w, g, m, v = stuck_state(dtype)
    _optimizers.adam_update(w, g, m, v, None, 1e-3, 0.9, 0.999, 1e-7, 1, 0.0, 1.0, np.inf, 1)
    # NumPy's arithmetic in this thread still produces and reads subnormals.
    x = np.full(16, np.finfo(dtype).tiny, dtype)
    assert np.all(x / dtype(4) > 0)
    assert np.all((x / dtype(4)) * dtype(2) == x / dtype(2))
