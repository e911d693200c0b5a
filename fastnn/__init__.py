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
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    utils,
)
from fastnn._info import show_config
from fastnn.layers import Input
from fastnn.models import Sequential

__version__ = "0.1.0"

__all__ = [
    "Input", "Sequential", "__version__", "activations", "backend", "callbacks", "config",
    "constraints", "initializers", "layers", "losses", "metrics", "models", "optimizers",
    "regularizers", "show_config", "utils",
]
