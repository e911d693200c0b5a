"""skl2onnx converters for ``fastnn.sklearn.MLPClassifier`` and ``MLPRegressor``.

``register()`` (``fastnn.sklearn.register_onnx_converters``) gives skl2onnx a shape calculator
and a converter for each, so ``skl2onnx.to_onnx`` and ``convert_sklearn`` take the estimators
alone or inside pipelines. The graph is the network's forward pass (Gemm and the activations
of ``fastnn/export/_onnx_activations.py``) in the weights' dtype, as ``predict`` computes it;
the classifier's outputs are those skl2onnx gives scikit-learn's MLPClassifier: the label and
the probabilities (a ZipMap of them unless ``options={"zipmap": False}``).
"""

from __future__ import annotations

import numbers

import numpy as np

from fastnn.export._onnx_activations import emit_activation
from fastnn.export._onnx_emitter import Emitter

_HIDDEN = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
_OUTPUT = {"identity": "linear", "logistic": "sigmoid", "softmax": "softmax",
           "exp": "exponential"}


class _SklEmitter(Emitter):
    """Nodes and initializers into skl2onnx's scope and container."""

    def __init__(self, scope, container, dtype):
        super().__init__(dtype)
        self.scope, self.container = scope, container
        self.opset = container.target_opset

    def unique(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(hint.replace("/", "_"))

    def _add_node(self, op, inputs, output, attrs) -> None:
        self.container.add_node(op, inputs, [output],
                                name=self.scope.get_unique_operator_name(op), **attrs)

    def _add_initializer(self, name, array) -> None:
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(array.dtype)
        self.container.add_initializer(name, elem, list(array.shape), array.ravel().tolist())


def _forward(g, est, x: str) -> str:
    """The output layer's values of the fitted network ``est`` on ``x``."""
    from fastnn.activations import kernel_spec

    n = len(est.coefs_)
    for i, (w, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        x = g.node("Gemm", [x, g.weight(w, f"coef_{i}"), g.weight(b, f"intercept_{i}")])
        name = _OUTPUT[est.out_activation_] if i == n - 1 else _HIDDEN[est.activation]
        x = emit_activation(g, x, kernel_spec(name))
    return x


def _types():
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    return DoubleTensorType, FloatTensorType, Int64TensorType, StringTensorType


def _float_type(operator):
    """Outputs are double for a double input, float otherwise (as skl2onnx's own)."""
    double, single, _, _ = _types()
    return double if isinstance(operator.inputs[0].type, double) else single


def _check_one_input(operator) -> None:
    from skl2onnx.common.utils import check_input_and_output_numbers

    check_input_and_output_numbers(operator, input_count_range=1,
                                   output_count_range=[1, 2])


def _label_kind(classes: np.ndarray) -> str:
    if classes.dtype.kind in "OUS" and all(isinstance(c, str) for c in classes):
        return "string"
    if classes.dtype.kind in "biu" or (
            classes.dtype.kind == "f" and np.all(np.mod(classes, 1) == 0)):
        return "int64"
    if all(isinstance(c, numbers.Integral) for c in classes):
        return "int64"
    raise ValueError(f"skl2onnx labels are integers or strings; this MLPClassifier's classes_ "
                     f"are {classes!r}.")


def _multilabel(est) -> bool:
    return est._label_binarizer.y_type_ == "multilabel-indicator"


def classifier_shapes(operator) -> None:
    _check_one_input(operator)
    est = operator.raw_operator
    _, _, int64, string = _types()
    n = operator.inputs[0].get_first_dimension()
    width = est.n_outputs_ if _multilabel(est) else len(est.classes_)
    label_type = int64 if _multilabel(est) or _label_kind(est.classes_) == "int64" else string
    operator.outputs[0].type = label_type([n, width] if _multilabel(est) else [n])
    operator.outputs[1].type = _float_type(operator)([n, width])


def regressor_shapes(operator) -> None:
    _check_one_input(operator)
    est = operator.raw_operator
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _float_type(operator)([n, est.n_outputs_])


def _start(scope, operator, container):
    """An emitter in the weights' dtype and the input cast to it (``predict`` casts too)."""
    est = operator.raw_operator
    g = _SklEmitter(scope, container, est.coefs_[0].dtype)
    return g, g.node("Cast", [operator.inputs[0].full_name], to=g.elem_type)


def _to_output(g, x: str, operator, output: str) -> None:
    """Write ``x`` to ``output`` in the type the shape calculator declared."""
    double, _, _, _ = _types()
    want = g.onnx.TensorProto.DOUBLE if isinstance(operator.outputs[1 if len(
        operator.outputs) > 1 else 0].type, double) else g.onnx.TensorProto.FLOAT
    g.node("Cast", [x], output=output, to=want)


def convert_classifier(scope, operator, container) -> None:
    est = operator.raw_operator
    g, x = _start(scope, operator, container)
    raw = _forward(g, est, x)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    if _multilabel(est):
        # LabelBinarizer's inverse: a label is present where its probability exceeds 0.5.
        _to_output(g, raw, operator, proba)
        present = g.node("Greater", [raw, g.const(0.5)])
        g.node("Cast", [present], output=label, to=g.onnx.TensorProto.INT64)
        return
    if est.n_outputs_ == 1:     # binary: the network gives the positive class's probability
        raw = g.node("Concat", [g.node("Sub", [g.const(1.0), raw]), raw], axis=1)
    _to_output(g, raw, operator, proba)
    kind = _label_kind(est.classes_)
    classes = (np.asarray(est.classes_).astype(np.int64) if kind == "int64"
               else np.array([str(c) for c in est.classes_], dtype=object))
    name = scope.get_unique_variable_name("classes")
    elem = g.onnx.TensorProto.INT64 if kind == "int64" else g.onnx.TensorProto.STRING
    container.add_initializer(name, elem, [len(classes)],
                              classes.tolist() if kind == "int64"
                              else [c.encode("utf-8") for c in classes])
    # argmax of [1 - p, p] is the positive class exactly when p > 0.5 (ties go to the
    # first), as LabelBinarizer's inverse_transform decides.
    index = g.node("ArgMax", [raw], axis=1, keepdims=0)
    g.node("Gather", [name, index], output=label, axis=0)


def convert_regressor(scope, operator, container) -> None:
    g, x = _start(scope, operator, container)
    _to_output(g, _forward(g, operator.raw_operator, x), operator,
               operator.outputs[0].full_name)


_REGISTERED = False


def register() -> None:
    """Register both converters with skl2onnx (again is harmless)."""
    global _REGISTERED
    from fastnn.export import require

    skl2onnx = require("skl2onnx")
    if _REGISTERED:
        return
    from fastnn.sklearn import MLPClassifier, MLPRegressor

    skl2onnx.update_registered_converter(
        MLPClassifier, "FastnnMLPClassifier", classifier_shapes, convert_classifier,
        # nocl (ZipMap keyed by class index) would disagree with the label output: not offered.
        options={"zipmap": [True, False, "columns"], "nocl": [False],
                 "output_class_labels": [False, True]})
    skl2onnx.update_registered_converter(
        MLPRegressor, "FastnnMLPRegressor", regressor_shapes, convert_regressor)
    _REGISTERED = True
