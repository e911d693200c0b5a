"""fastnn.ops: values and dtypes against TensorFlow's keras.ops, gradients against central
differences (float64), and the errors for bad input."""

import numpy as np
import pytest
from autograd.core import make_vjp

from fastnn import ops
from fastnn._autodiff import value_and_grad, vjp

# Inputs by code: n normal 3x4, p positive, u in (0, 1), m a 4x5 matrix, v a 4-vector,
# i integers in [-3, 3], b booleans, lab labels in [0, 4) of shape (3,), oh one-hot 3x4.
SHAPE = (3, 4)


def make(code, rng, dtype):
    if code == "n":
        return rng.normal(size=SHAPE).astype(dtype)
    if code == "n3":
        return rng.normal(size=(2, 3, 4)).astype(dtype)
    if code == "p":
        return rng.uniform(0.2, 2.0, SHAPE).astype(dtype)
    if code == "u":
        return rng.uniform(0.05, 0.95, SHAPE).astype(dtype)
    if code == "m":
        return rng.normal(size=(4, 5)).astype(dtype)
    if code == "v":
        return rng.normal(size=(4,)).astype(dtype)
    if code == "i":
        return rng.integers(-3, 4, SHAPE).astype(np.int32)
    if code == "i64":
        return rng.integers(-3, 4, SHAPE).astype(np.int64)
    if code == "b":
        return rng.random(SHAPE) < 0.5
    if code == "lab":
        return rng.integers(0, 4, (3,)).astype(np.int32)
    if code == "oh":
        return np.eye(4, dtype=dtype)[rng.integers(0, 4, 3)]
    if code == "idx":
        return rng.integers(0, 3, (3, 2)).astype(np.int32)
    return code  # a Python value, passed as it is


