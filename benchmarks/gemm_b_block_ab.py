"""Packing B once per k-block against once per row block (csrc/gemm.c, `_gemm.set_b_block`),
taking turns in one process: products of more than one 132-row block, `predict` of 10,000
rows of the MNIST-scale model (its 1,024-row chunks are such products), and its training on
12,800 rows (100 batches of 128, whose 784- and 512-row weight gradients are such products).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. \\
        python benchmarks/gemm_b_block_ab.py [THREADS [ROUNDS]]

Prints, per case, the median time each way and the median of the per-round ratios
(per row block / once: above 1 means packing once is faster). Both ways give the same bits;
the script checks that too.
"""

import statistics
import sys
import time

import numpy as np

import fastnn
from fastnn import config
from fastnn._bench import workloads as w
from fastnn._kernels import _gemm

# (m, n, k, trans_a): the MNIST model's products on 1,024 rows, its first weight gradient
# (784 rows of A^T) and a 4,096-row product.
PRODUCTS = [(1024, 512, 784, False), (1024, 256, 512, False), (1024, 10, 256, False),
            (784, 512, 128, True), (512, 256, 128, True), (4096, 512, 784, False)]


def take_turns(run_once, run_per_block, rounds):
    """Median seconds of each and the median per-round ratio, alternating which goes first."""
    once, per_block = [], []
    previous = _gemm.set_b_block(True)
    try:
        for r in range(rounds):
            for packed_once in ((True, False) if r % 2 else (False, True)):
                _gemm.set_b_block(packed_once)
                start = time.perf_counter()
                (run_once if packed_once else run_per_block)()
                (once if packed_once else per_block).append(time.perf_counter() - start)
    finally:
        _gemm.set_b_block(previous)
    ratio = statistics.median(b / a for a, b in zip(once, per_block))
    return statistics.median(once), statistics.median(per_block), ratio


def one_product(m, n, k, trans_a, threads, rounds, rng):
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    out = {True: np.empty((m, n), np.float32), False: np.empty((m, n), np.float32)}
    calls = max(1, int(2e8 // (m * n * k)))

    def run(key):
        for _ in range(calls):
            _gemm.matmul(a, b, out[key], trans_a, False, 1.0, 0.0, threads)

    once, per_block, ratio = take_turns(lambda: run(True), lambda: run(False), rounds)
    assert np.array_equal(out[True], out[False])
    print(f"{'TN' if trans_a else 'NN'} {m}x{n}x{k}, {threads} thread(s): once "
          f"{once / calls * 1e6:7.0f} µs, per row block {per_block / calls * 1e6:7.0f} µs, "
          f"{ratio:.3f}x")


def products(threads, rounds):
    rng = np.random.default_rng(0)
    for m, n, k, trans_a in PRODUCTS:
        one_product(m, n, k, trans_a, threads, rounds, rng)


def mnist_model():
    model = fastnn.Sequential([fastnn.Input((w.MNIST_FEATURES,))] + [
        fastnn.layers.Dense(units, activation=act) for units, act in w.MNIST_LAYERS])
    model.set_weights([a for pair in w.initial_weights(784, w.MNIST_LAYERS) for a in pair])
    model.compile(optimizer=fastnn.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy")
    return model


def predict(threads, rounds):
    model = mnist_model()
    x, _ = w.mnist_data(10_000)
    results = {}

    def run(key):
        results[key] = model.predict(x, verbose=0)

    with config.num_threads(threads):
        run(True)
        once, per_block, ratio = take_turns(lambda: run(True), lambda: run(False), rounds)
    assert np.array_equal(results[True], results[False])
    print(f"predict 10,000 rows, {threads} thread(s): once {once * 1e3:6.1f} ms, per row block "
          f"{per_block * 1e3:6.1f} ms, {ratio:.3f}x")


def train(threads, rounds):
    model = mnist_model()
    x, y = w.mnist_data(12_800)

    def run():
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)

    with config.num_threads(threads):
        run()
        once, per_block, ratio = take_turns(run, run, rounds)
    print(f"fit on 12,800 rows, {threads} thread(s): once {once * 1e3:6.1f} ms, per row block "
          f"{per_block * 1e3:6.1f} ms, {ratio:.3f}x")


if __name__ == "__main__":
    n_threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    n_rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    products(n_threads, n_rounds)
    predict(n_threads, n_rounds)
    train(n_threads, n_rounds)
