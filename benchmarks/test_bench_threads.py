"""Where a second thread starts to pay for the elementwise kernels (FNN_PARALLEL_MIN_WORK).

A parallel region costs a fixed time O (fork, barrier, join); an elementwise kernel costs c per
element on one thread. Two threads win once c·n/2 + O < c·n, i.e. n > 2·O/c. This measures O
(an empty region of 2 threads, `parallel_region_cost`) and c (relu forward, the cheapest
kernel, on one thread) and prints the break-even n beside the compiled-in cut-off. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_bench_threads.py -s
on an otherwise idle machine: spinning OpenMP threads measure nothing useful on busy cores.
"""

import time

import numpy as np

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
