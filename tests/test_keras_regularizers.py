"""fastnn.regularizers and fastnn.constraints: values against TensorFlow's Keras 3, names,
Keras 3's quirks, validation, engine coefficients and serialization."""

import math

import numpy as np
import pytest

from fastnn import config, constraints, regularizers


def _weights(shape=(13, 7), dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1.5, shape).astype(dtype)


# ---- regularizers ------------------------------------------------------------------------


REGULARIZERS = [
    ("L1", {}),
    ("L1", {"l1": 0.3}),
    ("L2", {}),
    ("L2", {"l2": 1e-4}),
    ("L1L2", {}),
    ("L1L2", {"l1": 0.02, "l2": 0.5}),
    ("L1L2", {"l1": 0.0, "l2": 0.1}),
]


@pytest.mark.parametrize("name, kwargs", REGULARIZERS)
@pytest.mark.parametrize("shape", [(13, 7), (300,), (1, 1)])
def test_penalty_matches_keras(tf_keras, name, kwargs, shape):
    w = _weights(shape)
    ours = getattr(regularizers, name)(**kwargs)(w)
    theirs = float(
        getattr(tf_keras.regularizers, name)(**kwargs)(tf_keras.ops.convert_to_tensor(w))
    )
    assert isinstance(ours, float)
    assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-30)


def test_penalty_formulas():
    w = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert regularizers.L1(0.1)(w) == pytest.approx(0.1 * 6.5, rel=1e-15)
    assert regularizers.L2(0.1)(w) == pytest.approx(0.1 * 14.25, rel=1e-15)  # no factor 1/2
    assert regularizers.L1L2(0.1, 0.2)(w) == pytest.approx(0.65 + 2.85, rel=1e-15)
    assert regularizers.L1L2()(w) == 0.0
    assert regularizers.L2()([[1, 2]]) == pytest.approx(0.05)  # array-likes


@pytest.mark.parametrize("name", ["L1", "l1", "L2", "l2", "L1L2", "l1l2"])
def test_names_match_keras(tf_keras, name):
    ours = regularizers.serialize(regularizers.get(name))
    theirs = tf_keras.regularizers.serialize(tf_keras.regularizers.get(name))
    assert ours["class_name"] == theirs["class_name"]
    # Keras 3's L1 stores l1 as a float32 tensor, so its config reads 0.009999999776482582.
    assert ours["config"] == pytest.approx(theirs["config"], rel=1e-7)
    assert {k: v for k, v in ours.items() if k != "config"} == {
        k: v for k, v in theirs.items() if k != "config"
    }


def test_keras2_l1_l2_string(tf_keras):
    # Keras 3 rejects the string; Keras 2 read it as l1_l2() = L1L2(0.01, 0.01). fastnn accepts
    # it with Keras 2's meaning, so old scripts keep their regularization.
    with pytest.raises(ValueError, match="l1_l2"):
        tf_keras.regularizers.get("l1_l2")
    reg = regularizers.get("l1_l2")
    assert type(reg) is regularizers.L1L2 and reg.get_config() == {"l1": 0.01, "l2": 0.01}
    assert regularizers.deserialize("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    again = regularizers.deserialize(regularizers.serialize(reg))
    assert type(again) is regularizers.L1L2 and again.get_config() == reg.get_config()


def test_function_aliases_are_keras3_classes(tf_keras):
    assert regularizers.l1 is regularizers.L1 and regularizers.l2 is regularizers.L2
    assert regularizers.l1_l2 is regularizers.L1L2
    assert regularizers.l1_l2().get_config() == tf_keras.regularizers.l1_l2().get_config()
    assert regularizers.l1_l2(l1=1e-5, l2=1e-4).get_config() == {"l1": 1e-5, "l2": 1e-4}


def test_none_arguments_give_defaults():
    assert regularizers.L1(None).l1 == 0.01
    assert regularizers.L2(None).l2 == 0.01
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}


