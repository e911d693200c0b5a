"""fastnn.optimizers against Keras 3: golden values, parity with tf.keras, names, configs,
validation, and the engine interface (spec, learning rates, flat slots shared with apply)."""

import itertools
import math
import warnings

import numpy as np
import pytest

from fastnn import optimizers
from fastnn._kernels import _optimizers, _reductions
from fastnn.optimizers import schedules
from fastnn.optimizers.base import KERNEL_SLOTS, EngineSpec, OptimizerKind

NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion",
         "Ftrl", "Lamb"]

# shared/reference/keras.md 5.2, verified against Keras 3.15.1: w0 = [1, -2], g = [0.5, -0.1].
GOLDEN = [
    ("SGD", {}, [0.995, -1.999], [0.99, -1.998]),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}, [0.95, -1.99], [0.855, -1.971]),
    (
        "SGD",
        {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True},
        [0.905, -1.981],
        [0.7695, -1.9539],
    ),
    ("Adam", {}, [0.999, -1.999], [0.998, -1.998]),
    ("Adam", {"amsgrad": True}, [0.999, -1.999], [0.998, -1.998]),
    ("AdamW", {}, [0.998996, -1.998992], [0.997992, -1.997984]),
    ("RMSprop", {}, [0.9968377, -1.9968379], [0.9945436, -1.9945438]),
    (
        "RMSprop",
        {"momentum": 0.9, "centered": True},
        [0.9966667, -1.996667],
        [0.9911176, -1.991118],
    ),
    ("Adagrad", {}, [0.9991549, -1.9996986], [0.9985093, -1.9994098]),
    ("Adadelta", {}, [0.9999986, -1.9999986], [0.9999971, -1.9999973]),
    ("Adamax", {}, [0.999, -1.999], [0.998, -1.998]),
    ("Nadam", {}, [0.9989372, -1.9989372], [0.9981636, -1.9981638]),
    ("Lion", {}, [0.999, -1.999], [0.998, -1.998]),
    # Ftrl by hand, with acc' = acc + g², lin += g - (sqrt(acc') - sqrt(acc)) / lr * w and
    # w = (clip(lin, ±l1) - lin) / (sqrt(acc') / lr + 2 l2_reg): step 1 of w0 = 1 gives
    # lin = 0.5 - (sqrt(0.35) - sqrt(0.1)) / 0.001 = -274.880, w = 274.880 / 591.608.
    ("Ftrl", {}, [0.4646324, -0.0927733], [0.4639869, -0.0924846]),
    (
        "Ftrl",
        {"learning_rate": 0.1, "l1_regularization_strength": 0.3,
         "l2_regularization_strength": 0.1, "l2_shrinkage_regularization_strength": 0.05,
         "beta": 0.2},
        [0.2284110, 0.0],
        [0.1758429, 0.0],
    ),
    # Lamb: the Adam direction u = [1, -1] (to eps) at step 1, scaled by |w| / |u| =
    # sqrt(5) / sqrt(2): w -= 0.001 * 1.5811 * u.
    ("Lamb", {}, [0.9984189, -1.9984189], [0.9968392, -1.9968392]),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.1}, [0.9832044, -1.9822044],
     [0.9665910, -1.9645921]),
    (
        "SGD",
        {"learning_rate": 1.0, "clipnorm": 0.1},
        [0.9019419, -1.9803884],
        [0.8038838, -1.9607768],
    ),
    ("SGD", {"learning_rate": 1.0, "clipvalue": 0.2}, [0.8, -1.9], [0.6, -1.8]),
    ("SGD", {"learning_rate": 1.0, "weight_decay": 0.1}, [0.4, -1.7], [-0.14, -1.43]),
]


@pytest.mark.parametrize(
    "name, kwargs, step1, step2", GOLDEN, ids=[f"{n}{k or ''}" for n, k, _, _ in GOLDEN]
)
def test_golden_values(name, kwargs, step1, step2, dtype):
    opt = getattr(optimizers, name)(**kwargs)
    w = np.array([1.0, -2.0], dtype=dtype)
    g = np.array([0.5, -0.1], dtype=dtype)
    for expected in (step1, step2):
        opt.apply_gradients([(g, w)])
        np.testing.assert_allclose(w, expected, rtol=0, atol=1e-6)
    assert w.dtype == dtype and opt.iterations == 2


