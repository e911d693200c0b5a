"""fastnn._kernels._bf16: the bfloat16 products of mixed precision against a NumPy model of
AMX-BF16's arithmetic (tests/_reference.bf16_matmul), exact, on the AMX path and on the float32
fallback that every machine runs."""

import subprocess
import sys

import numpy as np
import pytest
from _reference import bf16_matmul, round_bf16

from fastnn._kernels import _bf16

PATHS = [pytest.param(_bf16.PATHS["baseline"], id="baseline"),
         pytest.param(_bf16.PATHS["amx_bf16"], id="amx", marks=pytest.mark.skipif(
             not _bf16.available("amx_bf16"), reason="no AMX-BF16 on this CPU or OS"))]
# (m, k, n): ragged tiles and steps, odd k, several k-blocks (k > 512), several row blocks.
SHAPES = [(1, 1, 1), (5, 9, 7), (33, 130, 70), (31, 64, 33), (17, 600, 40), (3, 1100, 65),
          (130, 47, 20)]


def operands(rng, m, k, n, trans_a=False, trans_b=False):
    # Magnitudes spread over 2^-8 .. 2^8, so that rounding and order show in the last bits.
    a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-8, 9, (m, k)))).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return (np.ascontiguousarray(a.T) if trans_a else a,
            np.ascontiguousarray(b.T) if trans_b else b, a, b)


def matmul(a, b, trans_a=False, trans_b=False, path=0, threads=1, alpha=1.0, beta=0.0,
           out=None):
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    out = np.zeros((m, n), np.float32) if out is None else out
    _bf16.matmul_bf16(a, b, out, trans_a, trans_b, alpha, beta, threads, path)
    return out


def test_rounding_is_round_to_nearest_even():
    one = 1.0
    ulp = 2.0 ** -7                      # bfloat16 keeps 8 significant bits
    x = np.array([one + ulp / 2,         # tie: to even (1.0)
                  one + 3 * ulp / 2,     # tie: to even (1 + 2 ulp)
                  one + ulp / 2 + 2.0 ** -20,   # just past the tie: up
                  -(one + ulp / 2 + 2.0 ** -20),
                  3.4e38,                # past half an ulp above bfloat16's largest: inf
                  np.inf, -np.inf, 0.0, -0.0,
                  1e-39, -1e-39,         # float32 denormals: zero, sign kept
                  1.1754944e-38],        # the smallest normal float32 stays
                 np.float32)
    want = np.array([1.0, 1 + 2 * ulp, 1 + ulp, -(1 + ulp), np.inf, np.inf, -np.inf, 0.0,
                     -0.0, 0.0, -0.0, 1.1754944e-38], np.float32)
    got = _bf16.round_bf16(x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    np.testing.assert_array_equal(round_bf16(x), want)
    assert np.isnan(_bf16.round_bf16(np.array([np.nan], np.float32)))[0]


def test_rounding_matches_the_reference_on_random_bits():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    x = x[~np.isnan(x)]
    np.testing.assert_array_equal(_bf16.round_bf16(x).view(np.uint32),
                                  round_bf16(x).view(np.uint32))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("m,k,n", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True)])
def test_product_is_exactly_the_reference(path, m, k, n, trans_a, trans_b):
    rng = np.random.default_rng(m * 1000 + k + n)
    a, b, a_plain, b_plain = operands(rng, m, k, n, trans_a, trans_b)
    got = matmul(a, b, trans_a, trans_b, path)
    np.testing.assert_array_equal(got, bf16_matmul(a_plain, b_plain))


@pytest.mark.parametrize("path", PATHS)
def test_alpha_and_beta_update_c_once(path):
    rng = np.random.default_rng(5)
    a, b, _, _ = operands(rng, 20, 700, 45)
    c0 = rng.standard_normal((20, 45)).astype(np.float32)
    product = bf16_matmul(a, b)
    got = matmul(a, b, path=path, out=c0.copy(), beta=1.0)
    # beta = 1: C + sum of block 1, then + sum of block 2 (k = 700: two blocks of 350).
    first = bf16_matmul(a[:, :350], b[:350])
    second = bf16_matmul(a[:, 350:], b[350:])
    np.testing.assert_array_equal(got, (c0 + first) + second)
    got = matmul(a, b, path=path, out=c0.copy(), alpha=0.5, beta=2.0)
    want = (c0 * np.float32(2.0) + first * np.float32(0.5)) + second * np.float32(0.5)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, product)


def test_paths_and_thread_counts_give_the_same_bits():
    rng = np.random.default_rng(7)
    a, b, _, _ = operands(rng, 128, 784, 512)
    results = [matmul(a, b, path=p, threads=t) for p in _bf16.PATHS.values()
               if _bf16.available(next(n for n, v in _bf16.PATHS.items() if v == p))
               for t in (1, 2)]
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    rows = [matmul(a[i:i + 40], b) for i in range(0, 128, 40)]      # any split of the rows
    np.testing.assert_array_equal(np.vstack(rows), results[0])


