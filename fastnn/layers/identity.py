"""Identity and ActivityRegularization: layers that pass their input through unchanged."""

from __future__ import annotations

from typing import Any

from fastnn import regularizers as _regularizers
from fastnn.layers.base import Layer


class Identity(Layer):
    """Returns its input (Keras 3 ``keras.layers.Identity``): no op in the engine."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True


class ActivityRegularization(Layer):
    """Identity whose output adds ``l1·Σ|x| + l2·Σx²``, divided by the batch size, to the
    loss (Keras 3): an identity op carrying the activity penalty."""

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        if "activity_regularizer" in kwargs:
            raise ValueError("ActivityRegularization takes `l1` and `l2`, not "
                             "`activity_regularizer`.")
        for name, value in (("l1", l1), ("l2", l2)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"ActivityRegularization's `{name}` must be a non-negative "
                                 f"number; received {name}={value!r}.")
        self.l1, self.l2 = l1, l2
        super().__init__(activity_regularizer=_regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.built = True

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        if not (self.l1 or self.l2):
            return []
        return [{"kind": "activation", "n_out": width, "activation": None}]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
