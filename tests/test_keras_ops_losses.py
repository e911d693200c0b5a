"""CategoricalFocalCrossentropy, Dice, Tversky and Circle (fastnn/losses/ops_losses.py) against
TF Keras: values (functions and classes, reductions, sample weights), configs, gradients of the
autograd versions against central differences, and training trajectories: on the engine's
compiled kernels (focal cross-entropy with one alpha, Dice and Tversky over the last axis or
the whole batch) and on the Python-loss path (Circle, a per-class alpha)."""

import numpy as np
import pytest

import fastnn
from fastnn import losses as L
from fastnn.losses.python_loss import PythonLoss

_rng = np.random.default_rng(21)
Y_MULTI = (_rng.random((7, 4)) > 0.5).astype(np.float32)
P_MULTI = _rng.uniform(0.05, 0.95, size=(7, 4)).astype(np.float32)
Y_ONEHOT = np.eye(4, dtype=np.float32)[_rng.integers(0, 4, size=7)]
LABELS = np.array([0, 1, 0, 1, 2, 2, 1])
EMB = _rng.normal(size=(7, 3)).astype(np.float32)
EMB /= np.linalg.norm(EMB, axis=1, keepdims=True)

CASES = [
    ("CategoricalFocalCrossentropy", {}, Y_ONEHOT, P_MULTI),
    ("CategoricalFocalCrossentropy", {"alpha": [0.1, 0.2, 0.3, 0.4], "gamma": 1.5}, Y_ONEHOT,
     P_MULTI),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "label_smoothing": 0.2}, Y_ONEHOT,
     P_MULTI * 4 - 2),
    ("CategoricalFocalCrossentropy", {"gamma": 0.0}, Y_ONEHOT, P_MULTI),
    ("Dice", {}, Y_MULTI, P_MULTI),
    ("Dice", {"axis": -1}, Y_MULTI, P_MULTI),
    ("Tversky", {}, Y_MULTI, P_MULTI),
    ("Tversky", {"alpha": 0.2, "beta": 0.8, "axis": 1}, Y_MULTI, P_MULTI),
    ("Circle", {}, LABELS, EMB),
    ("Circle", {"gamma": 4.0, "margin": 0.25, "remove_diagonal": False}, LABELS, EMB),
    # labels 2 and 3 alone: their rows have no positive pair, loss 0, masked out of the mean
    ("Circle", {"gamma": 3.0}, np.array([0, 1, 0, 1, 2, 3, 1]), EMB),
]
IDS = [f"{n}{k}" for n, k, _, _ in CASES]
SAMPLE_WEIGHT = np.linspace(0.2, 1.5, 7).astype(np.float32)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
@pytest.mark.parametrize("name, kwargs, y, p", CASES, ids=IDS)
def test_values_match_keras(tf_keras, name, kwargs, y, p, reduction):
    ours = getattr(L, name)(reduction=reduction, **kwargs)
    theirs = getattr(tf_keras.losses, name)(reduction=reduction, **kwargs)
    np.testing.assert_allclose(ours(y, p), np.asarray(theirs(y, p)), rtol=1e-5, atol=1e-6)
    if name != "Circle" and kwargs.get("axis", -1) is not None:  # per-row values
        np.testing.assert_allclose(ours(y, p, sample_weight=SAMPLE_WEIGHT),
                                   np.asarray(theirs(y, p, sample_weight=SAMPLE_WEIGHT)),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs, y, p", CASES, ids=IDS)
def test_functions_and_configs_match_keras(tf_keras, name, kwargs, y, p):
    fn = getattr(L, L.get(name).fn.__name__)
    keras_fn = getattr(tf_keras.losses, fn.__name__)
    np.testing.assert_allclose(fn(y, p, **kwargs), np.asarray(keras_fn(y, p, **kwargs)),
                               rtol=1e-5, atol=1e-6)
    ours, theirs = getattr(L, name)(**kwargs).get_config(), getattr(
        tf_keras.losses, name)(**kwargs).get_config()
    assert {k: v for k, v in ours.items() if k != "dtype"} == theirs
    again = L.deserialize(L.serialize(getattr(L, name)(**kwargs)))
    assert type(again).__name__ == name and again.get_config() == ours
    np.testing.assert_allclose(again(y, p), ours_value(name, kwargs, y, p), rtol=1e-7)


def ours_value(name, kwargs, y, p):
    return getattr(L, name)(**kwargs)(y, p)


@pytest.mark.parametrize("name, kwargs, y, p", CASES, ids=IDS)
def test_gradients_match_central_differences(name, kwargs, y, p):
    """The batch loss and its gradient as training computes them (PythonLoss), float64."""
    loss = PythonLoss(getattr(L, name)(dtype="float64", **kwargs), (None, p.shape[1]), "out")
    loss.bind(y, None)
    rows = np.arange(len(y))
    p64 = p.astype(np.float64)
    value, grad = loss(p64.copy(), rows, True)
    numeric = np.zeros_like(p64)
    h = 1e-6
    for idx in np.ndindex(p64.shape):
        up, down = p64.copy(), p64.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (loss(up, rows, False)[0] - loss(down, rows, False)[0]) / (2 * h)
    assert value == pytest.approx(float(getattr(L, name)(dtype="float64", **kwargs)(y, p64)))
    assert np.any(numeric != 0)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


FIT_CASES = [
    ("CategoricalFocalCrossentropy", {}, "softmax"),
    ("CategoricalFocalCrossentropy", {"from_logits": True, "alpha": 0.5}, None),
    ("CategoricalFocalCrossentropy", {"gamma": 1.5, "label_smoothing": 0.1}, "softmax"),
    ("CategoricalFocalCrossentropy", {"alpha": [0.2, 0.3, 0.5]}, "softmax"),
    ("Dice", {}, "sigmoid"),
    ("Dice", {"axis": -1}, "sigmoid"),
    ("Tversky", {"alpha": 0.3, "beta": 0.7, "axis": -1}, "sigmoid"),
    ("Tversky", {"alpha": 0.7, "beta": 0.3}, "sigmoid"),
    ("Circle", {"gamma": 2.0}, None),
]


def _compiled(name, kwargs) -> bool:
    """Which FIT_CASES the engine runs with its own kernel (the rest: the Python head)."""
    return name != "Circle" and not isinstance(kwargs.get("alpha"), list)


@pytest.mark.parametrize("name, kwargs, activation", FIT_CASES,
                         ids=[f"{n}{k}" for n, k, _ in FIT_CASES])
@pytest.mark.parametrize("weighted", [False, True], ids=["", "weighted"])
def test_training_trajectory_matches_keras(tf_keras, name, kwargs, activation, weighted):
    rng = np.random.default_rng(8)
    sw = rng.uniform(0.2, 2.0, size=32).astype(np.float32) if weighted else None
    x = rng.normal(size=(32, 5)).astype(np.float32)
    if name == "Circle":
        # Some rows of a batch of 8 have no positive pair (loss 0, masked out of the mean).
        y = rng.integers(0, 4, size=32)
    elif name == "CategoricalFocalCrossentropy":
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=32)]
    else:
        y = (rng.random((32, 3)) > 0.5).astype(np.float32)
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((5,)), lib.layers.Dense(6, activation="tanh"),
                            lib.layers.Dense(3, activation=activation)])
        m.compile(lib.optimizers.Adam(0.01), getattr(lib.losses, name)(**kwargs))
        models.append(m)
    km, fm = models
    fm.set_weights(km.get_weights())
    kw = {"batch_size": 8, "epochs": 3, "shuffle": False, "verbose": 0, "sample_weight": sw}
    hk, hf = km.fit(x, y, **kw), fm.fit(x, y, **kw)
    assert isinstance(fm._loss_specs[0], PythonLoss) != _compiled(name, kwargs)
    np.testing.assert_allclose(hf.history["loss"], hk.history["loss"], rtol=1e-4, atol=1e-6)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert hf.history["loss"][-1] < hf.history["loss"][0]  # it trains
    # evaluate batches as fit does: Circle and Dice/Tversky with axis=None depend on the batch
    fm.set_weights(km.get_weights())
    for batch_size in (8, 12):      # 12: a last batch of 8 rows
        np.testing.assert_allclose(
            fm.evaluate(x, y, batch_size=batch_size, verbose=0, sample_weight=sw),
            km.evaluate(x, y, batch_size=batch_size, verbose=0, sample_weight=sw), rtol=1e-5)


