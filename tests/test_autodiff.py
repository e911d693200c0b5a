"""fastnn._autodiff: gradients of custom code against central differences, dtypes, and the
errors for code autograd cannot differentiate."""

import math

import numpy as np
import pytest
import scipy.special

from fastnn import ops
from fastnn._autodiff import NotDifferentiableError, value_and_grad, vjp


def central_differences(f, x, h=1e-6):
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        grad[j] = (f(up) - f(down)) / (2 * h)
    return grad


def mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def dense(x, kernel, bias):
    return ops.tanh(ops.matmul(x, kernel) + bias)


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 3))


def test_value_and_grad_of_a_custom_loss(batch):
    y_true, y_pred = batch
    value, grad = value_and_grad(lambda yp, yt: ops.mean(mse(yt, yp)))(y_pred, y_true)
    assert value.shape == () and value == pytest.approx(np.mean((y_true - y_pred) ** 2))
    np.testing.assert_allclose(grad, 2 * (y_pred - y_true) / y_pred.size, rtol=1e-12)


def test_several_argnums_give_a_tuple(batch):
    y_true, y_pred = batch
    _, (g_true, g_pred) = value_and_grad(lambda yt, yp: ops.sum(mse(yt, yp)), argnums=(0, 1))(
        y_true, y_pred
    )
    np.testing.assert_allclose(g_pred, -g_true)
    np.testing.assert_allclose(
        g_pred, central_differences(lambda yp: float(ops.sum(mse(y_true, yp))), y_pred), rtol=1e-6
    )


def test_has_aux_returns_plain_arrays(batch):
    y_true, y_pred = batch

    def loss(yp):
        per_sample = mse(y_true, yp)
        return ops.mean(per_sample), per_sample

    (value, per_sample), _ = value_and_grad(loss, has_aux=True)(y_pred)
    assert type(per_sample) is np.ndarray
    np.testing.assert_allclose(per_sample, np.mean((y_true - y_pred) ** 2, axis=-1))
    assert value == pytest.approx(per_sample.mean())


def test_vjp_of_a_layer_against_central_differences():
    rng = np.random.default_rng(1)
    x, kernel, bias = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=2)
    upstream = rng.normal(size=(4, 2))
    out, pullback = vjp(dense, x, kernel, bias, argnums=(0, 1, 2))
    np.testing.assert_allclose(out, np.tanh(x @ kernel + bias))
    grads = pullback(upstream)
    for i, (arg, grad) in enumerate(zip((x, kernel, bias), grads)):

        def f(value, i=i):
            args = [x, kernel, bias]
            args[i] = value
            return float(np.sum(dense(*args) * upstream))

        np.testing.assert_allclose(grad, central_differences(f, arg), rtol=1e-6, atol=1e-8)


def test_pullback_can_be_called_again_with_another_cotangent(batch):
    y_true, y_pred = batch
    _, pullback = vjp(mse, y_true, y_pred, argnums=1)
    weights = np.arange(5.0)
    np.testing.assert_allclose(pullback(2 * weights), 2 * pullback(weights))


def test_float32_in_float32_out(batch):
    y_true, y_pred = (a.astype(np.float32) for a in batch)
    value, grad = value_and_grad(lambda yp: ops.mean(mse(y_true, yp)))(y_pred)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    _, pullback = vjp(dense, y_pred, np.ones((3, 2), np.float32), np.zeros(2, np.float32),
                      argnums=(1, 2))
    assert all(g.dtype == np.float32 for g in pullback(np.ones((5, 2), np.float32)))


# pytest resets warning filters for each test; outside it, _autodiff's filter hides this one
@pytest.mark.filterwarnings("ignore:Output seems independent of input")
def test_output_independent_of_the_argument_has_zero_gradient(batch):
    y_true, y_pred = batch
    value, grad = value_and_grad(lambda yp: ops.sum(y_true))(y_pred)
    assert value == pytest.approx(y_true.sum())
    np.testing.assert_array_equal(grad, np.zeros_like(y_pred))


