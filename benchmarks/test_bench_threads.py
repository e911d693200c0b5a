"""Threads: where a second thread starts to pay for the elementwise kernels
(FNN_PARALLEL_MIN_WORK), and what two threads predicting at once on one model gain.

A parallel region costs a fixed time O (fork, barrier, join); an elementwise kernel costs c per
element on one thread. Two threads win once c·n/2 + O < c·n, i.e. n > 2·O/c. This measures O
(an empty region of 2 threads, `parallel_region_cost`) and c (relu forward, the cheapest
kernel, on one thread) and prints the break-even n beside the compiled-in cut-off. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_bench_threads.py -s
on an otherwise idle machine: spinning OpenMP threads measure nothing useful on busy cores.
"""

import statistics
import time

import numpy as np

import fastnn
from fastnn._bench import run_one, workloads
from fastnn._kernels import _activations, _openmp_helpers


def _relu_seconds_per_element(n: int, repeats: int) -> float:
    x = np.random.default_rng(0).standard_normal((n // 256, 256)).astype(np.float32)
    out = np.empty_like(x)
    act = _activations.ACTIVATIONS["relu"]
    args = (act, x, None, out, None, 0.0, np.inf, 0.0, 1.0, 1)
    _activations.activation_forward(*args)
    np.testing.assert_array_equal(out, np.maximum(x, 0))   # check before timing
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _activations.activation_forward(*args)
        best = min(best, time.perf_counter() - start)
    return best / x.size


def test_parallel_threshold(benchmark):
    if not _openmp_helpers.openmp_enabled() or _openmp_helpers.cpu_count() < 2:
        return
    region = min(_openmp_helpers.parallel_region_cost(2, 2000) for _ in range(5))
    per_element = _relu_seconds_per_element(1 << 20, 20)
    break_even = 2 * region / per_element
    print(f"\nempty 2-thread region: {region * 1e6:.2f} us; relu: {per_element * 1e9:.3f} "
          f"ns/element; break-even: {break_even:.0f} elements; compiled-in cut-off: "
          f"{_openmp_helpers.parallel_min_work()}")
    assert region > 0 and per_element > 0
    benchmark(_openmp_helpers.parallel_region_cost, 2, 100)


def test_predict_in_two_threads_at_once(benchmark):
    """Two threads predicting 10,000 rows each on one model, against one thread making both
    calls, side by side (rounds taking turns; kernels on one thread each, so the speedup is
    the callers' own). The report's target is 1.6x on 2 cores. Run with
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest \\
            benchmarks/test_bench_threads.py -k two_threads -s
    """
    if _openmp_helpers.cpu_count() < 2:
        return
    results = run_one.measure_concurrent_predict(benchmark.disabled, 2)
    in_turn, at_once = (statistics.median(r["times"]) for r in results)
    print(f"\npredict_10k x 2: one thread in turn {in_turn * 1e3:.1f} ms, two threads at once "
          f"{at_once * 1e3:.1f} ms: {in_turn / at_once:.2f}x")
    fastnn.config.set_num_threads(1)
    try:
        sizes = workloads.QUICK if benchmark.disabled else workloads.FULL
        _, run = run_one.concurrent_predict_runs(sizes, 2)
        benchmark.group = "predict_10k, 2 callers"
        benchmark.pedantic(run, rounds=sizes.repeats, iterations=1)
    finally:
        fastnn.config.set_num_threads(None)
