"""``model.export(path, format="onnx")``: the exported file, run by ONNX Runtime, gives what
``predict`` gives (to 1e-5 in float32) for every built-in activation and layer kind, several
inputs and outputs, merge layers, nested and subclassed models; what has no ONNX form is
refused by name and leaves no file behind."""

import functools
import sys

import numpy as np
import pytest

import fastnn
from fastnn import activations, layers

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

# float32: the bound. float64: ONNX Runtime's double kernels round as NumPy does;
# only exact gelu differs, its erf taken in float32 (see fastnn/export/_onnx_activations.py).
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-5}, "float64": {"rtol": 1e-12, "atol": 1e-12}}
GELU_FLOAT64_TOL = {"rtol": 1e-6, "atol": 1e-6}

ACTIVATIONS = [
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "sigmoid", "hard_sigmoid",
    "hard_silu", "hard_swish", "silu", "swish", "gelu", "tanh", "softplus", "softsign",
    "exponential", "mish", "softmax", "log_softmax",
    functools.partial(activations.relu, max_value=1.5),
    functools.partial(activations.relu, threshold=0.4),
    functools.partial(activations.relu, threshold=-0.4, max_value=2.0),
    functools.partial(activations.relu, negative_slope=0.1, threshold=0.3, max_value=2.5),
    functools.partial(activations.leaky_relu, negative_slope=0.05),
    functools.partial(activations.elu, alpha=0.7),
    functools.partial(activations.gelu, approximate=True),
]


def _data(shape, dtype, seed=0, scale=3.0):
    # Wide enough to reach every activation's tails and kinks.
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


def run_onnx(path, inputs):
    """Run the exported file in ONNX Runtime; ``inputs`` in the model's input order."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {i.name: x for i, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feed)


def exported(model, tmp_path, inputs, **kwargs):
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", verbose=False, **kwargs)
    return run_onnx(path, inputs)


def assert_matches_predict(model, tmp_path, inputs, tol, **kwargs):
    expected = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
    expected = expected if isinstance(expected, list) else [expected]
    got = exported(model, tmp_path, inputs, **kwargs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_allclose(g, e, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS, ids=str)
def test_every_activation(activation, dtype, tmp_path):
    model = fastnn.Sequential([fastnn.Input((5,)),
                               layers.Dense(7, activation=activation, dtype=dtype)])
    tol = GELU_FLOAT64_TOL if activation == "gelu" and dtype == "float64" else TOL[dtype]
    assert_matches_predict(model, tmp_path, [_data((33, 5), dtype)], tol)


def _with_trained_statistics(model, seed=1):
    """Moving statistics and affine weights away from their initial values."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.moving_mean.value.shape[0]
            layer.moving_mean.assign(rng.normal(size=n))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, size=n))
        for var in layer.weights:
            if var.name in ("gamma", "beta", "alpha"):
                var.assign(rng.normal(size=var.value.shape))
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_layer_kind(dtype, tmp_path):
    fastnn.utils.set_random_seed(0)
    model = fastnn.Sequential([
        fastnn.Input((2, 3)),
        layers.Flatten(dtype=dtype),
        layers.Dense(8, dtype=dtype),
        layers.BatchNormalization(dtype=dtype),
        layers.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.2, dtype=dtype),
        layers.Dropout(0.5, dtype=dtype),
        layers.Dense(8, use_bias=False, dtype=dtype),
        layers.LayerNormalization(epsilon=1e-2, dtype=dtype),
        layers.LeakyReLU(dtype=dtype),
        layers.GaussianNoise(0.3, dtype=dtype),
        layers.PReLU(dtype=dtype),
        layers.GaussianDropout(0.2, dtype=dtype),
        layers.ELU(alpha=0.5, dtype=dtype),
        layers.BatchNormalization(center=False, dtype=dtype),
        layers.LayerNormalization(scale=False, dtype=dtype),
        layers.Activation("tanh", dtype=dtype),
        layers.Dense(4, dtype=dtype),
        layers.Softmax(dtype=dtype),
    ])
    _with_trained_statistics(model)
    assert_matches_predict(model, tmp_path, [_data((21, 2, 3), dtype)], TOL[dtype])


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_opsets(opset, tmp_path):
    # ReduceMean took its axes as an attribute before opset 18 and as an input from it on.
    model = fastnn.Sequential([fastnn.Input((6,)), layers.Dense(5),
                               layers.LayerNormalization(), layers.Dense(3, "gelu")])
    assert_matches_predict(model, tmp_path, [_data((9, 6), "float32")], TOL["float32"],
                           opset_version=opset)
    proto = onnx.load(tmp_path / "model.onnx")
    assert [o.version for o in proto.opset_import] == [opset]


