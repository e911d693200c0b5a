"""The MNIST-scale epoch from arrays and from a generator of batches of 128, taking turns in one
process (so that both see the same background load), on the first ROWS rows:

    python benchmarks/generator_overhead.py [ROWS] [ROUNDS]

prints one JSON line with each round's seconds and the generator/array ratios of the minimums
and of the medians. The full-size pair is also a row of `fastnn bench` (mnist_epoch and
mnist_epoch_generator); this script is for a loaded machine, where rounds far apart differ.
"""

import json
import statistics
import sys
import time
import warnings

import fastnn
from fastnn._bench import workloads as w


def build():
    model = fastnn.Sequential([fastnn.Input((w.MNIST_FEATURES,))] + [
        fastnn.layers.Dense(units, activation=act) for units, act in w.MNIST_LAYERS])
    model.set_weights([a for pair in w.initial_weights(784, w.MNIST_LAYERS) for a in pair])
    model.compile(fastnn.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def main(rows: int = 16384, rounds: int = 4) -> None:
    x, y = w.mnist_data(60_000)
    x, y = x[:rows], y[:rows]
    from_arrays, from_generator = build(), build()

    def batches():
        for lo in range(0, len(x), 128):
            yield x[lo:lo + 128], y[lo:lo + 128]

    arrays, generator = [], []
    warnings.simplefilter("ignore")     # the generator's "ran out of data" at each epoch's end
    for _ in range(rounds):
        started = time.perf_counter()
        from_arrays.fit(x, y, batch_size=128, verbose=0)
        arrays.append(time.perf_counter() - started)
        started = time.perf_counter()
        from_generator.fit(batches(), verbose=0, shuffle=False)
        generator.append(time.perf_counter() - started)
    print(json.dumps({
        "rows": rows, "array_seconds": [round(t, 3) for t in arrays],
        "generator_seconds": [round(t, 3) for t in generator],
        "ratio_of_minimums": round(min(generator) / min(arrays), 3),
        "ratio_of_medians": round(statistics.median(generator) / statistics.median(arrays), 3)}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