# (name, inputs, kwargs, differentiable)
CASES = [
    ("add", ["n", "v"], {}, True),
    ("add", ["n", 2.0], {}, True),
    ("add", ["i", 1.5], {}, False),
    ("add", ["i", "n"], {}, False),
    ("subtract", ["n", "n"], {}, True),
    ("multiply", ["n", "v"], {}, True),
    ("divide", ["n", "p"], {}, True),
    ("divide", ["i", "i"], {}, False),
    ("power", ["p", "n"], {}, True),
    ("power", ["n", 2], {}, True),
    ("negative", ["n"], {}, True),
    ("maximum", ["n", "n"], {}, True),
    ("minimum", ["n", 0.1], {}, True),
    ("clip", ["n", -0.5, 0.5], {}, True),
    ("clip", ["i", -1, 2], {}, False),
    ("where", ["b", "n", "n"], {}, True),
    ("where", ["b", "n", 0.0], {}, True),
    ("abs", ["n"], {}, True),
    ("abs", ["i"], {}, False),
    ("sign", ["n"], {}, False),
    ("square", ["n"], {}, True),
    ("square", ["i"], {}, False),
    ("sqrt", ["p"], {}, True),
    ("sqrt", ["i64"], {}, False),
    ("reciprocal", ["p"], {}, True),
    ("exp", ["n"], {}, True),
    ("exp", ["i"], {}, False),
    ("expm1", ["n"], {}, True),
    ("log", ["p"], {}, True),
    ("log1p", ["p"], {}, True),
    ("log2", ["p"], {}, True),
    ("log10", ["p"], {}, True),
    ("sin", ["n"], {}, True),
    ("cos", ["n"], {}, True),
    ("tanh", ["n"], {}, True),
    ("floor", ["n"], {}, False),
    ("ceil", ["n"], {}, False),
    ("round", ["n"], {}, False),
    ("equal", ["i", "i"], {}, False),
    ("not_equal", ["i", 0], {}, False),
    ("greater", ["n", "n"], {}, False),
    ("greater_equal", ["n", 0.0], {}, False),
    ("less", ["n", "n"], {}, False),
    ("less_equal", ["n", "n"], {}, False),
    ("logical_and", ["b", "b"], {}, False),
    ("logical_or", ["b", "b"], {}, False),
    ("logical_xor", ["b", "b"], {}, False),
    ("logical_not", ["b"], {}, False),
    ("isnan", ["n"], {}, False),
    ("isfinite", ["n"], {}, False),
    ("sum", ["n"], {}, True),
    ("sum", ["n"], {"axis": -1}, True),
    ("sum", ["n3"], {"axis": (0, 2), "keepdims": True}, True),
    ("sum", ["b"], {"axis": 0}, False),
    ("mean", ["n"], {}, True),
    ("mean", ["n"], {"axis": -1}, True),
    ("mean", ["n3"], {"axis": 1, "keepdims": True}, True),
    ("mean", ["i"], {"axis": 0}, False),
    ("mean", ["i64"], {}, False),
    ("mean", ["b"], {}, False),
    ("max", ["n"], {}, True),
    ("max", ["n"], {"axis": 0, "keepdims": True}, True),
    ("min", ["n"], {"axis": -1}, True),
    ("prod", ["p"], {"axis": 1}, True),
    ("std", ["n"], {"axis": -1}, True),
    ("std", ["n3"], {"axis": (0, 1), "keepdims": True}, True),
    ("var", ["n"], {}, True),
    ("var", ["i"], {"axis": 0}, False),
    ("cumsum", ["n"], {"axis": 1}, True),
    ("cumsum", ["n"], {}, True),
    ("argmax", ["n"], {}, False),
    ("argmax", ["n"], {"axis": -1}, False),
    ("argmin", ["n"], {"axis": 0, "keepdims": True}, False),
    ("any", ["b"], {"axis": 1}, False),
    ("all", ["b"], {}, False),
    ("norm", ["n"], {}, True),
    ("norm", ["n"], {"axis": -1}, True),
    ("norm", ["n"], {"ord": 1, "axis": 0, "keepdims": True}, True),
    ("norm", ["n"], {"ord": np.inf, "axis": -1}, True),
    ("norm", ["n"], {"ord": 3, "axis": -1}, True),
    ("norm", ["n"], {"ord": "fro"}, True),
    ("norm", ["n"], {"ord": "nuc"}, True),
    ("norm", ["n"], {"ord": 1}, True),
    ("norm", ["n3"], {"ord": -np.inf, "axis": (2, 0)}, True),
    ("norm", ["n3"], {"ord": -1, "axis": (1, 2), "keepdims": True}, True),
    ("matmul", ["n", "m"], {}, True),
    ("matmul", ["n3", "m"], {}, True),
    ("matmul", ["n", "v"], {}, True),
    ("dot", ["n", "m"], {}, True),
    ("transpose", ["n3"], {}, True),
    ("transpose", ["n3"], {"axes": (1, 0, 2)}, True),
    ("reshape", ["n", (2, 6)], {}, True),
    ("reshape", ["n", (-1,)], {}, True),
    ("ravel", ["n3"], {}, True),
    ("expand_dims", ["n", 1], {}, True),
    ("squeeze", ["n3"], {}, True),
    ("moveaxis", ["n3", 0, -1], {}, True),
    ("swapaxes", ["n3", 0, 2], {}, True),
    ("broadcast_to", ["v", (3, 4)], {}, True),
    ("tile", ["n", (2, 1)], {}, True),
    ("repeat", ["n", 2], {"axis": 1}, True),
    ("repeat", ["n", 2], {}, True),
    ("flip", ["n"], {"axis": 1}, True),
    ("flip", ["n3"], {}, True),
    ("sort", ["n"], {}, True),
    ("sort", ["n"], {"axis": 0}, True),
    ("argsort", ["n"], {"axis": -1}, False),
    ("take", ["n", "idx"], {"axis": 1}, True),
    ("take", ["n", "idx"], {}, True),
    ("take_along_axis", ["n", "idx"], {"axis": 1}, True),
    ("erf", ["n"], {}, True),
    ("rsqrt", ["p"], {}, True),
    ("logsumexp", ["n"], {}, True),
    ("logsumexp", ["n"], {"axis": -1}, True),
    ("logsumexp", ["n3"], {"axis": 1, "keepdims": True}, True),
    ("top_k", ["n", 2], {}, True),
    ("relu", ["n"], {}, True),
    ("relu6", ["n"], {}, True),
    ("leaky_relu", ["n"], {}, True),
    ("leaky_relu", ["n"], {"negative_slope": 0.1}, True),
    ("elu", ["n"], {}, True),
    ("elu", ["n"], {"alpha": 0.5}, True),
    ("selu", ["n"], {}, True),
    ("gelu", ["n"], {}, True),
    ("gelu", ["n"], {"approximate": False}, True),
    ("silu", ["n"], {}, True),
    ("swish", ["n"], {}, True),
    ("sigmoid", ["n"], {}, True),
    ("hard_sigmoid", ["n"], {}, True),
    ("softplus", ["n"], {}, True),
    ("softsign", ["n"], {}, True),
    ("log_sigmoid", ["n"], {}, True),
    ("softmax", ["n"], {}, True),
    ("softmax", ["n"], {"axis": 0}, True),
    ("log_softmax", ["n"], {}, True),
    ("log_softmax", ["n3"], {"axis": 1}, True),
    ("normalize", ["n"], {}, True),
    ("one_hot", ["lab", 4], {}, False),
    ("one_hot", ["idx", 3], {"axis": 0}, False),
    ("binary_crossentropy", ["u", "u"], {}, True),
    ("binary_crossentropy", ["u", "n"], {"from_logits": True}, True),
    ("categorical_crossentropy", ["oh", "u"], {}, True),
    ("categorical_crossentropy", ["oh", "n"], {"from_logits": True}, True),
    ("sparse_categorical_crossentropy", ["lab", "u"], {}, True),
    ("sparse_categorical_crossentropy", ["lab", "n"], {"from_logits": True}, True),
    ("cast", ["n", "float64"], {}, True),
    ("cast", ["n", "int32"], {}, False),
    ("convert_to_tensor", ["n"], {}, True),
]


