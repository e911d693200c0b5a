"""fastnn's Sequential models against TensorFlow's Keras 3: same weights in, same numbers out.

Every test builds one architecture twice, from the same code, with ``tf.keras`` and with fastnn
(their APIs are the same), copies Keras's initial weights into fastnn with ``set_weights``,
trains both with ``shuffle=False`` and compares predictions, losses, History and weights.
The data are tiny (13 rows, batches of 5 leave a partial last batch) because every Keras
``compile`` + ``fit`` costs about a second of tracing.
"""

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastnn

N, D, C = 13, 8, 3
BATCH = 5
EPOCHS = 3

_rng = np.random.default_rng(20240611)
X = _rng.normal(size=(N, D)).astype(np.float32)
LABELS = _rng.integers(0, C, size=N)
ONEHOT = np.eye(C, dtype=np.float32)[LABELS]
PROBS = _rng.dirichlet(np.ones(C), size=N).astype(np.float32)
Y_REG = _rng.normal(size=(N, 2)).astype(np.float32)
Y_POS = _rng.uniform(0.5, 2.0, size=(N, 2)).astype(np.float32)
Y_PM1 = np.where(_rng.random((N, 2)) < 0.5, -1.0, 1.0).astype(np.float32)
Y_BIN = (_rng.random((N, 1)) < 0.5).astype(np.float32)
SAMPLE_W = _rng.uniform(0.2, 2.0, size=N).astype(np.float32)

# Weights after training: fastnn and TF sum in different orders, and 3 epochs amplify that.
FIT_TOL = {"rtol": 1e-3, "atol": 2e-5}


def mlp(lib, out=C, out_act="softmax", hidden=16, hidden_act="relu", **dense_kwargs):
    """An 8-hidden-out MLP written once for both libraries (their APIs are the same).
    ``out_act="layer:NAME"`` puts the output activation in an Activation layer."""
    if out_act and out_act.startswith("layer:"):
        head = [lib.layers.Dense(out), lib.layers.Activation(out_act[6:])]
    else:
        head = [lib.layers.Dense(out, activation=out_act)]
    return lib.Sequential([
        lib.Input((D,)),
        lib.layers.Dense(hidden, activation=hidden_act, **dense_kwargs),
        *head,
    ])


def twins(tf_keras, build):
    """The same model from both libraries, fastnn's starting from Keras's initial weights
    (drawn from a fixed seed, so that every run checks the same numbers)."""
    tf_keras.utils.set_random_seed(1)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    return km, fm


def assert_same_weights(km, fm, **tol):
    kw, fw = km.get_weights(), fm.get_weights()
    assert [w.shape for w in kw] == [w.shape for w in fw]
    for i, (k, f) in enumerate(zip(kw, fw)):
        np.testing.assert_allclose(f, k, **(tol or FIT_TOL), err_msg=f"weight {i}")


def fit_both(km, fm, y, epochs=EPOCHS, **fit_kwargs):
    fit_kwargs = {"batch_size": BATCH, "shuffle": False, "verbose": 0, **fit_kwargs}
    hk = km.fit(X, y, epochs=epochs, **fit_kwargs)
    hf = fm.fit(X, y, epochs=epochs, **fit_kwargs)
    return hk.history, hf.history


# ---- 1. activations ---------------------------------------------------------------------

ACTIVATIONS = sorted(fastnn.activations._ACTIVATIONS)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_through_dense(tf_keras, name):
    def build(lib):
        return lib.Sequential([lib.Input((D,)), lib.layers.Dense(5, activation=name)])

    km, fm = twins(tf_keras, build)
    x = 3 * X   # reach the saturated and piecewise parts of every activation
    expected = np.asarray(km(x, training=False))
    np.testing.assert_allclose(fm.predict(x), expected, rtol=1e-5, atol=1e-6)


# ---- 2. losses --------------------------------------------------------------------------

