"""Optimizers with Keras 3's names, defaults and update rules (``keras.optimizers``).

Each optimizer updates NumPy arrays in place (``apply``, ``apply_gradients``) through one fused
kernel call per variable, and describes itself to the training engine through
``engine_spec()``, ``learning_rates()`` and ``slots_for()`` (see :mod:`fastnn.optimizers.base`).
Names are case-insensitive, as in Keras: ``get("adam")``, ``get("Adam")``, ``get("RMSprop")``.
"""

from __future__ import annotations

from typing import Any

from fastnn import _lazy
from fastnn._registry import Registry
from fastnn.optimizers import schedules
from fastnn.optimizers.adam import Adam, AdamW
from fastnn.optimizers.base import EngineSpec, Optimizer, OptimizerKind
from fastnn.optimizers.rmsprop import RMSprop
from fastnn.optimizers.sgd import SGD

# The less common optimizers load on first use (fastnn._lazy): as attributes of this module, by
# name (any case) or from a config.
_ON_FIRST_USE = {name: f"fastnn.optimizers.{name.lower()}"
                 for name in ("Adadelta", "Adagrad", "Adamax", "Ftrl", "Lamb", "Lion", "Nadam")}
__getattr__, __dir__ = _lazy.attach(globals(), _ON_FIRST_USE)

__all__ = [
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "EngineSpec",
    "Ftrl",
    "Lamb",
    "Lion",
    "Nadam",
    "Optimizer",
    "OptimizerKind",
    "RMSprop",
    "deserialize",
    "get",
    "schedules",
    "serialize",
]

_REGISTRY = Registry(
    "optimizer",
    {
        **{cls.__name__: cls for cls in (SGD, Adam, AdamW, RMSprop)},
        **{name: _lazy.Lazy(module, name) for name, module in _ON_FIRST_USE.items()},
    },
    case_sensitive=False,
    module="keras.optimizers",
)


def get(identifier: Any) -> Optimizer | None:
    """An optimizer from a name (case-insensitive; built with its defaults), a config dict or
    an instance (returned as is). None gives None; anything else is a ValueError."""
    return _REGISTRY.get(identifier, accept=lambda obj: isinstance(obj, Optimizer))


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """Keras 3's form: ``{"module": "keras.optimizers", "class_name", "config", ...}``."""
    return _REGISTRY.serialize(optimizer)


def deserialize(config: dict[str, Any] | str) -> Optimizer:
    """Inverse of :func:`serialize` (the class name is case-insensitive); also takes a name."""
    return _REGISTRY.deserialize(config)
