"""The dense-network parts of Keras's guide "The Functional API", as written there; only the
import differs, and the data: the guide downloads MNIST (28x28 images), this runs offline on
scikit-learn's bundled digits (8x8 images), so the input has 64 features instead of 784."""

import numpy as np
from sklearn.datasets import load_digits

import fastnn as keras
from fastnn import layers

# ---- data (the guide: keras.datasets.mnist.load_data()) --------------------------------
digits = load_digits()
rng = np.random.default_rng(0)
order = rng.permutation(len(digits.target))
x_all = digits.images[order].reshape(-1, 64).astype("float32") / 16
y_all = digits.target[order]
x_train, y_train, x_test, y_test = x_all[:1400], y_all[:1400], x_all[1400:], y_all[1400:]

# ---- "Introduction": a model with three layers ----------------------------------------
inputs = keras.Input(shape=(64,))
dense = layers.Dense(64, activation="relu")
x = dense(inputs)
x = layers.Dense(64, activation="relu")(x)
outputs = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
model.summary()

# ---- "Training, evaluation, and inference" ----------------------------------------------
model.compile(
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    optimizer=keras.optimizers.RMSprop(),
    metrics=["accuracy"],
)
history = model.fit(x_train, y_train, batch_size=64, epochs=20, validation_split=0.2,
                    verbose=0)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

# ---- "Save and serialize" ----------------------------------------------------------------
model.save("my_model.keras")
del model
# Recreate the exact same model purely from the file:
model = keras.models.load_model("my_model.keras")
print("Reloaded accuracy:", model.evaluate(x_test, y_test, verbose=0)[1])


# ---- "All models are callable, just like layers": an ensemble --------------------------
def get_model():
    inputs = keras.Input(shape=(128,))
    outputs = layers.Dense(1)(inputs)
    return keras.Model(inputs, outputs)


model1 = get_model()
model2 = get_model()
model3 = get_model()

inputs = keras.Input(shape=(128,))
y1 = model1(inputs)
y2 = model2(inputs)
y3 = model3(inputs)
outputs = layers.average([y1, y2, y3])
ensemble_model = keras.Model(inputs=inputs, outputs=outputs)
ensemble_model.summary()
probe = rng.normal(size=(4, 128)).astype("float32")
expected = (model1.predict(probe) + model2.predict(probe) + model3.predict(probe)) / 3
print("Ensemble equals the mean of its members:",
      bool(np.allclose(ensemble_model.predict(probe), expected, rtol=1e-5, atol=1e-6)))