def merge_model(dtype):
    a = fastnn.Input((4,), name="left")
    b = fastnn.Input((4,), name="right")
    c = fastnn.Input((3,), name="extra")
    ha = layers.Dense(4, activation="tanh", dtype=dtype)(a)
    hb = layers.Dense(4, activation="sigmoid", dtype=dtype)(b)
    merged = [
        layers.Add(dtype=dtype)([ha, hb, a]),
        layers.Subtract(dtype=dtype)([ha, hb]),
        layers.Multiply(dtype=dtype)([ha, hb, b]),
        layers.Average(dtype=dtype)([ha, hb, a]),
        layers.Maximum(dtype=dtype)([ha, hb]),
        layers.Minimum(dtype=dtype)([ha, hb, b]),
        layers.Dot(axes=1, dtype=dtype)([ha, hb]),
        layers.Dot(axes=1, normalize=True, dtype=dtype)([ha, b]),
        c,
    ]
    joined = layers.Concatenate(dtype=dtype)(merged)
    first = layers.Dense(3, activation="softmax", name="first", dtype=dtype)(joined)
    second = layers.Dense(2, name="second", dtype=dtype)(layers.concatenate([ha, c]))
    return fastnn.Model([a, b, c], [first, second, ha])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_several_inputs_and_outputs_with_every_merge(dtype, tmp_path):
    fastnn.utils.set_random_seed(3)
    model = merge_model(dtype)
    xs = [_data((11, 4), dtype, 1, 1.0), _data((11, 4), dtype, 2, 1.0),
          _data((11, 3), dtype, 3, 1.0)]
    xs[1][0] = 0.0      # a zero row: Dot's normalization takes 1/epsilon there
    assert_matches_predict(model, tmp_path, xs, TOL[dtype])
    session = ort.InferenceSession(str(tmp_path / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["left", "right", "extra"]
    assert [o.name for o in session.get_outputs()][:2] == ["first", "second"]
    assert session.get_inputs()[0].shape == ["batch", 4]


def test_input_returned_as_output_keeps_its_shape(tmp_path):
    inp = fastnn.Input((2, 3), name="grid")
    out = layers.Dense(2)(layers.Flatten()(inp))
    model = fastnn.Model(inp, [out, inp])
    x = _data((5, 2, 3), "float32")
    got = exported(model, tmp_path, [x])
    np.testing.assert_array_equal(got[1], x)
    np.testing.assert_allclose(got[0], model.predict(x, verbose=0)[0], **TOL["float32"])


def test_nested_and_shared_layers(tmp_path):
    fastnn.utils.set_random_seed(4)
    inner = fastnn.Sequential([fastnn.Input((5,)), layers.Dense(5, "selu"),
                               layers.BatchNormalization()], name="inner")
    _with_trained_statistics(inner)
    shared = layers.Dense(5, "mish")
    inp = fastnn.Input((5,))
    x = shared(inner(inp))
    x = shared(layers.add([x, inp]))
    model = fastnn.Model(inp, layers.Dense(2)(x))
    assert_matches_predict(model, tmp_path, [_data((8, 5), "float32")], TOL["float32"])
    # The shared layer's weights are stored once: three Dense layers, three kernels.
    names = [t.name for t in onnx.load(tmp_path / "model.onnx").graph.initializer]
    assert sum(name.endswith("/kernel") for name in names) == 3


def test_subclassed_model_traced_in_inference_mode(tmp_path):
    class Branching(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(8, activation="relu")
            self.noise = layers.GaussianNoise(1.0)
            self.out = layers.Dense(3, activation="softmax")

        def call(self, inputs, training=None):
            x = self.hidden(inputs)
            if training:        # Python branching on training: two traced graphs
                x = self.noise(x)
            return self.out(x)

    model = Branching()
    x = _data((10, 6), "float32")
    model.predict(x, verbose=0)       # builds it from the data, as Keras does
    assert_matches_predict(model, tmp_path, [x], TOL["float32"])


def test_trained_model(tmp_path):
    fastnn.utils.set_random_seed(5)
    x = _data((64, 6), "float32", scale=1.0)
    y = (x[:, :1] > 0).astype("float32")
    model = fastnn.Sequential([fastnn.Input((6,)), layers.Dense(8, "gelu"),
                               layers.BatchNormalization(), layers.Dropout(0.2),
                               layers.Dense(1, "sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert_matches_predict(model, tmp_path, [x], TOL["float32"])


# ---- what is refused -------------------------------------------------------------------

def _square(x):
    return x * x


def _refused(model, tmp_path, match, error=ValueError, **kwargs):
    path = tmp_path / "refused.onnx"
    with pytest.raises(error, match=match):
        model.export(path, **kwargs)
    assert list(tmp_path.iterdir()) == []       # no file, no temporary left behind


def test_python_pieces_are_refused_by_name(tmp_path):
    lam = fastnn.Sequential([fastnn.Input((3,)), layers.Lambda(_square, name="sq"),
                             layers.Dense(1)])
    _refused(lam, tmp_path, "layer 'sq' is a Lambda layer", format="onnx")
    act = fastnn.Sequential([fastnn.Input((3,)), layers.Dense(2, activation=_square,
                                                              name="d")])
    _refused(act, tmp_path, "layer 'd' has a Python activation function \\(_square\\)",
             format="onnx")

    class Scale(layers.Layer):
        def call(self, x):
            return x * 2.0

    custom = fastnn.Sequential([fastnn.Input((3,)), Scale(name="scale"), layers.Dense(1)])
    _refused(custom, tmp_path, "layer 'scale' is a custom layer \\(Scale", format="onnx")


def test_monte_carlo_dropout_is_refused(tmp_path):
    class MonteCarlo(fastnn.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(4)
            self.drop = layers.Dropout(0.5, name="mc")

        def call(self, inputs, training=None):
            return self.drop(self.dense(inputs), training=True)

    model = MonteCarlo()
    model.build((None, 3))
    _refused(model, tmp_path, "layer 'mc' is called with training=True", format="onnx")


def test_formats_and_arguments(tmp_path):
    model = fastnn.Sequential([fastnn.Input((3,)), layers.Dense(2)])
    _refused(model, tmp_path, "Unrecognized format=savedmodel", format="savedmodel")
    for other in ("tf_saved_model", "openvino", "litert", "torch"):
        _refused(model, tmp_path, f"cannot export format='{other}'", format=other)
    _refused(model, tmp_path, "cannot export format='tf_saved_model'")   # Keras's default
    _refused(model, tmp_path, "opset_version must be an integer from 13", format="onnx",
             opset_version=9)
    _refused(model, tmp_path, "Invalid keyword arguments", format="onnx", jax2tf_kwargs={})
    _refused(model, tmp_path,
             "gives input 'input_layer.*' the shape \\(1, 4\\); the model takes \\(None, 3\\)",
             format="onnx", input_signature=[np.zeros((1, 4), "float32")])
    _refused(model, tmp_path, "the dtype float64", format="onnx",
             input_signature=[np.zeros((1, 3), "float64")])
    unbuilt = fastnn.Sequential([layers.Dense(2)])
    _refused(unbuilt, tmp_path, "has never called", format="onnx")


def test_input_signature_restating_the_model_is_accepted(tmp_path):
    model = fastnn.Sequential([fastnn.Input((3,)), layers.Dense(2)])
    x = _data((4, 3), "float32")
    assert_matches_predict(model, tmp_path, [x], TOL["float32"],
                           input_signature=[np.zeros((1, 3), "float32")])


def test_input_signature_by_input_name(tmp_path):
    a, b = fastnn.Input((2,), name="a"), fastnn.Input((3,), name="b")
    model = fastnn.Model([a, b], layers.Dense(1)(layers.concatenate([a, b])))
    xs = [_data((4, 2), "float32"), _data((4, 3), "float32", 1)]
    assert_matches_predict(model, tmp_path, xs, TOL["float32"],
                           input_signature={"b": np.zeros((1, 3), "float32"),
                                            "a": np.zeros((1, 2), "float32")})
    (tmp_path / "model.onnx").unlink()
    _refused(model, tmp_path, "input_signature names \\['a', 'c'\\]", format="onnx",
             input_signature={"a": np.zeros((1, 2), "float32"), "c": np.zeros((1, 3))})
    _refused(model, tmp_path, "gives input 'b' the shape \\(1, 2\\)", format="onnx",
             input_signature={"a": np.zeros((1, 2), "float32"),
                              "b": np.zeros((1, 2), "float32")})


def test_verbose_says_where(tmp_path, capsys):
    model = fastnn.Sequential([fastnn.Input((3,)), layers.Dense(2)])
    model.export(tmp_path / "m.onnx", format="onnx")
    assert str(tmp_path / "m.onnx") in capsys.readouterr().out


def test_without_onnx_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)      # import onnx now raises ImportError
    model = fastnn.Sequential([fastnn.Input((3,)), layers.Dense(2)])
    _refused(model, tmp_path, "fastnn\\[onnx\\]", error=ImportError, format="onnx")


def test_import_fastnn_does_not_load_onnx():
    import subprocess

    code = "import sys, fastnn; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]