# Targets and the output layer each kind of loss is used with.
TASKS = {
    "reg": (Y_REG, 2, None),
    "pos": (Y_POS, 2, "softplus"),
    "pm1": (Y_PM1, 2, "tanh"),
    "bin01_hinge": (Y_BIN, 1, "tanh"),
    "onehot_linear": (ONEHOT, C, None),
    "prob": (PROBS, C, "softmax"),
    "binary": (Y_BIN, 1, "sigmoid"),
    "binary_linear": (Y_BIN, 1, None),
    "binary_hard": (Y_BIN, 1, "hard_sigmoid"),
    "onehot": (ONEHOT, C, "softmax"),
    "sparse": (LABELS, C, "softmax"),
    "sparse_linear": (LABELS, C, None),
    "binary_layer": (Y_BIN, 1, "layer:sigmoid"),
    "onehot_layer": (ONEHOT, C, "layer:softmax"),
}

# Every name fastnn's compile accepts, with Keras 3's name for the same loss.
KERAS2_NAMES = {"logcosh": "log_cosh", "huber_loss": "huber",
                "kullback_leibler_divergence": "kl_divergence",
                "cosine_proximity": "cosine_similarity"}
LOSS_NAMES = {
    "reg": ["mean_squared_error", "mse", "MSE", "MeanSquaredError", "mean_absolute_error",
            "mae", "MAE", "MeanAbsoluteError", "cosine_similarity", "CosineSimilarity",
            "cosine_proximity", "huber", "Huber", "huber_loss", "log_cosh", "LogCosh",
            "logcosh"],
    "pos": ["mean_absolute_percentage_error", "mape", "MAPE", "MeanAbsolutePercentageError",
            "mean_squared_logarithmic_error", "msle", "MSLE", "MeanSquaredLogarithmicError",
            "poisson", "Poisson"],
    "pm1": ["hinge", "Hinge", "squared_hinge", "SquaredHinge"],
    "bin01_hinge": ["hinge", "squared_hinge"],
    "onehot_linear": ["categorical_hinge", "CategoricalHinge"],
    "prob": ["kl_divergence", "kld", "KLD", "KLDivergence", "kullback_leibler_divergence",
             "categorical_crossentropy"],
    "binary": ["binary_crossentropy", "bce", "BCE", "BinaryCrossentropy",
               "binary_focal_crossentropy", "BinaryFocalCrossentropy", "crossentropy", "ce"],
    "binary_hard": ["binary_crossentropy", "binary_focal_crossentropy"],
    "onehot": ["categorical_crossentropy", "CategoricalCrossentropy", "crossentropy"],
    "sparse": ["sparse_categorical_crossentropy", "SparseCategoricalCrossentropy",
               "crossentropy", "CE"],
}
NAME_CASES = [(task, name) for task, names in LOSS_NAMES.items() for name in names]


def _keras_loss_value(tf_keras, loss, y, out):
    """What Keras's evaluate reports for an unregularized model: the compiled loss on the
    outputs (which carry their logits, as in a Keras graph), reduced over the batch."""
    if isinstance(loss, str) and loss.lower() in ("crossentropy", "ce"):
        binary, sparse = out.shape[-1] == 1, y.ndim < 2
        loss = ("binary_crossentropy" if binary else
                "sparse_categorical_crossentropy" if sparse else "categorical_crossentropy")
    fn = tf_keras.losses.get(KERAS2_NAMES.get(loss, loss)) if isinstance(loss, str) else loss
    return float(np.mean(np.asarray(fn(y, out))))


@functools.cache
def _keras_task_model(tf_keras, task):
    """A Keras model for ``task``, its weights and its outputs on X (built once per task)."""
    _, out, act = TASKS[task]
    km = mlp(tf_keras, out=out, out_act=act)
    return km.get_weights(), km(X)


@pytest.mark.parametrize("task, name", NAME_CASES, ids=[f"{t}-{n}" for t, n in NAME_CASES])
def test_loss_names_evaluate(tf_keras, task, name):
    y, out, act = TASKS[task]
    weights, outputs = _keras_task_model(tf_keras, task)
    fm = mlp(fastnn, out=out, out_act=act)
    fm.set_weights(weights)
    fm.compile(optimizer="sgd", loss=name)
    expected = _keras_loss_value(tf_keras, name, y, outputs)
    assert fm.evaluate(X, y, verbose=0) == pytest.approx(expected, rel=1e-5, abs=1e-7)


