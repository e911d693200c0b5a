"""Python-defined losses and metrics against TensorFlow's Keras 3: the same code, written
with ``ops`` (``fastnn.ops`` here, ``keras.ops`` there), trains the same weights from the same
start, and reports the same History; a custom version of a built-in loss trains exactly as the
built-in; a piece that fails leaves the model as it was."""

import numpy as np
import pytest

import fastnn

N, BATCH, EPOCHS = 30, 7, 3           # a partial last batch: the reductions must agree
FIT_TOL = {"rtol": 1e-3, "atol": 2e-5}
_rng = np.random.default_rng(5)
X = _rng.normal(size=(N, 5)).astype(np.float32)
Y = (X @ _rng.normal(size=(5, 2))).astype(np.float32)
W = _rng.uniform(0.2, 2.0, size=N).astype(np.float32)
LABELS = _rng.integers(0, 3, size=N)


def asymmetric_loss(ops):
    def asymmetric(y_true, y_pred):
        over = ops.where(y_pred > y_true, 2.0, 1.0)
        return ops.mean(over * ops.square(y_true - y_pred), axis=-1)
    return asymmetric


def scaled_huber(lib, ops):
    class ScaledHuber(lib.losses.Loss):
        def __init__(self, delta=0.5, scale=3.0, name="scaled_huber"):
            super().__init__(name=name)
            self.delta, self.scale = delta, scale

        def call(self, y_true, y_pred):
            err = ops.abs(y_true - y_pred)
            quad = ops.minimum(err, self.delta)
            return self.scale * ops.mean(0.5 * quad ** 2 + self.delta * (err - quad), axis=-1)
    return ScaledHuber()


def closure_loss(ops, weight):
    def loss(y_true, y_pred):          # an extra argument through a closure
        return weight * ops.sum(ops.abs(y_true - y_pred), axis=-1)
    return loss


def largest_error(lib, ops):
    class LargestError(lib.metrics.Metric):
        """Stateful and not a mean: the largest absolute error seen."""

        def __init__(self, name="largest_error", **kwargs):
            super().__init__(name=name, **kwargs)
            self.largest = self.add_variable(shape=(), initializer="zeros", name="largest")
            self.batches = self.add_weight(name="batches", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            err = ops.max(ops.abs(ops.convert_to_tensor(y_true) - y_pred))
            self.largest.assign(ops.maximum(self.largest, err))
            self.batches.assign_add(1.0)

        def result(self):
            return self.largest + 0.0 * self.batches
    return LargestError()


def batch_mean_metric(ops):
    def mean_prediction(y_true, y_pred):    # one number per batch: Keras averages batches
        return ops.mean(y_pred)
    return mean_prediction


def build(lib, loss, metrics=(), outputs=2, activation=None):
    lib.utils.set_random_seed(2)
    model = lib.Sequential([lib.Input((5,)), lib.layers.Dense(6, activation="tanh"),
                            lib.layers.Dense(outputs, activation=activation)])
    model.compile(optimizer=lib.optimizers.Adam(0.02), loss=loss, metrics=list(metrics))
    return model


def assert_trains_as_keras(km, fm, **fit_kw):
    """Three epochs of TF Keras's model and fastnn's from the same weights: the same losses
    (rtol 1e-4) and weights (FIT_TOL)."""
    hk = km.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                **fit_kw).history
    hf = fm.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                **fit_kw).history
    np.testing.assert_allclose(hf["loss"], hk["loss"], rtol=1e-4)
    for k, f in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(f, k, **FIT_TOL)


def assert_trains_the_same(builtin, custom, y, atol):
    """Three epochs of each from the same weights: the same losses and weights (rtol 1e-5)."""
    h_builtin = builtin.fit(X, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False,
                            verbose=0).history
    h_custom = custom.fit(X, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False,
                          verbose=0).history
    np.testing.assert_allclose(h_custom["loss"], h_builtin["loss"], rtol=1e-5)
    for wa, wb in zip(builtin.get_weights(), custom.get_weights()):
        np.testing.assert_allclose(wb, wa, rtol=1e-5, atol=atol)