@pytest.mark.parametrize("bad", [-1, -0.5, math.inf, math.nan, "a", [0.1], True])
def test_invalid_factors(tf_keras, bad):
    with pytest.raises(ValueError) as ours:
        regularizers.L2(bad)
    assert str(ours.value).startswith(
        "Invalid value for argument l2: expected a non-negative float.Received: l2="
    )
    if not isinstance(bad, bool):  # Keras 3 accepts True (an int)
        with pytest.raises(ValueError) as theirs:
            tf_keras.regularizers.L2(bad)
        assert str(ours.value) == str(theirs.value)


def test_numpy_factors_accepted():
    # Keras 3 rejects NumPy scalars; fastnn takes them as the numbers they are.
    assert regularizers.L1(np.float32(0.5)).l1 == 0.5
    assert regularizers.L1L2(np.int64(1), np.float64(0.25)).get_config() == {"l1": 1.0, "l2": 0.25}


def test_get_and_errors():
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    assert isinstance(regularizers.get(regularizers.L1), regularizers.L1)
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.2}}).l2 == 0.2
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier") as e:
        regularizers.get("l3")
    assert "L1L2" in str(e.value) and "l1_l2" in str(e.value)
    with pytest.raises(ValueError, match="Could not interpret"):
        regularizers.get("L2 ")


@pytest.mark.parametrize("name", sorted(regularizers._REGULARIZERS))
def test_round_trip(name):
    reg = regularizers.get(name)
    again = regularizers.deserialize(regularizers.serialize(reg))
    assert type(again) is type(reg) and again.get_config() == reg.get_config()
    assert type(reg).from_config(reg.get_config()).get_config() == reg.get_config()


def test_coefficients():
    assert regularizers.coefficients(None) == (0.0, 0.0)
    assert regularizers.coefficients("l2") == (0.0, 0.01)
    assert regularizers.coefficients(regularizers.L1(0.3)) == (0.3, 0.0)
    assert regularizers.coefficients(regularizers.L1L2(0.1, 0.2)) == (0.1, 0.2)
    assert regularizers.coefficients("l1_l2") == (0.01, 0.01)
    assert regularizers.coefficients({"class_name": "L1L2", "config": {"l2": 0.5}}) == (0.0, 0.5)
    assert all(type(c) is float for c in regularizers.coefficients(regularizers.L1L2(1, 2)))


class Custom(regularizers.Regularizer):
    def __call__(self, w):
        return 1.0

    def get_config(self):
        return {}


@pytest.mark.parametrize("reg", [lambda w: 0.0, Custom()])
def test_custom_regularizers_are_python_not_engine_coefficients(reg):
    # The engine computes L1/L2 itself; the user's own regularizers run in Python per batch
    # (tests/test_keras_python_pieces.py trains with one against Keras).
    assert regularizers.is_python(reg)
    assert regularizers.coefficients(reg) == (0.0, 0.0)
    assert not regularizers.is_python(regularizers.L2(0.1))
    assert not regularizers.is_python(None)


# ---- constraints -------------------------------------------------------------------------


CONSTRAINTS = [
    ("MaxNorm", {}),
    ("MaxNorm", {"max_value": 0.5, "axis": 1}),
    ("MaxNorm", {"max_value": 3.0, "axis": [0, 1]}),
    ("MinMaxNorm", {}),
    ("MinMaxNorm", {"min_value": 2.0, "max_value": 3.0, "rate": 0.5, "axis": 0}),
    ("MinMaxNorm", {"min_value": 0.5, "max_value": 1.0, "rate": 0.25, "axis": -1}),
    ("NonNeg", {}),
    ("UnitNorm", {}),
    ("UnitNorm", {"axis": 1}),
]


