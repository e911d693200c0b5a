"""The floor under issue #12's custom-loss target: what running the user's loss once per batch
costs before any differentiation.

The benchmark's tutorial fit has 4,200 batches of 10 rows and takes ~15 ms with the built-in
loss (~3.5 µs a batch); at most 3x that leaves ~7 µs a batch for the Python loss. This times,
on one 10 x 2 batch: a bare Python call, the user's loss forward on NumPy arrays (no autodiff:
the least any per-batch Python loss can cost) and value-and-gradient through autograd, as the
engine runs it. Run with
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/custom_loss_floor.py
"""

import timeit

import numpy as np

from fastnn import _autodiff, ops


def sparse_crossentropy(y_true, y_pred):      # the benchmark's custom loss, as written there
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    picked = ops.sum(ops.one_hot(labels, 2) * y_pred, axis=-1)
    return -ops.log(ops.clip(picked, 1e-7, 1.0))


def main() -> None:
    rng = np.random.default_rng(0)
    y_pred = rng.random((10, 2)).astype(np.float32)
    y_true = rng.integers(0, 2, (10, 1)).astype(np.float32)

    def objective(p, t):
        return ops.mean(sparse_crossentropy(t, p))

    value_and_grad = _autodiff.value_and_grad(objective, name="the custom loss")
    cases = {
        "bare Python call": lambda: objective,
        "user loss forward, NumPy, no gradient": lambda: objective(y_pred, y_true),
        "user loss value and gradient (autograd)": lambda: value_and_grad(y_pred, y_true),
    }
    for name, call in cases.items():
        seconds = min(timeit.repeat(call, number=2000, repeat=7)) / 2000
        print(f"{name}: {seconds * 1e6:.2f} µs a batch, {seconds * 4200 * 1e3:.1f} ms "
              "over the fit's 4,200 batches")


if __name__ == "__main__":
    main()