@pytest.mark.parametrize("path", PATHS)
def test_long_dot_products_sum_in_float32(path):
    # 8192 products of 1 x 1: float32 sums are exact (8192); bfloat16 sums would stall at 256.
    k = 8192
    a = np.ones((2, k), np.float32)
    b = np.ones((k, 3), np.float32)
    b[:, 1] = 1 + 2.0 ** -7              # exact in bfloat16
    b[:, 2] = 1 + 2.0 ** -9              # rounds to 1 in bfloat16
    got = matmul(a, b, path=path)
    np.testing.assert_array_equal(got, [[8192.0, 8192.0 * (1 + 2.0 ** -7), 8192.0]] * 2)


@pytest.mark.parametrize("path", PATHS)
def test_denormal_inputs_read_as_zero_and_mxcsr_is_restored(path):
    a = np.array([[1e-39, 2.0]], np.float32)
    b = np.array([[1e30], [3.0]], np.float32)
    np.testing.assert_array_equal(matmul(a, b, path=path), [[6.0]])
    # The flush-to-zero mode was this call's only: float32 denormals are back afterwards.
    assert np.float32(1e-38) / np.float32(1000) != 0


def test_bad_arguments_are_refused():
    a = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="do not fit"):
        matmul(a, np.ones((5, 2), np.float32))
    with pytest.raises(ValueError, match="not available|bfloat16 path"):
        matmul(a, np.ones((4, 2), np.float32), path=99)


def test_force_baseline_environment_variable_selects_the_fallback():
    code = "from fastnn._kernels import _bf16; print(_bf16.path(), _bf16.path_name())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"FASTNN_FORCE_BASELINE": "1", "PATH": ""}, check=True).stdout
    assert out.split()[0] == str(_bf16.PATHS["baseline"])
    assert "baseline" in out


def test_show_config_names_the_bfloat16_path():
    import io

    import fastnn
    from fastnn._info import config_info

    assert config_info()["bfloat16"] == _bf16.path_name()
    out = io.StringIO()
    fastnn.show_config(file=out)
    assert f"bf16:    {_bf16.path_name()}" in out.getvalue()


# Images: a weight matrix's op(B) packed once (by the optimizer step, in even-sized pieces of
# rows) and read by the products in place of the float32 matrix.
@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("rows,cols,m", [(1, 1, 1), (5, 3, 7), (70, 33, 130), (513, 33, 64),
                                         (1024, 64, 5), (1027, 40, 3), (600, 1100, 40)])
@pytest.mark.parametrize("threads", [1, 2])
def test_products_from_images_are_exactly_the_reference(path, rows, cols, m, threads):
    rng = np.random.default_rng(rows * cols + m)
    w = (rng.standard_normal((rows, cols)) * np.exp2(rng.integers(-8, 9, (rows, cols))))
    w = w.astype(np.float32)
    x = rng.standard_normal((m, rows)).astype(np.float32)
    g = rng.standard_normal((m, cols)).astype(np.float32)
    fwd, bwd = _bf16.weight_images(w)
    out = np.zeros((m, cols), np.float32)
    _bf16.matmul_bf16_image(x, fwd, out, False, 1.0, 0.0, threads, path)
    np.testing.assert_array_equal(out, bf16_matmul(x, w))
    grad_in = np.zeros((m, rows), np.float32)
    _bf16.matmul_bf16_image(g, bwd, grad_in, False, 1.0, 0.0, threads, path)
    np.testing.assert_array_equal(grad_in, bf16_matmul(g, w.T))
    # beta = 1 (a shared layer's gradients add up): as the product that packs wᵀ itself.
    start = rng.standard_normal((m, rows)).astype(np.float32)
    got, want = start.copy(), start.copy()
    _bf16.matmul_bf16_image(g, bwd, got, False, 1.0, 1.0, threads, path)
    _bf16.matmul_bf16(g, w, want, False, True, 1.0, 1.0, threads, path)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("rows,cols", [(6, 5), (784, 512), (1024, 70), (37, 33)])
def test_images_written_in_pieces_equal_one_whole_write(rows, cols):
    w = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    whole = _bf16.weight_images(w)
    for pieces in (2, 3, 7):
        for got, want in zip(_bf16.weight_images(w, pieces), whole):
            np.testing.assert_array_equal(got, want)


def test_images_refuse_what_they_cannot_hold():
    w = np.ones((513, 4), np.float32)        # two k-blocks of 257 rows: pairs start at odd rows
    with pytest.raises(ValueError, match="cannot be written in pieces"):
        _bf16.weight_images(w, 2)
    fwd, _ = _bf16.weight_images(np.ones((8, 4), np.float32))
    with pytest.raises(ValueError, match="not that of a 40 x 4"):
        _bf16.matmul_bf16_image(np.ones((2, 40), np.float32), fwd, np.zeros((2, 4), np.float32),
                                False, 1.0, 0.0, 1, _bf16.PATHS["baseline"])