def twins(tf_keras, make_loss, make_metrics=lambda lib, ops: [], **kw):
    km = build(tf_keras, make_loss(tf_keras, tf_keras.ops), make_metrics(tf_keras, tf_keras.ops),
               **kw)
    fm = build(fastnn, make_loss(fastnn, fastnn.ops), make_metrics(fastnn, fastnn.ops), **kw)
    fm.set_weights(km.get_weights())
    return km, fm


LOSSES = {
    "function": lambda lib, ops: asymmetric_loss(ops),
    "loss_subclass": scaled_huber,
    "closure": lambda lib, ops: closure_loss(ops, 0.7),
}


@pytest.mark.parametrize("case", sorted(LOSSES))
def test_custom_losses_train_as_in_keras(tf_keras, case):
    km, fm = twins(tf_keras, LOSSES[case])
    assert_trains_as_keras(km, fm, sample_weight=W)
    np.testing.assert_allclose(fm.evaluate(X, Y, verbose=0),
                               km.evaluate(X, Y, verbose=0), rtol=1e-4)


def test_custom_metrics_match_keras(tf_keras):
    def metrics(lib, ops):
        return [largest_error(lib, ops), batch_mean_metric(ops), "mae"]

    km, fm = twins(tf_keras, lambda lib, ops: "mse", metrics)
    hk = km.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                validation_data=(X[:11], Y[:11])).history
    hf = fm.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0,
                validation_data=(X[:11], Y[:11])).history
    assert sorted(hf) == sorted(hk)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=2e-4, err_msg=key)
    np.testing.assert_allclose(fm.evaluate(X, Y, batch_size=4, verbose=0),
                               km.evaluate(X, Y, batch_size=4, verbose=0), rtol=2e-4)


def test_custom_loss_on_one_of_two_outputs_matches_keras(tf_keras):
    def model(lib, ops):
        lib.utils.set_random_seed(4)
        inputs = lib.Input((5,))
        h = lib.layers.Dense(6, activation="relu")(inputs)
        reg = lib.layers.Dense(2, name="reg")(h)
        cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
        m = lib.Model(inputs, [reg, cls])
        m.compile(optimizer="adam", loss=[asymmetric_loss(ops), "sparse_categorical_crossentropy"],
                  loss_weights=[0.5, 1.0])
        return m

    km, fm = model(tf_keras, tf_keras.ops), model(fastnn, fastnn.ops)
    fm.set_weights(km.get_weights())
    x, y = X[:28], [Y[:28], LABELS[:28]]        # full batches: Keras's per-output logs
    hk = km.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    hf = fm.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    assert sorted(hf) == sorted(hk)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=1e-4, err_msg=key)
    for k, f in zip(km.get_weights(), fm.get_weights()):
        np.testing.assert_allclose(f, k, **FIT_TOL)


def test_custom_copy_of_a_builtin_loss_trains_the_same_weights():
    ops = fastnn.ops

    def my_crossentropy(y_true, y_pred):
        y_pred = ops.clip(y_pred, ops.epsilon(), 1 - ops.epsilon())
        return -ops.sum(y_true * ops.log(y_pred), axis=-1)

    onehot = np.eye(3, dtype=np.float32)[LABELS]
    # The built-in is fused with softmax in the engine (d/dlogits); the custom one goes
    # through the softmax's own backward: the same maths, rounded differently.
    for builtin, custom in (("mse", lambda t, p: ops.mean(ops.square(t - p), axis=-1)),
                            ("categorical_crossentropy", my_crossentropy)):
        activation = "softmax" if builtin != "mse" else None
        y = onehot if builtin != "mse" else Y[:, :1].repeat(3, axis=1)
        a, b = (build(fastnn, loss, outputs=3, activation=activation)
                for loss in (builtin, custom))
        assert_trains_the_same(a, b, y, atol=1e-6)


