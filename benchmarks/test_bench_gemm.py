"""fastnn's matmul (the own kernel) against NumPy's `@` (float32) on the shapes an MLP multiplies.

Each shape is one benchmark group holding a fastnn and a numpy entry side by side. Every
benchmark checks its result against NumPy before timing. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_bench_gemm.py
(CI adds --benchmark-disable: each function then runs once, as a smoke test).
"""

import numpy as np
import pytest
from fastnn._kernels._openmp_helpers import effective_n_threads

from fastnn._bench.workloads import quiet_blas
from fastnn._kernels import _gemm

# name: (form, rows, inner, cols) of out = op(A) @ op(B), out of shape (rows, cols).
# NN is the forward X @ W, NT the backward dY @ W.T, TN the weight gradient X.T @ dY.
# Batch 128 through a 784-512-256-10 MLP, few-row forwards (prediction), and batches of
# 10-32 through a tiny 1-16-32-2 MLP, where the fixed cost of a call dominates.
LAYERS = [(784, 512), (512, 256), (256, 10)]
TINY_LAYERS = [(1, 16), (16, 32), (32, 2)]
CASES = {
    **{f"NN 128x{i} @ {i}x{o}": ("NN", 128, i, o) for i, o in LAYERS},
    **{f"NT 128x{o} @ ({i}x{o}).T": ("NT", 128, o, i) for i, o in LAYERS},
    **{f"TN (128x{i}).T @ 128x{o}": ("TN", i, 128, o) for i, o in LAYERS},
    **{f"NN {m}x784 @ 784x512": ("NN", m, 784, 512) for m in (1, 4, 8, 16)},
    **{f"NN {m}x512 @ 512x256": ("NN", m, 512, 256) for m in (1, 4, 8, 16)},
    **{f"NN {m}x{i} @ {i}x{o}": ("NN", m, i, o) for m in (10, 32) for i, o in TINY_LAYERS},
    **{f"NT 32x{o} @ ({i}x{o}).T": ("NT", 32, o, i) for i, o in TINY_LAYERS[1:]},
    **{f"TN (32x{i}).T @ 32x{o}": ("TN", i, 32, o) for i, o in TINY_LAYERS},
}


def operands(case):
    form, m, k, n = CASES[case]
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if form[0] == "T" else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if form[1] == "T" else (k, n)).astype(np.float32)
    a_op = a.T if form[0] == "T" else a
    b_op = b.T if form[1] == "T" else b
    return form, a, b, a_op, b_op


def check(got, a_op, b_op):
    k = a_op.shape[1]
    with quiet_blas():  # else OpenBLAS's threads spin on into the next timing
        want = a_op.astype(np.float64) @ b_op.astype(np.float64)
        scale = np.abs(a_op).astype(np.float64) @ np.abs(b_op).astype(np.float64)
    assert np.all(np.abs(got - want) <= (k + 3) * np.finfo(np.float32).eps * scale)


@pytest.mark.parametrize("case", CASES)
def test_fastnn(benchmark, case):
    benchmark.group = case
    form, a, b, a_op, b_op = operands(case)
    out = np.empty((a_op.shape[0], b_op.shape[1]), np.float32)
    n_threads = effective_n_threads()
    trans_a, trans_b = form[0] == "T", form[1] == "T"
    _gemm.matmul(a, b, out, trans_a, trans_b, 1.0, 0.0, n_threads)
    check(out, a_op, b_op)
    benchmark(_gemm.matmul, a, b, out, trans_a, trans_b, 1.0, 0.0, n_threads)


@pytest.mark.parametrize("case", CASES)
def test_numpy(benchmark, case):
    benchmark.group = case
    _, _, _, a_op, b_op = operands(case)
    check(a_op @ b_op, a_op, b_op)
    benchmark(np.matmul, a_op, b_op)
