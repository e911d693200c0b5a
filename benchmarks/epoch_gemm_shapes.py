"""The MNIST-scale epoch against NumPy's sgemm bound, shape by shape, in one process.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. \
        python benchmarks/epoch_gemm_shapes.py [--rounds N] [--what shapes,epoch] \
        [--loop-shapes SECONDS [--threads N]]

(PYTHONPATH=.: `python benchmarks/x.py` puts benchmarks/, not the checkout, first on sys.path,
so without it an installed fastnn is measured.)

`shapes`: each of the 8 products of one batch-128 step of 784-512-256-10 (the `matmul`
workload's operands), fastnn's own kernel and NumPy's `@` at 1 and 2 threads, taking turns
round by round; per shape the min and median time and the efficiency (NumPy's time over
fastnn's at the same thread count). `epoch`: fastnn's MNIST-scale epoch (the `mnist_epoch`
workload, 60,000 rows) at 1 and 2 threads, taking turns, and its share of the bound: the
8 products' NumPy time at 2 threads times the epoch's 468.75 steps over the epoch's time.
`--loop-shapes S` only runs fastnn's 8 products for S seconds (a target for `perf record`).
Every product is checked against a float64 NumPy product before it is timed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from fastnn._bench import peers, workloads
from fastnn._kernels import _gemm


def products():
    out = []
    for form, a, b, c in workloads.matmul_operands():
        ta, tb, m, n, k = workloads.product_dims(form, a, b)
        a_op, b_op = (a.T if ta else a), (b.T if tb else b)
        name = f"{form} {m}x{n}x{k}"
        with threadpool_limits(1, user_api="blas"):
            want = a_op.astype(np.float64) @ b_op
        _gemm.matmul(a, b, c, ta, tb, 1.0, 0.0, 1)
        workloads.check_close(c, want, f"fastnn {name}", 1e-3)
        out.append((name, 2 * m * n * k, (a, b, c, ta, tb), (a_op, b_op, np.empty_like(c))))
    return out


def per_call(run, number):
    start = time.perf_counter()
    for _ in range(number):
        run()
    return (time.perf_counter() - start) / number


def shapes(rounds: int) -> float:
    """Print the per-shape table; return NumPy's 2-thread step time (median), the bound."""
    prods = products()
    times = {(name, who, t): [] for name, *_ in prods for who in ("fastnn", "numpy")
             for t in (1, 2)}
    # fastnn's and NumPy's products in separate blocks with a pause between them: OpenBLAS's
    # and libgomp's threads spin for a while after a call and would take the other's core.
    for _ in range(rounds):
        for t in (1, 2):
            for who in ("fastnn", "numpy"):
                time.sleep(0.3)
                with threadpool_limits(t, user_api="blas"):
                    for name, flops, (a, b, c, ta, tb), (a_op, b_op, c2) in prods:
                        number = max(1, int(2e8 / flops))
                        if who == "fastnn":
                            run = functools.partial(_gemm.matmul, a, b, c, ta, tb, 1.0, 0.0, t)
                        else:
                            run = functools.partial(np.matmul, a_op, b_op, out=c2)
                        per_call(run, 1)
                        times[name, who, t].append(per_call(run, number))
    print("| product (m x n x k) | threads | fastnn min / median | NumPy min / median "
          "| fastnn GFLOP/s (median) | NumPy GFLOP/s | efficiency (NumPy / fastnn time) |")
    print("|---|---|---|---|---|---|---|")
    step = {(w, t): 0.0 for w in ("fastnn", "numpy") for t in (1, 2)}
    for t in (1, 2):
        for name, flops, *_ in prods:
            f, n = times[name, "fastnn", t], times[name, "numpy", t]
            fm, nm = statistics.median(f), statistics.median(n)
            step["fastnn", t] += fm
            step["numpy", t] += nm
            print(f"| {name} | {t} | {min(f) * 1e6:.1f} / {fm * 1e6:.1f} µs "
                  f"| {min(n) * 1e6:.1f} / {nm * 1e6:.1f} µs | {flops / fm / 1e9:.0f} "
                  f"| {flops / nm / 1e9:.0f} | {nm / fm:.0%} |")
    total = sum(flops for _, flops, *_ in prods)
    for t in (1, 2):
        print(f"| **the 8 products** | {t} | {step['fastnn', t] * 1e6:.0f} µs "
              f"| {step['numpy', t] * 1e6:.0f} µs | {total / step['fastnn', t] / 1e9:.0f} "
              f"| {total / step['numpy', t] / 1e9:.0f} "
              f"| {step['numpy', t] / step['fastnn', t]:.0%} |")
    return step["numpy", 2]


def epoch(rounds: int, bound_step: float | None) -> None:
    import fastnn

    sizes = workloads.FULL
    case = peers.load("fastnn").CASES["mnist_epoch"](sizes)
    times = {1: [], 2: []}
    for _ in range(rounds):
        for t in (1, 2):
            fastnn.config.set_num_threads(t)
            start = time.perf_counter()
            case.run()
            times[t].append(time.perf_counter() - start)
    fastnn.config.set_num_threads(None)
    flops = workloads.mnist_epoch_flops(sizes.mnist_samples)
    for t in (1, 2):
        print(f"epoch, {t} thread(s): min {min(times[t]):.3f} s, median "
              f"{statistics.median(times[t]):.3f} s, "
              f"{flops / statistics.median(times[t]) / 1e9:.1f} GFLOP/s")
    print(f"2 threads vs 1: {statistics.median(times[1]) / statistics.median(times[2]):.2f}x "
          f"(medians), {min(times[1]) / min(times[2]):.2f}x (minimums)")
    if bound_step is not None:
        bound = bound_step * sizes.mnist_samples / 128
        print(f"NumPy-sgemm bound {bound:.3f} s ({flops / bound / 1e9:.1f} GFLOP/s); epoch at "
              f"{bound / statistics.median(times[2]):.0%} of it (medians), "
              f"{bound / min(times[2]):.0%} (minimums)")


def loop_shapes(seconds: float, n_threads: int) -> None:
    prods = products()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _name, _flops, (a, b, c, ta, tb), _ in prods:
            _gemm.matmul(a, b, c, ta, tb, 1.0, 0.0, n_threads)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--what", default="shapes,epoch")
    parser.add_argument("--loop-shapes", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.loop_shapes is not None:
        loop_shapes(args.loop_shapes, args.threads)
        return
    from fastnn._kernels import _cpu

    print("fastnn SIMD path:", _cpu.simd_path())
    for lib in threadpool_info():
        print(f"{lib['user_api']}: {lib['internal_api']} {lib.get('version')} "
              f"({lib.get('architecture')} kernel) {lib['filepath'].rsplit('/', 1)[-1]}")
    what = args.what.split(",")
    bound = shapes(args.rounds) if "shapes" in what else None
    if "epoch" in what:
        epoch(args.rounds, bound)


if __name__ == "__main__":
    main()