# ---- parity with tf.keras ----------------------------------------------------------------

SCHEDULE = (
    "ExponentialDecay",
    {"initial_learning_rate": 0.05, "decay_steps": 1, "decay_rate": 0.5},
)

PARITY = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.05, "clipnorm": 0.7}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "global_clipnorm": 0.8}),
    ("Adam", {"learning_rate": SCHEDULE, "beta_1": 0.8, "epsilon": 1e-3}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"learning_rate": 0.01, "amsgrad": True, "clipvalue": 0.3}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True, "rho": 0.8}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "clipnorm": 0.5}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adadelta", {"learning_rate": 1.0, "rho": 0.5, "epsilon": 1e-3, "global_clipnorm": 1.0}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Adamax", {"learning_rate": SCHEDULE, "beta_2": 0.9, "clipvalue": 0.5}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": SCHEDULE, "weight_decay": 0.1, "clipnorm": 0.5}),
    ("Lion", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.01, "beta_1": 0.5, "weight_decay": 0.1, "global_clipnorm": 0.5}),
    ("Ftrl", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.1, "learning_rate_power": -0.3, "initial_accumulator_value": 0.5,
              "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
              "l2_shrinkage_regularization_strength": 0.03, "beta": 0.1, "clipnorm": 0.9}),
    ("Ftrl", {"learning_rate": SCHEDULE, "learning_rate_power": 0.0, "weight_decay": 0.1}),
    ("Lamb", {"learning_rate": 0.01}),
    ("Lamb", {"learning_rate": SCHEDULE, "beta_1": 0.8, "weight_decay": 0.1,
              "global_clipnorm": 0.7}),
    ("Lamb", {"learning_rate": 0.01, "epsilon": 1e-3, "clipvalue": 0.4}),
]
SHAPES = [(5, 3), (3,), (3, 2), (1,)]


def _build(module, name, kwargs):
    """An optimizer from `module` (fastnn's or Keras's), schedules built from (class, config)."""
    kwargs = dict(kwargs)
    lr = kwargs.get("learning_rate")
    if isinstance(lr, tuple):
        kwargs["learning_rate"] = getattr(module.schedules, lr[0])(**lr[1])
    return getattr(module, name)(**kwargs)


def _problem(dtype, seed, n_steps=3):
    rng = np.random.default_rng(seed)
    w0 = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) * 2.0 for s in SHAPES] for _ in range(n_steps)]
    return w0, grads


@pytest.mark.parametrize("name, kwargs", PARITY, ids=[f"{n}{k}" for n, k in PARITY])
def test_three_steps_match_tf_keras(tf_keras, name, kwargs, dtype):
    w0, grads = _problem(dtype, seed=len(name) + len(kwargs))
    theirs = _build(tf_keras.optimizers, name, kwargs)
    ours = _build(optimizers, name, kwargs)
    k_vars = [tf_keras.Variable(w) for w in w0]
    f_vars = [w.copy() for w in w0]
    for step in grads:
        theirs.apply_gradients(zip([tf_keras.ops.convert_to_tensor(g) for g in step], k_vars))
        ours.apply_gradients(zip(step, f_vars))
        # Keras rounds the betas to float32 even for float64 variables and forms Adam's
        # 1 - beta_2**t in float32 for float32 ones: its step size is off by up to ~4e-5
        # relative (1 - float32(0.999) = 0.00099998713; float32 rounding of beta_2**t is
        # 6e-8 absolute on 1e-3). Hence the displacement w - w0 to rtol 1e-4, and the weights
        # to rtol 1e-5 plus 1e-6 absolute (1e-5 of the displacement, below 0.1 here).
        for k, f, start in zip(k_vars, f_vars, w0):
            np.testing.assert_allclose(f, k.numpy(), rtol=1e-5, atol=1e-6)
            atol = 1e-6 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(f - start, k.numpy() - start, rtol=1e-4, atol=atol)
    k_state = [v.numpy() for v in theirs.variables]
    assert len(ours.variables) == len(k_state)
    for f, k in zip(ours.variables, k_state):
        assert f.shape == k.shape
        np.testing.assert_allclose(f, k, rtol=1e-5, atol=1e-6)


