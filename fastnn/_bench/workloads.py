"""The workloads every peer runs, their data, and the checks a result must pass before timing.

Data and initial weights come from fixed seeds, so every peer (each in its own process) starts
from the same numbers; the checks compare against a float64 NumPy reference or require the
training loss to fall.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
from threadpoolctl import threadpool_limits

TUTORIAL_LAYERS = [(16, "relu"), (32, "relu"), (2, "softmax")]
MNIST_LAYERS = [(512, "relu"), (256, "relu"), (10, "softmax")]
MNIST_FEATURES = 784


def quiet_blas():
    """Context for the set-up's and the checks' own NumPy matmuls: one BLAS thread. OpenBLAS's
    threads keep spinning for a while after a call; woken here, they would take a core from
    the workload timed next (fastnn's OpenMP threads, or the peer's own)."""
    return threadpool_limits(limits=1, user_api="blas")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work each workload does; `QUICK` is for smoke runs and disabled benchmarks."""

    tutorial_samples: int = 2100
    tutorial_epochs: int = 20
    mnist_samples: int = 60_000
    wide_deep_samples: int = 32_768
    predict_rows: int = 10_000
    repeats: int = 5


FULL = Sizes()
QUICK = Sizes(tutorial_samples=700, tutorial_epochs=2, mnist_samples=2048, predict_rows=1000,
              repeats=1, wide_deep_samples=1024)

# name: what it measures (the report's row label).
WORKLOADS = {
    "tutorial_fit": "tutorial model 1-16-32-2, batch 10, whole fit",
    "mnist_epoch": "784-512-256-10, batch 128, one epoch",
    "mnist_epoch_bf16": "784-512-256-10, batch 128, one epoch, mixed_bfloat16 "
                        "(PyTorch: bfloat16 autocast)",
    "mnist_epoch_generator": "784-512-256-10, one epoch from a generator of batches of 128",
    "custom_loss_fit": "tutorial fit with a custom loss written with ops (sparse cross-entropy)",
    "wide_deep_epoch": "wide-and-deep, 2 inputs (64 + 16) and 2 outputs, batch 64, one epoch",
    "predict_one": "predict, 1 sample, tutorial model (the per-call cost)",
    "predict_10k": "predict, 10,000 samples (784-512-256-10)",
    "predict_10k_int8": "predict, 10,000 samples (784-512-256-10), int8 weights and inputs",
    "predict_10k_bf16": "predict, 10,000 samples (784-512-256-10), mixed_bfloat16 "
                        "(PyTorch: bfloat16 autocast)",
    "sklearn_fit": "MLPClassifier 784-512-256-10, batch 128, one epoch",
    "matmul": "matmul, the 8 products of one batch-128 step of 784-512-256-10",
    "activation": "relu forward, 128x512",
    "loss": "softmax + sparse cross-entropy, value and gradient, 128x10",
    "optimizer": "Adam update, 535,818 parameters",
}

# The order of the full run: the matmul step right after the epoch it bounds, so that the
# bound and the epoch are measured under the same background load.
RUN_ORDER = ("tutorial_fit", "custom_loss_fit", "mnist_epoch", "matmul", "mnist_epoch_bf16",
             "mnist_epoch_generator",
             "sklearn_fit", "wide_deep_epoch",
             "predict_one", "predict_10k", "predict_10k_int8", "predict_10k_bf16", "activation",
             "loss", "optimizer")


def tutorial_data(n_samples: int, seed: int = 2020) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's drug-trial data: one feature (age 13-100, scaled to [0, 1]); label 1
    (side effects) for 95% of patients aged 65 or more and 5% of younger ones."""
    rng = np.random.default_rng(seed)
    old = rng.random(n_samples) < 0.5
    age = np.where(old, rng.integers(65, 101, n_samples), rng.integers(13, 65, n_samples))
    typical = rng.random(n_samples) < 0.95
    labels = np.where(typical, old, ~old).astype(np.int64)
    x = ((age - 13) / (100 - 13)).astype(np.float32).reshape(-1, 1)
    return x, labels


def mnist_data(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped data (pixels in [0, 1), 10 classes) whose labels a linear teacher sets,
    so that one epoch visibly lowers the loss."""
    rng = np.random.default_rng(seed)
    x = rng.random((n_samples, MNIST_FEATURES), dtype=np.float32)
    teacher = rng.standard_normal((MNIST_FEATURES, 10)).astype(np.float32)
    labels = np.empty(n_samples, np.int64)
    # In blocks, so that the data is the only large allocation (the memory target counts it).
    with quiet_blas():
        for start in range(0, n_samples, 4096):
            block = x[start:start + 4096]
            labels[start:start + 4096] = np.argmax((block - 0.5) @ teacher, axis=1)
    return x, labels


def wide_deep_data(n_samples: int, seed: int = 3):
    """Inputs (deep: 64 dense features, wide: 16 binary ones) and targets (a click, one of 4
    departments) that both inputs inform, so that an epoch lowers the loss."""
    rng = np.random.default_rng(seed)
    deep = rng.standard_normal((n_samples, 64)).astype(np.float32)
    wide = (rng.random((n_samples, 16)) < 0.3).astype(np.float32)
    click = ((deep[:, 0] + wide[:, 0] - wide[:, 1]) > 0.3).astype(np.float32).reshape(-1, 1)
    department = (np.abs(deep[:, 1]) * 2 + wide[:, 2]).astype(np.int64).clip(0, 3)
    return [deep, wide], [click, department]


