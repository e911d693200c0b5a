"""The workloads written once for every library with Keras's API: TensorFlow's Keras and
fastnn's Keras face run the same calls, as a user's script would after changing its import."""

from __future__ import annotations

from collections.abc import Callable

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, predict_cases


def cases(keras: Callable[[], object], label: str) -> dict:
    """CASES entries for the module `keras()` returns (called when a workload is prepared,
    so that TensorFlow is imported only by the process that times it); `label` names the
    library in failed checks."""

    def build(n_in, layers, weights, learning_rate=1e-3, loss="sparse_categorical_crossentropy"):
        k = keras()
        model = k.Sequential([k.Input((n_in,))] + [
            k.layers.Dense(units, activation=act) for units, act in layers])
        model.set_weights([a for pair in weights for a in pair])
        model.compile(optimizer=k.optimizers.Adam(learning_rate), loss=loss)
        return model

    def tutorial_fit(sizes):
        x, y = w.tutorial_data(sizes.tutorial_samples)
        weights = w.initial_weights(1, w.TUTORIAL_LAYERS)

        def run():
            model = build(1, w.TUTORIAL_LAYERS, weights, 1e-4)
            return model.fit(x, y, batch_size=10, epochs=sizes.tutorial_epochs, verbose=0)

        losses = run().history["loss"]
        w.check_loss_falls(losses[0], losses[-1], f"{label} tutorial fit")
        return Case(run, x.nbytes + y.nbytes)

    def custom_loss_fit(sizes):
        # The tutorial fit with the user's own loss: Python code once per batch.
        ops = keras().ops

        def sparse_crossentropy(y_true, y_pred):
            labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
            picked = ops.sum(ops.one_hot(labels, 2) * y_pred, axis=-1)
            return -ops.log(ops.clip(picked, 1e-7, 1.0))

        x, y = w.tutorial_data(sizes.tutorial_samples)
        weights = w.initial_weights(1, w.TUTORIAL_LAYERS)

        def run():
            model = build(1, w.TUTORIAL_LAYERS, weights, 1e-4, loss=sparse_crossentropy)
            return model.fit(x, y, batch_size=10, epochs=sizes.tutorial_epochs, verbose=0)

        losses = run().history["loss"]
        w.check_loss_falls(losses[0], losses[-1], f"{label} tutorial fit, custom loss")
        return Case(run, x.nbytes + y.nbytes)

    def mnist_epoch(sizes):
        x, y = w.mnist_data(sizes.mnist_samples)
        model = build(w.MNIST_FEATURES, w.MNIST_LAYERS, w.initial_weights(784, w.MNIST_LAYERS))
        first = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
        second = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
        w.check_loss_falls(first, second, f"{label} MNIST-scale epoch")
        return Case(lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0),
                    x.nbytes + y.nbytes)

    def mnist_epoch_bf16(sizes):
        # The same epoch under Keras 3's mixed_bfloat16 policy (float32 weights, bfloat16
        # matmuls). The global policy applies to the layers built while it is set.
        k = keras()
        x, y = w.mnist_data(sizes.mnist_samples)
        k.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            model = build(w.MNIST_FEATURES, w.MNIST_LAYERS,
                          w.initial_weights(784, w.MNIST_LAYERS))
        finally:
            k.mixed_precision.set_global_policy("float32")
        first = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
        second = model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0]
        w.check_loss_falls(first, second, f"{label} MNIST-scale epoch, mixed_bfloat16")
        return Case(lambda: model.fit(x, y, batch_size=128, epochs=1, verbose=0),
                    x.nbytes + y.nbytes)

    def mnist_epoch_generator(sizes):
        # The same epoch fed by a Python generator of batches of 128 (views of the arrays):
        # what a stream costs per batch over arrays.
        x, y = w.mnist_data(sizes.mnist_samples)
        model = build(w.MNIST_FEATURES, w.MNIST_LAYERS, w.initial_weights(784, w.MNIST_LAYERS))

        def batches():
            for lo in range(0, len(x), 128):
                yield x[lo:lo + 128], y[lo:lo + 128]

        def run():
            return model.fit(batches(), epochs=1, verbose=0, shuffle=False)

        first = run().history["loss"][0]
        second = run().history["loss"][0]
        w.check_loss_falls(first, second, f"{label} MNIST-scale epoch from a generator")
        return Case(run, x.nbytes + y.nbytes)

    def wide_deep_epoch(sizes):
        # A functional graph: concatenate, a residual Add, two heads with a loss each.
        k = keras()
        k.utils.set_random_seed(4)
        deep_in, wide_in = k.Input((64,), name="deep"), k.Input((16,), name="wide")
        h = k.layers.Dense(256, activation="relu")(deep_in)
        h = k.layers.Dense(128, activation="relu")(h)
        h = k.layers.Add()([h, k.layers.Dense(128, activation="relu")(h)])
        merged = k.layers.concatenate([h, wide_in])
        model = k.Model([deep_in, wide_in], [
            k.layers.Dense(1, activation="sigmoid", name="click")(merged),
            k.layers.Dense(4, activation="softmax", name="department")(merged)])
        model.compile(optimizer=k.optimizers.Adam(1e-3),
                      loss=["binary_crossentropy", "sparse_categorical_crossentropy"],
                      loss_weights=[1.0, 0.5])
        x, y = w.wide_deep_data(sizes.wide_deep_samples)
        first = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history["loss"][0]
        second = model.fit(x, y, batch_size=64, epochs=1, verbose=0).history["loss"][0]
        w.check_loss_falls(first, second, f"{label} wide-and-deep epoch")
        return Case(lambda: model.fit(x, y, batch_size=64, epochs=1, verbose=0),
                    sum(a.nbytes for a in x + y))

    def predict(rows, which):
        x, n_in, layers, weights = w.predict_setup(rows, which)
        model = build(n_in, layers, weights)
        w.check_close(model.predict(x, verbose=0), w.reference_forward(x, weights, layers),
                      f"{label} predict")
        return Case(lambda: model.predict(x, verbose=0), x.nbytes)

    def predict_10k_bf16(sizes):
        k = keras()
        x, n_in, layers, weights = w.predict_setup(sizes.predict_rows, "mnist")
        k.mixed_precision.set_global_policy("mixed_bfloat16")
        try:
            model = build(n_in, layers, weights)
        finally:
            k.mixed_precision.set_global_policy("float32")
        w.check_reduced(model.predict(x, verbose=0), w.reference_forward(x, weights, layers),
                        f"{label} mixed_bfloat16 predict")
        return Case(lambda: model.predict(x, verbose=0), x.nbytes)

    return {"tutorial_fit": tutorial_fit, "custom_loss_fit": custom_loss_fit,
            "mnist_epoch": mnist_epoch, "mnist_epoch_bf16": mnist_epoch_bf16,
            "mnist_epoch_generator": mnist_epoch_generator,
            "wide_deep_epoch": wide_deep_epoch, "predict_10k_bf16": predict_10k_bf16,
            **predict_cases(predict)}
