"""The measurement behind fastnn's autodiff library (docs/DESIGN.md, "Custom Python pieces").

Per-call cost of value-and-gradient of a small custom loss, mean squared error over the last
axis of a 32x10 float32 batch (then averaged), with HIPS autograd and, when installed, JAX
(eager, and jit with its first-call compile time per batch shape). Each result is checked
against the closed form before it is timed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/autodiff_choice.py
"""

from __future__ import annotations

import time
import timeit

import numpy as np


def best_of(fn, number, repeat=5):
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number


def batch(shape=(32, 10)):
    rng = np.random.default_rng(0)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.standard_normal(shape).astype(np.float32))


def check(grad, y_pred, y_true):
    np.testing.assert_allclose(np.asarray(grad), 2 * (y_pred - y_true) / y_pred.size, rtol=1e-5)


def autograd_rows():
    try:
        import autograd.numpy as anp
        from autograd import value_and_grad
    except ImportError:
        print("autograd: not installed")
        return

    from fastnn import ops
    from fastnn._autodiff import value_and_grad as fastnn_value_and_grad

    y_pred, y_true = batch()
    raw = value_and_grad(
        lambda yp, yt: anp.mean(anp.mean(anp.square(yt - yp), axis=-1))
    )
    wrapped = fastnn_value_and_grad(
        lambda yp, yt: ops.mean(ops.mean(ops.square(yt - yp), axis=-1))
    )
    for name, fn in [("autograd.numpy", raw), ("fastnn.ops + fastnn._autodiff", wrapped)]:
        check(fn(y_pred, y_true)[1], y_pred, y_true)
        us = best_of(lambda fn=fn: fn(y_pred, y_true), 5000) * 1e6
        print(f"{name}: {us:.1f} us per call")

    # a custom Dense layer's forward and backward (the engine's other use): 32x16 -> 8
    from fastnn._autodiff import vjp

    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 16)).astype(np.float32)
    kernel = rng.standard_normal((16, 8)).astype(np.float32)
    bias = np.zeros(8, np.float32)
    upstream = np.ones((32, 8), np.float32)

    def layer():
        _, pullback = vjp(lambda x, k, b: ops.relu(ops.matmul(x, k) + b), x, kernel, bias,
                          argnums=(0, 1, 2))
        return pullback(upstream)

    us = best_of(layer, 2000) * 1e6
    print(f"custom Dense layer, forward + vjp to x, kernel, bias (fastnn.ops): {us:.1f} us per call")


def jax_rows():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        print("jax: not installed")
        return

    def loss(yp, yt):
        return jnp.mean(jnp.mean(jnp.square(yt - yp), axis=-1))

    y_pred, y_true = batch()
    eager = jax.value_and_grad(loss)
    jitted = jax.jit(jax.value_and_grad(loss))
    for name, fn, number in [("jax eager", eager, 500), ("jax jit", jitted, 5000)]:
        check(fn(y_pred, y_true)[1], y_pred, y_true)
        # np.asarray: the engine needs NumPy arrays back, so the transfer is part of the cost
        us = best_of(lambda fn=fn: np.asarray(fn(y_pred, y_true)[1]), number) * 1e6
        print(f"{name}: {us:.1f} us per call")
    for shape in [(10, 2), (7, 2)]:
        fn = jax.jit(jax.value_and_grad(loss))
        yp, yt = batch(shape)
        start = time.perf_counter()
        np.asarray(fn(yp, yt)[1])
        print(f"jax jit first call, batch shape {shape}: "
              f"{(time.perf_counter() - start) * 1e3:.0f} ms")


if __name__ == "__main__":
    autograd_rows()
    jax_rows()
