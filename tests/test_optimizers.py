"""fastnn._kernels._optimizers against Keras's golden values, 50-step trajectories of the NumPy
reference, its folded clipping against the reduction kernels, and thread-count determinism."""

import math

import _reference as ref
import numpy as np
import pytest
from conftest import THREADS, tolerance
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn._kernels import _optimizers, _reductions

INF = math.inf

# Keras 3's defaults per rule (keras.md 5.2); a config overrides some of them.
DEFAULTS = {
    "sgd": {"lr": 0.01, "momentum": 0.0, "nesterov": False},
    "adam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False},
    "rmsprop": {"lr": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
    "adagrad": {"lr": 0.001, "epsilon": 1e-7},
    "adadelta": {"lr": 0.001, "rho": 0.95, "epsilon": 1e-7},
    "adamax": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "nadam": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7},
    "lion": {"lr": 0.001, "beta_1": 0.9, "beta_2": 0.99},
}
REFERENCE = {
    "sgd": ref.sgd_step,
    "adam": ref.adam_step,
    "rmsprop": ref.rmsprop_step,
    "adagrad": ref.adagrad_step,
    "adadelta": ref.adadelta_step,
    "adamax": ref.adamax_step,
    "nadam": ref.nadam_step,
    "lion": ref.lion_step,
}
ADAGRAD_INITIAL_ACCUMULATOR = 0.1  # Keras's default initial_accumulator_value

# id -> (rule, hyperparameters); the ids name the Keras constructor call.
CONFIGS = {
    "SGD()": ("sgd", {}),
    "SGD(0.1,momentum=0.9)": ("sgd", {"lr": 0.1, "momentum": 0.9}),
    "SGD(0.1,momentum=0.9,nesterov=True)": ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "SGD(1.0,weight_decay=0.1)": ("sgd", {"lr": 1.0, "weight_decay": 0.1}),
    "Adam()": ("adam", {}),
    "Adam(amsgrad=True)": ("adam", {"amsgrad": True}),
    "AdamW()": ("adam", {"weight_decay": 0.004}),
    "RMSprop()": ("rmsprop", {}),
    "RMSprop(momentum=0.9,centered=True)": ("rmsprop", {"momentum": 0.9, "centered": True}),
    "RMSprop(momentum=0.9)": ("rmsprop", {"momentum": 0.9}),
    "RMSprop(centered=True)": ("rmsprop", {"centered": True}),
    "Adagrad()": ("adagrad", {}),
    "Adadelta()": ("adadelta", {}),
    "Adamax()": ("adamax", {}),
    "Nadam()": ("nadam", {}),
    "Lion()": ("lion", {}),
}


def slot_names(rule, hp):
    """The slots Keras creates for this configuration (optional ones only when used)."""
    h = {**DEFAULTS[rule], **hp}
    if rule == "sgd":
        return ["m"] if h["momentum"] != 0 else []
    if rule == "adam":
        return ["m", "v"] + (["vhat"] if h["amsgrad"] else [])
    if rule == "rmsprop":
        return ["v"] + (["avg_g"] if h["centered"] else []) + (["mom"] if h["momentum"] > 0 else [])
    return {
        "adagrad": ["acc"],
        "adadelta": ["acc_g", "acc_delta"],
        "adamax": ["m", "u"],
        "nadam": ["m", "v"],
        "lion": ["m"],
    }[rule]


def new_slots(rule, hp, n, dtype):
    slots = {s: np.zeros(n, dtype) for s in slot_names(rule, hp)}
    if rule == "adagrad":
        slots["acc"][:] = ADAGRAD_INITIAL_ACCUMULATOR
    if rule == "nadam":
        slots["u_product"] = 1.0
    return slots


