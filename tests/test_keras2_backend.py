"""fastnn.backend's Keras 2 functions: Keras 2's defaults against keras.ops with the same
arguments (TensorFlow's Keras), tf.keras 2's own formulas by hand, and a Keras-2-style custom
loss's gradient against central differences."""

import numpy as np
import pytest

from fastnn import backend as K
from fastnn._autodiff import value_and_grad

rng = np.random.default_rng(0)
X = rng.normal(size=(3, 4)).astype(np.float32)
P = rng.uniform(0.05, 0.95, (3, 4)).astype(np.float32)
T = (rng.random((3, 4)) < 0.5).astype(np.float32)

# (K function, its arguments, the keras.ops call with Keras 2's defaults spelled out)
SAME_AS_KERAS_OPS = [
    ("mean", (X,), {"axis": -1}, "mean", {"axis": -1}),
    ("mean", (X,), {}, "mean", {}),
    ("sum", (X,), {"axis": 0, "keepdims": True}, "sum", {"axis": 0, "keepdims": True}),
    ("max", (X,), {"axis": 1}, "max", {"axis": 1}),
    ("min", (X,), {}, "min", {}),
    ("prod", (P,), {"axis": -1}, "prod", {"axis": -1}),
    ("var", (X,), {"axis": -1}, "var", {"axis": -1}),
    ("std", (X,), {}, "std", {}),
    ("square", (X,), {}, "square", {}),
    ("abs", (X,), {}, "abs", {}),
    ("exp", (X,), {}, "exp", {}),
    ("log", (P,), {}, "log", {}),
    ("round", (X * 3,), {}, "round", {}),
    ("sign", (X,), {}, "sign", {}),
    ("pow", (P, 3), {}, "power", {}),
    ("maximum", (X, P), {}, "maximum", {}),
    ("minimum", (X, P), {}, "minimum", {}),
    ("dot", (X, P.T), {}, "dot", {}),
    ("transpose", (X,), {}, "transpose", {}),
    ("sigmoid", (X,), {}, "sigmoid", {}),
    ("tanh", (X,), {}, "tanh", {}),
    ("softplus", (X,), {}, "softplus", {}),
    ("softsign", (X,), {}, "softsign", {}),
    ("elu", (X,), {}, "elu", {}),
    ("softmax", (X,), {}, "softmax", {"axis": -1}),
    ("logsumexp", (X,), {"axis": 1}, "logsumexp", {"axis": 1}),
    ("cumsum", (X,), {}, "cumsum", {"axis": 0}),
    ("concatenate", ([X, P],), {}, "concatenate", {"axis": -1}),
    ("expand_dims", (X,), {}, "expand_dims", {"axis": -1}),
    ("one_hot", (np.array([0, 2, 1]), 3), {}, "one_hot", {}),
    ("categorical_crossentropy", (T, P), {}, "categorical_crossentropy", {}),
    ("categorical_crossentropy", (T, X), {"from_logits": True}, "categorical_crossentropy",
     {"from_logits": True}),
    ("sparse_categorical_crossentropy", (np.array([0, 3, 1]), P), {},
     "sparse_categorical_crossentropy", {}),
    ("binary_crossentropy", (T, X), {"from_logits": True}, "binary_crossentropy",
     {"from_logits": True}),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "kname", "kkwargs"), SAME_AS_KERAS_OPS,
    ids=[f"{c[0]}{sorted(c[2].items())}" for c in SAME_AS_KERAS_OPS],
)
def test_matches_keras_ops_with_keras2_defaults(tf_keras, name, args, kwargs, kname, kkwargs):
    mine = getattr(K, name)(*args, **kwargs)
    ref = np.asarray(getattr(tf_keras.ops, kname)(*args, **kkwargs))
    assert mine.dtype == ref.dtype and np.shape(mine) == ref.shape
    np.testing.assert_allclose(mine, ref, rtol=2e-5, atol=2e-6)


def test_keras2_specific_behaviour():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32"
    np.testing.assert_array_equal(K.sqrt(np.array([-4.0, 4.0])), [0.0, 2.0])
    x = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_array_equal(K.clip(x, 0.0, None), [0.0, 0.5, 3.0])
    np.testing.assert_array_equal(K.clip(x, None, 1.0), [-2.0, 0.5, 1.0])
    np.testing.assert_array_equal(K.clip(x, 1.0, 0.0), [1.0, 1.0, 1.0])  # max raised to min
    argmax = K.argmax(np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]]))
    assert argmax.dtype == np.int64 and argmax.tolist() == [1, 0]
    assert K.mean(np.array([True, False, False, True])) == 0.5
    assert K.int_shape(X) == (3, 4) and K.shape(X).tolist() == [3, 4] and K.ndim(X) == 2
    np.testing.assert_array_equal(K.flatten(X), X.ravel())
    np.testing.assert_array_equal(K.batch_flatten(np.ones((2, 3, 4))), np.ones((2, 12)))
    np.testing.assert_array_equal(K.relu(x, alpha=0.1, max_value=2.0), [-0.2, 0.5, 2.0])
    np.testing.assert_array_equal(K.permute_dimensions(np.ones((2, 3, 4)), (2, 0, 1)).shape, (4, 2, 3))
    np.testing.assert_allclose(K.l2_normalize(np.array([3.0, 4.0])), [0.6, 0.8])
    assert K.cast(X, "float64").dtype == np.float64
    np.testing.assert_array_equal(K.switch(x > 0, x, -x), np.abs(x))


def test_binary_crossentropy_is_tf_keras_2_formula():
    # tf.keras 2: p clipped to [eps, 1 - eps], then eps added inside both logs
    eps = 1e-7
    p = np.clip(P.astype(np.float64), eps, 1 - eps)
    expected = -(T * np.log(p + eps) + (1 - T) * np.log(1 - p + eps))
    np.testing.assert_allclose(K.binary_crossentropy(T, P), expected, rtol=1e-5)


def test_keras2_custom_loss_gradient():
    def old_style_loss(y_true, y_pred):
        y_pred = K.clip(y_pred, K.epsilon(), 1 - K.epsilon())
        return K.mean(K.square(y_true - y_pred) + K.abs(K.log(y_pred)), axis=-1)

    y_true, y_pred = T.astype(np.float64), P.astype(np.float64)
    _, grad = value_and_grad(lambda yp: K.sum(old_style_loss(y_true, yp)))(y_pred)
    h, expected = 1e-6, np.zeros_like(y_pred)
    for j in np.ndindex(y_pred.shape):
        up, down = y_pred.copy(), y_pred.copy()
        up[j] += h
        down[j] -= h
        expected[j] = (old_style_loss(y_true, up).sum() - old_style_loss(y_true, down).sum()) / (2 * h)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-8)


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_function'"):
        K.not_a_function  # noqa: B018
