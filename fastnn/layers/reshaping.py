"""Reshape: a new per-sample shape for the same values (Keras 3). The engine keeps every
sample as one flat row, so in a model Reshape is no op at all: only the shape changes."""

from __future__ import annotations

import math

from fastnn.layers.base import Layer


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (without the batch axis; one entry may be
    -1, inferred from the sample's size)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(int(d) for d in target_shape)
        except (TypeError, ValueError):
            raise ValueError("`target_shape` must be a tuple of integers; received "
                             f"target_shape={target_shape!r}.") from None
        if sum(d == -1 for d in target) > 1 or any(d < -1 or d == 0 for d in target):
            raise ValueError("`target_shape` takes positive sizes and at most one -1; "
                             f"received target_shape={target_shape!r}.")
        self.target_shape = target
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return (input_shape[0], *(None if d == -1 else d for d in self.target_shape))
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if (-1 in self.target_shape and size % known) or \
                (-1 not in self.target_shape and size != known):
            raise ValueError(f"total size of the new array must be unchanged, "
                             f"input_shape = {list(rest)}, output_shape = "
                             f"{list(self.target_shape)}")
        return (input_shape[0], *(size // known if d == -1 else d for d in self.target_shape))

    def check_input_shape(self, input_shape) -> None:
        self.compute_output_shape(input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}
