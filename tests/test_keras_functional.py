"""Graph models (functional, nested, subclassed, shared layers, several inputs and outputs)
against TensorFlow's Keras 3: the same code builds both, fastnn starts from Keras's weights,
and predictions, training trajectories and History keys must agree."""

import numpy as np
import pytest
from _threads import assert_same_bits_on_one_and_two_threads

import fastnn

# 15 rows in batches of 5: Keras's per-output loss logs weigh a partial last batch as a
# full one (the total loss does not), so these tests keep every batch full.
N, BATCH, EPOCHS = 15, 5, 3
_rng = np.random.default_rng(7)
XA = _rng.normal(size=(N, 6)).astype(np.float32)
XB = _rng.normal(size=(N, 3)).astype(np.float32)
Y_BIN = (_rng.random((N, 1)) < 0.5).astype(np.float32)
LABELS = _rng.integers(0, 4, size=N)
Y_REG = _rng.normal(size=(N, 2)).astype(np.float32)
FIT_TOL = {"rtol": 1e-3, "atol": 2e-5}


def wide_and_deep(lib):
    deep_in = lib.Input((6,), name="deep")
    wide_in = lib.Input((3,), name="wide")
    h = lib.layers.Dense(8, activation="relu")(deep_in)
    h = lib.layers.Dense(5, activation="tanh")(h)
    merged = lib.layers.concatenate([h, wide_in])
    out = lib.layers.Dense(1, activation="sigmoid", name="out")(merged)
    return lib.Model(inputs=[deep_in, wide_in], outputs=out)


def residual(lib):
    inputs = lib.Input((6,))
    x = lib.layers.Dense(6, activation="relu")(inputs)
    x = lib.layers.Add()([x, inputs])
    y = lib.layers.Dense(6, activation="relu")(x)
    x = lib.layers.add([x, y])
    return lib.Model(inputs, lib.layers.Dense(2)(x))


def two_in_two_out(lib):
    a = lib.Input((6,), name="a")
    b = lib.Input((3,), name="b")
    h = lib.layers.Dense(7, activation="relu")(a)
    g = lib.layers.Dense(7, activation="relu")(b)
    both = lib.layers.concatenate([lib.layers.Multiply()([h, g]), lib.layers.Subtract()([h, g])])
    priority = lib.layers.Dense(1, activation="sigmoid", name="priority")(both)
    department = lib.layers.Dense(4, activation="softmax", name="department")(both)
    return lib.Model([a, b], [priority, department])


def shared_layer(lib):
    a = lib.Input((6,))
    b = lib.Input((6,))
    shared = lib.layers.Dense(4, activation="tanh")
    ha, hb = shared(a), shared(b)
    merged = lib.layers.concatenate([lib.layers.Maximum()([ha, hb]),
                                     lib.layers.Average()([ha, hb]),
                                     lib.layers.Dot(axes=1, normalize=True)([ha, hb])])
    return lib.Model([a, b], lib.layers.Dense(2)(merged))


def nested(lib):
    inner = lib.Sequential([lib.Input((6,)), lib.layers.Dense(5, activation="relu"),
                            lib.layers.Dense(4)])
    return lib.Sequential([inner, lib.layers.Softmax()])


def nested_in_functional(lib):
    inner = lib.Sequential([lib.Input((6,)), lib.layers.Dense(5, activation="relu")])
    inputs = lib.Input((6,))
    x = inner(inputs)
    return lib.Model(inputs, lib.layers.Dense(4, activation="softmax")(
        lib.layers.concatenate([x, inputs])))


def subclassed(lib):
    class MLP(lib.Model):
        def __init__(self):
            super().__init__()
            self.hidden = lib.layers.Dense(8, activation="relu")
            self.drop = lib.layers.Dropout(0.0)
            self.out = lib.layers.Dense(4, activation="softmax")

        def call(self, inputs, training=None):
            return self.out(self.drop(self.hidden(inputs), training=training))

    model = MLP()
    model(np.zeros((1, 6), dtype=np.float32))   # builds, in Keras as in fastnn
    return model


def twins(tf_keras, build):
    tf_keras.utils.set_random_seed(3)
    km, fm = build(tf_keras), build(fastnn)
    fm.set_weights(km.get_weights())
    return km, fm