SATURATED = [("binary", "binary_crossentropy"), ("binary", "binary_focal_crossentropy"),
             ("binary_layer", "binary_crossentropy"), ("binary_hard", "binary_crossentropy"),
             ("onehot", "categorical_crossentropy"), ("onehot_layer", "categorical_crossentropy"),
             ("sparse", "sparse_categorical_crossentropy")]


@pytest.mark.parametrize("task, name", SATURATED, ids=[f"{t}-{n}" for t, n in SATURATED])
def test_saturated_outputs_use_the_logits(tf_keras, task, name):
    """Outputs within 1e-7 of 0 or 1: Keras's clipped probabilities and its logits path
    differ here, so this tells which one runs."""
    y, out, act = TASKS[task]
    km, fm = twins(tf_keras, lambda lib: mlp(lib, out=out, out_act=act))
    big = [w * 6 for w in km.get_weights()]
    km.set_weights(big)
    fm.set_weights(big)
    pred = np.asarray(km(X))
    assert np.any(np.minimum(pred, 1 - pred) < 1e-7)
    fm.compile(optimizer="sgd", loss=name)
    expected = _keras_loss_value(tf_keras, name, y, km(X))
    assert fm.evaluate(X, y, verbose=0) == pytest.approx(expected, rel=1e-5)


def _loss_configs():
    """(task, loss factory) for every distinct loss computation the engine has. The fused
    softmax + (sparse) categorical and sigmoid + binary cross-entropies with default arguments
    are trained by the optimizer, weighting and History tests below."""
    def cls(name, **kw):
        return lambda lib: getattr(lib.losses, name)(**kw)

    def named(name):
        return lambda lib: name

    return [
        ("reg", named("mse")), ("reg", named("mae")), ("reg", named("cosine_similarity")),
        ("reg", cls("Huber", delta=0.3)), ("reg", named("log_cosh")),
        ("pos", named("mape")), ("pos", named("msle")), ("pos", named("poisson")),
        ("pm1", named("hinge")), ("pm1", named("squared_hinge")),
        ("bin01_hinge", named("hinge")),
        ("onehot_linear", named("categorical_hinge")),
        ("prob", named("kl_divergence")), ("prob", named("categorical_crossentropy")),
        ("binary", cls("BinaryCrossentropy", label_smoothing=0.2)),
        ("binary_linear", cls("BinaryCrossentropy", from_logits=True, label_smoothing=0.1)),
        ("binary_hard", named("binary_crossentropy")),
        ("binary", cls("BinaryFocalCrossentropy", gamma=1.5, apply_class_balancing=True,
                       alpha=0.3, label_smoothing=0.1)),
        ("binary_linear", cls("BinaryFocalCrossentropy", from_logits=True,
                              apply_class_balancing=True)),
        ("binary_hard", named("binary_focal_crossentropy")),
        ("onehot", cls("CategoricalCrossentropy", label_smoothing=0.2)),
        ("onehot_linear", cls("CategoricalCrossentropy", from_logits=True,
                              label_smoothing=0.1)),
        ("binary_layer", named("binary_crossentropy")),
        ("onehot_layer", named("categorical_crossentropy")),
        ("sparse_linear", cls("SparseCategoricalCrossentropy", from_logits=True)),
    ]


LOSS_CONFIGS = _loss_configs()


def _loss_id(case):
    task, make = case
    loss = make(fastnn)
    if isinstance(loss, str):
        return f"{task}-{loss}"
    cfg = loss.get_config()
    extra = ",".join(f"{k}={v}" for k, v in sorted(cfg.items())
                     if k not in ("name", "reduction", "dtype", "axis") and v)
    return f"{task}-{type(loss).__name__}({extra})"


