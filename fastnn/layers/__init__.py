"""Keras 3's dense-network layers (``keras.layers``)."""

from fastnn import _lazy
from fastnn._graph import KerasTensor
from fastnn._registry import Registry
from fastnn.layers.activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax
from fastnn.layers.base import Layer, Variable
from fastnn.layers.core import Activation, Dense, Flatten, Input, InputLayer
from fastnn.layers.embedding import Embedding
from fastnn.layers.identity import ActivityRegularization, Identity
from fastnn.layers.merging import (  # noqa: F401 (the classes are exported through _LAYERS)
    MERGE_LAYERS,
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from fastnn.layers.normalization import BatchNormalization, LayerNormalization
from fastnn.layers.python_layers import Lambda
from fastnn.layers.regularization import AlphaDropout, Dropout, GaussianDropout, GaussianNoise
from fastnn.layers.reshaping import Reshape
from fastnn.layers.unit_normalization import UnitNormalization

# The preprocessing layers load on first use (fastnn._lazy): as attributes of this module, by
# name from the registry, or from a config that names one.
_PREPROCESSING = ("CategoryEncoding", "Discretization", "Hashing", "IntegerLookup",
                  "Normalization", "Rescaling", "StringLookup")
__getattr__, __dir__ = _lazy.attach(globals(), {
    **dict.fromkeys(_PREPROCESSING, "fastnn.layers.preprocessing"),
    "PREPROCESSING_LAYERS": "fastnn.layers.preprocessing",
})

_LAYERS = {
    **{cls.__name__: cls
       for cls in (Activation, BatchNormalization, Dense, Dropout, ELU, Flatten, GaussianDropout,
                   GaussianNoise, InputLayer, Lambda, LayerNormalization, LeakyReLU, PReLU, ReLU,
                   Softmax, Reshape, *MERGE_LAYERS, ActivityRegularization, AlphaDropout,
                   Embedding, Identity, UnitNormalization)},
    **_lazy.entries("fastnn.layers.preprocessing", _PREPROCESSING),
}
_REGISTRY = Registry("layer", _LAYERS, module="keras.layers")


def get(identifier):
    """A layer from a config dict or an instance."""
    return _REGISTRY.get(identifier, accept=lambda x: isinstance(x, Layer))


def serialize(layer):
    return _REGISTRY.serialize(layer)


def deserialize(config):
    return _REGISTRY.deserialize(config)


__all__ = [*_LAYERS, "Input", "KerasTensor", "Layer", "Variable",  # noqa: PLE0604 (class names)
           "get", "serialize", "deserialize", "add", "subtract", "multiply", "average",
           "maximum", "minimum", "concatenate", "dot"]