def _fails_and_changes_nothing(model, fit, error, match):
    before = [w.copy() for w in model.get_weights()]
    steps = int(model.optimizer.iterations)
    with pytest.raises(error, match=match) as info:
        fit()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == steps
    return info


@pytest.mark.parametrize("bad, message", [
    (lambda t, p: fastnn.ops.mean(p, axis=0), r"shape \(2,\) for a batch of 7 rows"),
    (lambda t, p: fastnn.ops.log(p - 100.0), "non-finite value on batch 0"),
    (lambda t, p: p.missing_method(), "failed on batch 0"),
])
def test_failing_custom_loss_names_itself_and_changes_nothing(bad, message):
    model = build(fastnn, "mse")
    model.fit(X, Y, epochs=1, batch_size=BATCH, verbose=0)      # some optimizer state
    model.compile(optimizer=model.optimizer, loss=bad)
    info = _fails_and_changes_nothing(
        model, lambda: model.fit(X, Y, epochs=2, batch_size=BATCH, verbose=0), Exception,
        message)
    assert "'<lambda>'" in str(info.value)


def test_custom_loss_failing_mid_epoch_changes_nothing():
    def flaky(y_true, y_pred):
        if y_true.shape[0] != BATCH:       # the last batch of 30 rows has 2
            raise RuntimeError("boom")
        return fastnn.ops.mean(fastnn.ops.square(y_true - y_pred), axis=-1)

    model = build(fastnn, flaky)
    model.build((None, 5))
    _fails_and_changes_nothing(
        model, lambda: model.fit(X, Y, epochs=1, batch_size=BATCH, verbose=0), RuntimeError,
        "'flaky'.*batch 4: boom")


# ---- layers written in Python: a Layer subclass, Lambda ----------------------------------