def _close(a, b, **tol):
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for p, q in zip(a, b):
            np.testing.assert_allclose(q, p, **tol)
    else:
        np.testing.assert_allclose(b, a, **tol)


CASES = {
    "wide_and_deep": (wide_and_deep, [XA, XB], Y_BIN, "binary_crossentropy", None),
    "residual": (residual, XA, Y_REG, "mse", None),
    "two_in_two_out": (two_in_two_out, [XA, XB], [Y_BIN, LABELS],
                       ["binary_crossentropy", "sparse_categorical_crossentropy"], [1.0, 0.3]),
    "shared_layer": (shared_layer, [XA, XA[::-1].copy()], Y_REG, "mse", None),
    "nested": (nested, XA, LABELS, "sparse_categorical_crossentropy", None),
    "nested_in_functional": (nested_in_functional, XA, LABELS,
                             "sparse_categorical_crossentropy", None),
    "subclassed": (subclassed, XA, LABELS, "sparse_categorical_crossentropy", None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_predict_and_training_match_keras(tf_keras, case):
    build, x, y, loss, loss_weights = CASES[case]
    km, fm = twins(tf_keras, build)
    _close(km.predict(x, verbose=0), fm.predict(x), rtol=1e-5, atol=1e-6)
    for m in (km, fm):
        m.compile(optimizer="adam", loss=loss, loss_weights=loss_weights)
    hk = km.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    hf = fm.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0).history
    assert sorted(hf) == sorted(hk)
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=1e-4, err_msg=key)
    for i, (k, f) in enumerate(zip(km.get_weights(), fm.get_weights())):
        np.testing.assert_allclose(f, k, **FIT_TOL, err_msg=f"weight {i}")
    _close(km.predict(x, verbose=0), fm.predict(x), **FIT_TOL)


@pytest.mark.parametrize("case", ["wide_and_deep", "two_in_two_out", "shared_layer",
                                  "nested_in_functional"])
def test_same_bits_on_one_and_two_threads(case):
    build, x, y, loss, loss_weights = CASES[case]

    def train():
        fastnn.utils.set_random_seed(5)
        model = build(fastnn)
        model.compile(optimizer="adam", loss=loss, loss_weights=loss_weights)
        model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0)
        return model

    assert_same_bits_on_one_and_two_threads(train)


