"""fastnn.initializers: distributions (checked statistically), fans, seeds, names, configs, and
parity of shapes, limits and statistics with TensorFlow's Keras 3."""

import math

import numpy as np
import pytest

from fastnn import config, initializers
from fastnn.utils import set_random_seed

TRUNC = 0.87962566103423978
SHAPE = (300, 400)  # fan_in 300, fan_out 400; 120,000 values
N = SHAPE[0] * SHAPE[1]
Z = 6.0  # bounds at 6 standard errors: a correct initializer fails about once in 10**8 runs


def _check_moments(x, mean, std):
    """Sample mean and variance within Z standard errors of the expected values; the variance's
    standard error comes from the sample's own fourth moment."""
    x = x.astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean() - mean) <= Z * std / math.sqrt(n)
    centred = x - x.mean()
    var = np.mean(centred**2)
    se_var = math.sqrt(max(np.mean(centred**4) - var**2, 0.0) / n)
    assert abs(var - std**2) <= Z * se_var


def _check_uniform(x, low, high):
    n = x.size
    assert x.min() >= low and x.max() <= high
    # The extremes come within 20/n of the bounds unless the range is wrong (P < e^-20).
    assert x.min() < low + 20 * (high - low) / n and x.max() > high - 20 * (high - low) / n
    _check_moments(x, (low + high) / 2, (high - low) / math.sqrt(12))


def _check_truncated(x, mean, std):
    """Truncated at 2 sigma_raw with sigma_raw = std / 0.8796; the values' std is std."""
    bound = 2 * std / TRUNC
    dev = np.abs(x.astype(np.float64) - mean)
    assert dev.max() <= bound * (1 + 1e-6)  # float32 rounding of the bound
    assert dev.max() > 0.98 * bound  # values reach the cut, so it is not narrower
    _check_moments(x, mean, std)


FAN_IN, FAN_OUT = SHAPE

UNIFORM = {
    "GlorotUniform": math.sqrt(6 / (FAN_IN + FAN_OUT)),
    "HeUniform": math.sqrt(6 / FAN_IN),
    "LecunUniform": math.sqrt(3 / FAN_IN),
}
TRUNCATED = {
    "GlorotNormal": math.sqrt(2 / (FAN_IN + FAN_OUT)),
    "HeNormal": math.sqrt(2 / FAN_IN),
    "LecunNormal": math.sqrt(1 / FAN_IN),
}


@pytest.mark.parametrize("name, limit", sorted(UNIFORM.items()))
def test_uniform_variance_scaling(name, limit):
    x = initializers.get(name)(SHAPE)
    assert x.shape == SHAPE and x.dtype == np.float32
    _check_uniform(x, -limit, limit)


@pytest.mark.parametrize("name, std", sorted(TRUNCATED.items()))
def test_truncated_variance_scaling(name, std):
    _check_truncated(initializers.get(name)(SHAPE), 0.0, std)


def test_basic_distributions():
    _check_moments(initializers.RandomNormal(mean=0.5, stddev=2.0)(SHAPE), 0.5, 2.0)
    _check_uniform(initializers.RandomUniform(minval=-1.0, maxval=3.0)(SHAPE), -1.0, 3.0)
    # TruncatedNormal's stddev is the normal's before truncation, as in Keras.
    _check_truncated(initializers.TruncatedNormal(mean=1.0, stddev=0.5)(SHAPE), 1.0, 0.5 * TRUNC)
    x = initializers.get("truncated_normal")(SHAPE)
    assert np.abs(x).max() <= 0.1 * (1 + 1e-6)


def test_defaults():
    _check_moments(initializers.get("normal")(SHAPE), 0.0, 0.05)
    _check_uniform(initializers.get("uniform")(SHAPE), -0.05, 0.05)


@pytest.mark.parametrize(
    "mode, n", [("fan_in", FAN_IN), ("fan_out", FAN_OUT), ("fan_avg", (FAN_IN + FAN_OUT) / 2)]
)
def test_variance_scaling_modes(mode, n):
    scale = 3.0
    std = math.sqrt(scale / n)
    vs = initializers.VarianceScaling
    _check_moments(vs(scale, mode, "untruncated_normal")(SHAPE), 0.0, std)
    _check_truncated(vs(scale, mode, "truncated_normal")(SHAPE), 0.0, std)
    _check_uniform(vs(scale, mode, "uniform")(SHAPE), -math.sqrt(3) * std, math.sqrt(3) * std)


def test_variance_scaling_normal_is_truncated():
    init = initializers.VarianceScaling(distribution="Normal")
    assert init.distribution == "truncated_normal"
    assert init.get_config()["distribution"] == "truncated_normal"


