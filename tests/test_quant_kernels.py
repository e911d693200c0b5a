"""fastnn._kernels._quant: the int8 Dense kernels against NumPy, on the VNNI path and the
plain-C fallback (exact: same int32 sums, same float32 de-scaling)."""

import platform
from pathlib import Path

import numpy as np
import pytest
from _reference import int8_dense, int8_matmul, quantize_rows_int8

from fastnn._kernels import _quant

PATHS = [pytest.param(_quant.PATHS["baseline"], id="baseline"),
         pytest.param(_quant.PATHS["vnni"], id="vnni", marks=pytest.mark.skipif(
             not _quant.available("vnni"), reason="this CPU has no AVX-512 VNNI"))]
# The AMX path has no raw int32 entry: it is checked through dense (exact as well).
DENSE_PATHS = PATHS + [pytest.param(_quant.PATHS["amx"], id="amx", marks=pytest.mark.skipif(
    not _quant.available("amx"), reason="no AMX-INT8 on this CPU or OS"))]
SHAPES = [(1, 1, 1), (7, 13, 10), (8, 4, 16), (9, 5, 17), (17, 31, 33), (65, 101, 48),
          (3, 784, 50), (130, 64, 97)]   # (m, k, n): ragged tiles, panels, row blocks


def random_int8(rng, shape, lo=-127):
    return rng.integers(lo, 128, size=shape).astype(np.int8)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("m,k,n", SHAPES)
def test_int32_product_is_exact(path, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    q, w = random_int8(rng, (m, k)), random_int8(rng, (k, n), lo=-128)
    packed, colsum = _quant.pack(w)
    got = _quant.qgemm_s32(q, packed, colsum, n, path)
    np.testing.assert_array_equal(got, int8_matmul(q, w))


@pytest.mark.parametrize("path", PATHS)
def test_long_dot_products_accumulate_in_int32(path):
    # 127 * 127 * 131000 = 2.11e9: just inside int32, far past float32's exact integers. On
    # the VNNI path the shifted sums (254 * 127 * k) wrap around int32 before the column sums
    # are taken off: the result must still be exact.
    k = 131_000
    q = np.full((3, k), 127, np.int8)
    q[1] = -127
    q[2, ::2] = -127
    w = np.full((k, 17), 127, np.int8)
    w[:, 1] = -127
    packed, colsum = _quant.pack(w)
    got = _quant.qgemm_s32(q, packed, colsum, 17, path)
    want = int8_matmul(q, w)
    assert np.abs(want).max() > 2**31 * 0.98
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("offset", [0, 128])
def test_row_quantization_is_keras_absmax(offset):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((37, 53)) * rng.uniform(0.01, 100, (37, 1))).astype(np.float32)
    x[0] = 0.0                               # all-zero row: epsilon keeps the scale finite
    x[1, :4] = [0.5, -0.5, 1.5, 2.5]         # ties round half to even
    x[1, 4:] = 0.0
    x[1, 10] = 127.0
    q, scale = _quant.quantize_rows(x, offset)
    q_ref, scale_ref = quantize_rows_int8(x)
    np.testing.assert_array_equal(scale, scale_ref)
    np.testing.assert_array_equal(q.astype(np.int32) - offset, q_ref.astype(np.int32))
    assert q_ref[1, :4].tolist() == [0, -0, 2, 2]


@pytest.mark.parametrize("path", DENSE_PATHS)
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("m,k,n", SHAPES + [(200, 300, 70)])
def test_dense_matches_reference_bit_for_bit(path, n_threads, m, k, n):
    rng = np.random.default_rng(m + 7 * k + 11 * n)
    x = rng.standard_normal((m, k)).astype(np.float32)
    w = random_int8(rng, (k, n))
    kscale = rng.uniform(1, 500, n).astype(np.float32)
    packed, colsum = _quant.pack(w)
    got = _quant.dense(x, packed, colsum, kscale, path, n_threads)
    np.testing.assert_array_equal(got, int8_dense(x, w, kscale))


@pytest.mark.parametrize("path", DENSE_PATHS[1:])
def test_fast_paths_give_the_fallbacks_bits(path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((300, 784)).astype(np.float32)
    w = random_int8(rng, (784, 129))
    kscale = rng.uniform(1, 500, 129).astype(np.float32)
    packed, colsum = _quant.pack(w)
    a = _quant.dense(x, packed, colsum, kscale, _quant.PATHS["baseline"], 2)
    b = _quant.dense(x, packed, colsum, kscale, path, 2)
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("path", DENSE_PATHS)
def test_dense_sums_long_dot_products_exactly(path):
    # Rows of +-127 against columns of +-127: sums of 1.9e9, past float32's exact integers, so
    # an inexact int32 sum would show in the float32 output too.
    k = 120_000
    x = np.full((3, k), 0.5, np.float32)
    x[1] = -0.5
    x[2, ::2] = -0.5
    w = np.full((k, 17), 127, np.int8)
    w[:, 1] = -127
    kscale = np.full(17, 3.0, np.float32)
    packed, colsum = _quant.pack(w)
    got = _quant.dense(x, packed, colsum, kscale, path, 1)
    np.testing.assert_array_equal(got, int8_dense(x, w, kscale))


def test_environment_forces_the_fallback(monkeypatch):
    monkeypatch.setenv("FASTNN_FORCE_BASELINE", "1")
    assert _quant.path() == _quant.PATHS["baseline"]
    assert _quant.path_name().startswith("baseline")
    monkeypatch.delenv("FASTNN_FORCE_BASELINE")
    expected = next(p for p in ("amx", "vnni", "baseline") if _quant.available(p))
    assert _quant.path() == _quant.PATHS[expected]


def test_vnni_path_follows_the_cpu_flags():
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.exists() or platform.machine() != "x86_64":
        pytest.skip("needs Linux on x86-64")
    flags = cpuinfo.read_text().split()
    has = {"avx512f", "avx512bw", "avx512_vnni"} <= set(flags)
    assert _quant.available("vnni") == has
