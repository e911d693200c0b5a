"""Rescaling: ``x · scale + offset`` (Keras 3), e.g. ``scale=1/255`` for pixel values.

In a model it is the engine's ``batch_norm`` op in inference form with zero mean, unit
variance and no ε, and ``scale`` and ``offset`` as its (constant, never trained) γ and β, so
the engine computes ``x · 1 · scale + offset`` with no call back into Python.
"""

from __future__ import annotations

import numpy as np

from fastnn.layers.base import Layer, Variable


class Rescaling(Layer):
    """Multiply inputs by ``scale`` and add ``offset`` (floats, or arrays that broadcast
    against one sample, such as one value per channel)."""

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("scale", scale), ("offset", offset)):
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise ValueError(f"Rescaling's `{name}` must be a number or an array of "
                                 f"numbers; received {value!r}.")
        self.scale, self.offset = scale, offset
        self.built = True

    def _per_feature(self, value, shape: tuple, name: str) -> np.ndarray:
        try:
            return np.broadcast_to(np.asarray(value, dtype=self.dtype), shape[1:]).ravel()
        except ValueError:
            raise ValueError(f"Rescaling layer '{self.name}': `{name}` of shape "
                             f"{np.shape(value)} does not broadcast against samples of shape "
                             f"{tuple(shape[1:])}.") from None

    def check_input_shape(self, input_shape) -> None:
        self._per_feature(self.scale, input_shape, "scale")
        self._per_feature(self.offset, input_shape, "offset")

    def engine_ops(self, width: int) -> list[dict]:
        shape = self.input_shape_built or (None, width)
        scale = self._per_feature(self.scale, shape, "scale")
        offset = self._per_feature(self.offset, shape, "offset")

        def constant(value, name):
            return Variable(np.array(value, dtype=self.dtype), name, f"{self.name}/{name}",
                            trainable=False)
        return [{"kind": "batch_norm", "n_out": width,
                 "gamma": constant(scale, "scale"), "beta": constant(offset, "offset"),
                 "moving_mean": constant(np.zeros(width), "zero"),
                 "moving_variance": constant(np.ones(width), "one"),
                 "epsilon": 0.0, "momentum": 0.0, "batch_stats": False}]

    def compute_output_shape(self, input_shape) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict:
        def plain(value):
            return np.asarray(value).tolist() if isinstance(value, np.ndarray) else value
        return {**super().get_config(), "scale": plain(self.scale),
                "offset": plain(self.offset)}