@pytest.mark.parametrize("loss, activation", [
    (L.Dice(), "sigmoid"),
    (L.Tversky(alpha=0.3, beta=0.7, axis=-1), "sigmoid"),
    (L.CategoricalFocalCrossentropy(gamma=1.5), "softmax"),
], ids=["dice", "tversky_rows", "focal"])
def test_compiled_fit_gives_the_same_bits_on_one_and_two_threads(loss, activation):
    """Batches of 4096 x 9 outputs: past the kernels' serial cut-off, so two threads split the
    loss's rows (the whole-batch sums stay on one thread)."""
    from _threads import assert_same_bits_on_one_and_two_threads

    rng = np.random.default_rng(5)
    x = rng.normal(size=(8192, 5)).astype(np.float32)
    if activation == "softmax":
        y = np.eye(9, dtype=np.float32)[rng.integers(0, 9, size=8192)]
    else:
        y = (rng.random((8192, 9)) > 0.5).astype(np.float32)

    def train():
        m = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(9, activation)])
        m.set_weights([np.linspace(-1, 1, 45, dtype=np.float32).reshape(5, 9),
                       np.zeros(9, np.float32)])
        m.compile(fastnn.optimizers.Adam(0.01), loss)
        m.fit(x, y, batch_size=4096, epochs=2, shuffle=False, verbose=0)
        assert not isinstance(m._loss_specs[0], PythonLoss)
        return m

    assert_same_bits_on_one_and_two_threads(train)