def test_plain_numpy_calls_that_autograd_wraps_still_differentiate(batch):
    _, y_pred = batch
    _, grad = value_and_grad(lambda yp: np.mean(np.exp(yp)))(y_pred)
    np.testing.assert_allclose(grad, np.exp(y_pred) / y_pred.size)


def assign_in_place(y_pred):
    y_pred[0, 0] = 0.0
    return ops.sum(y_pred)


def copy_into_buffer(y_pred):
    buffer = np.zeros(y_pred.shape)
    buffer[:] = y_pred
    return ops.sum(buffer)


def python_float(y_pred):
    return math.exp(float(ops.sum(y_pred)))


def numpy_take(y_pred):
    return ops.sum(np.take(y_pred, [0, 1]))


def scipy_unwrapped(y_pred):
    return ops.sum(scipy.special.log_ndtr(y_pred))


@pytest.mark.parametrize(
    ("fn", "code", "extra"),
    [
        (assign_in_place, "y_pred[0, 0] = 0.0", "in-place assignment"),
        (copy_into_buffer, "buffer[:] = y_pred", "setting an array element"),
        (python_float, "math.exp(float(ops.sum(y_pred)))", "ArrayBox"),
        (numpy_take, "np.take(y_pred, [0, 1])", "Use fastnn.ops.take"),
        (scipy_unwrapped, "scipy.special.log_ndtr(y_pred)", "log_ndtr"),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_untraceable_code_gets_an_error_naming_it(batch, fn, code, extra):
    _, y_pred = batch
    with pytest.raises(NotDifferentiableError) as info:
        value_and_grad(fn)(y_pred.copy())
    message = str(info.value)
    assert fn.__name__ in message and code in message and extra in message
    assert "fastnn.ops" in message and "test_autodiff.py" in message


def test_the_name_given_is_used(batch):
    with pytest.raises(NotDifferentiableError, match="custom loss 'mine'"):
        value_and_grad(assign_in_place, name="custom loss 'mine'")(batch[1].copy())


def test_the_piece_own_errors_are_raised_unchanged(batch):
    def broken(y_pred):
        return ops.sum(y_pred + np.ones(7))

    with pytest.raises(ValueError, match="broadcast"):
        value_and_grad(broken)(batch[1])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: value_and_grad(lambda v: v * 2)(x), ValueError, "single number"),
        (lambda x: value_and_grad(ops.sum)(x.astype(int)), ValueError, "only float arrays"),
        (lambda x: value_and_grad(ops.sum, argnums=3)(x), ValueError, "out of range"),
        (lambda x: vjp(ops.square, x)[1](np.ones(3)), ValueError, r"shape \(5, 3\)"),
        (lambda x: value_and_grad(ops.sum, has_aux=True)(x), ValueError, r"\(value, aux\)"),
    ],
)
def test_bad_use_raises_clear_errors(batch, call, error, message):
    with pytest.raises(error, match=message):
        call(batch[1])


def test_concurrent_traces_give_each_thread_its_own_gradient():
    import threading

    results, errors = {}, []

    def work(k):
        x = np.full((4, 3), float(k))
        try:
            for _ in range(100):
                _, grad = value_and_grad(lambda v: ops.sum(ops.square(v)))(x)
                assert np.array_equal(grad, 2 * x)
            results[k] = True
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 3


def test_an_argument_the_output_ignores_gets_zeros_and_negative_argnums_count_back(batch):
    y_true, y_pred = batch
    out, pullback = vjp(lambda a, b: a * 2.0, y_true, y_pred, argnums=(0, -1))
    g_a, g_b = pullback(np.ones_like(out))
    np.testing.assert_array_equal(g_a, np.full_like(y_true, 2.0))
    np.testing.assert_array_equal(g_b, np.zeros_like(y_pred))
