"""TensorFlow's Keras (tf.keras), the API fastnn copies, run as its users run it."""

from __future__ import annotations

import os

from fastnn._bench.peers import keras_api, missing_module


def missing() -> str | None:
    return missing_module("tensorflow")


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf.keras


CASES = keras_api.cases(_keras, "Keras")