def test_multi_output_logs_metrics_and_evaluate_order_match_keras(tf_keras):
    km, fm = twins(tf_keras, two_in_two_out)
    for m in (km, fm):
        m.compile(optimizer="adam",
                  loss={"priority": "binary_crossentropy",
                        "department": "sparse_categorical_crossentropy"},
                  loss_weights={"priority": 1.0, "department": 0.2},
                  metrics={"priority": ["accuracy"], "department": ["accuracy"]})
    data = ({"a": XA, "b": XB}, {"priority": Y_BIN, "department": LABELS})
    hk = km.fit(*data, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                validation_split=0.3).history
    hf = fm.fit(*data, batch_size=BATCH, epochs=2, shuffle=False, verbose=0,
                validation_split=0.3).history
    assert sorted(hf) == sorted(hk)
    assert "priority_loss" in hf and "val_department_accuracy" in hf
    for key in hk:
        np.testing.assert_allclose(hf[key], hk[key], rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(fm.evaluate(*data, verbose=0), km.evaluate(*data, verbose=0),
                               rtol=1e-4)
    dk = km.evaluate(*data, verbose=0, return_dict=True)
    df = fm.evaluate(*data, verbose=0, return_dict=True)
    assert sorted(df) == sorted(dk)


def test_predict_structures_follow_the_outputs():
    a = fastnn.Input((3,), name="a")
    one = fastnn.layers.Dense(2, name="one")(a)
    two = fastnn.layers.Dense(1, name="two")(a)
    x = np.ones((4, 3), dtype=np.float32)
    as_dict = fastnn.Model({"a": a}, {"first": one, "second": two}).predict({"a": x})
    assert sorted(as_dict) == ["first", "second"] and as_dict["first"].shape == (4, 2)
    as_list = fastnn.Model(a, [one, two]).predict(x)
    assert [p.shape for p in as_list] == [(4, 2), (4, 1)]
    np.testing.assert_array_equal(as_list[0], as_dict["first"])


def test_gradients_against_central_differences():
    """Every merge op's backward pass, through a graph where one tensor feeds three ops."""
    fastnn.utils.set_random_seed(0)
    a = fastnn.Input((3,), dtype="float64")
    b = fastnn.Input((3,), dtype="float64")
    dense = fastnn.layers.Dense(3, activation="tanh", dtype="float64")
    ha, hb = dense(a), dense(b)
    parts = [fastnn.layers.Add(dtype="float64")([ha, hb, ha]),
             fastnn.layers.Subtract(dtype="float64")([ha, hb]),
             fastnn.layers.Multiply(dtype="float64")([ha, hb, hb]),
             fastnn.layers.Average(dtype="float64")([ha, hb]),
             fastnn.layers.Maximum(dtype="float64")([ha, hb]),
             fastnn.layers.Minimum(dtype="float64")([ha, hb]),
             fastnn.layers.Dot(axes=1, dtype="float64")([ha, hb]),
             fastnn.layers.Dot(axes=1, normalize=True, dtype="float64")([ha, hb])]
    out = fastnn.layers.Dense(2, dtype="float64")(fastnn.layers.Concatenate(dtype="float64")(
        parts))
    model = fastnn.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(1)
    x = [rng.normal(size=(6, 3)), rng.normal(size=(6, 3))]
    y = rng.normal(size=(6, 2))
    plan = model._ensure_plan()
    xs = model._inputs(x)
    ys, ws, _ = model._targets(y, None, None, 6)
    plan.engine.loss_and_gradients(xs, ys, ws, 1)
    grads = plan.grads.copy()
    params = plan.params
    eps = 1e-6
    for i in range(params.size):
        keep = params[i]
        params[i] = keep + eps
        up = plan.engine.loss_and_gradients(xs, ys, ws, 1)
        params[i] = keep - eps
        down = plan.engine.loss_and_gradients(xs, ys, ws, 1)
        params[i] = keep
        np.testing.assert_allclose(grads[i], (up - down) / (2 * eps), rtol=1e-5, atol=1e-8,
                                   err_msg=f"parameter {i}")


@pytest.mark.parametrize("case", ["wide_and_deep", "two_in_two_out", "shared_layer",
                                  "nested_in_functional", "nested"])
def test_keras_files_both_ways(tf_keras, tmp_path, case):
    build, x, *_ = CASES[case]
    km, fm = twins(tf_keras, build)
    fm.save(tmp_path / "fastnn.keras")
    km.save(tmp_path / "keras.keras")
    from_fastnn = tf_keras.models.load_model(tmp_path / "fastnn.keras")
    from_keras = fastnn.models.load_model(tmp_path / "keras.keras")
    expected = km.predict(x, verbose=0)
    _close(expected, from_fastnn.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    _close(expected, from_keras.predict(x), rtol=1e-5, atol=1e-6)
    fm.save_weights(tmp_path / "f.weights.h5")
    km2 = build(tf_keras)
    km2.load_weights(tmp_path / "f.weights.h5")
    _close(expected, km2.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_clone():
    model = two_in_two_out(fastnn)
    again = fastnn.Model.from_config(model.get_config())
    assert [lyr.name for lyr in again.layers] == [lyr.name for lyr in model.layers]
    again.set_weights(model.get_weights())
    _close(model.predict([XA, XB]), again.predict([XA, XB]), rtol=0, atol=0)
    from_json = fastnn.models.model_from_json(model.to_json())
    assert [w.shape for w in from_json.weights] == [w.shape for w in model.weights]
    clone = fastnn.models.clone_model(model)
    assert clone is not model and len(clone.weights) == len(model.weights)


def test_shared_layer_has_one_set_of_weights():
    model = shared_layer(fastnn)
    dense = [lyr for lyr in model.layers if isinstance(lyr, fastnn.layers.Dense)]
    assert len(dense[0]._inbound_nodes) == 2
    assert len(model.weights) == 4


def test_nested_weights_stay_shared_with_the_inner_model():
    inner = fastnn.Sequential([fastnn.Input((6,)), fastnn.layers.Dense(3)])
    outer = fastnn.Sequential([inner, fastnn.layers.Softmax()])
    outer.compile("sgd", "categorical_crossentropy")
    outer.fit(XA, np.eye(3, dtype=np.float32)[LABELS % 3], epochs=1, verbose=0)
    np.testing.assert_array_equal(inner.get_weights()[0], outer.get_weights()[0])
    logits = inner.predict(XA)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(outer.predict(XA), e / e.sum(axis=1, keepdims=True),
                               rtol=1e-6)


def test_summary_has_keras_connected_to_column(tf_keras):
    lines_k, lines_f = [], []
    tf_keras.backend.clear_session()
    fastnn.backend.clear_session()
    km, fm = twins(tf_keras, two_in_two_out)
    km.summary(print_fn=lines_k.append)
    fm.summary(print_fn=lines_f.append)
    # Keras colours nothing with print_fn; the model names differ by their counters.
    strip = [text.split("\n", 1)[1] for text in (lines_k[0], lines_f[0])]
    assert strip[1] == strip[0]


# ---- bad input ------------------------------------------------------------------------

def test_disconnected_graph_is_refused():
    a, b = fastnn.Input((3,)), fastnn.Input((3,))
    out = fastnn.layers.add([fastnn.layers.Dense(2)(a), fastnn.layers.Dense(2)(b)])
    with pytest.raises(ValueError, match="Graph disconnected"):
        fastnn.Model(a, out)


def test_incompatible_shapes_name_the_layer():
    a = fastnn.Input((3,))
    dense = fastnn.layers.Dense(2, name="head")
    dense(a)
    with pytest.raises(ValueError, match="layer 'head' is incompatible with the layer: "
                                         r"expected axis -1 of input shape to have value 3"):
        dense(fastnn.Input((5,)))
    with pytest.raises(ValueError, match=r"Inputs have incompatible shapes. Received shapes "
                                         r"\(3,\) and \(4,\)"):
        fastnn.layers.add([fastnn.layers.Dense(3)(a), fastnn.layers.Dense(4)(a)])
    with pytest.raises(ValueError, match="Concatenate` layer requires inputs with matching"):
        fastnn.layers.concatenate([a, fastnn.Input((2, 3))])
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        fastnn.layers.subtract([a, a, a])


def test_wrong_inputs_and_outputs_change_nothing():
    model = two_in_two_out(fastnn)
    model.compile("adam", ["binary_crossentropy", "sparse_categorical_crossentropy"])
    before = model.get_weights()
    with pytest.raises(ValueError, match="expects 2 named input"):
        model.predict(XA)
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        model.fit({"a": XA, "c": XB}, [Y_BIN, LABELS], verbose=0)
    with pytest.raises(ValueError, match="pass `y` as a list of 2"):
        model.fit([XA, XB], Y_BIN, verbose=0)
    with pytest.raises(ValueError, match="Data cardinality is ambiguous"):
        model.fit([XA, XB[:5]], [Y_BIN, LABELS], verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_branching_on_tensor_values_is_refused_clearly():
    class Branchy(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.dense = fastnn.layers.Dense(2)

        def call(self, inputs):
            x = self.dense(inputs)
            if x:
                return x
            return x

    with pytest.raises(ValueError, match="traces `call`"):
        Branchy().build((None, 3))


def test_input_shape_must_be_whole_numbers():
    with pytest.raises(ValueError, match="integers or None"):
        fastnn.Input(shape=(None, 2.5))


def test_a_list_of_one_output_predicts_an_array_as_in_keras(tf_keras):
    # Keras unpacks a single-element output list (scikeras's and Keras's wrapper build
    # functions write Model(inp, [out])) for predict and for calling the model on data.
    x = np.ones((4, 3), dtype=np.float32)
    for keras in (tf_keras, fastnn):
        inp = keras.Input((3,))
        model = keras.Model(inp, [keras.layers.Dense(2)(inp)])
        assert isinstance(model.predict(x, verbose=0), np.ndarray)
        assert model.predict(x, verbose=0).shape == (4, 2) and model.output_shape == (None, 2)
        assert tuple(np.asarray(model(x)).shape) == (4, 2)
