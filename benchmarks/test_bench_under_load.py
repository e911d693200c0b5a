"""Threads on shared cores (issue #18): with other processes keeping every core busy, fastnn's
default thread count must never be more than 1.2x slower than one thread, in training and in
predict.

The benchmark starts its own bounded background load (one busy-looping process per CPU, each
ending by itself after a deadline and killed when the benchmark ends), then times each
workload on the default thread count and on one thread, taking turns, and prints the ratio
of the medians. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m pytest \\
        benchmarks/test_bench_under_load.py -s
With --benchmark-disable (CI) each workload runs once on each count, without the load, to
keep the benchmark working.
"""

import contextlib
import statistics
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from fastnn._kernels._openmp_helpers import cpu_count
from sklearn.datasets import make_classification

import fastnn
from fastnn import _thread_policy
from fastnn._bench import workloads as w
from fastnn.sklearn import MLPClassifier

TARGET = 1.2
ROUNDS = 5
LOAD_SECONDS = 600      # the busy loops' own deadline, should the benchmark die


@contextlib.contextmanager
def busy_cores(n: int):
    code = f"import time\nend = time.time() + {LOAD_SECONDS}\nwhile time.time() < end: pass"
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
    try:
        time.sleep(0.5)     # let the scheduler spread them
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _keras(layers, n_in):
    model = fastnn.Sequential([fastnn.Input((n_in,))] + [
        fastnn.layers.Dense(units, activation=act) for units, act in layers])
    model.compile(optimizer=fastnn.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy")
    return model


def tutorial_fit():
    x, y = w.tutorial_data(2100)
    return lambda: _keras(w.TUTORIAL_LAYERS, 1).fit(x, y, batch_size=10, epochs=20, verbose=0)


def mnist_epoch(rows=60_000):
    x, y = w.mnist_data(rows)
    return lambda: _keras(w.MNIST_LAYERS, w.MNIST_FEATURES).fit(x, y, batch_size=128,
                                                                 epochs=1, verbose=0)


def small_mlp_fit():
    x, y = make_classification(4000, 60, n_informative=20, random_state=0)
    x = x.astype(np.float32)

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier((128, 64), max_iter=15, random_state=0).fit(x, y)
    return run


def predict_10k(rows=10_000):
    """Inference has the same barriers: predict of the MNIST-scale model (784-512-256-10)."""
    x, _ = w.mnist_data(rows)
    model = _keras(w.MNIST_LAYERS, w.MNIST_FEATURES)
    model.predict(x[:1], verbose=0)         # the plan is built before timing
    return lambda: model.predict(x, verbose=0)


WORKLOADS = {"tutorial_fit": tutorial_fit, "mnist_epoch": mnist_epoch,
             "small_mlp_fit": small_mlp_fit, "predict_10k": predict_10k}
SMALL = {"mnist_epoch": lambda: mnist_epoch(2000), "predict_10k": lambda: predict_10k(3000)}


def _time(run, threads):
    fastnn.config.set_num_threads(threads)
    try:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start
    finally:
        fastnn.config.set_num_threads(None)


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_default_threads_under_load(benchmark, name):
    if cpu_count() < 2:
        pytest.skip("one CPU: the default is one thread")
    default = cpu_count()
    if benchmark.disabled:
        run = SMALL.get(name, WORKLOADS[name])()
        _time(run, default), _time(run, 1)
        return
    run = WORKLOADS[name]()
    times = {default: [], 1: []}
    _thread_policy.reset()
    with busy_cores(cpu_count()):
        for _ in range(ROUNDS):
            for threads in (default, 1):
                times[threads].append(_time(run, threads))
        benchmark.pedantic(run, rounds=1, iterations=1)
    med = {t: statistics.median(v) for t, v in times.items()}
    ratio = med[default] / med[1]
    print(f"\n{name} under load: {default} threads {med[default]:.3f} s, 1 thread "
          f"{med[1]:.3f} s: {ratio:.2f}x (target <= {TARGET}x); all: "
          + ", ".join(f"{t}: " + " ".join(f"{s:.3f}" for s in v) for t, v in times.items()))
    benchmark.extra_info.update({"ratio": ratio, "target": TARGET})