def kernel_step(rule, hp, w, g, slots, t, n_threads, grad_scale=1.0, clip_value=INF):
    """One kernel step with Keras's defaults for the hyperparameters hp leaves out."""
    h = {**DEFAULTS[rule], **hp}
    tail = (h.get("weight_decay", 0.0), grad_scale, clip_value, n_threads)
    s = slots.get
    k = _optimizers
    if rule == "sgd":
        k.sgd_update(w, g, s("m"), h["lr"], h["momentum"], h["nesterov"], *tail)
    elif rule == "adam":
        k.adam_update(
            w,
            g,
            s("m"),
            s("v"),
            s("vhat"),
            h["lr"],
            h["beta_1"],
            h["beta_2"],
            h["epsilon"],
            t,
            *tail,
        )
    elif rule == "rmsprop":
        k.rmsprop_update(
            w,
            g,
            s("v"),
            s("avg_g"),
            s("mom"),
            h["lr"],
            h["rho"],
            h["momentum"],
            h["epsilon"],
            *tail,
        )
    elif rule == "adagrad":
        k.adagrad_update(w, g, s("acc"), h["lr"], h["epsilon"], *tail)
    elif rule == "adadelta":
        k.adadelta_update(w, g, s("acc_g"), s("acc_delta"), h["lr"], h["rho"], h["epsilon"], *tail)
    elif rule == "adamax":
        k.adamax_update(
            w, g, s("m"), s("u"), h["lr"], h["beta_1"], h["beta_2"], h["epsilon"], t, *tail
        )
    elif rule == "nadam":
        slots["u_product"] = k.nadam_update(
            w,
            g,
            s("m"),
            s("v"),
            h["lr"],
            h["beta_1"],
            h["beta_2"],
            h["epsilon"],
            t,
            s("u_product"),
            *tail,
        )
    else:
        k.lion_update(w, g, s("m"), h["lr"], h["beta_1"], h["beta_2"], *tail)


def reference_step(rule, hp, w, g, slots, t):
    REFERENCE[rule](w, g, slots, t, **hp)


# ---- (a) Keras's golden values ------------------------------------------------------------
# keras.md 5.2, verified with Keras 3.15.1 in float32: w0 = [1, -2], constant g = [0.5, -0.1].
GOLDEN = {
    "SGD()": ([0.995, -1.999], [0.99, -1.998]),
    "SGD(0.1,momentum=0.9)": ([0.95, -1.99], [0.855, -1.971]),
    "SGD(0.1,momentum=0.9,nesterov=True)": ([0.905, -1.981], [0.7695, -1.9539]),
    "Adam()": ([0.999, -1.999], [0.998, -1.998]),
    "Adam(amsgrad=True)": ([0.999, -1.999], [0.998, -1.998]),
    "AdamW()": ([0.998996, -1.998992], [0.997992, -1.997984]),
    "RMSprop()": ([0.9968377, -1.9968379], [0.9945436, -1.9945438]),
    "RMSprop(momentum=0.9,centered=True)": ([0.9966667, -1.996667], [0.9911176, -1.991118]),
    "Adagrad()": ([0.9991549, -1.9996986], [0.9985093, -1.9994098]),
    "Adadelta()": ([0.9999986, -1.9999986], [0.9999971, -1.9999973]),
    "Adamax()": ([0.999, -1.999], [0.998, -1.998]),
    "Nadam()": ([0.9989372, -1.9989372], [0.9981636, -1.9981638]),
    "Lion()": ([0.999, -1.999], [0.998, -1.998]),
    "SGD(1.0,weight_decay=0.1)": ([0.4, -1.7], [-0.14, -1.43]),
}
SGD_CLIPPED_GOLDEN = {
    "clipnorm=0.1": ([0.9019419, -1.9803884], [0.8038838, -1.9607768]),
    "clipvalue=0.2": ([0.8, -1.9], [0.6, -1.8]),
}


def golden_tolerance(dtype):
    return {"rtol": 0, "atol": 1e-6} if dtype == np.float64 else tolerance(dtype)


@pytest.mark.parametrize("config", list(GOLDEN))
def test_golden_values(config, dtype, n_threads):
    rule, hp = CONFIGS[config]
    w = np.array([1.0, -2.0], dtype)
    g = np.array([0.5, -0.1], dtype)
    g.flags.writeable = False
    slots = new_slots(rule, hp, 2, dtype)
    for t, expected in enumerate(GOLDEN[config], start=1):
        kernel_step(rule, hp, w, g, slots, t, n_threads)
        np.testing.assert_allclose(w, expected, **golden_tolerance(dtype), err_msg=f"step {t}")


def _clip_with_reductions(kind, g, n_threads):
    """The caller's clipping pass done with the reduction kernels, in place."""
    if kind == "clipnorm=0.1":
        norm = _reductions.l2_norm(g, n_threads)
        _reductions.scale_inplace(g, 0.1 / max(norm, 0.1), n_threads)
    else:
        _reductions.clip_inplace(g, -0.2, 0.2, n_threads)