def test_config_keys_and_defaults_match_tf_keras(tf_keras):
    for name in NAMES:
        theirs = getattr(tf_keras.optimizers, name)().get_config()
        ours = getattr(optimizers, name)().get_config()
        assert list(ours) == list(theirs), name
        for key, value in theirs.items():
            if key not in ("name", "learning_rate"):
                assert ours[key] == value, (name, key)
        assert ours["learning_rate"] == pytest.approx(theirs["learning_rate"], rel=1e-7)
        assert ours["name"].rstrip("_0123456789") == theirs["name"].rstrip("_0123456789")


def test_deserializes_configs_written_by_tf_keras(tf_keras):
    schedule = tf_keras.optimizers.schedules.CosineDecay(0.1, 100, alpha=0.1)
    for theirs in (
        tf_keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True, clipnorm=1.0),
        tf_keras.optimizers.AdamW(learning_rate=schedule, weight_decay=0.01),
    ):
        ours = optimizers.deserialize(tf_keras.optimizers.serialize(theirs))
        assert type(ours).__name__ == type(theirs).__name__
        expected = theirs.get_config()
        got = ours.get_config()
        assert got.keys() == expected.keys()
        assert got == {**expected, "learning_rate": got["learning_rate"]}
        if isinstance(expected["learning_rate"], dict):
            assert got["learning_rate"] == expected["learning_rate"]


# ---- names, serialization ----------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_string_lookup_is_case_insensitive(name):
    for spelling in (name, name.lower(), name.upper()):
        opt = optimizers.get(spelling)
        assert type(opt) is getattr(optimizers, name)
        assert opt.get_config() | {"name": None} == getattr(optimizers, name)().get_config() | {
            "name": None
        }


def test_get_passes_instances_and_none_through_and_rejects_the_rest():
    opt = optimizers.Adam()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    for bad in ("adamm", "ftrll", "", 3, object()):
        with pytest.raises(ValueError, match="optimizer"):
            optimizers.get(bad)
    with pytest.raises(
        ValueError,
        match="Adadelta, Adagrad, Adam, AdamW, Adamax, Ftrl, Lamb, Lion, Nadam, RMSprop, SGD",
    ):
        optimizers.get("nope")


def test_default_names_follow_keras():
    names = [optimizers.RMSprop().name for _ in range(2)]
    assert names[0].startswith("rm_sprop") and names[0] != names[1]
    assert optimizers.AdamW().name.startswith("adam_w")
    assert optimizers.SGD(name="mine").name == "mine"


def _round_trip(opt):
    config = opt.get_config()
    again = type(opt).from_config(config)
    assert again.get_config() == config
    restored = optimizers.deserialize(optimizers.serialize(opt))
    assert type(restored) is type(opt) and restored.get_config() == config
    via_get = optimizers.get(optimizers.serialize(opt))
    assert via_get.get_config() == config


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trips(name):
    cls = getattr(optimizers, name)
    _round_trip(cls())
    _round_trip(cls(learning_rate=0.5, clipnorm=2.0, weight_decay=0.01, name="x"))
    _round_trip(cls(learning_rate=schedules.InverseTimeDecay(0.1, 10, 0.5), global_clipnorm=1.0))


def test_serialized_form():
    config = optimizers.serialize(optimizers.Adam(learning_rate=schedules.CosineDecay(0.1, 10)))
    assert config["module"] == "keras.optimizers" and config["class_name"] == "Adam"
    assert config["registered_name"] is None
    assert config["config"]["learning_rate"]["class_name"] == "CosineDecay"
    assert config["config"]["learning_rate"]["module"] == "keras.optimizers.schedules"
    assert type(optimizers.deserialize({"class_name": "ADAM", "config": {}})) is optimizers.Adam


# ---- Keras 2 arguments, learning rate, validation ---------------------------------------


