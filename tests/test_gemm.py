"""fastnn._kernels._gemm: every form, engine, dtype and thread count against the reference."""

import numpy as np
import pytest
from _reference import gemm, gemm_abs
from conftest import LAYOUTS, as_layout
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn._kernels import _gemm

# (trans_a, trans_b): NN is X @ W, NT is dY @ W.T, TN is X.T @ dY; TT completes the set.
FORMS = {"NN": (False, False), "NT": (False, True), "TN": (True, False), "TT": (True, True)}
PATHS = {"own": _gemm.matmul_own, "blas": _gemm.matmul_blas, "dispatch": _gemm.matmul}
SHAPES = [  # (m, n, k)
    (1, 1, 1),
    (7, 13, 33),
    (13, 33, 7),
    (33, 7, 13),
    (6, 16, 256),  # exactly one register tile and one float64 k-block
    (17, 31, 257),  # ragged tiles, k one past a float64 block
    (6, 16, 400),  # one float32 k-block
    (17, 31, 401),  # k one past a float32 block
    (16, 512, 300),  # few rows: B read in place
    (8, 70, 20),  # 6 + 2 rows retiled as 4 + 4
    (1, 300, 301),  # one row: B streamed row by row, k-blocks of odd depth, 12-column tail
    (1, 3300, 5),  # one row wider than the row path's buffer (3200 float32 columns)
    (300, 129, 784),  # large: packed A and B, several row and k-blocks, threaded
]


def operands(rng, m, n, k, form, dtype, scale=1.0):
    trans_a, trans_b = FORMS[form]
    a = (scale * rng.standard_normal((k, m) if trans_a else (m, k))).astype(dtype)
    b = (scale * rng.standard_normal((n, k) if trans_b else (k, n))).astype(dtype)
    c = rng.standard_normal((m, n)).astype(dtype)
    return a, b, c


def assert_close(got, a, b, c0, form, alpha, beta, where=""):
    """Within the worst-case rounding bound of a k-term dot product.

    Any summation order of k products, plus scaling by alpha, adding beta*C and rounding
    the result, errs by at most about (k + 3) u (|alpha| |op(A)| |op(B)| + |beta| |C|),
    u = eps/2 (Higham, Accuracy and Stability of Numerical Algorithms, 3.5). Hence the float32
    tolerance grows with k while an O(1) mistake (a dropped row or column) is far outside it;
    atol covers products that underflow.
    """
    trans_a, trans_b = FORMS[form]
    k = a.shape[0] if trans_a else a.shape[1]
    finfo = np.finfo(got.dtype)
    u = finfo.eps / 2
    want = gemm(a, b, c0, trans_a, trans_b, alpha, beta)
    bound = (k + 3) * u * gemm_abs(a, b, c0, trans_a, trans_b, alpha, beta) + (k + 3) * finfo.tiny
    err = np.abs(got.astype(np.float64) - want)
    assert got.shape == want.shape
    excess = err - bound
    assert np.all(excess <= 0), f"{where}: max excess {excess.max()} at {np.argmax(excess)}"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_reference(form, shape, dtype, n_threads):
    m, n, k = shape
    a, b, c = operands(np.random.default_rng(m * n * k), m, n, k, form, dtype)
    for path, matmul in PATHS.items():
        out = np.full_like(c, np.nan)  # beta == 0 must not read C
        matmul(a, b, out, *FORMS[form], 1.0, 0.0, n_threads)
        assert_close(out, a, b, c, form, 1.0, 0.0, path)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("form", FORMS)