def linear_layer(lib, ops):
    class Linear(lib.layers.Layer):
        """The Keras guide's first custom layer, with an activation and a frozen scale."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="glorot_uniform", trainable=True, name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True,
                                     name="b")
            self.scale = self.add_weight(shape=(), initializer="ones", trainable=False,
                                         name="scale")

        def call(self, inputs, training=None):
            z = ops.tanh(ops.matmul(inputs, self.w) + self.b) * self.scale
            return z * 0.5 if training else z       # a training-only branch, as Keras allows

    return Linear


def python_layers_model(lib, ops):
    lib.utils.set_random_seed(6)
    inputs = lib.Input((5,))
    h = linear_layer(lib, ops)(6, name="linear")(inputs)
    sq = lib.layers.Lambda(lambda t: ops.square(t) - t)(h)
    both = lib.layers.concatenate([h, sq])
    model = lib.Model(inputs, lib.layers.Dense(2)(both))
    model.compile(optimizer=lib.optimizers.Adam(0.02), loss="mse")
    return model


def test_python_layers_train_as_in_keras(tf_keras):
    km, fm = python_layers_model(tf_keras, tf_keras.ops), python_layers_model(fastnn, fastnn.ops)
    weights = km.get_weights()
    weights[2] = np.float32(1.5)          # the frozen scale
    km.set_weights(weights)
    fm.set_weights(weights)
    np.testing.assert_allclose(fm.predict(X), km.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert_trains_as_keras(km, fm)
    assert fm.get_weights()[2] == np.float32(1.5)      # non-trainable: unchanged
    np.testing.assert_allclose(fm.predict(X), km.predict(X, verbose=0), **FIT_TOL)


def test_custom_dense_layer_trains_as_the_builtin():
    ops = fastnn.ops

    class MyDense(fastnn.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, inputs):
            return ops.relu(ops.matmul(inputs, self.kernel) + self.bias)

    def build(layer):
        fastnn.utils.set_random_seed(3)
        model = fastnn.Sequential([fastnn.Input((5,)), layer, fastnn.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        return model

    a = build(fastnn.layers.Dense(7, activation="relu"))
    b = build(MyDense(7))
    b.set_weights(a.get_weights())
    assert_trains_the_same(a, b, Y, atol=1e-7)


def test_python_layer_gradients_match_central_differences():
    ops = fastnn.ops
    x = _rng.normal(size=(6, 3))
    y = _rng.normal(size=(6, 1))
    fastnn.config.set_floatx("float64")
    try:
        model = fastnn.Sequential([
            fastnn.Input((3,)), fastnn.layers.Dense(4, activation="tanh"),
            fastnn.layers.Lambda(lambda t: ops.sin(t) * t), fastnn.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        plan = model._ensure_plan()
        plan.engine.clear_losses()
        model._training_ready = False
        model._prepare_training([(None, 1)])
        loss, = [plan.engine.loss_and_gradients(x, y, None, 1)]
        grads = plan.grads.copy()
        eps = 1e-6
        for i in range(plan.params.size):
            keep = plan.params[i]
            plan.params[i] = keep + eps
            up = plan.engine.loss_and_gradients(x, y, None, 1)
            plan.params[i] = keep - eps
            down = plan.engine.loss_and_gradients(x, y, None, 1)
            plan.params[i] = keep
            np.testing.assert_allclose(grads[i], (up - down) / (2 * eps), rtol=1e-5,
                                       atol=1e-8)
        assert np.isfinite(loss)
    finally:
        fastnn.config.set_floatx("float32")


@pytest.mark.parametrize("layer, message", [
    (lambda: fastnn.layers.Lambda(lambda t: t[:3], output_shape=(2,)), "one row per input row"),
    (lambda: fastnn.layers.Lambda(lambda t: t.missing_method()), "failed when fastnn ran"),
])
def test_failing_python_layer_is_named(layer, message):
    with pytest.raises(ValueError, match=message):
        model = fastnn.Sequential([fastnn.Input((5,)), layer(), fastnn.layers.Dense(2)])
        model.predict(X)


def test_python_layer_failing_mid_fit_changes_nothing():
    def fails_on_short_batches(t):
        if t.shape[0] != BATCH:
            raise RuntimeError("short batch")
        return t * 2.0

    model = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(3),
                               fastnn.layers.Lambda(fails_on_short_batches, output_shape=(3,)),
                               fastnn.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X[:14], Y[:14], batch_size=BATCH, epochs=1, verbose=0)
    _fails_and_changes_nothing(
        model, lambda: model.fit(X, Y, epochs=1, batch_size=BATCH, verbose=0), RuntimeError,
        "Lambda.*short batch")


def test_lambda_is_not_written_into_files(tmp_path):
    model = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Lambda(lambda t: t * 2.0)])
    with pytest.raises(ValueError, match="loading a file must never run its code"):
        model.save(tmp_path / "m.keras")
    assert not (tmp_path / "m.keras").exists()


def scaled_softsign(ops):
    def scaled_softsign(z):
        return 1.7 * z / (1.0 + ops.abs(z))
    return scaled_softsign


def test_custom_activations_train_as_in_keras(tf_keras):
    def model(lib, ops):
        lib.utils.set_random_seed(8)
        m = lib.Sequential([lib.Input((5,)),
                            lib.layers.Dense(6, activation=scaled_softsign(ops)),
                            lib.layers.Activation(lambda z: ops.square(z) * 0.5),
                            lib.layers.Dense(2)])
        m.compile(optimizer=lib.optimizers.Adam(0.02), loss="mse")
        return m

    km, fm = model(tf_keras, tf_keras.ops), model(fastnn, fastnn.ops)
    fm.set_weights(km.get_weights())
    np.testing.assert_allclose(fm.predict(X), km.predict(X, verbose=0), rtol=1e-5, atol=1e-6)
    assert_trains_as_keras(km, fm)


def test_custom_copy_of_a_builtin_activation_trains_the_same_weights():
    def build(activation):
        fastnn.utils.set_random_seed(9)
        m = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(6, activation=activation),
                               fastnn.layers.Dense(2)])
        m.compile(optimizer="adam", loss="mse")
        return m

    a, b = build("tanh"), build(lambda z: fastnn.ops.tanh(z))
    b.set_weights(a.get_weights())
    assert_trains_the_same(a, b, Y, atol=1e-7)


def test_activation_autograd_cannot_trace_is_named():
    def clipped(z):
        z = z * 1.0
        z[z < 0] = 0.0        # in-place assignment: runs on arrays, cannot be differentiated
        return z

    model = fastnn.Sequential([fastnn.Input((5,)),
                               fastnn.layers.Dense(3, activation=clipped, name="inplace")])
    model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(model.predict(X), np.maximum(X @ model.get_weights()[0], 0),
                               rtol=1e-5, atol=1e-6)      # inference needs no gradient
    _fails_and_changes_nothing(
        model, lambda: model.fit(X, Y[:, :1].repeat(3, axis=1), epochs=1, verbose=0),
        Exception, "clipped.*inplace.*fastnn.ops")


def test_keras_file_with_a_lambda_is_refused(tf_keras, tmp_path):
    model = tf_keras.Sequential([tf_keras.Input((5,)), tf_keras.layers.Lambda(lambda t: t * 2.0)])
    model.save(tmp_path / "lambda.keras")
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="would run code from the file"):
            fastnn.models.load_model(tmp_path / "lambda.keras", safe_mode=safe_mode)
    # What the message says to do works: the same model from code, the file's weights.
    rebuilt = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Lambda(lambda t: t * 2.0)])
    np.testing.assert_allclose(rebuilt.predict(X), model.predict(X, verbose=0), rtol=1e-6)


def test_train_step_override_is_refused_with_the_alternatives():
    class Custom(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.dense = fastnn.layers.Dense(2)

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, data):
            raise AssertionError("never called")

    model = Custom()
    model.compile(optimizer="sgd", loss="mse")
    model.build((None, 5))
    before = model.get_weights()
    for run in (lambda: model.fit(X, Y, verbose=0), lambda: model.train_on_batch(X, Y)):
        with pytest.raises(ValueError, match="overrides train_step.*compile\\(loss=fn\\)"):
            run()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(model.predict(X), X @ before[0] + before[1], rtol=1e-5,
                               atol=1e-6)      # inference has no step to override


# ---- custom objects in files -------------------------------------------------------------

def scaler_layer(lib, ops, package):
    @lib.utils.register_keras_serializable(package=package)
    class Scaler(lib.layers.Layer):
        def __init__(self, factor=1.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def build(self, input_shape):
            self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones",
                                        name="gain")

        def call(self, inputs):
            return ops.tanh(inputs * self.gain) * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    @lib.utils.register_keras_serializable(package=package)
    def half_mse(y_true, y_pred):
        return 0.5 * ops.mean(ops.square(y_true - y_pred), axis=-1)

    return Scaler, half_mse


def test_registered_custom_objects_travel_in_files_both_ways(tf_keras, tmp_path):
    k_scaler, k_loss = scaler_layer(tf_keras, tf_keras.ops, "FnnTest")
    f_scaler, f_loss = scaler_layer(fastnn, fastnn.ops, "FnnTest")

    def model(lib, scaler, loss):
        lib.utils.set_random_seed(10)
        m = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4), scaler(1.5, name="scaler"),
                            lib.layers.Dense(2)])
        m.compile(optimizer="adam", loss=loss)
        return m

    km, fm = model(tf_keras, k_scaler, k_loss), model(fastnn, f_scaler, f_loss)
    weights = km.get_weights()
    weights[2] = np.linspace(0.5, 1.5, 4).astype(np.float32)      # the gain
    km.set_weights(weights)
    fm.set_weights(weights)
    km.save(tmp_path / "k.keras")
    fm.save(tmp_path / "f.keras")
    from_keras = fastnn.models.load_model(tmp_path / "k.keras")
    from_fastnn = tf_keras.models.load_model(tmp_path / "f.keras")
    expected = km.predict(X, verbose=0)
    np.testing.assert_allclose(from_keras.predict(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_fastnn.predict(X, verbose=0), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(from_keras.layers[1], f_scaler) and from_keras.layers[1].factor == 1.5
    assert from_keras.loss is f_loss
    # The loaded model trains with its custom loss as the original does.
    h1 = from_keras.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0).history
    h2 = fm.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0).history
    np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-5)


def test_unregistered_custom_layer_needs_custom_objects(tmp_path):
    class Doubler(fastnn.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    model = fastnn.Sequential([fastnn.Input((5,)), Doubler(name="doubler")])
    model.save(tmp_path / "d.keras")
    with pytest.raises(ValueError, match="Doubler.*custom_objects"):
        fastnn.models.load_model(tmp_path / "d.keras")
    for loaded in (fastnn.models.load_model(tmp_path / "d.keras",
                                            custom_objects={"Doubler": Doubler}),):
        np.testing.assert_allclose(loaded.predict(X), 2 * X, rtol=1e-6)
    with fastnn.saving.custom_object_scope({"Doubler": Doubler}):
        np.testing.assert_allclose(fastnn.models.load_model(tmp_path / "d.keras").predict(X),
                                   2 * X, rtol=1e-6)


def test_custom_regularizer_trains_as_the_builtin_and_as_keras(tf_keras):
    ops = fastnn.ops

    def build(lib, regularizer):
        lib.utils.set_random_seed(12)
        m = lib.Sequential([lib.Input((5,)),
                            lib.layers.Dense(4, kernel_regularizer=regularizer),
                            lib.layers.Dense(2)])
        m.compile(optimizer="adam", loss="mse")
        return m

    class MyL2(fastnn.regularizers.Regularizer):
        def __call__(self, w):
            return 0.05 * ops.sum(ops.square(w))

    builtin = build(fastnn, fastnn.regularizers.L2(0.05))
    custom = build(fastnn, MyL2())
    keras_model = build(tf_keras, lambda w: 0.05 * tf_keras.ops.sum(tf_keras.ops.square(w)))
    custom.set_weights(builtin.get_weights())
    keras_model.set_weights(builtin.get_weights())
    histories = [m.fit(X, Y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
                 for m in (builtin, custom, keras_model)]
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-5)
    np.testing.assert_allclose(histories[1]["loss"], histories[2]["loss"], rtol=1e-4)
    for a, b, k in zip(builtin.get_weights(), custom.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(b, k, **FIT_TOL)
    np.testing.assert_allclose(custom.evaluate(X, Y, verbose=0),
                               keras_model.evaluate(X, Y, verbose=0), rtol=1e-4)


def test_monte_carlo_dropout_subclass_drops_in_predict_as_keras(tf_keras):
    def mc_dropout(lib):
        class MCDropout(lib.layers.Dropout):
            def call(self, inputs, training=False):
                return super().call(inputs, training=True)

        return lib.Sequential([lib.Input((6,)), lib.layers.Dense(
            6, use_bias=False, kernel_initializer="identity"), MCDropout(0.5)])

    x = np.abs(_rng.normal(size=(400, 6))).astype(np.float32) + 0.1
    for lib in (tf_keras, fastnn):
        model = mc_dropout(lib)
        first = np.asarray(model.predict(x, verbose=0))
        zero = first == 0
        np.testing.assert_allclose(first[~zero], 2 * x[~zero], rtol=1e-6)
        assert 0.4 < zero.mean() < 0.6
        assert not np.array_equal(first, np.asarray(model.predict(x, verbose=0)))

    class Plain(fastnn.layers.Dropout):        # keeps Dropout's call: the engine runs it
        pass

    from fastnn.layers.python_layers import is_python_layer
    assert not is_python_layer(Plain(0.5)) and not is_python_layer(fastnn.layers.Dropout(0.5))