@pytest.mark.parametrize("case", LOSS_CONFIGS, ids=[_loss_id(c) for c in LOSS_CONFIGS])
def test_loss_fit(tf_keras, case):
    task, make = case
    y, out, act = TASKS[task]
    km, fm = twins(tf_keras, lambda lib: mlp(lib, out=out, out_act=act))
    km.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss=make(tf_keras))
    fm.compile(optimizer=fastnn.optimizers.SGD(0.1), loss=make(fastnn))
    before = _keras_loss_value(tf_keras, make(tf_keras), y, km(X))
    assert fm.evaluate(X, y, batch_size=BATCH, verbose=0) == pytest.approx(before, rel=1e-5)
    hk, hf = fit_both(km, fm, y)
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4, atol=1e-6)
    assert_same_weights(km, fm)


# ---- 3. optimizers, clipping, schedules, weights and regularizers -------------------------

def _schedule(lib):
    return lib.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


OPTIMIZERS = [
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"learning_rate": 0.01}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("Adamax", {"learning_rate": 0.01}),
    ("Nadam", {"learning_rate": 0.01}),
    ("Lion", {"learning_rate": 0.003}),
    ("Ftrl", {"learning_rate": 0.1}),
    ("Ftrl", {"learning_rate": 0.1, "l1_regularization_strength": 0.001,
              "l2_regularization_strength": 0.01, "beta": 0.1}),
    ("Lamb", {"learning_rate": 0.01}),
    ("Lamb", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("SGD", {"learning_rate": 0.5, "clipnorm": 0.05}),
    ("Adam", {"learning_rate": 0.01, "global_clipnorm": 0.05}),
    ("SGD", {"learning_rate": 0.5, "clipvalue": 0.01}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": _schedule}),
]


def _optimizer(lib, name, kwargs):
    kw = {k: (v(lib) if callable(v) else v) for k, v in kwargs.items()}
    return getattr(lib.optimizers, name)(**kw)


def _opt_id(case):
    name, kw = case
    return name + "".join(f"-{k}" for k in kw if k != "learning_rate") + \
        ("-schedule" if callable(kw["learning_rate"]) else "")


def _check_fit(tf_keras, km, fm, y, fit_kwargs=(), eval_kwargs=(), evaluate=True):
    hk, hf = fit_both(km, fm, y, **dict(fit_kwargs))
    assert list(hf) == list(hk)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert_same_weights(km, fm)
    assert fm.optimizer.iterations == int(km.optimizer.iterations.numpy())
    if not evaluate:
        return
    # Evaluate from the same (Keras's) weights: the comparison is then exact up to rounding.
    fm.set_weights(km.get_weights())
    ek = km.evaluate(X, y, batch_size=BATCH, verbose=0, **dict(eval_kwargs))
    ef = fm.evaluate(X, y, batch_size=BATCH, verbose=0, **dict(eval_kwargs))
    np.testing.assert_allclose(ef, ek, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", OPTIMIZERS, ids=[_opt_id(c) for c in OPTIMIZERS])
def test_optimizer_classifier(tf_keras, case):
    km, fm = twins(tf_keras, mlp)
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=_optimizer(lib, *case), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    # evaluate does not depend on the optimizer: checking it once is enough.
    _check_fit(tf_keras, km, fm, LABELS, evaluate=case is OPTIMIZERS[0])


def test_weight_decay_exclusions(tf_keras):
    km, fm = twins(tf_keras, mlp)
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        opt = lib.optimizers.AdamW(0.05, weight_decay=0.5)
        opt.exclude_from_weight_decay(var_names=["bias"])
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    _check_fit(tf_keras, km, fm, LABELS, evaluate=False)


@pytest.mark.parametrize("case", [OPTIMIZERS[4], OPTIMIZERS[8]],
                         ids=[_opt_id(OPTIMIZERS[4]), _opt_id(OPTIMIZERS[8])])
def test_optimizer_regression(tf_keras, case):
    km, fm = twins(tf_keras, lambda lib: mlp(lib, out=2, out_act=None, hidden_act="tanh"))
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=_optimizer(lib, *case), loss="mse", metrics=["mae"])
    _check_fit(tf_keras, km, fm, Y_REG)


def test_sample_weight(tf_keras):
    km, fm = twins(tf_keras, mlp)
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.SGD(0.2, momentum=0.5),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                      weighted_metrics=["accuracy"])
    _check_fit(tf_keras, km, fm, LABELS, {"sample_weight": SAMPLE_W},
               {"sample_weight": SAMPLE_W})