def _folded_clipping(kind, g, n_threads):
    """(grad_scale, clip_value) that fold the same clipping into the step."""
    if kind == "clipnorm=0.1":
        return 0.1 / max(_reductions.l2_norm(g, n_threads), 0.1), INF
    return 1.0, 0.2


@pytest.mark.parametrize("folded", [False, True], ids=["reductions", "folded"])
@pytest.mark.parametrize("kind", list(SGD_CLIPPED_GOLDEN))
def test_golden_values_sgd_clipped(kind, folded, dtype, n_threads):
    w = np.array([1.0, -2.0], dtype)
    for t, expected in enumerate(SGD_CLIPPED_GOLDEN[kind], start=1):
        g = np.array([0.5, -0.1], dtype)
        if folded:
            scale, clip = _folded_clipping(kind, g, n_threads)
            _optimizers.sgd_update(w, g, None, 1.0, 0.0, False, 0.0, scale, clip, n_threads)
        else:
            _clip_with_reductions(kind, g, n_threads)
            _optimizers.sgd_update(w, g, None, 1.0, 0.0, False, 0.0, 1.0, INF, n_threads)
        np.testing.assert_allclose(w, expected, **golden_tolerance(dtype), err_msg=f"step {t}")


@pytest.mark.parametrize("mode", ["clipnorm", "global_clipnorm"])
@pytest.mark.parametrize("config", ["SGD(0.1,momentum=0.9)", "Adam()", "Nadam()"])
def test_norm_clipping_of_a_flat_buffer(config, mode, dtype, n_threads):
    """Two tensors (7 and 13 values) in one flat buffer, clipped as Keras clips them: per
    tensor, each slice stepped with its own grad_scale; globally, one scale for the buffer."""
    rule, hp = CONFIGS[config]
    rng = np.random.default_rng(4)
    cuts = [slice(0, 7), slice(7, 20)]
    w = rng.normal(size=20).astype(dtype)
    slots = new_slots(rule, hp, 20, dtype)
    w_ref, slots_ref = w.astype(np.float64), new_slots(rule, hp, 20, np.float64)
    c = 0.5
    for t in range(1, 4):
        g = rng.normal(size=20).astype(dtype)
        pieces = [g[cut].astype(np.float64) for cut in cuts]
        if mode == "clipnorm":
            product = slots.get("u_product")
            for cut in cuts:
                scale = c / max(_reductions.l2_norm(g[cut], n_threads), c)
                view = {k: v[cut] for k, v in slots.items() if k != "u_product"}
                view["u_product"] = product
                kernel_step(rule, hp, w[cut], g[cut], view, t, n_threads, scale)
                if "u_product" in slots:
                    slots["u_product"] = view["u_product"]
            g_ref = np.concatenate([ref.clip_by_norm(p, c) for p in pieces])
        else:
            norm = _reductions.l2_norm(g, n_threads)
            kernel_step(rule, hp, w, g, slots, t, n_threads, c * min(1 / norm, 1 / c))
            g_ref = np.concatenate(ref.clip_by_global_norm(pieces, c))
        reference_step(rule, hp, w_ref, g_ref, slots_ref, t)
    np.testing.assert_allclose(w, w_ref, **tolerance(dtype))
    for name in slot_names(rule, hp):
        np.testing.assert_allclose(slots[name], slots_ref[name], **tolerance(dtype), err_msg=name)


def test_nadam_returns_the_running_product():
    w, g = np.ones(3), np.full(3, 0.5)
    m, v = np.zeros(3), np.zeros(3)
    product = 1.0
    for t in range(1, 6):
        product_before = product
        product = _optimizers.nadam_update(
            w, g, m, v, 0.001, 0.9, 0.999, 1e-7, t, product, 0.0, 1.0, INF, 1
        )
        assert product == pytest.approx(product_before * 0.9 * (1 - 0.5 * 0.96**t), rel=1e-15)


# ---- (b) trajectories against the reference -----------------------------------------------
STEPS = 50
SIZES = [1, 7, 100_003]  # the last crosses the parallel cut-off
CLIPPED = {"weight_decay": 0.01, "grad_scale": 0.7, "clip_value": 0.5}


def _gradients(rng, rule, n, dtype):
    """STEPS read-only gradients. Lion's step is sign(c): where c is within rounding of 0 any
    two correct float32 implementations may disagree, so its float32 gradients keep one sign
    per element, which keeps c away from 0."""
    if rule == "lion" and dtype == np.float32:
        sign = rng.choice(np.array([-1.0, 1.0], dtype), n)
        grads = sign * rng.uniform(0.5, 1.5, (STEPS, n)).astype(dtype)
    else:
        grads = rng.standard_normal((STEPS, n), dtype=dtype)
    grads.flags.writeable = False
    return list(grads)


