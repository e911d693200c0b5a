"""Two builds of fastnn's GEMM on the MNIST-scale step's 8 products, in one process, taking turns.

    cp fastnn/_kernels/_gemm.*.so /tmp/old_gemm.so      # before the change (then rebuild)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. \
        python benchmarks/gemm_ab_builds.py /tmp/old_gemm.so THREADS ROUNDS [--any-bits]

"new" is the importable fastnn's `_gemm`, "old" the extension module at the given path (loaded
under another package name). Every round times each product with both builds, which goes
first alternating round by round (the second one finds the operands in cache: ~5% in its
favour otherwise); with 1 thread NumPy's `@` is timed too. Prints per product the min and
median per-call time and GFLOP/s. The two builds must give the same bits unless --any-bits
(a change of the k-blocks changes them).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from fastnn._bench import workloads
from fastnn._kernels import _gemm as new


def per_call(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("old_so")
    parser.add_argument("threads", type=int)
    parser.add_argument("rounds", type=int)
    parser.add_argument("--any-bits", action="store_true")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("old_build._gemm", args.old_so)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)
    t = args.threads
    prods = []
    for form, a, b, c in workloads.matmul_operands():
        ta, tb, m, n, k = workloads.product_dims(form, a, b)
        a_op, b_op = (a.T if ta else a), (b.T if tb else b)
        c_old = c.copy()
        new.matmul(a, b, c, ta, tb, 1.0, 0.0, t)
        old.matmul(a, b, c_old, ta, tb, 1.0, 0.0, t)
        if not args.any_bits and not np.array_equal(c, c_old):
            raise AssertionError(f"{form} {m}x{n}x{k}: the two builds give different bits")
        prods.append((f"{form} {m}x{n}x{k}", 2 * m * n * k, a, b, ta, tb, c, a_op, b_op))
    times: dict[tuple[str, str], list[float]] = {}
    with threadpool_limits(t, user_api="blas"):
        for r in range(args.rounds):
            for name, flops, a, b, ta, tb, c, a_op, b_op in prods:
                number = max(2, int(3e7 / flops))
                pair = [("new", lambda: new.matmul(a, b, c, ta, tb, 1.0, 0.0, t)),  # noqa: B023
                        ("old", lambda: old.matmul(a, b, c, ta, tb, 1.0, 0.0, t))]  # noqa: B023
                if t == 1:
                    pair.append(("numpy", lambda: np.matmul(a_op, b_op, out=c)))  # noqa: B023
                for who, fn in pair if r % 2 == 0 else pair[::-1]:
                    times.setdefault((name, who), []).append(per_call(fn, number))
    total: dict[str, float] = {}
    for name, flops, *_ in prods:
        cells = []
        for who in ("new", "old", "numpy"):
            if (name, who) in times:
                v = times[name, who]
                total[who] = total.get(who, 0.0) + min(v)
                cells.append(f"{who} {min(v) * 1e6:7.1f}/{statistics.median(v) * 1e6:7.1f} µs "
                             f"{flops / min(v) / 1e9:4.0f} GFLOP/s")
        ratio = min(times[name, "old"]) / min(times[name, "new"])
        print(f"{name:16s}", " | ".join(cells), f"| old/new (min) {ratio:.2f}")
    print("sum of mins:", ", ".join(f"{who} {s * 1e6:.0f} µs" for who, s in total.items()))


if __name__ == "__main__":
    main()
