"""UnitNormalization: each sample's last axis scaled to unit L2 norm (Keras 3)."""

from __future__ import annotations

from typing import Any

from fastnn.layers.base import Layer


class UnitNormalization(Layer):
    """``x · min(1/‖x‖₂, 1e12)`` over the last axis (Keras's ``ops.normalize`` with
    ε = 1e-12). fastnn normalizes the last axis only (``axis=-1``, or its positive index)."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError("Invalid value for `axis` argument: expected an int or a list "
                            f"of one int. Received: axis={axis!r}")
        self.axis = axis
        # Built by the first input shape: the engine sees rows flattened and needs the
        # length of the last axis to find the vectors in them.
        self._last_width = None

    def _check_axis(self, input_shape) -> None:
        rank = len(input_shape)
        if not -rank <= self.axis < rank:
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape "
                             f"{tuple(input_shape)}.")
        if self.axis % rank != rank - 1:
            raise ValueError(f"fastnn's UnitNormalization normalizes the last axis only; "
                             f"layer '{self.name}' has axis={self.axis} for inputs of shape "
                             f"{tuple(input_shape)}.")

    def compute_output_shape(self, input_shape) -> tuple:
        self._check_axis(input_shape)
        return tuple(input_shape)

    def build(self, input_shape) -> None:
        self._check_axis(input_shape)
        self._last_width = input_shape[-1]
        self.built = True

    def check_input_shape(self, input_shape) -> None:
        self._check_axis(input_shape)
        if input_shape[-1] != self._last_width:
            raise ValueError(f"Layer '{self.name}' was built for inputs whose last axis has "
                             f"{self._last_width} values; received shape "
                             f"{tuple(input_shape)}.")

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        return [{"kind": "unit_norm", "n_out": width, "groups": width // self._last_width}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