def case_id(case):
    name, codes, kwargs, _ = case
    args = ",".join(str(c) for c in codes)
    extra = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args}{',' if extra else ''}{extra})"


def inputs(case, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [make(code, rng, dtype) for code in case[1]]


def as_list(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


@pytest.fixture(scope="module")
def kops(tf_keras):
    return tf_keras.ops


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # sqrt of negatives, division by 0
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_value_and_dtype_match_keras(kops, case):
    name, _, kwargs, _ = case
    args = inputs(case, np.float32)
    ours = as_list(getattr(ops, name)(*args, **kwargs))
    theirs = as_list(getattr(kops, name)(*args, **kwargs))
    assert len(ours) == len(theirs)
    for mine, ref in zip(ours, theirs):
        ref = np.asarray(ref)
        assert isinstance(mine, (np.ndarray, np.generic))  # full reductions: NumPy scalars
        assert mine.dtype == ref.dtype, (mine.dtype, ref.dtype)
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, rtol=2e-5, atol=2e-6)


def central_differences(f, args, i, h=1e-6):
    x = args[i]
    grad = np.zeros_like(x)
    for j in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        grad[j] = (f(*args[:i], up, *args[i + 1 :]) - f(*args[:i], down, *args[i + 1 :])) / (2 * h)
    return grad


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=case_id)
def test_gradient_matches_central_differences(case):
    name, _, kwargs, _ = case
    args = inputs(case, np.float64, seed=1)
    shapes = [np.shape(o) for o in as_list(getattr(ops, name)(*args, **kwargs))]
    weights = [np.random.default_rng(2).normal(size=s) for s in shapes]

    def objective(*xs):
        outs = as_list(getattr(ops, name)(*xs, **kwargs))
        total = 0.0
        for out, w in zip(outs, weights):
            if np.issubdtype(ops.convert_to_numpy(out).dtype, np.floating):
                total = total + ops.sum(ops.cast(out, "float64") * w)
        return total

    float_args = tuple(
        i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float64
    )
    _, grads = value_and_grad(objective, argnums=float_args)(*args)
    for i, grad in zip(float_args, grads):
        expected = central_differences(lambda *xs: float(objective(*xs)), args, i)
        np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7, err_msg=f"argument {i}")


@pytest.mark.parametrize("case", [c for c in CASES if c[3]], ids=case_id)
def test_float32_gradient_stays_float32(case):
    # autograd's own backward pass, without _autodiff's final cast: no rule may promote
    name, _, kwargs, _ = case
    args = inputs(case, np.float32, seed=1)
    i = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float32)

    def objective(x):
        return ops.sum(as_list(getattr(ops, name)(*args[:i], x, *args[i + 1 :], **kwargs))[0])

    pullback, _ = make_vjp(objective, args[i])
    assert np.asarray(pullback(np.float32(1.0))).dtype == np.float32


