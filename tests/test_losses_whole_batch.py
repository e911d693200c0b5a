"""Dice and Tversky with axis=None (the "dice_batch" / "tversky_batch" kernels): one value for
the whole batch, written to every row, and the gradient scale * sum(sample_weight) * dV/dp,
against the NumPy reference (tests/_reference.py), central differences, float32/float64 and
1/2 threads (bitwise equal: the sums are taken on one thread)."""

import numpy as np
import pytest
from _reference import overlap_reference
from conftest import tolerance

from fastnn._kernels import _losses

# (case id, kernel, its parameters, the reference's name)
CASES = [
    ("dice", "dice_batch", {}, "dice"),
    ("tversky", "tversky_batch", {"alpha": 0.5, "beta": 0.5}, "tversky"),
    ("tversky_skew", "tversky_batch", {"alpha": 0.2, "beta": 0.8}, "tversky"),
]
IDS = [c[0] for c in CASES]


def draw(shape, seed=0, binary=False):
    rng = np.random.default_rng(seed)
    y = rng.choice([0.0, 1.0], shape) if binary else rng.uniform(0.0, 1.0, shape)
    return y, rng.uniform(0.02, 0.98, shape)


def run(kernel, y, p, w=None, scale=1.0, n_threads=1, grad=True, **params):
    values = np.full(p.shape[0], np.nan, dtype=p.dtype)
    g = np.full(p.shape, np.nan, dtype=p.dtype) if grad else None
    _losses.loss_forward_backward(_losses.LOSS_IDS[kernel], y, p, w, scale, values, g,
                                  **params, n_threads=n_threads)
    return values, g


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (3001, 11)])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_reference(case, shape, dtype, n_threads):
    _, kernel, params, ref_name = case
    y, p = (a.astype(dtype) for a in draw(shape, binary=shape[1] == 13))
    w = np.random.default_rng(1).uniform(0.0, 2.0, shape[0]).astype(dtype)
    scale = 1.0 / shape[0]
    values, grad = run(kernel, y, p, w, scale, n_threads, **params)
    value, dvalue = overlap_reference(ref_name, y, p, axis=None, **params)
    tol = tolerance(dtype)
    np.testing.assert_allclose(values, np.full(shape[0], value), **tol)
    # The engine's batch loss is sum_i w_i V / rows = V * mean(w): its gradient.
    np.testing.assert_allclose(grad, dvalue * (w.astype(np.float64).sum() * scale), **tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keras_weighting_of_the_one_value(case, tf_keras):
    """Keras broadcasts per-row sample weights over the batch's one value: the reduced loss
    is V * mean(w), which is what the engine's sum_i w_i values_i / rows gives."""
    _, kernel, params, _ = case
    y, p = (a.astype(np.float32) for a in draw((6, 4), seed=5, binary=True))
    w = np.linspace(0.1, 2.0, 6).astype(np.float32)
    values, _ = run(kernel, y, p, w, 1.0 / 6, **params)
    cls = tf_keras.losses.Dice() if kernel == "dice_batch" else tf_keras.losses.Tversky(**params)
    np.testing.assert_allclose((w * values).sum() / 6, float(cls(y, p, sample_weight=w)),
                               rtol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradient_matches_central_differences(case):
    _, kernel, params, _ = case
    y, p = draw((5, 6), seed=4)
    _, grad = run(kernel, y, p, **params)        # no weights, scale 1: rows * dV/dp
    numeric = np.empty_like(p)
    h = 1e-6
    for idx in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (run(kernel, y, up, grad=False, **params)[0][0]
                        - run(kernel, y, down, grad=False, **params)[0][0]) / (2 * h)
    np.testing.assert_allclose(grad, 5 * numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_and_two_threads_bitwise_equal(case, dtype):
    _, kernel, params, _ = case
    y, p = (a.astype(dtype) for a in draw((4001, 9), seed=10))
    w = np.random.default_rng(11).uniform(0.0, 2.0, 4001).astype(dtype)
    one = run(kernel, y, p, w, 0.25, 1, **params)
    two = run(kernel, y, p, w, 0.25, 2, **params)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    values, _ = run(kernel, y, p, w, 0.25, 2, grad=False, **params)
    np.testing.assert_array_equal(values, one[0])


def test_empty_sums_give_one_and_zero_gradient():
    """All-zero targets and predictions: Keras's 1 - 0 / eps = 1, and a zero gradient."""
    y = p = np.zeros((3, 2))
    for kernel, params in (("dice_batch", {}), ("tversky_batch", {"alpha": 0.3, "beta": 0.7})):
        values, grad = run(kernel, y, p, **params)
        np.testing.assert_array_equal(values, 1.0)
        np.testing.assert_array_equal(grad, 0.0)