def test_small_fans_use_at_least_one():
    # scale / max(1, n): a (1, 1) kernel of LecunUniform is U(-sqrt 3, sqrt 3), never wider.
    x = initializers.LecunUniform()((1, 1))
    assert abs(x[0, 0]) <= math.sqrt(3)
    x = initializers.VarianceScaling(mode="fan_avg", distribution="uniform")((0, 4))
    assert x.shape == (0, 4)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((3, 5), (3, 5)),
        ((2, 3, 5), (6, 10)),
        ((2, 3, 4, 5), (24, 30)),
    ],
)
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_compute_fans_with_axes():
    assert initializers.compute_fans((2, 3, 4), input_axes=[0, 1], output_axes=[2]) == (6, 4)
    assert initializers.compute_fans((2, 3, 4), input_axes=[0]) == (6, 8)  # both or neither
    x = initializers.GlorotUniform(input_axes=[0, 1], output_axes=[2])((20, 30, 40))
    _check_uniform(x, -math.sqrt(6 / 640), math.sqrt(6 / 640))


def test_fans_of_higher_rank_shape():
    shape = (3, 3, 40, 50)  # receptive field 9: fans 360 and 450
    _check_uniform(initializers.HeUniform()(shape), -math.sqrt(6 / 360), math.sqrt(6 / 360))


@pytest.mark.parametrize("gain", [1.0, 2.5])
@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (4, 5, 30), (1, 1)])
def test_orthogonal(shape, gain):
    q = initializers.Orthogonal(gain=gain)(shape, dtype="float64")
    assert q.shape == shape and q.dtype == np.float64
    m = q.reshape(-1, shape[-1])
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, gain**2 * np.eye(len(small)), atol=1e-12 * gain**2)


def test_orthogonal_is_not_biased():
    # Sign-corrected QR gives Haar-distributed matrices: entries of a 200x200 orthogonal matrix
    # have mean 0 and variance 1/200 (a missing sign fix makes the diagonal positive).
    q = initializers.Orthogonal(seed=3)((200, 200), dtype="float64")
    _check_moments(q, 0.0, math.sqrt(1 / 200))
    assert abs(np.diag(q).mean()) <= Z / 200


def test_orthogonal_needs_a_matrix(tf_keras):
    with pytest.raises(ValueError) as ours:
        initializers.Orthogonal()((3,))
    with pytest.raises(ValueError) as theirs:
        tf_keras.initializers.Orthogonal()((3,))
    assert str(ours.value) == str(theirs.value)


def test_constants():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("one")((4,)), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializers.Constant([1, 2])((3, 2)), [[1, 2]] * 3)
    np.testing.assert_array_equal(initializers.get("constant")(3), np.zeros(3))
    np.testing.assert_array_equal(initializers.Identity(gain=3)((2, 3)), 3 * np.eye(2, 3))
    for name in ["zeros", "ones", "constant", "identity"]:
        assert initializers.get(name)((2, 2)).dtype == np.float32
        assert initializers.get(name)((2, 2), dtype="float64").dtype == np.float64


def test_identity_needs_a_matrix(tf_keras):
    for shape in [(3,), (2, 3, 4)]:
        with pytest.raises(ValueError) as ours:
            initializers.Identity()(shape)
        with pytest.raises(ValueError) as theirs:
            tf_keras.initializers.Identity()(shape)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "orthogonal", "random_normal"])
def test_dtypes(name):
    init = initializers.get(name)
    assert init((3, 4)).dtype == np.float32
    assert init((3, 4), dtype=np.float64).dtype == np.float64
    assert init([3, 4], dtype="float16").dtype == np.float16
    with pytest.raises(ValueError, match="float dtype"):
        init((3, 4), dtype="int32")
    config.set_floatx("float64")
    try:
        assert init((3, 4)).dtype == np.float64
    finally:
        config.set_floatx("float32")


RANDOM = [
    "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "LecunNormal", "LecunUniform",
    "Orthogonal", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling",
]  # fmt: skip


@pytest.mark.parametrize("name", RANDOM)
def test_seeds(name):
    cls = getattr(initializers, name)
    a = cls(seed=7)((20, 30))
    np.testing.assert_array_equal(a, cls(seed=7)((20, 30)))
    np.testing.assert_array_equal(a, cls(seed=np.int64(7))((20, 30)))
    # As in Keras 3, a seeded initializer returns the same values on every call.
    seeded = cls(seed=7)
    np.testing.assert_array_equal(seeded((20, 30)), seeded((20, 30)))
    assert not np.array_equal(a, cls(seed=8)((20, 30)))
    # Unseeded: fresh values per call, drawn from fastnn's state, so set_random_seed repeats them.
    unseeded = cls()
    set_random_seed(11)
    first = unseeded((20, 30)), unseeded((20, 30))
    assert not np.array_equal(*first)
    set_random_seed(11)
    np.testing.assert_array_equal(first[0], unseeded((20, 30)))
    np.testing.assert_array_equal(first[1], unseeded((20, 30)))