def test_gradients_at_ties_follow_tensorflow(tf_keras):
    import tensorflow as tf

    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    y = np.array([[1.0, 0.0, 3.0], [2.0, 5.0, 0.0]])
    cases = [
        (lambda a, b: ops.maximum(a, b), lambda a, b: tf.maximum(a, b)),
        (lambda a, b: ops.minimum(a, b), lambda a, b: tf.minimum(a, b)),
        (lambda a, b: ops.max(a, axis=1) * b[:, 0], lambda a, b: tf.reduce_max(a, 1) * b[:, 0]),
        (lambda a, b: ops.min(a) + 0 * b, lambda a, b: tf.reduce_min(a) + 0 * b),
        (lambda a, b: ops.clip(a, 1.0, 2.0) * b, lambda a, b: tf.clip_by_value(a, 1.0, 2.0) * b),
        (lambda a, b: ops.relu(a - 2) * b, lambda a, b: tf.nn.relu(a - 2) * b),
        (lambda a, b: ops.abs(a - 2) * b, lambda a, b: tf.abs(a - 2) * b),
    ]
    for ours, theirs in cases:
        _, grads = value_and_grad(lambda a, b, f=ours: ops.sum(f(a, b)), argnums=(0, 1))(x, y)
        tx, ty = tf.constant(x), tf.constant(y)
        with tf.GradientTape() as tape:
            tape.watch([tx, ty])
            total = tf.reduce_sum(theirs(tx, ty))
        for mine, ref in zip(grads, tape.gradient(total, [tx, ty])):
            np.testing.assert_allclose(mine, ref.numpy())


# ----- functions with no array input, and conversions -----------------------------------------

CREATION = [
    ("zeros", ((2, 3),), {}),
    ("ones", ((2, 3),), {"dtype": "int32"}),
    ("full", ((2, 3), 1.5), {}),
    ("eye", (3,), {}),
    ("eye", (3, 4), {"k": 1}),
    ("arange", (5,), {}),
    ("arange", (1, 7, 2), {}),
    ("arange", (0.5, 3.0), {}),
    ("convert_to_tensor", ([1.0, 2.0],), {}),
    ("convert_to_tensor", ([1, 2],), {}),
    ("convert_to_tensor", (np.array([1.0, 2.0]),), {}),
    ("convert_to_tensor", ([1, 2],), {"dtype": "float32"}),
    ("convert_to_tensor", ([1, 2],), {"dtype": float}),
    ("convert_to_tensor", ([1.5, 2],), {"dtype": int}),
    ("ones", ((2,),), {"dtype": "bool"}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), CREATION, ids=lambda v: str(v))
def test_creation_matches_keras(kops, name, args, kwargs):
    mine, ref = getattr(ops, name)(*args, **kwargs), np.asarray(getattr(kops, name)(*args, **kwargs))
    assert mine.dtype == ref.dtype
    np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
def test_like_keeps_dtype(kops, name):
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    mine, ref = getattr(ops, name)(x), np.asarray(getattr(kops, name)(x))
    assert mine.dtype == ref.dtype and mine.shape == ref.shape
    np.testing.assert_array_equal(ops.full_like(x, 7), np.full((2, 3), 7, np.int32))


def test_split_and_stack_concatenate_match_keras(kops):
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    for mine, ref in zip(ops.split(x, 3, axis=1), kops.split(x, 3, axis=1)):
        np.testing.assert_array_equal(mine, np.asarray(ref))
    np.testing.assert_array_equal(ops.stack([x, x], axis=1), np.asarray(kops.stack([x, x], axis=1)))
    np.testing.assert_array_equal(ops.concatenate([x, x]), np.asarray(kops.concatenate([x, x])))


def test_split_stack_concatenate_gradients():
    x = np.random.default_rng(0).normal(size=(2, 6))
    w = np.random.default_rng(1).normal(size=(2, 2, 8))

    def objective(x):
        a, b = ops.split(x, [2], axis=1)
        joined = ops.concatenate([a * 2, b, ops.flip(a, 1) * 3], axis=1)
        return ops.sum(ops.stack([joined, ops.square(joined)], axis=1) * w)

    _, grad = value_and_grad(objective)(x)
    expected = central_differences(lambda x: float(objective(x)), [x], 0)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


