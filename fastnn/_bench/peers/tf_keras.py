"""TensorFlow's Keras (tf.keras), the API fastnn copies, run as its users run it."""

from __future__ import annotations

import os

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module


def missing() -> str | None:
    return missing_module("tensorflow")


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf.keras


def build(n_in, layers, weights, learning_rate=1e-3):
    keras = _keras()
    model = keras.Sequential([keras.Input((n_in,))] + [
        keras.layers.Dense(units, activation=act) for units, act in layers])
    model.set_weights([a for pair in weights for a in pair])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def tutorial_fit(sizes):
    x, y = w.tutorial_data(sizes.tutorial_samples)
    weights = w.initial_weights(1, w.TUTORIAL_LAYERS)

    def run():
        model = build(1, w.TUTORIAL_LAYERS, weights, 1e-4)
        return model.fit(x, y, batch_size=10, epochs=sizes.tutorial_epochs, verbose=0)

    losses = run().history["loss"]
    w.check_loss_falls(losses[0], losses[-1], "Keras tutorial fit")
    return Case(run, x.nbytes + y.nbytes)


def mnist_epoch(sizes):
    x, y = w.mnist_data(sizes.mnist_samples)
    model = build(w.MNIST_FEATURES, w.MNIST_LAYERS, w.initial_weights(784, w.MNIST_LAYERS))
    first = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
    second = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
    w.check_loss_falls(first, second, "Keras MNIST-scale epoch")
    return Case(lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0),
                x.nbytes + y.nbytes)


def _predict(rows, which):
    x, n_in, layers, weights = w.predict_setup(rows, which)
    model = build(n_in, layers, weights)
    w.check_close(model.predict(x, verbose=0), w.reference_forward(x, weights, layers),
                  "Keras predict")
    return Case(lambda: model.predict(x, verbose=0), x.nbytes)


def predict_one(sizes):
    return _predict(1, "tutorial")


def predict_10k(sizes):
    return _predict(sizes.predict_rows, "mnist")


CASES = {
    "tutorial_fit": tutorial_fit,
    "mnist_epoch": mnist_epoch,
    "predict_one": predict_one,
    "predict_10k": predict_10k,
}
