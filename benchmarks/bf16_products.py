"""The products of one batch-128 step of 784-512-256-10 (and a 10,000-row predict), float32
against bfloat16 on each path: GFLOP/s, best of N calls, 1 and 2 threads, and whether the two
bfloat16 paths gave the same bits.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bf16_products.py
"""

import functools
import time

import numpy as np

from fastnn._kernels import _bf16, _gemm

SHAPES = [  # name, m, n, k, trans_a, trans_b
    ("forward 784->512", 128, 512, 784, False, False),
    ("forward 512->256", 128, 256, 512, False, False),
    ("weight grad 784x512", 784, 512, 128, True, False),
    ("input grad 256->512", 128, 512, 256, False, True),
    ("weight grad 512x256", 512, 256, 128, True, False),
    ("predict 10,000 x 784->512", 10_000, 512, 784, False, False),
]


def best(f, reps):
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    rng = np.random.default_rng(0)
    paths = {name: p for name, p in _bf16.PATHS.items() if _bf16.available(name)}
    for threads in (1, 2):
        for name, m, n, k, ta, tb in SHAPES:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            reps = 3 if m > 1000 else 50
            out = np.zeros((m, n), np.float32)
            row = {"float32": best(
                functools.partial(_gemm.matmul, a, b, out, ta, tb, 1, 0, threads), reps)}
            results = []
            for path_name, p in paths.items():
                o = np.zeros((m, n), np.float32)
                row[f"bf16 {path_name}"] = best(
                    functools.partial(_bf16.matmul_bf16, a, b, o, ta, tb, 1, 0, threads, p), reps)
                results.append(o)
            same = all(np.array_equal(r, results[0]) for r in results)
            flops = 2.0 * m * n * k
            cells = "  ".join(f"{label} {flops / t / 1e9:6.0f}" for label, t in row.items())
            print(f"{threads} thread(s)  {name:26} GFLOP/s: {cells}   paths agree: {same}")


if __name__ == "__main__":
    main()
