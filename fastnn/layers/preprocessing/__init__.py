"""Keras 3's preprocessing layers: numeric ones as engine ops, lookups in NumPy."""

from fastnn.layers.preprocessing.category_encoding import CategoryEncoding
from fastnn.layers.preprocessing.discretization import Discretization
from fastnn.layers.preprocessing.hashing import Hashing
from fastnn.layers.preprocessing.index_lookup import IntegerLookup, StringLookup
from fastnn.layers.preprocessing.normalization import Normalization
from fastnn.layers.preprocessing.rescaling import Rescaling

PREPROCESSING_LAYERS = (CategoryEncoding, Discretization, Hashing, IntegerLookup,
                        Normalization, Rescaling, StringLookup)

__all__ = ["PREPROCESSING_LAYERS", "CategoryEncoding", "Discretization", "Hashing", "IntegerLookup",
           "Normalization", "Rescaling", "StringLookup"]
