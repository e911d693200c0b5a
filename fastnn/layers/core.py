"""InputLayer/Input, Dense, Activation and Flatten."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from fastnn import activations as _activations
from fastnn import constraints as _constraints
from fastnn import initializers as _initializers
from fastnn import regularizers as _regularizers
from fastnn._graph import KerasTensor, Node
from fastnn.dtype_policies import QuantizedDTypePolicy
from fastnn.layers import quantized as _quantized
from fastnn.layers.base import Layer
from fastnn.layers.python_layers import activation_op


def _shape_tuple(shape) -> tuple:
    if shape is None:
        return None
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(None if s is None else _dimension(s, shape) for s in shape)


def _dimension(s, shape) -> int:
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
        raise ValueError(f"Input shape dimensions must be integers or None; received {shape}.")
    return int(s)


class InputLayer(Layer):
    """The entry of a model: fixes the per-sample input shape (Keras 3 ``InputLayer``)."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None,
                 input_tensor=None, optional=False, name=None, ragged=None, **kwargs):
        if "input_shape" in kwargs:
            warnings.warn("Argument `input_shape` is deprecated. Use `shape` instead.",
                          UserWarning, stacklevel=2)
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if sparse or ragged or input_tensor is not None:
            raise ValueError("fastnn's InputLayer supports dense NumPy inputs only "
                             "(sparse, ragged and input_tensor are not supported).")
        if shape is not None and batch_shape is not None:
            raise ValueError("You cannot pass both `shape` and `batch_shape` at the same time.")
        if shape is None and batch_shape is None:
            raise ValueError("You must pass a `shape` argument.")
        if batch_shape is not None:
            batch_shape = _shape_tuple(batch_shape)
            if not batch_shape:
                raise ValueError("`batch_shape` must start with the batch axis (None); "
                                 "received ().")
            shape, batch_size = batch_shape[1:], batch_shape[0]
        shape = _shape_tuple(shape)
        if any(s is not None and s < 1 for s in shape):
            raise ValueError(f"Input shape dimensions must be positive, got {shape}.")
        # Integer and boolean inputs (category ids for IntegerLookup or CategoryEncoding)
        # reach the engine as floats; string inputs go through a Sequential's leading
        # lookup layers first. The input keeps its dtype for its config.
        self._input_dtype = _integer_dtype(dtype)
        super().__init__(name=name, dtype=None if self._input_dtype else dtype, **kwargs)
        self.shape = shape
        self.batch_size = batch_size
        self.optional = optional
        self.built = True
        node = Node(self, [], False, [])
        self.output = KerasTensor(self.batch_shape, self.dtype, self.name, node, 0)
        node.outputs = [self.output]
        self._inbound_nodes.append(node)

    @property
    def batch_shape(self) -> tuple:
        return (self.batch_size, *self.shape)

    @property
    def dtype(self) -> str:
        return self._input_dtype or super().dtype

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": self.batch_shape, "dtype": self.dtype, "sparse": False,
                "name": self.name, "optional": self.optional}


