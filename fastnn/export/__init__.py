"""Export a model for serving elsewhere: ``model.export(path, format="onnx")``.

Keras 3's ``Model.export`` names five formats; fastnn writes ONNX (``fastnn/export/_onnx_graph.py``)
and refuses the others, which need TensorFlow, OpenVINO, LiteRT or PyTorch's own tracing of
the model. The ``onnx`` package is imported on first use (``pip install "fastnn[onnx]"``).
"""

from __future__ import annotations

import os

KERAS_FORMATS = ("tf_saved_model", "onnx", "openvino", "litert", "torch")
SUPPORTED_FORMATS = ("onnx",)


def require(module: str):
    """Import ``module`` (onnx, onnxruntime, skl2onnx) or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{module} is not installed: ONNX export needs the `onnx` extra "
            "(pip install 'fastnn[onnx]', which installs onnx, onnxruntime and skl2onnx)."
        ) from None


def export_model(model, filepath, format="tf_saved_model", verbose=None, input_signature=None,
                 **kwargs) -> None:
    """``Model.export``: write ``model`` to ``filepath`` in ``format`` (only ``"onnx"``).

    ``input_signature`` may name the inputs' shapes and dtypes as Keras accepts them; fastnn
    checks that each matches the model's input (batch axis free) and dtype, since the graph is
    written for the model's own shapes. ``opset_version`` (keyword) picks the ONNX opset.
    """
    if format not in KERAS_FORMATS:
        raise ValueError(f"Unrecognized format={format}. Supported formats are: "
                         f"{list(KERAS_FORMATS)}.")
    if format not in SUPPORTED_FORMATS:
        raise ValueError(
            f"fastnn cannot export format={format!r}: it writes {list(SUPPORTED_FORMATS)} "
            "only (the other Keras formats need TensorFlow, OpenVINO, LiteRT or PyTorch to "
            "trace the model). Use format='onnx', or save a .keras file and export it from "
            "Keras.")
    opset_version = kwargs.pop("opset_version", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments for format='onnx': {sorted(kwargs)}.")
    from fastnn.export._onnx_graph import model_to_onnx

    proto = model_to_onnx(model, opset_version=opset_version, input_signature=input_signature)
    path = os.fspath(filepath)
    from fastnn.saving.atomic import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(proto.SerializeToString())
    if verbose is None or verbose:
        print(f"Saved artifact at '{path}'.")
