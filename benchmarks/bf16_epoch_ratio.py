"""The MNIST-scale epoch (784-512-256-10, batch 128, Adam, the benchmark's data and weights) in
float32 and under mixed_bfloat16, taking turns in one process, so that both see the same
background load: the ratio of #17's target, less exposed to the drift between the report's
separate processes.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bf16_epoch_ratio.py [ROUNDS]
"""

import statistics
import sys
import time

import fastnn
from fastnn import mixed_precision
from fastnn._bench import workloads as w


def build(policy):
    mixed_precision.set_global_policy(policy)
    try:
        model = fastnn.Sequential([fastnn.Input((w.MNIST_FEATURES,))] + [
            fastnn.layers.Dense(units, activation=act) for units, act in w.MNIST_LAYERS])
    finally:
        mixed_precision.set_global_policy("float32")
    model.set_weights([a for pair in w.initial_weights(784, w.MNIST_LAYERS) for a in pair])
    model.compile(optimizer=fastnn.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy")
    return model


def main(rounds):
    x, y = w.mnist_data(60_000)
    models = {"float32": build("float32"), "mixed_bfloat16": build("mixed_bfloat16")}
    times = {name: [] for name in models}
    for model in models.values():
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    for _ in range(rounds):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=128, epochs=1, verbose=0)
            times[name].append(time.perf_counter() - start)
    for name, t in times.items():
        print(f"{name:15} median {statistics.median(t):.3f} s, min {min(t):.3f} s")
    f32, bf16 = times["float32"], times["mixed_bfloat16"]
    print(f"float32 / mixed_bfloat16: median {statistics.median(f32) / statistics.median(bf16):.2f}x,"
          f" min {min(f32) / min(bf16):.2f}x, per round "
          + " ".join(f"{a / b:.2f}" for a, b in zip(f32, bf16)))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
