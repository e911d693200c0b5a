"""PyTorch's dynamic int8 quantization of Linear (``torch.ao.quantization.quantize_dynamic``:
int8 weights, activations quantized per call) on the benchmark's models, for predict."""

from __future__ import annotations

import warnings

import numpy as np

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module, predict_cases
from fastnn._bench.peers.onnxruntime import check_quantized
from fastnn._bench.peers.torch import build


def missing() -> str | None:
    return missing_module("torch")


def _predict(rows, which):
    import torch

    x, n_in, layers, weights = w.predict_setup(rows, which)
    with warnings.catch_warnings():
        # torch 2.13 marks torch.ao.quantization deprecated; it is still the dynamic int8
        # path its users take for Linear on the CPU.
        warnings.simplefilter("ignore")
        model = torch.ao.quantization.quantize_dynamic(build(n_in, layers, weights).eval(),
                                                       {torch.nn.Linear}, dtype=torch.qint8)
    xt = torch.from_numpy(x)

    def run():
        with torch.inference_mode():
            return np.asarray(torch.softmax(model(xt), dim=1))
    check_quantized(run(), w.reference_forward(x, weights, layers), "torch int8 predict")
    return Case(run, x.nbytes)


CASES = predict_cases(_predict)