def test_keras2_lr_is_an_alias_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="lr"):
        opt = optimizers.Adam(lr=0.25)
    assert opt.learning_rate == 0.25 and "lr" not in opt.get_config()
    with pytest.warns(DeprecationWarning):
        assert optimizers.SGD(0.01, lr=0.5).learning_rate == 0.5  # 0.01 is SGD's default
    with pytest.raises(ValueError, match="not both"):
        optimizers.SGD(learning_rate=0.3, lr=0.5)
    opt = optimizers.SGD(0.1)
    with pytest.warns(DeprecationWarning):
        opt.lr = 0.2
    assert opt.learning_rate == 0.2
    with pytest.warns(DeprecationWarning):
        assert opt.lr == 0.2


def test_keras2_decay_is_honoured_as_time_based_decay():
    with pytest.warns(DeprecationWarning, match="decay"):
        opt = optimizers.SGD(1.0, decay=0.5)
    w = np.zeros(1)
    expected = 0.0
    for i in range(4):
        opt.apply([np.ones(1)], [w])
        expected -= 1.0 / (1.0 + 0.5 * i)
        assert w[0] == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(opt.learning_rates(2, 3), 1.0 / (1.0 + 0.5 * np.arange(2, 5)))
    assert opt.get_config()["decay"] == 0.5
    with pytest.warns(DeprecationWarning):
        _round_trip(opt)
    with pytest.warns(DeprecationWarning):
        assert "decay" not in optimizers.SGD(decay=0.0).get_config()
    with pytest.raises(ValueError, match="decay"):
        optimizers.SGD(decay=-1.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optimizers.SGD(learning_rate="0.1"), "learning_rate"),
        (lambda: optimizers.SGD(learning_rate=True), "learning_rate"),
        (lambda: optimizers.SGD(learning_rate=None), "learning_rate"),
        (lambda: optimizers.SGD(momentum=1.5), "momentum"),
        (lambda: optimizers.SGD(momentum=-0.1), "momentum"),
        (lambda: optimizers.SGD(momentum="0.9"), "momentum"),
        (lambda: optimizers.Adam(clipnorm=1.0, clipvalue=1.0), "Only one of"),
        (lambda: optimizers.Adam(clipnorm=1.0, global_clipnorm=1.0), "Only one of"),
        (lambda: optimizers.AdamW(weight_decay=None), "weight_decay"),
        (lambda: optimizers.Lion(beta_1=0.0), "beta_1"),
        (lambda: optimizers.Lion(beta_1=1.5), "beta_1"),
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
        (lambda: optimizers.Ftrl(initial_accumulator_value=-1.0), "initial_accumulator"),
        (lambda: optimizers.Ftrl(l1_regularization_strength=-0.1), "l1_regularization"),
        (lambda: optimizers.Ftrl(l2_shrinkage_regularization_strength=-1.0), "shrinkage"),
        (lambda: optimizers.Ftrl(beta=float("nan")), "beta"),
        (lambda: optimizers.Lamb(beta_2=float("inf")), "beta_2"),
        (lambda: optimizers.Adam(betas=(0.9, 0.99)), "not recognized"),
        (lambda: optimizers.Adam(gradient_accumulation_steps=1), "gradient_accumulation"),
        (lambda: optimizers.Adam(use_ema=True, ema_momentum=1.5), "ema_momentum"),
        (lambda: optimizers.Adam(use_ema=True, ema_overwrite_frequency=0.5), "ema_overwrite"),
    ],
)
def test_validation_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_accepted_supersets_and_ignored_arguments():
    assert optimizers.SGD(learning_rate=1).learning_rate == 1.0  # Keras 3 demands a float
    assert optimizers.SGD(learning_rate=np.float32(0.5)).learning_rate == 0.5
    assert optimizers.SGD(momentum=1).momentum == 1 and optimizers.SGD(momentum=0).momentum == 0
    for kwargs in ({"gradient_accumulation_steps": 4},):
        with pytest.warns(UserWarning, match="does not implement"):
            opt = optimizers.Adam(**kwargs)
        assert opt.get_config()[next(iter(kwargs))] == next(iter(kwargs.values()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.Adam(ema_momentum=0.5, ema_overwrite_frequency=3, loss_scale_factor=128.0)
        optimizers.Adam(use_ema=True)      # implemented (tests/test_keras_callbacks_ema.py)


def test_learning_rate_property_and_setter():
    opt = optimizers.Adam(0.1)
    opt.learning_rate = 0.05  # what LearningRateScheduler / ReduceLROnPlateau do
    assert opt.learning_rate == 0.05 and opt.get_config()["learning_rate"] == 0.05
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = "fast"
    schedule = schedules.ExponentialDecay(1.0, 1, 0.5)
    opt.learning_rate = schedule
    assert opt.learning_rate == 1.0
    opt.apply([np.ones(2)], [np.zeros(2)])
    assert opt.learning_rate == 0.5
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1
    opt.learning_rate = lambda: 0.125
    assert opt.learning_rate == 0.125


def test_callable_learning_rate_is_called_once_per_step():
    calls = []

    def lr():
        calls.append(1)
        return 0.5 * len(calls)

    opt = optimizers.SGD(learning_rate=lr)
    w = np.zeros(1)
    opt.apply([np.ones(1)], [w])
    opt.apply([np.ones(1)], [w])
    assert w[0] == pytest.approx(-1.5) and len(calls) == 2
    np.testing.assert_array_equal(opt.learning_rates(2, 2), [1.5, 2.0])


# ---- Python-level stepping ----------------------------------------------------------------


def test_apply_checks_everything_before_changing_anything():
    opt = optimizers.Adam(0.1)
    w1, w2 = np.ones(3), np.ones((2, 2))
    with pytest.raises(ValueError, match="shape"):
        opt.apply([np.ones(3), np.ones(3)], [w1, w2])
    assert opt.iterations == 0 and not opt.built
    np.testing.assert_array_equal(w1, 1.0)
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply([None, None], [w1, w2])
    with pytest.raises(TypeError, match="float32 or float64"):
        opt.apply([np.ones(3)], [np.ones(3, dtype=np.int64)])
    with pytest.raises(TypeError, match="float32 or float64"):
        opt.apply([np.ones(3)], [[1.0, 2.0, 3.0]])
    frozen = np.ones(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        opt.apply([np.ones(3)], [frozen])
    with pytest.raises(ValueError, match="built"):
        opt.apply([np.ones(3)])
    assert opt.iterations == 0


def test_none_gradients_are_skipped_with_a_warning():
    opt = optimizers.SGD(1.0)
    w1, w2 = np.ones(2), np.ones(2)
    with pytest.warns(UserWarning, match="Gradients do not exist"):
        opt.apply([None, np.ones(2)], [w1, w2])
    np.testing.assert_array_equal(w1, 1.0)
    np.testing.assert_array_equal(w2, 0.0)
    assert opt.iterations == 1


def test_apply_without_variables_reuses_the_built_ones_and_any_layout_works():
    opt = optimizers.SGD(1.0, momentum=0.5)
    wide = np.ones((3, 4))
    w = wide[:, ::2]  # not contiguous: updated through a copy, written back
    opt.build([w])
    opt.apply([np.full((3, 2), 2.0)])
    np.testing.assert_array_equal(wide[:, ::2], -1.0)
    np.testing.assert_array_equal(wide[:, 1::2], 1.0)
    assert opt.apply_gradients([(np.asfortranarray(np.ones((3, 2))), w)]) == 2
    np.testing.assert_array_equal(w, -1.0 - 2.0)  # m = 0.5 * (-2) - 1 = -2


def test_loss_scale_factor_divides_the_gradients_before_clipping():
    opt = optimizers.SGD(1.0, loss_scale_factor=4.0, clipnorm=1.0)
    w = np.zeros(2)
    opt.apply([np.array([4.0, 0.0])], [w])  # unscaled norm 1: not clipped
    np.testing.assert_allclose(w, [-1.0, 0.0], rtol=1e-15)
    opt.apply([np.array([8.0, 0.0])], [w])  # unscaled norm 2: clipped to 1
    np.testing.assert_allclose(w, [-2.0, 0.0], rtol=1e-15)
    assert opt.scale_loss(2.0) == 8.0 and optimizers.SGD().scale_loss(2.0) == 2.0


def test_global_clipnorm_of_a_non_finite_norm_gives_nan_as_keras():
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    w1, w2 = np.zeros(2), np.zeros(2)
    opt.apply([np.array([np.inf, 0.0]), np.ones(2)], [w1, w2])
    assert np.isnan(w2).all()
    opt = optimizers.SGD(1.0, global_clipnorm=1.0)
    w = np.ones(2)
    opt.apply([np.zeros(2)], [w])  # a zero norm leaves the gradient alone
    np.testing.assert_array_equal(w, 1.0)


def test_exclude_from_weight_decay():
    class Named(np.ndarray):
        pass

    kernel = np.ones(2).view(Named)
    kernel.name = "dense/kernel"
    bias = np.ones(2).view(Named)
    bias.name = "dense/bias"
    other = np.ones(2)
    opt = optimizers.SGD(1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bias"])
    assert opt.use_weight_decay(kernel) and not opt.use_weight_decay(bias)
    assert not opt.use_weight_decay(other) and not opt.use_weight_decay(np.ones(1), "x/bias")
    zeros = [np.zeros(2)] * 3
    opt.apply(zeros, [kernel, bias, other])
    np.testing.assert_array_equal(kernel, 0.5)
    np.testing.assert_array_equal(bias, 1.0)
    np.testing.assert_array_equal(other, 1.0)


def test_set_weights_restores_the_state():
    w0, grads = _problem(np.float64, seed=3, n_steps=4)
    a = optimizers.Nadam(learning_rate=2.0**-7)  # exact in float32, as Keras stores it
    wa = [w.copy() for w in w0]
    for step in grads[:3]:
        a.apply(step, wa)
    b = optimizers.Nadam(learning_rate=0.5)
    wb = [w.copy() for w in wa]
    b.build(wb)
    b.set_weights([v.copy() for v in a.variables])
    assert b.iterations == 3 and b.learning_rate == 2.0**-7 and b.u_product == a.u_product
    a.apply(grads[3], wa)
    b.apply(grads[3], wb)
    for x, y in zip(wa + a.variables, wb + b.variables):
        np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="Expected"):
        b.set_weights(b.variables[:-1])


# ---- the engine interface -------------------------------------------------------------------


def test_engine_spec_fields():
    spec = optimizers.Adam(beta_1=0.8, amsgrad=True, clipnorm=2.0).engine_spec()
    assert spec == EngineSpec(
        kind=OptimizerKind.ADAM,
        slot_names=("momentum", "velocity", "velocity_hat"),
        beta_1=0.8,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=True,
        clipnorm=2.0,
    )
    spec = optimizers.RMSprop(momentum=0.5, centered=True, weight_decay=0.1).engine_spec()
    assert spec.kind == OptimizerKind.RMSPROP and spec.rho == 0.9 and spec.centered
    assert spec.slot_names == ("velocity", "momentum", "average_gradient")
    assert spec.weight_decay == 0.1 and spec.momentum == 0.5
    assert optimizers.SGD().engine_spec().slot_names == ()
    spec = optimizers.SGD(momentum=0.9, nesterov=True, clipvalue=-1.0).engine_spec()
    assert spec.slot_names == ("momentum",) and spec.nesterov and spec.clipvalue == 0.0
    assert optimizers.AdamW().engine_spec().kind == OptimizerKind.ADAM
    assert optimizers.Adamax().engine_spec().slot_names == ("momentum", "norm")
    assert optimizers.Lion(global_clipnorm=3).engine_spec().global_clipnorm == 3.0
    for name in NAMES:
        spec = getattr(optimizers, name)().engine_spec()
        assert set(spec.slot_names) <= set(KERNEL_SLOTS[spec.kind])
        assert all(type(v) in (float, bool) for v in spec[2:])


def test_engine_constants_agree():
    engine = pytest.importorskip("fastnn._kernels._engine")
    assert {k.name.lower(): int(k) for k in OptimizerKind} == engine.OPTIMIZERS
    assert set(engine.HYPER) == set(EngineSpec._fields) - {"kind", "slot_names"}


def test_learning_rates():
    np.testing.assert_array_equal(optimizers.Adam(0.5).learning_rates(7, 3), [0.5, 0.5, 0.5])
    schedule = schedules.PiecewiseConstantDecay([2, 4], [1.0, 0.5, 0.25])
    opt = optimizers.SGD(schedule)
    lrs = opt.learning_rates(1, 5)
    assert lrs.dtype == np.float64 and lrs.shape == (5,)
    np.testing.assert_array_equal(lrs, [schedule(i) for i in range(1, 6)])
    assert opt.learning_rates(0, 0).shape == (0,)

    class Halving(schedules.LearningRateSchedule):  # a user's scalar-only schedule
        def __call__(self, step):
            assert isinstance(step, int)
            return 1.0 / 2**step

        def get_config(self):
            return {}

    np.testing.assert_array_equal(
        optimizers.SGD(Halving()).learning_rates(1, 3), [0.5, 0.25, 0.125]
    )


def test_slots_for():
    opt = optimizers.Adagrad(initial_accumulator_value=0.25)
    (acc,) = opt.slots_for(10, np.float32)
    assert acc.shape == (10,) and acc.dtype == np.float32 and acc.flags.c_contiguous
    np.testing.assert_array_equal(acc, 0.25)
    assert opt.slots_for(10, "float32")[0] is acc and opt.flat_slots[0] is acc
    assert opt.slots_for(11, np.float32)[0] is not acc
    m, v, vhat = optimizers.Adam(amsgrad=True).slots_for(4, np.float64)
    assert m.dtype == np.float64 and not m.any() and not v.any() and not vhat.any()
    assert optimizers.SGD().slots_for(4, np.float32) == ()


def _engine_steps(opt, flat_w, flat_g_steps, offsets, n_threads):
    """The engine, as base.py's rules describe it, on one flat buffer (Python for the test)."""
    spec = opt.engine_spec()
    names = spec.slot_names
    slots = dict(zip(names, opt.slots_for(flat_w.size, flat_w.dtype)))
    args = [slots.get(name) for name in KERNEL_SLOTS[spec.kind]]
    it0 = int(opt.iterations)
    lrs = opt.learning_rates(it0, len(flat_g_steps))
    u_product = getattr(opt, "u_product", 1.0)
    for k, g in enumerate(flat_g_steps):
        lr, t = lrs[k], it0 + k + 1
        pieces = list(itertools.pairwise(offsets))
        scales = [1.0] * len(pieces)
        if spec.clipnorm:
            c = spec.clipnorm
            scales = [c / max(_reductions.l2_norm(g[a:b], 1), c) for a, b in pieces]
        if spec.global_clipnorm:
            c, norm = spec.global_clipnorm, math.sqrt(_reductions.sum_squares(g, 1))
            scales = [c * min(1 / norm, 1 / c)] * len(pieces)
        clip = spec.clipvalue or np.inf
        wd = spec.weight_decay
        new_product = u_product
        for (a, b), scale in zip(pieces, scales):
            w_, g_ = flat_w[a:b], g[a:b]
            s_ = [None if s is None else s[a:b] for s in args]
            if spec.kind == OptimizerKind.ADAM:
                _optimizers.adam_update(
                    w_,
                    g_,
                    *s_,
                    lr,
                    spec.beta_1,
                    spec.beta_2,
                    spec.epsilon,
                    t,
                    wd,
                    scale,
                    clip,
                    n_threads,
                )
            elif spec.kind == OptimizerKind.RMSPROP:
                _optimizers.rmsprop_update(
                    w_,
                    g_,
                    *s_,
                    lr,
                    spec.rho,
                    spec.momentum,
                    spec.epsilon,
                    wd,
                    scale,
                    clip,
                    n_threads,
                )
            elif spec.kind == OptimizerKind.NADAM:
                new_product = _optimizers.nadam_update(
                    w_,
                    g_,
                    *s_,
                    lr,
                    spec.beta_1,
                    spec.beta_2,
                    spec.epsilon,
                    t,
                    u_product,
                    wd,
                    scale,
                    clip,
                    n_threads,
                )
            elif spec.kind == OptimizerKind.ADAGRAD:
                _optimizers.adagrad_update(
                    w_, g_, *s_, lr, spec.epsilon, wd, scale, clip, n_threads
                )
            elif spec.kind == OptimizerKind.FTRL:
                _optimizers.ftrl_update(
                    w_, g_, *s_, lr, spec.learning_rate_power, spec.l1, spec.l2,
                    spec.l2_shrinkage, spec.beta, wd, scale, clip, n_threads
                )
            elif spec.kind == OptimizerKind.LAMB:  # one call per variable: its own norms
                _optimizers.lamb_update(
                    w_, g_, *s_, lr, spec.beta_1, spec.beta_2, spec.epsilon, t, wd, scale,
                    clip, n_threads
                )
            elif spec.kind == OptimizerKind.SGD:
                _optimizers.sgd_update(
                    w_, g_, *s_, lr, spec.momentum, spec.nesterov, wd, scale, clip, n_threads
                )
            else:
                raise AssertionError(spec.kind)
        u_product = new_product
    opt.iterations = it0 + len(flat_g_steps)
    if spec.kind == OptimizerKind.NADAM:
        opt.u_product = u_product


def test_views_of_different_buffers_keep_their_own_slots():
    opt = optimizers.SGD(1.0, momentum=0.5)
    a = np.zeros(4)[1:3]  # views into two buffers of the same size
    b = np.zeros(4)[1:3]
    opt.apply([np.ones(2), np.zeros(2)], [a, b])
    opt.apply([np.zeros(2), np.zeros(2)], [a, b])
    np.testing.assert_array_equal(a, -1.5)
    np.testing.assert_array_equal(b, 0.0)
    assert len(opt.flat_slots[0]) == 4


ENGINE_CASES = [
    ("Adam", {"learning_rate": 0.01, "amsgrad": True, "clipnorm": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"learning_rate": SCHEDULE, "momentum": 0.5, "centered": True}),
    ("Nadam", {"learning_rate": 0.01, "global_clipnorm": 0.5}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.3, "clipvalue": 0.5}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.01, "clipnorm": 0.5}),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.1, "global_clipnorm": 0.5}),
]