def run_reference(rule, hp, w0, grads, clipped):
    """The reference state after len(grads) steps from w0, and per element the largest
    magnitude each value took on the way."""
    w = w0.astype(np.float64)
    slots = new_slots(rule, hp, w.size, np.float64)
    names = slot_names(rule, hp)
    peak = {"w": np.abs(w), **{k: np.abs(slots[k]) for k in names}}
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        if clipped:
            g = np.clip(g * CLIPPED["grad_scale"], -CLIPPED["clip_value"], CLIPPED["clip_value"])
        reference_step(rule, hp, w, g, slots, t)
        for name, value in [("w", w)] + [(k, slots[k]) for k in names]:
            np.maximum(peak[name], np.abs(value), out=peak[name])
    return w, slots, peak


def run_kernel(rule, hp, w0, grads, clipped, n_threads):
    w = w0.copy()
    slots = new_slots(rule, hp, w.size, w.dtype)
    scale, clip = (CLIPPED["grad_scale"], CLIPPED["clip_value"]) if clipped else (1.0, INF)
    for t, g in enumerate(grads, start=1):
        kernel_step(rule, hp, w, g, slots, t, n_threads, scale, clip)
    return w, slots


def assert_trajectory_close(w, slots, w_ref, slots_ref, peak, dtype):
    """Each value within the dtype's tolerance of the reference, measured against the largest
    magnitude it had on the way: a value that ends near 0 after passing through large ones
    (SGD with momentum walks far) carries the rounding errors of those, not of its end value."""
    rtol, atol = tolerance(dtype)["rtol"], tolerance(dtype)["atol"]
    pairs = [("w", w, w_ref)] + [(k, slots[k], slots_ref[k]) for k in peak if k != "w"]
    for name, got, want in pairs:
        err = np.abs(got.astype(np.float64) - want)
        bound = atol + rtol * peak[name]
        worst = np.argmax(err - bound)
        assert (err <= bound).all(), (name, worst, got[worst], want[worst], peak[name][worst])
    if "u_product" in slots_ref:
        assert slots["u_product"] == pytest.approx(slots_ref["u_product"], rel=1e-15)


# Decay and clipping are per-element, like the rules, so they run on the small sizes only
# (the large one is there for the threads).
TRAJECTORIES = [(n, False) for n in SIZES] + [(n, True) for n in SIZES[:-1]]


@pytest.mark.parametrize(
    ("n", "clipped"),
    TRAJECTORIES,
    ids=[f"{n}-{'decay+clip' if c else 'plain'}" for n, c in TRAJECTORIES],
)
@pytest.mark.parametrize("config", list(CONFIGS))
def test_trajectory_matches_reference(config, n, clipped, dtype):
    """50 steps at 1 and 2 threads against the reference; (c) the two give the same bits."""
    rule, hp = CONFIGS[config]
    if clipped:
        hp = {**hp, "weight_decay": CLIPPED["weight_decay"]}
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=n).astype(dtype)
    grads = _gradients(rng, rule, n, dtype)
    reference = run_reference(rule, hp, w0, grads, clipped)
    results = [run_kernel(rule, hp, w0, grads, clipped, n_threads) for n_threads in THREADS]
    for w, slots in results:
        assert_trajectory_close(w, slots, *reference, dtype)
    (w1, slots1), (w2, slots2) = results
    assert w1.tobytes() == w2.tobytes()
    for name in slot_names(rule, hp):
        assert slots1[name].tobytes() == slots2[name].tobytes(), name


# ---- folded clipping == the reduction kernels' clipping, bit for bit ----------------------
@pytest.mark.parametrize("config", list(CONFIGS))
def test_folded_clipping_equals_separate_pass(config, dtype):
    rule, hp = CONFIGS[config]
    rng = np.random.default_rng(1)
    n = 1000
    w0 = rng.normal(size=n).astype(dtype)
    grads = [rng.normal(size=n).astype(dtype) for _ in range(5)]
    states = []
    for folded in (False, True):
        w, slots = w0.copy(), new_slots(rule, hp, n, dtype)
        for t, g in enumerate(grads, start=1):
            scale = 0.3 / max(_reductions.l2_norm(g, 1), 0.3)
            if folded:
                kernel_step(rule, hp, w, g, slots, t, 1, scale, 0.01)
            else:
                g = g.copy()
                _reductions.scale_inplace(g, scale, 1)
                _reductions.clip_inplace(g, -0.01, 0.01, 1)
                kernel_step(rule, hp, w, g, slots, t, 1)
        states.append((w, slots))
    (w_a, slots_a), (w_b, slots_b) = states
    assert w_a.tobytes() == w_b.tobytes()
    for name in slot_names(rule, hp):
        assert slots_a[name].tobytes() == slots_b[name].tobytes(), name


