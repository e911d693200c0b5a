"""ONNX Runtime, the inference peer: the same MLPs as ONNX graphs (MatMul, Add, Relu, Softmax)
built with the `onnx` package, float32 and ONNX Runtime's own dynamic int8 quantization
(`quantize_dynamic`: int8 weights, inputs quantized per call), run with fastnn's thread
count."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module, predict_cases


def missing() -> str | None:
    return missing_module("onnxruntime") or missing_module("onnx")


def _graph(n_in: int, layers, weights):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, prev = [], [], "x"
    for i, ((kernel, bias), (_, activation)) in enumerate(zip(weights, layers)):
        inits += [numpy_helper.from_array(kernel, f"w{i}"), numpy_helper.from_array(bias, f"b{i}")]
        nodes += [helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"])]
        op = "Relu" if activation == "relu" else "Softmax"
        prev = f"a{i}" if i < len(layers) - 1 else "y"
        nodes.append(helper.make_node(op, [f"z{i}"], [prev], **({} if op == "Relu" else
                                                                 {"axis": 1})))
    graph = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, layers[-1][0]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _session(model_bytes: bytes):
    import onnxruntime as ort

    from fastnn._kernels._openmp_helpers import effective_n_threads

    options = ort.SessionOptions()
    options.intra_op_num_threads = effective_n_threads()
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def predict(rows: int, which: str) -> Case:
    x, n_in, layers, weights = w.predict_setup(rows, which)
    session = _session(_graph(n_in, layers, weights).SerializeToString())
    w.check_close(session.run(None, {"x": x})[0], w.reference_forward(x, weights, layers),
                  "onnxruntime predict")
    return Case(lambda: session.run(None, {"x": x}), x.nbytes)


def predict_10k_int8(sizes) -> Case:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    x, n_in, layers, weights = w.predict_setup(sizes.predict_rows, "mnist")
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp, "f32.onnx"), Path(tmp, "int8.onnx")
        onnx.save(_graph(n_in, layers, weights), src)
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        session = _session(dst.read_bytes())
    w.check_int8(session.run(None, {"x": x})[0], w.reference_forward(x, weights, layers),
                 "onnxruntime int8 predict")
    return Case(lambda: session.run(None, {"x": x}), x.nbytes)


CASES = {**predict_cases(predict), "predict_10k_int8": predict_10k_int8}
