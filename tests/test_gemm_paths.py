"""The own GEMM's instruction-set paths: AVX-512 and AVX2 give the same bits (so a model trains
the same on either kind of machine), each path matches the reference, and FASTNN_GEMM_PATH /
`set_path` force a path."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from test_gemm import FORMS, assert_close, operands

from fastnn._kernels import _gemm


def runnable(name):
    """Whether this CPU runs GEMM path `name` (set_path refuses the others)."""
    try:
        _gemm.set_path(name)
    except ValueError:
        return False
    finally:
        _gemm.set_path(None)
    return True


@pytest.fixture(autouse=True)
def best_path_after():
    yield
    _gemm.set_path(None)


# The 8 products of a batch-128 step of 784-512-256-10 as (m, n, k), and ragged shapes that
# take every tile height, the half-width panel, the two-panel short tiles and the row path.
SHAPES = [(128, 512, 784), (128, 256, 512), (128, 10, 256), (784, 512, 128), (512, 256, 128),
          (256, 10, 128), (128, 256, 10), (61, 45, 300), (8, 70, 20), (16, 100, 401),
          (3, 97, 50), (1, 300, 301), (300, 33, 17)]


def run(path, a, b, c, form, alpha, beta, n_threads):
    _gemm.set_path(path)
    out = c.copy()
    _gemm.matmul_own(a, b, out, *FORMS[form], alpha, beta, n_threads)
    return out


@pytest.mark.skipif(not runnable("avx512"), reason="this CPU has no AVX-512 path")
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_avx512_and_avx2_give_the_same_bits(form, shape, dtype):
    m, n, k = shape
    a, b, c = operands(np.random.default_rng(m + n + k), m, n, k, form, dtype)
    for alpha, beta in [(1.0, 0.0), (0.7, 1.0), (-1.5, 0.25)]:
        wide = run("avx512", a, b, c, form, alpha, beta, 2)
        for n_threads in (1, 2):
            narrow = run("avx2", a, b, c, form, alpha, beta, n_threads)
            np.testing.assert_array_equal(wide, narrow, err_msg=f"{alpha=} {beta=} {n_threads=}")
        assert_close(wide, a, b, c, form, alpha, beta, "avx512")


@pytest.mark.parametrize("path", ["avx512", "avx2", "baseline"])
@pytest.mark.parametrize("form", FORMS)
def test_every_path_matches_the_reference(path, form, dtype, n_threads):
    if not runnable(path):
        pytest.skip(f"this CPU has no {path} path")
    for m, n, k in [(37, 70, 300), (128, 10, 256), (6, 33, 401)]:
        a, b, c = operands(np.random.default_rng(5), m, n, k, form, dtype)
        out = run(path, a, b, c, form, 0.5, 1.0, n_threads)
        assert _gemm.path() == path
        assert_close(out, a, b, c, form, 0.5, 1.0, path)


@pytest.mark.parametrize("path", ["avx512", "avx2", "baseline"])
def test_transposed_b_is_copied_exactly(path, dtype):
    """op(B) = B^T (the input gradient dY @ W.T) is packed in register-transposed blocks of
    one vector's lanes, with the rows and depths left over copied one by one. Small integers
    make every product exact, so the result equals NumPy's integer product bit for bit: a
    value packed into the wrong place cannot hide inside a rounding tolerance. The depths
    cover a block's edge (15, 16, 17), several k-blocks of float32 (401) and float64 (257,
    803), and the widths whole and partial blocks and panels."""
    if not runnable(path):
        pytest.skip(f"this CPU has no {path} path")
    rng = np.random.default_rng(11)
    for k in (1, 15, 16, 17, 33, 257, 401, 803):
        for n in (1, 8, 15, 16, 17, 31, 32, 33, 70):
            a = rng.integers(-3, 4, (7, k))
            b = rng.integers(-3, 4, (n, k))
            want = a @ b.T
            for n_threads in (1, 2):
                got = run(path, a.astype(dtype), b.astype(dtype), np.zeros((7, n), dtype), "NT",
                          1.0, 0.0, n_threads)
                np.testing.assert_array_equal(got, want.astype(dtype),
                                              err_msg=f"{k=} {n=} {n_threads=}")


@pytest.mark.parametrize("path", ["avx512", "avx2", "baseline"])
@pytest.mark.parametrize("form", FORMS)
def test_b_packed_once_for_several_row_blocks(path, form, dtype):
    """A product of more than one row block of op(A) (132 rows in float32, 66 in float64)
    packs each k-block of B once, 512 columns at a time, into the thread's buffer, instead of
    once per row block. Small integers make every product exact, so both ways must equal
    NumPy's integer product bit for bit. The shapes give 2 to 16 row blocks, B blocks of 512
    columns with a partial one and a partial panel (1100 = 512 + 512 + 76), several k-blocks,
    and on 2 threads both ways of splitting C."""
    if not runnable(path):
        pytest.skip(f"this CPU has no {path} path")
    trans_a, trans_b = FORMS[form]
    rng = np.random.default_rng(12)
    try:
        for m, n, k in [(133, 70, 17), (1024, 33, 401), (300, 1100, 60), (200, 513, 803)]:
            a = rng.integers(-3, 4, (k, m) if trans_a else (m, k))
            b = rng.integers(-3, 4, (n, k) if trans_b else (k, n))
            want = (a.T if trans_a else a) @ (b.T if trans_b else b)
            for once in (True, False):
                _gemm.set_b_block(once)
                for n_threads in (1, 2):
                    got = run(path, a.astype(dtype), b.astype(dtype), np.zeros((m, n), dtype),
                              form, 1.0, 0.0, n_threads)
                    np.testing.assert_array_equal(
                        got, want.astype(dtype), err_msg=f"{m=} {n=} {k=} {once=} {n_threads=}")
    finally:
        _gemm.set_b_block(True)


def test_b_block_gives_the_same_bits_with_alpha_and_beta(dtype):
    """Rounded arithmetic, C scaled and added to: packing B once or per row block changes
    where the panels are read from, never the order of any element's operations."""
    a, b, c = operands(np.random.default_rng(13), 400, 600, 900, "NN", dtype)
    try:
        outs = []
        for once in (True, False):
            _gemm.set_b_block(once)
            outs.append(run(None, a, b, c, "NN", -0.7, 0.25, 2))
        np.testing.assert_array_equal(outs[0], outs[1])
        assert_close(outs[0], a, b, c, "NN", -0.7, 0.25)
    finally:
        _gemm.set_b_block(True)