@pytest.mark.parametrize("seed", [1.5, "3", True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="`seed` argument should be an integer"):
        initializers.RandomNormal(seed=seed)


def test_variance_scaling_validation():
    with pytest.raises(ValueError, match="Argument `scale` must be positive float. Received: "):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="Invalid `mode` argument: fan_sum"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="Invalid `distribution` argument: cauchy"):
        initializers.VarianceScaling(distribution="cauchy")


KERAS_NAMES = sorted(set(initializers._INITIALIZERS) - {"Constant", "constant"})


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_names_and_configs_match_keras(tf_keras, name):
    ours = initializers.serialize(initializers.get(name))
    theirs = tf_keras.initializers.serialize(tf_keras.initializers.get(name))
    if theirs["class_name"] == "Identity":
        # Keras 3's Identity.get_config() forgets `gain`; fastnn keeps it.
        theirs["config"] = {"gain": 1.0}
    assert ours == theirs


def test_constant_string_works_unlike_keras(tf_keras):
    # Keras 3 fails on "constant" (KeyError 'value'); fastnn gives Constant(0.0).
    with pytest.raises(KeyError):
        tf_keras.initializers.get("constant")
    assert initializers.get("constant").get_config() == {"value": 0.0}


@pytest.mark.parametrize("name", sorted(initializers._INITIALIZERS))
def test_round_trip(name):
    init = initializers.get(name)
    config_ = initializers.serialize(init)
    again = initializers.deserialize(config_)
    assert type(again) is type(init) and again.get_config() == init.get_config()
    assert type(init).from_config(init.get_config()).get_config() == init.get_config()
    assert init.clone().get_config() == init.get_config()


@pytest.mark.parametrize(
    "init",
    [
        initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=4, input_axes=[0]),
        initializers.RandomNormal(mean=1.0, stddev=3.0, seed=2),
        initializers.TruncatedNormal(0.1, 0.2),
        initializers.RandomUniform(-2.0, 5.0, seed=9),
        initializers.Orthogonal(gain=0.5, seed=1),
        initializers.GlorotUniform(seed=5),
        initializers.Constant(np.array([1.0, 2.0])),
        initializers.Identity(gain=2.0),
    ],
)
def test_round_trip_with_arguments(init):
    again = initializers.deserialize(initializers.serialize(init))
    assert type(again) is type(init) and again.get_config() == init.get_config()
    if getattr(init, "seed", 0) is not None:  # seeded, or not random: the same values
        np.testing.assert_array_equal(again((3, 2)), init((3, 2)))


def test_reads_keras_configs(tf_keras):
    keras_init = tf_keras.initializers.VarianceScaling(
        scale=2.0, mode="fan_avg", distribution="uniform", seed=3
    )
    ours = initializers.deserialize(tf_keras.initializers.serialize(keras_init))
    assert isinstance(ours, initializers.VarianceScaling)
    assert ours.get_config() == keras_init.get_config()


def test_get():
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.HeNormal), initializers.HeNormal)
    init = initializers.HeNormal(seed=1)
    assert initializers.get(init) is init
    array = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(initializers.get(array)((2, 3)), array)
    with pytest.raises(ValueError, match="Expected `shape` to be"):
        initializers.get(array)((3, 2))
    with pytest.raises(ValueError, match="Could not interpret initializer identifier") as e:
        initializers.get("glorot")
    assert "glorot_uniform" in str(e.value)
    with pytest.raises(ValueError, match="Could not interpret"):
        initializers.get("Glorot_Uniform")  # case-sensitive, as Keras


@pytest.mark.parametrize("name", sorted(UNIFORM) + sorted(TRUNCATED) + ["Orthogonal"])
@pytest.mark.parametrize("shape", [(60, 80), (3, 3, 8, 16)])
def test_parity_with_keras(tf_keras, name, shape):
    """Same shape, dtype, bounds and variance as TensorFlow's Keras draws (two samples)."""
    ours = initializers.get(name)(shape)
    theirs = np.asarray(tf_keras.initializers.get(name)(shape))
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
    if name != "Orthogonal":  # bounded distributions: both reach the same limit
        spread_ours, spread_theirs = np.abs(ours).max(), np.abs(theirs).max()
        assert spread_ours <= 1.05 * spread_theirs and spread_theirs <= 1.05 * spread_ours
    a, b = ours.astype(np.float64).ravel(), theirs.astype(np.float64).ravel()
    se = math.sqrt((np.var(a**2) + np.var(b**2)) / a.size)
    assert abs(np.mean(a**2) - np.mean(b**2)) <= Z * se