def test_class_weight(tf_keras):
    km, fm = twins(tf_keras, mlp)
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.Adam(0.02),
                      loss="categorical_crossentropy", metrics=["accuracy"])
    _check_fit(tf_keras, km, fm, ONEHOT, {"class_weight": {0: 0.3, 1: 2.0, 2: 1.2}})


def test_regularizers_and_constraints(tf_keras):
    def build(lib):
        reg = lib.regularizers
        return lib.Sequential([
            lib.Input((D,)),
            lib.layers.Dense(16, activation="relu", kernel_regularizer=reg.L1(0.01),
                             bias_regularizer=reg.L2(0.02),
                             activity_regularizer=reg.L1L2(l1=0.01, l2=0.02),
                             kernel_constraint=lib.constraints.MaxNorm(0.6)),
            lib.layers.Dense(C, activation="softmax", kernel_regularizer=reg.L1L2(0.005, 0.01),
                             activity_regularizer=reg.L2(0.03),
                             bias_constraint=lib.constraints.NonNeg()),
        ])

    km, fm = twins(tf_keras, build)
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=lib.optimizers.Adam(0.02),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _check_fit(tf_keras, km, fm, LABELS)


# ---- 5. History: keys, order, validation, epochs and steps -----------------------------------

def _compile_both(km, fm, tf_keras, loss, metrics_of, optimizer=("Adam", {"learning_rate": 0.02})):
    for model, lib in ((km, tf_keras), (fm, fastnn)):
        model.compile(optimizer=_optimizer(lib, *optimizer), loss=loss, metrics=metrics_of(lib))


def _assert_same_history(hk, hf, rtol=1e-4):
    assert list(hf) == list(hk)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=rtol, atol=1e-6, err_msg=key)


def test_history_binary_metrics_and_validation_split(tf_keras):
    # AUC() is auto-named per process (auc, auc_1, ...): both counters start afresh here.
    tf_keras.backend.clear_session()
    fastnn.backend.clear_session()
    km, fm = twins(tf_keras, lambda lib: mlp(lib, out=1, out_act="sigmoid"))
    _compile_both(km, fm, tf_keras, "binary_crossentropy",
                  lambda lib: ["accuracy", "mse", lib.metrics.AUC()])
    hk, hf = fit_both(km, fm, Y_BIN, validation_split=0.3)
    _assert_same_history(hk, hf)
    assert_same_weights(km, fm)


def test_history_categorical_validation_data(tf_keras):
    km, fm = twins(tf_keras, mlp)
    _compile_both(km, fm, tf_keras, "categorical_crossentropy",
                  lambda lib: ["acc", "categorical_crossentropy",
                               lib.metrics.TopKCategoricalAccuracy(k=2)])
    val = (X[:7] * 0.5, ONEHOT[:7], SAMPLE_W[:7])
    hk, hf = fit_both(km, fm, ONEHOT, validation_data=val, validation_freq=2, epochs=4)
    _assert_same_history(hk, hf)
    assert_same_weights(km, fm)


def test_history_initial_epoch_and_steps_per_epoch(tf_keras):
    km, fm = twins(tf_keras, mlp)
    _compile_both(km, fm, tf_keras, "sparse_categorical_crossentropy", lambda lib: ["acc"],
                  optimizer=("SGD", {"learning_rate": 0.1}))
    # 3 batches per pass, 2 per epoch: epoch 2 gets the pass's last (partial) batch only.
    with pytest.warns(UserWarning, match="ran out of data"):
        hf = fm.fit(X, LABELS, initial_epoch=1, epochs=4, steps_per_epoch=2, batch_size=BATCH,
                    shuffle=False, verbose=0).history
    hk = km.fit(X, LABELS, initial_epoch=1, epochs=4, steps_per_epoch=2, batch_size=BATCH,
                shuffle=False, verbose=0).history
    _assert_same_history(hk, hf)
    assert km.history.epoch == fm.history.epoch == [1, 2, 3]
    assert fm.optimizer.iterations == int(km.optimizer.iterations.numpy())
    assert_same_weights(km, fm)