def _integer_dtype(dtype) -> str | None:
    """The name of an integer or boolean ``dtype`` (or ``"string"``), else None."""
    if dtype is None or isinstance(dtype, dict):
        return None
    if dtype in ("string", "str", str):
        return "string"
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return None
    return str(np.dtype(dtype)) if kind in "iub" else None


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
          tensor=None, optional=False, ragged=None):
    """A symbolic input of per-sample ``shape``: the start of a functional model (layers
    are called on it) or of a Sequential one."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      batch_shape=batch_shape, name=name, input_tensor=tensor,
                      optional=optional, ragged=ragged).output


class Dense(Layer):
    """``activation(inputs @ kernel + bias)``, Keras 3's densely connected layer.

    Parameters
    ----------
    units : int
        Positive number of outputs.
    activation : str or callable, optional
        A built-in activation; None is linear.
    use_bias : bool
    kernel_initializer, bias_initializer : initializer
        ``"glorot_uniform"`` (U(±sqrt(6/(in+out))), Glorot & Bengio 2010) and ``"zeros"``.
    kernel_regularizer, bias_regularizer, activity_regularizer : regularizer, optional
    kernel_constraint, bias_constraint : constraint, optional
    quantization_config : dict, optional
        Keras's default int8 config or None (``quantize("int8")`` sets it).

    After ``quantize("int8")`` (or with ``dtype="int8_from_float32"``) the layer holds Keras's
    int8 ``kernel`` and per-output ``kernel_scale`` and computes, per input row x,
    ``float(q(x) @ kernel) / (kernel_scale * s(x)) + bias`` (layers/quantized.py).
    """

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, lora_rank=None, lora_alpha=None,
                 quantization_config=None, **kwargs):
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(
                "Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units}"
            )
        if lora_rank is not None:
            raise ValueError("fastnn's Dense does not support LoRA (lora_rank must be None).")
        _quantized.check_dtype(kwargs.get("dtype"), kwargs.get("name"))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.quantization_config = _quantized.check_quantization_config(quantization_config,
                                                                        self.name)
        self.units = int(units)
        self.activation = _activations.get(activation)
        self._python_activation = _activations.python_activation(self.activation)
        self._activation_spec = _activations.kernel_spec(
            None if self._python_activation else self.activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)
        self.kernel_regularizer = _regularizers.get(kernel_regularizer)
        self.bias_regularizer = _regularizers.get(bias_regularizer)
        self.kernel_constraint = _constraints.get(kernel_constraint)
        self.bias_constraint = _constraints.get(bias_constraint)

    def build(self, input_shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Input 0 of layer '{self.name}' needs a known last dimension; received "
                f"input_shape={input_shape}."
            )
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      "kernel", self.kernel_regularizer, self.kernel_constraint)
        self.bias = (self.add_weight((self.units,), self.bias_initializer, "bias",
                                     self.bias_regularizer, self.bias_constraint)
                     if self.use_bias else None)
        if self.quantization_mode:
            _quantized.quantized_weights(self, self.kernel.shape)
        self.built = True

    def quantize(self, mode=None, type_check=True, config=None) -> None:
        """Replace the float kernel by Keras's int8 kernel and per-output scales: inference
        only from then on (``fit`` refuses the model)."""
        if type_check and type(self) is not Dense:
            raise NotImplementedError(f"Layer {type(self).__name__} does not have a "
                                      "`quantize()` method implemented.")
        _quantized.check_mode(mode)
        if config is not None:
            _quantized.check_quantization_config(config, self.name)
        if not self.built:
            raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer "
                             f"'{self.name}' (of type 'Dense') is not built yet.")
        if self.quantization_mode is not None:
            raise ValueError(f"Layer '{self.name}' is already quantized with dtype_policy="
                             f"'{self.dtype_policy.name}'. Received: mode={mode}")
        if self.dtype != "float32":
            raise ValueError(f"Layer '{self.name}': fastnn runs int8 layers with float32 "
                             f"weights only; this layer's are {self.dtype}.")
        from fastnn.quantizers import abs_max_quantize

        kernel, scale = abs_max_quantize(self.kernel.numpy(), axis=0)
        _quantized.quantized_weights(self, kernel.shape, kernel, scale[0])
        self._policy = QuantizedDTypePolicy(mode, self.dtype_policy.name)
        self.quantization_config = _quantized.INT8_CONFIG

    def compute_output_shape(self, input_shape) -> tuple:
        return (*input_shape[:-1], self.units)

    def check_input_shape(self, input_shape) -> None:
        if self.built and tuple(input_shape)[-1] != self.kernel.shape[0]:
            raise ValueError(
                f"Input 0 of layer '{self.name}' is incompatible with the layer: expected "
                f"axis -1 of input shape to have value {self.kernel.shape[0]}, but received "
                f"input with shape {tuple(input_shape)}")

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        # On inputs of rank > 2 each row holds width / n_in vectors: the kernel applies to
        # each (the last axis, as Keras).
        groups = width // self.kernel.shape[0]
        ops = [{"kind": "dense", "n_out": self.units * groups, "groups": groups,
                "activation": self._activation_spec, "kernel": self.kernel, "bias": self.bias}]
        if self.compute_dtype == "bfloat16" and not self.quantization_mode:
            ops[0]["bf16"] = True       # mixed_bfloat16: the three products on bfloat16 inputs
        if self.quantization_mode:     # the float kernel is gone: the int8 one instead
            if groups != 1:
                raise ValueError(f"Layer '{self.name}': an int8 Dense runs on inputs of rank 2 "
                                 f"only; this one reads {groups} vectors a row. Quantize a "
                                 "model whose Dense layers follow a Flatten instead.")
            ops[0]["kernel"] = None
            ops[0]["int8"] = (self.kernel.packed, self.kernel.colsum128, self.kernel_scale)
        if self._python_activation is not None:    # your function: a Python op after it
            if groups > 1:     # it would see each row's vectors side by side
                raise ValueError(
                    f"Layer '{self.name}': fastnn runs a Python activation function on Dense "
                    "layers with 2-D inputs only; use a built-in activation, or add a Flatten "
                    "before the layer.")
            ops.append(activation_op(self._python_activation, self.units * groups, self.name))
        return ops

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": _activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": _initializers.serialize(self.kernel_initializer),
            "bias_initializer": _initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": _regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": _constraints.serialize(self.kernel_constraint),
            "bias_constraint": _constraints.serialize(self.bias_constraint),
            **({"quantization_config": self.quantization_config}
               if self.quantization_mode else {}),
        }


class Activation(Layer):
    """Applies an activation function to its input."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activations.get(activation)
        self._python_activation = _activations.python_activation(self.activation)
        self._activation_spec = _activations.kernel_spec(
            None if self._python_activation else self.activation)
        self.built = True

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        if self._python_activation is not None:
            return [activation_op(self._python_activation, width, self.name)]
        return [{"kind": "activation", "n_out": width, "activation": self._activation_spec}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "activation": _activations.serialize(self.activation)}


class Flatten(Layer):
    """``(N, d1, d2, ...)`` to ``(N, d1·d2·...)``; ``(N,)`` to ``(N, 1)``."""

    def __init__(self, data_format=None, **kwargs):
        data_format = "channels_last" if data_format is None else str(data_format).lower()
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(
                "The `data_format` argument must be one of {'channels_first', "
                f"'channels_last'}}. Received: data_format={data_format}"
            )
        super().__init__(**kwargs)
        self.data_format = data_format

    def build(self, input_shape) -> None:
        # channels_first moves axis 1 last before flattening: a permutation of the features
        # that the engine does not implement (rows are flattened as stored).
        if self.data_format == "channels_first" and len(input_shape) > 2:
            raise ValueError(
                f"fastnn's Flatten flattens channels_last data only; layer '{self.name}' "
                f"received data_format='channels_first' with inputs of shape {input_shape}."
            )
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        rest = input_shape[1:]
        size = None if any(s is None for s in rest) else math.prod(rest) if rest else 1
        return (input_shape[0], size)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}