def initial_weights(n_in: int, layers, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """Glorot-uniform kernels and zero biases, float32, as (kernel (in, out), bias) pairs."""
    rng = np.random.default_rng(seed)
    weights = []
    for units, _ in layers:
        limit = np.sqrt(6.0 / (n_in + units))
        kernel = rng.uniform(-limit, limit, (n_in, units)).astype(np.float32)
        weights.append((kernel, np.zeros(units, np.float32)))
        n_in = units
    return weights


def predict_setup(rows: int, model: str):
    """(x, n_in, layers, weights) of the `model` ("tutorial" or "mnist") predict workloads."""
    if model == "tutorial":
        return tutorial_data(rows)[0], 1, TUTORIAL_LAYERS, initial_weights(1, TUTORIAL_LAYERS)
    return mnist_data(rows)[0], MNIST_FEATURES, MNIST_LAYERS, initial_weights(784, MNIST_LAYERS)


def reference_forward(x: np.ndarray, weights, layers) -> np.ndarray:
    """The MLP's output in float64 (relu hidden layers, softmax output)."""
    a = x.astype(np.float64)
    for (kernel, bias), (_, activation) in zip(weights, layers):
        with quiet_blas():
            z = a @ kernel.astype(np.float64) + bias
        if activation == "relu":
            a = np.maximum(z, 0.0)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
    return a


def check_close(got, want, what: str, tolerance: float = 1e-4) -> None:
    """float32 outputs against the float64 reference, elementwise."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape or not np.allclose(got, want, rtol=tolerance, atol=tolerance):
        error = np.max(np.abs(got - want)) if got.shape == want.shape else got.shape
        raise AssertionError(f"{what}: result differs from the NumPy reference ({error})")


def check_reduced(got, want, what: str) -> None:
    """int8 or bfloat16 outputs against the float64 reference: rounding error, not a wrong
    model.
    The benchmark's untrained model gives near-uniform probabilities, whose argmax a
    0.001 error can flip, so: probabilities within 0.01, argmax the same on >= 95% of the
    rows (the tests ask >= 99% of a trained model on digits)."""
    got = np.asarray(got, dtype=np.float64)
    agree = float(np.mean(got.argmax(axis=1) == want.argmax(axis=1)))
    error = float(np.max(np.abs(got - want)))
    if agree < 0.95 or error > 0.01:
        raise AssertionError(f"{what}: argmax agrees on {agree:.1%} of the rows, largest "
                             f"error {error:.3g} against the float64 reference")


def check_loss_falls(first: float, later: float, what: str) -> None:
    if not (np.isfinite(first) and np.isfinite(later) and later < first):
        raise AssertionError(f"{what}: training loss did not fall ({first} -> {later})")


def mnist_epoch_flops(n_samples: int) -> float:
    """Multiply-adds x 2 of one epoch's matmuls: forward, weight gradients, and the input
    gradients of every layer but the first."""
    dims = [MNIST_FEATURES] + [units for units, _ in MNIST_LAYERS]
    per_sample = sum(a * b for a, b in itertools.pairwise(dims))
    input_grads = sum(a * b for a, b in itertools.pairwise(dims[1:]))
    return 2.0 * n_samples * (2 * per_sample + input_grads)


# ---- operands and references of the kernel workloads ------------------------------------

def matmul_operands():
    """(form, A, B, out) of the 8 products of one batch-128 step through 784-512-256-10:
    NN forward X @ W, TN weight gradient X.T @ dY, NT input gradient dY @ W.T."""
    rng = np.random.default_rng(0)
    dims = [MNIST_FEATURES] + [units for units, _ in MNIST_LAYERS]
    shapes = [("NN", (128, i), (i, o)) for i, o in itertools.pairwise(dims)]
    shapes += [("TN", (128, i), (128, o)) for i, o in itertools.pairwise(dims)]
    shapes += [("NT", (128, o), (i, o)) for i, o in itertools.pairwise(dims[1:])]
    operands = []
    for form, a_shape, b_shape in shapes:
        a = rng.standard_normal(a_shape).astype(np.float32)
        b = rng.standard_normal(b_shape).astype(np.float32)
        rows = a_shape[1] if form[0] == "T" else a_shape[0]
        cols = b_shape[0] if form[1] == "T" else b_shape[1]
        operands.append((form, a, b, np.empty((rows, cols), np.float32)))
    return operands


def product_dims(form: str, a: np.ndarray, b: np.ndarray):
    """(trans_a, trans_b, m, n, k) of one of `matmul_operands`' products op(a) @ op(b)."""
    trans_a, trans_b = form[0] == "T", form[1] == "T"
    m, k = a.shape[::-1] if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    return trans_a, trans_b, m, n, k


def activation_operands():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((128, 512)).astype(np.float32),
            rng.standard_normal(512).astype(np.float32))


def loss_operands():
    rng = np.random.default_rng(0)
    return (3 * rng.standard_normal((128, 10)).astype(np.float32),
            rng.integers(0, 10, 128).astype(np.int64))


def reference_loss(logits, labels):
    """Per-sample cross-entropy of softmax(logits) and its gradient scaled by 1 / batch."""
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(labels))
    grad = np.exp(log_p)
    grad[rows, labels] -= 1
    return -log_p[rows, labels], grad / len(labels)


def optimizer_operands():
    """Parameters, gradient and Adam's two slots of the 784-512-256-10 MLP (535,818 floats)."""
    rng = np.random.default_rng(0)
    n = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    weights, grad, m, v = (rng.standard_normal(n).astype(np.float32) for _ in range(4))
    return weights, grad, 0.1 * m, 0.01 * np.abs(v)


def reference_adam(weights, grad, m, v, t, lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-7):
    """Keras's Adam step, in float64, on copies."""
    g = grad.astype(np.float64)
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    step = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    return weights - step * m / (np.sqrt(v) + eps)