def test_lists_of_axes_variables_and_out_of_range_labels(kops):
    x = np.arange(24.0, dtype=np.float32).reshape(2, 3, 4) / 10
    for name in ("sum", "mean", "max", "min", "prod", "std", "var"):
        np.testing.assert_allclose(
            getattr(ops, name)(x, axis=[0, 2]), getattr(kops, name)(x, axis=[0, 2]), rtol=1e-5
        )
    from fastnn.layers import Variable

    kernel = np.random.default_rng(0).normal(size=(4, 2)).astype(np.float32)
    weight = Variable(kernel, "kernel", "dense/kernel")
    np.testing.assert_allclose(ops.matmul(x, weight), x @ kernel, rtol=1e-6)
    labels = np.array([0, -1, 3, 2])
    np.testing.assert_array_equal(ops.one_hot(labels, 3), kops.one_hot(labels, 3))


def test_shape_and_epsilon():
    x = np.zeros((2, 3))
    assert ops.shape(x) == (2, 3) and isinstance(ops.shape(x), tuple)
    assert ops.epsilon() == 1e-7
    assert ops.dtype(x) == "float64"
    assert ops.where(np.array([False, True, True]))[0].tolist() == [1, 2]


def test_shape_under_tracing_is_a_tuple_of_ints():
    seen = []

    def objective(x):
        seen.append(ops.shape(x))
        return ops.sum(ops.reshape(x, (ops.shape(x)[0], -1)))

    value_and_grad(objective)(np.ones((2, 3)))
    assert seen == [(2, 3)]


def test_stop_gradient_and_convert_to_numpy_are_constants():
    x = np.array([1.0, 2.0])
    _, grad = value_and_grad(lambda x: ops.sum(x * ops.stop_gradient(x)))(x)
    np.testing.assert_allclose(grad, x)
    _, grad = value_and_grad(lambda x: ops.sum(x * ops.convert_to_numpy(x)))(x)
    np.testing.assert_allclose(grad, x)


def test_relu_gradient_is_zero_at_zero():
    # TensorFlow's relu passes no gradient at exactly 0 (autograd's maximum would pass 0.5).
    _, grad = value_and_grad(lambda x: ops.sum(ops.relu(x)))(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0])


def test_softmax_and_logsumexp_do_not_overflow():
    x = np.array([[1000.0, 0.0], [-1000.0, -1000.0]], dtype=np.float32)
    np.testing.assert_allclose(ops.softmax(x), [[1, 0], [0.5, 0.5]])
    np.testing.assert_allclose(ops.logsumexp(x, axis=-1), [1000, -1000 + np.log(2)], rtol=1e-6)
    assert ops.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    tails = ops.sigmoid(np.array([-40.0, 0.0, 40.0]))
    np.testing.assert_allclose(tails, [1 / (1 + np.exp(40.0)), 0.5, 1.0], rtol=1e-15)
    _, grad = value_and_grad(lambda x: ops.sum(ops.elu(x) + ops.softplus(x)))(
        np.array([-1000.0, 1000.0])
    )
    assert np.all(np.isfinite(grad))