def test_threads_with_their_own_b_buffers_multiply_correctly():
    """Each thread packs into its own buffer, which grows with the product: eight threads
    multiplying products of different widths at once each get their own right answer."""
    rng = np.random.default_rng(14)
    jobs = []
    for i in range(8):
        m, n, k = 140 + 40 * i, 64 * (i + 1), 300 + 50 * i
        a = rng.integers(-3, 4, (m, k)).astype(np.float32)
        b = rng.integers(-3, 4, (k, n)).astype(np.float32)
        jobs.append((a, b, (a.astype(np.int64) @ b.astype(np.int64)).astype(np.float32)))

    def work(job):
        a, b, want = job
        for _ in range(5):
            out = np.zeros(want.shape, np.float32)
            _gemm.matmul(a, b, out, False, False, 1.0, 0.0, 1)
            if not np.array_equal(out, want):
                return False
        return True

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, jobs))


def test_set_path_refuses_unknown_names():
    before = _gemm.path()
    with pytest.raises(ValueError, match="unknown GEMM path 'avx1024'"):
        _gemm.set_path("avx1024")
    assert _gemm.path() == before
    _gemm.set_path("baseline")  # every x86-64 (and every other) CPU runs it
    assert _gemm.path() == "baseline"
    _gemm.set_path(None)
    assert _gemm.path() == before


def _python(code, **env):
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


@pytest.mark.skipif(not runnable("avx2"), reason="this CPU has no AVX2 path")
def test_environment_variable_forces_a_path():
    done = _python("from fastnn._kernels import _gemm; print(_gemm.path())",
                   FASTNN_GEMM_PATH="avx2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "avx2"
    bad = _python("import fastnn._kernels._gemm", FASTNN_GEMM_PATH="sse9")
    assert bad.returncode != 0
    assert "FASTNN_GEMM_PATH: unknown GEMM path 'sse9'" in bad.stderr


def test_show_config_names_the_gemm_path_that_runs():
    import io

    import fastnn

    for name in ("baseline", None):
        _gemm.set_path(name)
        printed = io.StringIO()
        fastnn.show_config(file=printed)
        line = next(t for t in printed.getvalue().splitlines() if t.lstrip().startswith("GEMM:"))
        assert line.split()[1] == (name or _gemm.path())
        assert fastnn._info.config_info()["gemm"] == _gemm.path()
