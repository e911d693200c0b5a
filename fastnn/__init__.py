"""fastnn: fast multilayer perceptrons on the CPU, behind Keras's and scikit-learn's APIs.

Replace ``tensorflow.keras`` (or ``keras``) by ``fastnn`` in a dense-network script's imports;
``import fastnn as keras`` works too.
"""

from fastnn import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    dtype_policies,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    optimizers,
    regularizers,
    utils,
)
from fastnn._info import show_config
from fastnn._threadpool import register as _register_with_threadpoolctl
from fastnn.dtype_policies import DTypePolicy, FloatDTypePolicy
from fastnn.initializers import Initializer
from fastnn.layers import Input, KerasTensor, Layer, Variable
from fastnn.losses import Loss
from fastnn.metrics import Metric
from fastnn.models import Model, Sequential
from fastnn.optimizers import Optimizer
from fastnn.regularizers import Regularizer

__version__ = "0.1.0"

_register_with_threadpoolctl()   # threadpoolctl's limits then reach fastnn in every thread


def __getattr__(name):
    # `fastnn.ops` loads autograd: imported on first use, as `keras.ops` is always there
    if name == "ops":
        import fastnn.ops

        return fastnn.ops
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


def version() -> str:
    """fastnn's version (``keras.version()``)."""
    return __version__


__all__ = [
    "DTypePolicy", "FloatDTypePolicy", "Initializer", "Input", "KerasTensor", "Layer", "Loss",
    "Metric", "Model", "Optimizer", "Regularizer", "Sequential", "Variable", "__version__",
    "activations", "backend", "callbacks", "config", "constraints", "dtype_policies",
    "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "ops",
    "optimizers", "regularizers", "show_config", "utils", "version",
]