# ---- 6. determinism ----------------------------------------------------------------------

def _noisy_run(seed, threads):
    """Weights after a seeded fit through every random layer, on data big enough for the
    kernels to run in parallel. Batches of 200 rows send the larger matrix products to BLAS,
    held to one thread: OpenBLAS's own results change with its thread count."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    y = rng.integers(0, 4, size=600)
    fastnn.config.set_num_threads(threads)
    try:
        fastnn.utils.set_random_seed(seed)
        layers = fastnn.layers
        model = fastnn.Sequential([
            fastnn.Input((32,)), layers.Dense(64, activation="relu"), layers.Dropout(0.3),
            layers.GaussianNoise(0.2), layers.Dense(48, activation="tanh"),
            layers.GaussianDropout(0.2), layers.BatchNormalization(),
            layers.Dense(4, activation="softmax"),
        ])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        with threadpool_limits(limits=1, user_api="blas"):
            model.fit(x, y, batch_size=200, epochs=2, verbose=0)
        return model.get_weights()
    finally:
        fastnn.config.set_num_threads(None)


def _bitwise_equal(a, b):
    return all(u.tobytes() == v.tobytes() for u, v in zip(a, b))


def test_same_seed_same_bits():
    first = _noisy_run(3, 2)
    assert _bitwise_equal(first, _noisy_run(3, 2))
    assert not _bitwise_equal(first, _noisy_run(4, 2))


def test_thread_count_does_not_change_bits():
    assert _bitwise_equal(_noisy_run(5, 1), _noisy_run(5, 2))


# ---- 7. Ctrl-C ---------------------------------------------------------------------------

_LONG_FIT = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastnn

    class Ready(fastnn.callbacks.Callback):
        def on_train_begin(self, logs=None):
            print("ready", flush=True)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20000, 16))
    y = np.full((20000, 1), 1e6)        # far above every prediction: d(mae)/d(output) = -1
    model = fastnn.Sequential([fastnn.Input((16,)),
                               fastnn.layers.Dense(32, activation="relu", dtype="float64"),
                               fastnn.layers.Dense(1, dtype="float64")])
    lr = 2.0 ** -20                      # the output bias grows by exactly lr per step
    model.compile(optimizer=fastnn.optimizers.SGD(lr), loss="mae")
    try:
        model.fit(x, y, batch_size=8, epochs=10**6, verbose=0, callbacks=[Ready()])
    except KeyboardInterrupt:
        caught = time.time()
        weights = model.get_weights()
        finite = all(np.isfinite(w).all() for w in weights)
        steps = weights[-1][0] / lr
        print("interrupted", caught, finite, steps, int(model.optimizer.iterations), flush=True)
""")


def test_ctrl_c_stops_fit_quickly():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(fastnn.__file__)), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _LONG_FIT], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    fields = out.split()
    assert fields and fields[0] == "interrupted", err
    caught, finite = float(fields[1]), fields[2]
    steps, iterations = float(fields[3]), int(fields[4])
    assert caught - sent < 0.5
    assert finite == "True"
    assert steps == iterations > 0


# ---- the *_on_batch methods --------------------------------------------------------------

def test_on_batch_methods(tf_keras):
    km, fm = twins(tf_keras, mlp)
    _compile_both(km, fm, tf_keras, "sparse_categorical_crossentropy", lambda lib: ["acc"])
    for lo, hi in ((0, 6), (6, 13), (3, 9)):
        rk = km.train_on_batch(X[lo:hi], LABELS[lo:hi])
        rf = fm.train_on_batch(X[lo:hi], LABELS[lo:hi])
        np.testing.assert_allclose(rf, rk, rtol=1e-5, atol=1e-6)
    assert_same_weights(km, fm)
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm.test_on_batch(X, LABELS), km.test_on_batch(X, LABELS),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(fm.predict_on_batch(X), km.predict_on_batch(X), rtol=1e-5,
                               atol=1e-6)
