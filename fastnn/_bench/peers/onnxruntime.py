"""ONNX Runtime (CPU) serving the benchmark's models as fastnn exports them
(``model.export(path, format="onnx")``): float32, and (``onnxruntime_int8``) the same file
after ORT's dynamic int8 quantization (``onnxruntime.quantization.quantize_dynamic``: int8
weights, activations quantized per call). Predict workloads only: ORT is an inference runtime.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module, predict_cases


def missing() -> str | None:
    return missing_module("onnxruntime") or missing_module("onnx")


def exported_model(n_in, layers, weights, directory: str) -> str:
    """The workload's MLP built in fastnn with its weights and exported to ONNX; the path."""
    import fastnn

    model = fastnn.Sequential([fastnn.Input((n_in,))]
                              + [fastnn.layers.Dense(units, activation=act)
                                 for units, act in layers])
    model.set_weights([array for pair in weights for array in pair])
    path = os.path.join(directory, "model.onnx")
    model.export(path, format="onnx", verbose=False)
    return path


def session(path: str):
    import onnxruntime as ort

    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def quantized(path: str) -> str:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = path.replace(".onnx", ".int8.onnx")
    quantize_dynamic(path, out, weight_type=QuantType.QInt8)
    return out


def check_quantized(got, want, what: str) -> None:
    """int8 inference is not float32's: its probabilities within 0.02 of the float64
    reference's and its class the reference's for at least 95% of the rows (ties of a
    random model's near-uniform outputs may flip a few)."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: output shape {got.shape}, expected {want.shape}")
    error = np.max(np.abs(got - want))
    agree = np.mean(got.argmax(axis=1) == want.argmax(axis=1))
    if error > 0.02 or agree < 0.95:
        raise AssertionError(f"{what}: differs from the NumPy reference (largest error {error:.3g}, "
                             f"argmax agreement {agree:.1%})")


def predict_case(rows, which, int8: bool) -> Case:
    x, n_in, layers, weights = w.predict_setup(rows, which)
    with tempfile.TemporaryDirectory() as directory:
        path = exported_model(n_in, layers, weights, directory)
        sess = session(quantized(path) if int8 else path)    # reads the file now
    name = sess.get_inputs()[0].name

    def run():
        return sess.run(None, {name: x})[0]
    want = w.reference_forward(x, weights, layers)
    if int8:
        check_quantized(run(), want, "onnxruntime int8 predict")
    else:
        w.check_close(run(), want, "onnxruntime predict")
    return Case(run, x.nbytes)


CASES = predict_cases(lambda rows, which: predict_case(rows, which, int8=False))
