"""fastnn.optimizers.schedules against Keras 3's learning-rate schedules."""

import numpy as np
import pytest

from fastnn import optimizers
from fastnn.optimizers import schedules

# Keras computes a schedule in the dtype of initial_learning_rate, so a float64 one makes it
# compute in float64 (fastnn always does). Keras still rounds the other Python floats to
# float32 (decay_rate 0.9 becomes 0.89999998, which after 300 decays is 1e-5 off), so rates,
# multipliers and alphas here are exact in float32 where Keras would round them.
CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.75}),
    (
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True},
    ),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 2.0, "staircase": True},
    ),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 300}),
    (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 70, "power": 2.0, "cycle": True},
    ),
    (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 70, "end_learning_rate": 0.5, "power": 0.5},
    ),
    ("PiecewiseConstantDecay", {"boundaries": [10, 100, 300], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PiecewiseConstantDecay", {"boundaries": [0], "values": [0.25, 0.125]}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 250}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 100, "alpha": 0.25}),
    (
        "CosineDecay",
        {
            "initial_learning_rate": 0.0,
            "decay_steps": 100,
            "warmup_target": 0.5,
            "warmup_steps": 50,
        },
    ),
    (
        "CosineDecay",
        {
            "initial_learning_rate": 0.01,
            "decay_steps": 60,
            "alpha": 0.125,
            "warmup_target": 0.005,
            "warmup_steps": 7,
        },
    ),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
    (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 3, "t_mul": 3.0, "alpha": 0.125},
    ),
    (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 7, "t_mul": 1.5, "m_mul": 0.75},
    ),
    (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 1.0, "m_mul": 0.5},
    ),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CASES)]
# Every step to 400 (each restart, boundary and the end of each decay), then a few far ones.
STEPS = np.concatenate([np.arange(401), [1000, 4095, 12345, 10**6]])
# Keras evaluated one step at a time (slow: ~10 ms a step), where it must be: the warm-up
# takes a scalar step, and TensorFlow's vectorized log rounds differently from its scalar one,
# which moves CosineDecayRestarts's restarts by a step.
SCALAR_STEPS = np.concatenate([np.arange(131), [363, 1000, 4095, 12345, 10**6]])


def _keras_float64(config):
    config = dict(config)
    if "initial_learning_rate" in config:
        config["initial_learning_rate"] = np.float64(config["initial_learning_rate"])
    else:
        config["values"] = [np.float64(v) for v in config["values"]]
    return config


def _restart_steps(config, last):
    """The steps where CosineDecayRestarts starts a period, with the number of restarts."""
    step, period, restarts = 0.0, float(config["first_decay_steps"]), {}
    while step <= last:
        step += period
        period *= config.get("t_mul", 2.0)
        if step == int(step):
            restarts[int(step)] = len(restarts) + 1
    return restarts


@pytest.mark.parametrize("name, config", CASES, ids=IDS)
def test_matches_tf_keras_at_many_steps(tf_keras, name, config):
    theirs = getattr(tf_keras.optimizers.schedules, name)(**_keras_float64(config))
    ours = getattr(schedules, name)(**config)
    if name == "CosineDecayRestarts" or config.get("warmup_target") is not None:
        steps = SCALAR_STEPS
        expected = np.array([float(theirs(int(s))) for s in steps])
    else:
        steps = STEPS
        expected = np.asarray(theirs(tf_keras.ops.convert_to_tensor(steps)), dtype=np.float64)
    got = ours(steps)
    assert got.dtype == np.float64 and got.shape == steps.shape
    if name == "CosineDecayRestarts":
        # Keras's own rounding of log(...) / log(t_mul) puts some restarts one step late
        # (step 363 for t_mul = 3: its lr is the previous period's end, alpha * lr0); fastnn
        # starts every period on its step, at lr0 * m_mul ** restarts.
        lr0, alpha = config["initial_learning_rate"], config.get("alpha", 0.0)
        for step, i in _restart_steps(config, steps.max()).items():
            at = steps == step
            expected[at] = lr0 * ((1 - alpha) * config.get("m_mul", 1.0) ** i + alpha)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
    scalars = [ours(int(s)) for s in steps[:50]]
    assert all(type(v) is float for v in scalars)
    np.testing.assert_array_equal(scalars, got[:50])