def test_zero_weight_decay_keeps_infinite_weights():
    w = np.array([np.inf, -np.inf, 1.0])
    _optimizers.sgd_update(w, np.zeros(3), None, 0.1, 0.0, False, 0.0, 1.0, INF, 1)
    assert w.tolist() == [np.inf, -np.inf, 1.0]


def test_read_only_parameters_are_refused():
    w = np.ones(4)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _optimizers.sgd_update(w, np.ones(4), None, 0.1, 0.0, False, 0.0, 1.0, INF, 1)


# ---- extreme magnitudes (float64) ---------------------------------------------------------
def _valid_state(rule, hp, n, data, magnitudes):
    """A state any trajectory could reach: v >= 0, (centered) v >= 2 avg_g^2, u >= 0, ..."""
    draw = lambda: np.array(data.draw(st.lists(magnitudes, min_size=n, max_size=n)))
    slots = new_slots(rule, hp, n, np.float64)
    for name in slot_names(rule, hp):
        slots[name][:] = draw()
    for name in ("v", "vhat", "acc", "acc_g", "acc_delta", "u"):
        if name in slots:
            slots[name][:] = slots[name] ** 2
    if "vhat" in slots:
        slots["vhat"][:] = np.maximum(slots["vhat"], slots["v"])
    if "avg_g" in slots:
        slots["avg_g"][:] = np.sign(slots["avg_g"]) * np.sqrt(slots["v"] / 2)
    if rule == "nadam":
        slots["u_product"] = 0.9 ** data.draw(st.integers(0, 50)) * 0.5
    return slots


def _magnitudes():
    exponents = st.integers(-30, 30)
    return st.builds(
        lambda s, m, e: s * m * 10.0**e,
        st.sampled_from([-1.0, 1.0]),
        st.floats(1.0, 9.99),
        exponents,
    ) | st.just(0.0)


@settings(max_examples=100, deadline=None)
@given(
    config=st.sampled_from(list(CONFIGS)),
    n=st.integers(1, 9),
    t=st.integers(1, 10_000),
    data=st.data(),
)
def test_extreme_values_float64(config, n, t, data):
    """One step from a valid state with values from 1e-30 to 1e30 and zeros. The kernel and the
    reference round differently (FMA, operation order), so the bound is the conditioning of
    the last operation: a few ulps of |old| + |new| per element."""
    rule, hp = CONFIGS[config]
    magnitudes = _magnitudes()
    w = np.array(data.draw(st.lists(magnitudes, min_size=n, max_size=n)))
    g = np.array(data.draw(st.lists(magnitudes, min_size=n, max_size=n)))
    slots = _valid_state(rule, hp, n, data, magnitudes)
    w_ref, slots_ref = w.copy(), {k: np.copy(v) for k, v in slots.items()}
    old = {"w": w.copy(), **{k: np.copy(v) for k, v in slots.items()}}
    kernel_step(rule, hp, w, g, slots, t, 1)
    reference_step(rule, hp, w_ref, g, slots_ref, t)
    if rule == "lion":  # sign(c) is undecidable within rounding of c = 0
        h = {**DEFAULTS[rule], **hp}
        c_terms = np.abs(h["beta_1"] * old["m"]) + np.abs((1 - h["beta_1"]) * g)
        c = h["beta_1"] * old["m"] + (1 - h["beta_1"]) * g
        decided = np.abs(c) > 1e-12 * c_terms
        w, w_ref, old["w"] = w[decided], w_ref[decided], old["w"][decided]
    pairs = [("w", w, w_ref)] + [(k, slots[k], slots_ref[k]) for k in slot_names(rule, hp)]
    for name, got, want in pairs:
        assert np.isfinite(got).all(), name
        bound = 1e-12 * (np.abs(old[name]) + np.abs(want))
        assert (np.abs(got - want) <= bound).all(), (name, got, want)
