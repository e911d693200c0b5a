"""The suite's workloads (fastnn._bench) timed with pytest-benchmark, fastnn and every peer.

One benchmark group per workload; the test function names the contender (test_fastnn,
test_numpy, ...), so `python benchmarks/ratios.py RUN.json` lines them up. Each case checks
its result (loss falls, outputs match a float64 NumPy reference) before it is timed. Peers run
in this process here (`fastnn bench` gives each its own); a peer that is not installed is
skipped. With --benchmark-disable (CI) the reduced sizes of `fastnn bench --quick` are used
and each case runs once.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest benchmarks/test_bench_workloads.py
"""

import time

import pytest

from fastnn._bench import peers, workloads


def runs(peer):
    """The workloads `peer` runs."""
    return [name for name in workloads.WORKLOADS if name in peers.load(peer).CASES]


def bench(benchmark, peer, workload):
    module = peers.load(peer)
    reason = module.missing()
    if reason is not None:
        pytest.skip(f"{peer}: {reason}")
    benchmark.group = workload
    sizes = workloads.QUICK if benchmark.disabled else workloads.FULL
    case = module.CASES[workload](sizes)  # checks the result before anything is timed
    start = time.perf_counter()
    case.run()
    if time.perf_counter() - start < 0.01:
        benchmark(case.run)
    else:  # whole fits and epochs: a few rounds, not pytest-benchmark's calibration
        benchmark.pedantic(case.run, rounds=sizes.repeats, iterations=1)


@pytest.mark.parametrize("workload", runs("fastnn"))
def test_fastnn(benchmark, workload):
    bench(benchmark, "fastnn", workload)


@pytest.mark.parametrize("workload", runs("numpy"))
def test_numpy(benchmark, workload):
    bench(benchmark, "numpy", workload)


@pytest.mark.parametrize("workload", runs("tensorflow"))
def test_tensorflow(benchmark, workload):
    bench(benchmark, "tensorflow", workload)


@pytest.mark.parametrize("workload", runs("torch"))
def test_torch(benchmark, workload):
    bench(benchmark, "torch", workload)


@pytest.mark.parametrize("workload", runs("sklearn"))
def test_sklearn(benchmark, workload):
    bench(benchmark, "sklearn", workload)


@pytest.mark.parametrize("workload", runs("onnxruntime"))
def test_onnxruntime(benchmark, workload):
    bench(benchmark, "onnxruntime", workload)


@pytest.mark.parametrize("workload", runs("onnxruntime_int8"))
def test_onnxruntime_int8(benchmark, workload):
    bench(benchmark, "onnxruntime_int8", workload)


@pytest.mark.parametrize("workload", runs("torch_int8"))
def test_torch_int8(benchmark, workload):
    bench(benchmark, "torch_int8", workload)