@pytest.mark.parametrize("name, kwargs", CONSTRAINTS)
def test_constraint_matches_keras(tf_keras, name, kwargs, dtype):
    w = _weights(dtype=dtype)
    w[:, 3] = 0.0  # a zero column: epsilon keeps it finite and 0
    w[2, :] *= 1e-7  # a row and a column of norms near epsilon, where the epsilon's place in
    w[:, 5] *= 1e-7  # the formula changes the result
    ours = getattr(constraints, name)(**kwargs)(w)
    theirs = np.asarray(
        getattr(tf_keras.constraints, name)(**kwargs)(tf_keras.ops.convert_to_tensor(w))
    )
    assert ours.dtype == dtype and ours.shape == w.shape
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * 1e-3)


def test_epsilon_placement():
    # w * desired / (epsilon + norm): a vector of norm 1e-7 is scaled by 1/2 by UnitNorm, not
    # divided by max(norm, epsilon) or by sqrt(norm**2 + epsilon).
    w = np.array([[1e-7], [0.0]])
    np.testing.assert_allclose(constraints.UnitNorm()(w), [[0.5], [0.0]], rtol=1e-12)
    np.testing.assert_allclose(constraints.MinMaxNorm(1.0, 2.0)(w), [[0.5], [0.0]], rtol=1e-12)
    w = np.array([[3.0], [4.0]])
    np.testing.assert_allclose(constraints.MaxNorm(1.0)(w), [[0.6], [0.8]], rtol=1e-6)
    np.testing.assert_allclose(constraints.MaxNorm(10.0)(w), w * 5 / (5 + 1e-7), rtol=1e-15)
    config.set_epsilon(0.5)
    try:
        np.testing.assert_allclose(constraints.UnitNorm()(w), w / 5.5, rtol=1e-15)
    finally:
        config.set_epsilon(1e-7)


def test_constraint_values():
    w = np.array([[3.0, -1.0], [4.0, 0.0]])
    np.testing.assert_array_equal(constraints.NonNeg()(w), [[3.0, 0.0], [4.0, 0.0]])
    np.testing.assert_allclose(constraints.UnitNorm(axis=0)(w), [[0.6, -1], [0.8, 0]], rtol=1e-6)
    # rate 0.5 moves the norm half way: 5 -> 0.5 * 2 + 0.5 * 5 = 3.5
    out = constraints.MinMaxNorm(0.0, 2.0, rate=0.5)(w[:, :1])
    np.testing.assert_allclose(np.linalg.norm(out), 3.5, rtol=1e-6)
    assert constraints.NonNeg()([[1, -2]]).dtype == np.float32  # array-likes go to floatx


@pytest.mark.parametrize(
    "name", ["MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
             "non_neg", "unit_norm"],
)  # fmt: skip
def test_constraint_names_match_keras(tf_keras, name):
    ours = constraints.serialize(constraints.get(name))
    assert ours == tf_keras.constraints.serialize(tf_keras.constraints.get(name))


@pytest.mark.parametrize("name, cls", [("maxnorm", "MaxNorm"), ("nonneg", "NonNeg"),
                                       ("unitnorm", "UnitNorm")])  # fmt: skip
def test_keras2_constraint_names(name, cls):
    assert type(constraints.get(name)).__name__ == cls


@pytest.mark.parametrize("name, kwargs", CONSTRAINTS)
def test_constraint_round_trip(name, kwargs):
    c = getattr(constraints, name)(**kwargs)
    assert c.get_config() == kwargs | {k: v for k, v in c.get_config().items() if k not in kwargs}
    again = constraints.deserialize(constraints.serialize(c))
    assert type(again) is type(c) and again.get_config() == c.get_config()
    w = _weights()
    np.testing.assert_array_equal(again(w), c(w))


def test_constraint_get():
    assert constraints.get(None) is None
    c = constraints.MaxNorm(3)
    assert constraints.get(c) is c
    assert isinstance(constraints.get(constraints.NonNeg), constraints.NonNeg)
    with pytest.raises(ValueError, match="Could not interpret constraint identifier") as e:
        constraints.get("max-norm")
    assert "max_norm" in str(e.value)