# ----- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ops.mean(np.ones((2, 3)), axis=2), "axis 2 is out of bounds"),
        (lambda: ops.sum(np.ones((2, 3)), axis=(0, 3)), "axis 3 is out of bounds"),
        (lambda: ops.softmax(np.ones((2, 3)), axis=-3), "out of bounds"),
        (lambda: ops.add(np.ones((3, 4)), np.ones(5)), r"broadcast.*\(3,4\).*\(5,\)"),
        (lambda: ops.matmul(np.ones((3, 4)), np.ones((5, 2))), r"x1.shape=\(3, 4\), x2.shape=\(5, 2\)"),
        (lambda: ops.reshape(np.ones((3, 4)), (5,)), "cannot reshape array of size 12"),
        (lambda: ops.take(np.ones((3, 4)), np.array([0.5]), axis=0), "Indices must be integers"),
        (lambda: ops.take(np.ones((3, 4)), np.array([1]), axis=2), "axis 2 is out of bounds"),
        (lambda: ops.take_along_axis(np.ones((3, 4)), np.ones(3, int), axis=1), "rank of x"),
        (lambda: ops.one_hot(np.array([0.5]), 3), "integer labels"),
        (lambda: ops.where(np.array([True]), np.ones(1)), "both"),
        (lambda: ops.cast(np.ones(2), "floaty"), "dtype"),
        (lambda: ops.top_k(np.ones((2, 3)), 4), r"k must be in \[0, 3\]"),
        (
            lambda: ops.categorical_crossentropy(np.ones((2, 3)), np.ones((2, 4))),
            "same shape",
        ),
        (
            lambda: ops.sparse_categorical_crossentropy(np.array([0, 5]), np.ones((2, 4))),
            r"label outside \[0, 4\)",
        ),
        (
            lambda: ops.sparse_categorical_crossentropy(np.array([0, 1, 2]), np.ones((2, 4))),
            "same shape up until the last dimension",
        ),
        (lambda: ops.sparse_categorical_crossentropy(np.array([0]), np.ones((1, 4)), axis=0),
         "Only axis=-1"),
    ],
)
def test_bad_input_raises_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_import_fastnn_loads_ops_only_on_use():
    import subprocess
    import sys

    code = (
        "import sys, fastnn\n"
        "assert 'autograd' not in sys.modules and 'fastnn.ops' not in sys.modules\n"
        "assert fastnn.ops.mean([1, 2]) == 1.5 and 'autograd' in sys.modules\n"
        "from fastnn import ops, backend as K\n"
        "assert ops is fastnn.ops and K.mean([[1.0, 3.0]], axis=-1) == 2.0\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- user code run both ways: fastnn.ops under autograd, keras.ops under TensorFlow ---------


def focal_loss(o, y_true, y_pred):
    y_pred = o.clip(y_pred, 1e-7, 1 - 1e-7)
    weight = 0.25 * y_true * o.power(1 - y_pred, 2.0)
    return o.sum(-weight * y_true * o.log(y_pred), axis=-1)


def smooth_l1(o, y_true, y_pred):
    diff = o.abs(y_true - y_pred)
    return o.mean(o.where(diff < 1.0, 0.5 * o.square(diff), diff - 0.5), axis=-1)


def dice_loss(o, y_true, y_pred):
    inter = o.sum(y_true * y_pred, axis=-1)
    return 1 - (2 * inter + 1) / (o.sum(y_true, axis=-1) + o.sum(y_pred, axis=-1) + 1)


def cosine_metric(o, y_true, y_pred):
    a = o.normalize(y_true, axis=-1)
    b = o.normalize(y_pred, axis=-1)
    return -o.sum(a * b, axis=-1) + o.logsumexp(y_pred, axis=-1) * 0.1


@pytest.mark.parametrize("fn", [focal_loss, smooth_l1, dice_loss, cosine_metric],
                         ids=lambda f: f.__name__)
def test_user_code_matches_keras_value_and_gradient(tf_keras, fn):
    import tensorflow as tf

    rng = np.random.default_rng(3)
    y_true = (rng.random((6, 4)) < 0.5).astype(np.float32)
    y_pred = rng.uniform(0.02, 1.8, (6, 4)).astype(np.float32)
    weights = rng.uniform(0.5, 1.5, 6).astype(np.float32)

    value, grad = value_and_grad(lambda yp: ops.sum(fn(ops, y_true, yp) * weights))(y_pred)
    tp = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(tp)
        total = tf.reduce_sum(fn(tf_keras.ops, tf.constant(y_true), tp) * weights)
    np.testing.assert_allclose(value, total.numpy(), rtol=1e-5)
    np.testing.assert_allclose(grad, tape.gradient(total, tp).numpy(), rtol=1e-4, atol=1e-6)
    assert grad.dtype == np.float32


def test_custom_dense_layer_matches_keras_gradients(tf_keras):
    import tensorflow as tf

    def call(o, x, kernel, bias):
        return o.gelu(o.matmul(x, kernel) + bias)

    rng = np.random.default_rng(4)
    x = rng.normal(size=(5, 3)).astype(np.float32)
    kernel = rng.normal(size=(3, 2)).astype(np.float32)
    bias = rng.normal(size=2).astype(np.float32)
    upstream = rng.normal(size=(5, 2)).astype(np.float32)
    out, pullback = vjp(lambda *a: call(ops, *a), x, kernel, bias, argnums=(0, 1, 2))
    tensors = [tf.constant(a) for a in (x, kernel, bias)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        ref = call(tf_keras.ops, *tensors)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-5, atol=1e-6)
    for mine, theirs in zip(pullback(upstream), tape.gradient(ref, tensors, upstream)):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_names_and_signatures_are_keras(kops):
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    names = [n for n in ops.__all__ if n != "epsilon"]  # epsilon: keras.config's, here too
    assert [n for n in names if not hasattr(kops, n)] == []
    differ = [n for n in names if params(getattr(ops, n)) != params(getattr(kops, n))]
    assert differ == [], [(n, params(getattr(ops, n)), params(getattr(kops, n))) for n in differ]
