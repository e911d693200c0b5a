"""Embedding: integer category codes to trained vectors (Keras 3 ``keras.layers.Embedding``).

In the engine an op gathers the table's rows forward and adds the gradients back into them
in row order (fastnn/_kernels/_engine_ops.pxi), so 1 and 2 threads give the same bits.
Codes arrive as the model's floats; each is checked to be a whole number in
``[0, input_dim)``, and a bad one stops the call with a ValueError.
"""

from __future__ import annotations

from typing import Any

from fastnn import constraints as _constraints
from fastnn import initializers as _initializers
from fastnn import regularizers as _regularizers
from fastnn.layers.base import Layer

# float32 holds every integer up to 2**24 exactly; codes beyond it would collide.
_FLOAT32_EXACT = 2 ** 24


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value} "
                         f"(of type {type(value).__name__}).")
    return value


class Embedding(Layer):
    """Turns integer codes ``0 … input_dim - 1`` into vectors of ``output_dim`` values:
    inputs of shape ``(n, ...)`` give outputs of shape ``(n, ..., output_dim)``.

    Parameters
    ----------
    input_dim : int
        Number of categories (the largest code + 1).
    output_dim : int
        Length of each vector.
    embeddings_initializer, embeddings_regularizer, embeddings_constraint
        As for a Dense kernel; Keras's default initializer is U(−0.05, 0.05).
    mask_zero : bool
        Must be False: fastnn has no masks (the layers after an Embedding would ignore one).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False,
                 weights=None, lora_rank=None, lora_alpha=None, quantization_config=None,
                 **kwargs):
        self.input_dim = _positive_int(input_dim, "input_dim")
        self.output_dim = _positive_int(output_dim, "output_dim")
        if mask_zero:
            raise ValueError("fastnn's Embedding does not support `mask_zero=True`: fastnn "
                             "layers have no masks, so code 0 would be used as a category. "
                             "Use mask_zero=False (code 0 is then an ordinary category).")
        if lora_rank is not None or quantization_config is not None:
            raise ValueError("fastnn's Embedding does not support LoRA or quantization "
                             "(lora_rank and quantization_config must be None).")
        kwargs.pop("input_length", None)       # Keras 2's argument; Keras 3 ignores it
        super().__init__(**kwargs)
        if self.dtype == "float32" and self.input_dim > _FLOAT32_EXACT:
            raise ValueError(f"Embedding input_dim={self.input_dim} is more than float32 "
                             f"holds exactly ({_FLOAT32_EXACT}); use dtype='float64'.")
        self.mask_zero = False
        self.embeddings_initializer = _initializers.get(embeddings_initializer)
        self.embeddings_regularizer = _regularizers.get(embeddings_regularizer)
        self.embeddings_constraint = _constraints.get(embeddings_constraint)
        self._initial_weights = weights

    def build(self, input_shape=None) -> None:
        self.embeddings = self.add_weight(
            (self.input_dim, self.output_dim), self.embeddings_initializer, "embeddings",
            self.embeddings_regularizer, self.embeddings_constraint)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def compute_output_shape(self, input_shape) -> tuple:
        return (*tuple(input_shape), self.output_dim)

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "embedding", "n_out": width * self.output_dim,
                 "embeddings": self.embeddings, "vocab": self.input_dim}]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim, "output_dim": self.output_dim,
            "embeddings_initializer": _initializers.serialize(self.embeddings_initializer),
            "embeddings_regularizer": _regularizers.serialize(self.embeddings_regularizer),
            "activity_regularizer": _regularizers.serialize(self.activity_regularizer),
            "embeddings_constraint": _constraints.serialize(self.embeddings_constraint),
            "mask_zero": self.mask_zero,
            "quantization_config": None,
        }