def test_restarts_land_exactly_on_their_step():
    # Periods 3, 9, 27: restarts at steps 3, 12 and 39, where log(1 + 2f) / log(3) rounds
    # below the whole number of restarts.
    schedule = schedules.CosineDecayRestarts(1.0, 3, t_mul=3.0)
    np.testing.assert_array_equal(schedule(np.array([3, 12, 39, 120])), 1.0)
    # Two thirds into each period: 0.5 * (1 + cos(2 pi / 3)) = 0.25.
    np.testing.assert_allclose(schedule(np.array([2, 9, 30])), 0.25, rtol=1e-12)
    m = schedules.CosineDecayRestarts(1.0, 10, t_mul=1.0, m_mul=0.5)
    np.testing.assert_array_equal(m(np.array([0, 10, 20, 30])), [1.0, 0.5, 0.25, 0.125])


def test_formulas_at_hand_computed_steps():
    assert schedules.ExponentialDecay(2.0, 10, 0.5)(20) == 0.5
    assert schedules.ExponentialDecay(2.0, 10, 0.5, staircase=True)(19) == 1.0
    assert schedules.InverseTimeDecay(1.0, 2, 1.0)(4) == pytest.approx(1 / 3)
    assert schedules.PolynomialDecay(1.0, 10, 0.0)(5) == 0.5
    assert schedules.PolynomialDecay(1.0, 10, 0.0)(50) == 0.0
    assert schedules.PolynomialDecay(1.0, 10, 0.0, cycle=True)(15) == 0.25
    pw = schedules.PiecewiseConstantDecay([10, 20], [3.0, 2.0, 1.0])
    np.testing.assert_array_equal(pw(np.array([0, 10, 11, 20, 21])), [3, 3, 2, 2, 1])
    assert schedules.CosineDecay(1.0, 10)(5) == pytest.approx(0.5)
    warm = schedules.CosineDecay(0.0, 10, warmup_target=1.0, warmup_steps=4)
    np.testing.assert_allclose(warm(np.array([0, 2, 4, 9, 14, 99])), [0, 0.5, 1, 0.5, 0, 0])


def test_vectorized_call_accepts_any_integer_array():
    schedule = schedules.CosineDecay(0.1, 10)
    steps = np.arange(12, dtype=np.int32).reshape(3, 4)
    got = schedule(steps)
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(got, [[schedule(int(s)) for s in row] for row in steps])
    assert type(schedule(np.int64(3))) is float


@pytest.mark.parametrize("name, config", CASES, ids=IDS)
def test_config_round_trip(name, config):
    schedule = getattr(schedules, name)(**config)
    expected = {**config}
    got = schedule.get_config()
    assert {k: got[k] for k in expected} == expected
    again = type(schedule).from_config(got)
    assert again.get_config() == got
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == got
    np.testing.assert_array_equal(restored(STEPS), schedule(STEPS))


@pytest.mark.parametrize("name, config", CASES, ids=IDS)
def test_serialized_form_and_defaults_match_tf_keras(tf_keras, name, config):
    theirs = tf_keras.optimizers.schedules.serialize(
        getattr(tf_keras.optimizers.schedules, name)(**config)
    )
    assert schedules.serialize(getattr(schedules, name)(**config)) == theirs
    assert schedules.deserialize(theirs).get_config() == theirs["config"]


def test_validation_errors():
    for make in (
        lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
        lambda: schedules.InverseTimeDecay(0.1, -1, 0.5),
        lambda: schedules.PolynomialDecay(0.1, 0),
        lambda: schedules.CosineDecay(0.1, 0),
    ):
        with pytest.raises(ValueError, match="decay_steps"):
            make()
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="length of boundaries"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="learning rate schedule"):
        schedules.deserialize({"class_name": "StepDecay", "config": {}})


def test_optimizer_evaluates_its_schedule_at_iterations():
    schedule = schedules.ExponentialDecay(1.0, 1, 0.5)
    opt = optimizers.SGD(schedule)
    w = np.zeros(1)
    for i in range(3):
        assert opt.learning_rate == 0.5**i
        opt.apply([np.ones(1)], [w])
    assert w[0] == -1.75
    np.testing.assert_array_equal(opt.learning_rates(3, 3), [0.125, 0.0625, 0.03125])
