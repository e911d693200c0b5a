"""ONNX Runtime with dynamic int8 quantization: see ``onnxruntime.py``."""

from __future__ import annotations

from fastnn._bench.peers import predict_cases
from fastnn._bench.peers.onnxruntime import missing, predict_case

__all__ = ["CASES", "missing"]

CASES = predict_cases(lambda rows, which: predict_case(rows, which, int8=True))