def test_alpha_beta(path, form, dtype, n_threads):
    m, n, k = 37, 70, 300
    a, b, c = operands(np.random.default_rng(1), m, n, k, form, dtype)
    for alpha, beta in [(0.5, 0.0), (1.0, 1.0), (-0.7, 0.3), (2.0, -1.5)]:
        out = c.copy()
        PATHS[path](a, b, out, *FORMS[form], alpha, beta, n_threads)
        assert_close(out, a, b, c, form, alpha, beta, f"alpha={alpha} beta={beta}")


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts(path, layout, dtype):
    rng = np.random.default_rng(2)
    for form, transposes in FORMS.items():
        a, b, c = operands(rng, 9, 21, 40, form, dtype)
        a_in, b_in = as_layout(a, layout), as_layout(b, layout)
        out = np.empty_like(c)
        PATHS[path](a_in, b_in, out, *transposes, 1.0, 0.0, 2)
        assert_close(out, a, b, c, form, 1.0, 0.0, form)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_empty_k_scales_c(path, beta, dtype):
    c = np.arange(12, dtype=dtype).reshape(3, 4)
    out = c.copy()
    PATHS[path](np.empty((3, 0), dtype), np.empty((0, 4), dtype), out, False, False, 1.0, beta, 2)
    np.testing.assert_array_equal(out, beta * c)


@pytest.mark.parametrize("path", PATHS)
def test_empty_output(path, dtype):
    out = np.empty((0, 5), dtype)
    PATHS[path](np.ones((0, 3), dtype), np.ones((3, 5), dtype), out, False, False, 1.0, 0.0, 2)


def test_own_alpha_zero_reads_neither_input(dtype):
    a = np.full((5, 7), np.nan, dtype)
    b = np.full((7, 3), np.inf, dtype)
    out = np.ones((5, 3), dtype)
    _gemm.matmul_own(a, b, out, False, False, 0.0, 2.0, 2)
    np.testing.assert_array_equal(out, 2.0)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "shape",
    [(16, 512, 784), (128, 100, 70), (500, 10, 64), (61, 45, 300)],
    ids=["few-rows", "columns", "rows", "ragged"],
)
def test_own_bitwise_same_for_any_thread_count(form, shape, dtype):
    m, n, k = shape
    a, b, c = operands(np.random.default_rng(3), m, n, k, form, dtype)
    outs = []
    for n_threads in (1, 2, 3):
        out = c.copy()
        _gemm.matmul_own(a, b, out, *FORMS[form], 0.9, 0.4, n_threads)
        outs.append(out)
    np.testing.assert_array_equal(outs[0], outs[1])
    np.testing.assert_array_equal(outs[0], outs[2])


@pytest.mark.parametrize("form", FORMS)
def test_own_same_bits_for_any_row_count(form, dtype):
    """A row of C gets the same bits alone (one-row path), in a short or retiled block, or in a
    full block: the guarantee thread splits rely on, checked without threads."""
    m, n, k = 20, 75, 600
    a, b, c = operands(np.random.default_rng(4), m, n, k, form, dtype)
    trans_a, trans_b = FORMS[form]
    whole = c.copy()
    _gemm.matmul_own(a, b, whole, trans_a, trans_b, 0.9, 0.4, 1)
    for lo, hi in [(0, 1), (7, 8), (3, 11), (12, 20), (5, 19)]:
        a_part = np.ascontiguousarray(a[:, lo:hi] if trans_a else a[lo:hi])
        part = c[lo:hi].copy()
        _gemm.matmul_own(a_part, b, part, trans_a, trans_b, 0.9, 0.4, 1)
        np.testing.assert_array_equal(part, whole[lo:hi], err_msg=f"rows {lo}:{hi}")


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 40),
    n=st.integers(1, 70),
    k=st.integers(1, 300),
    form=st.sampled_from(list(FORMS)),
    path=st.sampled_from(list(PATHS)),
    f64=st.booleans(),
    scale=st.sampled_from([1.0, 1e-30, 1e15, 0.0]),
    alpha=st.sampled_from([1.0, -0.5, 3.0]),
    beta=st.sampled_from([0.0, 1.0, -2.0]),
    n_threads=st.integers(1, 2),
    seed=st.integers(0, 2**32 - 1),
)
def test_fuzz(m, n, k, form, path, f64, scale, alpha, beta, n_threads, seed):
    dtype = np.float64 if f64 else np.float32
    a, b, c = operands(np.random.default_rng(seed), m, n, k, form, dtype, scale)
    out = c.copy()
    PATHS[path](a, b, out, *FORMS[form], alpha, beta, n_threads)
    assert np.all(np.isfinite(out))
    assert_close(out, a, b, c, form, alpha, beta)
