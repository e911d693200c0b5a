"""int8 state of a quantized Dense layer, as Keras 3's ``layer.quantize("int8")`` leaves it.

Keras replaces the float kernel by an int8 ``kernel`` (non-trainable) plus a float
``kernel_scale`` of one value per output (``127 / (max |column| + 1e-7)``), and marks the layer
with the dtype policy ``"int8_from_<float dtype>"``; inputs are quantized per row at call time.
fastnn keeps the same variables (so ``.keras`` files go both ways) and, beside them, the kernel
packed for the int8 GEMM (fastnn/_kernels/_quant.pyx); the packed copy is rewritten whenever the
kernel variable is assigned (set_weights, load_weights). Training an int8 layer is refused: the
engine has no backward for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fastnn.layers.base import Variable

MODES = ("int8", "float8", "int4", "gptq", "awq")   # Keras's; fastnn runs int8 only
SUPPORTED = ("int8",)

# Keras's default Int8QuantizationConfig, as its Dense writes it in a config.
_ABSMAX = {"module": "keras.quantizers", "class_name": "AbsMaxQuantizer",
           "config": {"value_range": [-127, 127], "epsilon": 1e-07, "output_dtype": "int8"},
           "registered_name": None}
INT8_CONFIG = {"module": "keras.quantizers", "class_name": "Int8QuantizationConfig",
               "config": {"weight_quantizer": None, "activation_quantizer": _ABSMAX},
               "registered_name": None}


def check_mode(mode) -> str:
    """``mode`` when fastnn can quantize to it; Keras's ValueError for unknown modes."""
    if mode not in MODES:
        raise ValueError(f"Invalid quantization mode. Expected one of {MODES}. "
                         f"Received: mode={mode}")
    if mode not in SUPPORTED:
        raise ValueError(f"fastnn quantizes to {SUPPORTED} only; received mode={mode!r}.")
    return mode


def check_dtype(dtype, name) -> None:
    """Refuse, before the layer exists, a quantized ``dtype`` fastnn cannot run: a mode other
    than int8 (Keras's ValueError for unknown ones) or int8 over float64 weights."""
    from fastnn import dtype_policies

    if dtype is None:
        return
    policy = dtype_policies.get(dtype)
    if policy.quantization_mode is None:
        return
    check_mode(policy.quantization_mode)
    if policy.variable_dtype != "float32":
        raise ValueError(f"Layer '{name}': fastnn runs int8 layers with float32 weights only; "
                         f"received dtype {policy.name}.")


def check_quantization_config(config, name: str):
    """Only Keras's default int8 config (or none) describes what fastnn computes."""
    if config is None or _same(config, INT8_CONFIG):
        return config
    raise ValueError(f"Layer '{name}' uses quantization_config={config!r}; fastnn runs "
                     "Keras's default int8 quantization only (AbsMax, per-row inputs).")


def _same(a, b) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


class Int8Kernel(Variable):
    """The int8 kernel; ``packed``/``colsum128`` (what the engine reads) follow every assign,
    rewritten in place so a built plan keeps pointing at them."""

    def __init__(self, value, name, path):
        from fastnn._kernels import _quant

        super().__init__(np.asarray(value, dtype=np.int8), name, path, trainable=False)
        self.packed, self.colsum128 = _quant.pack(self._value)

    def assign(self, value) -> None:
        from fastnn._kernels import _quant

        value = np.asarray(value)
        if value.dtype.kind in "f" and not np.all(np.isfinite(value)):
            raise ValueError(f"Cannot assign non-finite values to int8 variable '{self.path}'.")
        if value.size and (value.min() < -128 or value.max() > 127 or
                           (value.dtype.kind == "f" and not np.all(value == np.round(value)))):
            raise ValueError(f"Variable '{self.path}' holds int8 values: integers in "
                             f"[-128, 127]; received values in [{value.min()}, {value.max()}].")
        super().assign(value.astype(np.int8))
        packed, colsum = _quant.pack(self._value)
        self.packed[...] = packed
        self.colsum128[...] = colsum


# Bumped by every quantize: a model's plan built before it checks whether its layers changed.
GENERATION = [0]


def quantized_weights(layer, kernel_shape, kernel=None, scale=None) -> None:
    """Give ``layer`` Keras's int8 variables (kernel, bias, kernel_scale in file order);
    ``kernel``/``scale`` default to Keras's build values (zeros, ones)."""
    units = kernel_shape[1]
    kernel = np.zeros(kernel_shape, np.int8) if kernel is None else kernel
    scale = np.ones(units, layer.dtype) if scale is None else scale
    layer.kernel = Int8Kernel(kernel, "kernel", f"{layer.name}/kernel")
    layer.kernel_scale = Variable(np.asarray(scale, dtype=layer.dtype), "kernel_scale",
                                  f"{layer.name}/kernel_scale", trainable=False)
    bias = [] if layer.bias is None else [layer.bias]
    layer._weights = [layer.kernel, *bias, layer.kernel_scale]
    GENERATION[0] += 1


def file_variables(layer) -> list[Variable]:
    """Keras's order in ``.weights.h5`` for an int8 Dense: kernel, bias, kernel_scale."""
    return [v for v in (layer.kernel, layer.bias, layer.kernel_scale) if v is not None]


def int8_layers(model, filters) -> list:
    """(layer, the models holding it) for every Dense under ``model`` that ``filters``
    selects (Keras's rule: regex search on the name, any of a list, or a callable)."""
    import re

    from fastnn.layers.core import Dense

    def selected(layer) -> bool:
        if filters is None:
            return True
        if isinstance(filters, str):
            return bool(re.search(filters, layer.name))
        if isinstance(filters, (list, tuple)):
            return any(re.search(p, layer.name) for p in filters)
        return bool(filters(layer))

    found, seen = [], set()

    def walk(m, owners) -> None:
        for layer in m.layers:
            if hasattr(layer, "_emit") and hasattr(layer, "layers"):
                walk(layer, [*owners, layer])
            elif isinstance(layer, Dense) and id(layer) not in seen and selected(layer):
                seen.add(id(layer))
                found.append((layer, owners))

    walk(model, [model])
    return found


def refuse_training(model, what: str) -> None:
    """Training an int8 model is refused: its int8 layers have no backward in the engine."""
    names = [layer.name for layer, _ in int8_layers(model, None) if layer.quantization_mode]
    if names:
        raise ValueError(f"Cannot {what} model '{model.name}': its layers {names} are "
                         "quantized to int8, which fastnn runs for inference only (predict, "
                         "evaluate). Train the float model, then call `quantize('int8')`.")