@pytest.mark.parametrize("name, kwargs", ENGINE_CASES, ids=[n for n, _ in ENGINE_CASES])
def test_engine_and_python_steps_share_state(name, kwargs, dtype, n_threads):
    """Steps 1-2 from Python on views into a flat buffer, steps 3-4 as the engine would run
    them on the flat buffer, step 5 from Python again: the same as five Python steps."""
    w0, grads = _problem(dtype, seed=11, n_steps=5)
    sizes = [w.size for w in w0]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    flat = np.concatenate([w.ravel() for w in w0])
    views = [flat[a:b].reshape(w.shape) for a, b, w in zip(offsets[:-1], offsets[1:], w0)]
    shared = _build(optimizers, name, kwargs)
    for step in grads[:2]:
        shared.apply(step, views)
    assert shared.flat_slots is not None and len(shared.flat_slots) == len(shared.slot_names)
    flat_grads = [np.concatenate([g.ravel() for g in step]) for step in grads[2:4]]
    _engine_steps(shared, flat, flat_grads, offsets, n_threads)
    shared.apply(grads[4], views)

    reference = _build(optimizers, name, kwargs)
    alone = [w.copy() for w in w0]
    for step in grads:
        reference.apply(step, alone)
    assert shared.iterations == reference.iterations == 5
    for a, b in zip(views, alone):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(shared.variables, reference.variables):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["Ftrl", "Lamb"])
def test_fit_gives_the_same_bits_on_one_and_two_threads(name):
    """A kernel of 300 x 200 (past the serial cut-off and several chunks, so Lamb's norms are
    summed from chunks that two threads computed)."""
    from _threads import assert_same_bits_on_one_and_two_threads

    import fastnn

    rng = np.random.default_rng(3)
    x = rng.normal(size=(64, 300)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)

    def train():
        fastnn.utils.set_random_seed(4)
        m = fastnn.Sequential([fastnn.Input((300,)), fastnn.layers.Dense(200, "tanh"),
                               fastnn.layers.Dense(1)])
        m.compile(getattr(fastnn.optimizers, name)(0.01, weight_decay=0.01), "mse")
        m.fit(x, y, batch_size=16, epochs=2, verbose=0)
        return m

    assert_same_bits_on_one_and_two_threads(train)
