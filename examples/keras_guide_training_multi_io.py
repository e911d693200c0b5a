"""Keras's guide "Training & evaluation with the built-in methods", its dense-network parts as
written there (only the import differs), and its section "Passing data to multi-input,
multi-output models" with the same compile and fit calls. The guide downloads MNIST and feeds
that section's two inputs to Conv2D and Conv1D layers; this runs offline on scikit-learn's
bundled digits, and the two-input model reads both inputs with Dense layers."""

import numpy as np
from sklearn.datasets import load_digits

import fastnn as keras
from fastnn import layers

digits = load_digits()
rng = np.random.default_rng(0)
order = rng.permutation(len(digits.target))
x_all = digits.images[order].reshape(-1, 64).astype("float32") / 16
y_all = digits.target[order].astype("float32")
x_train, y_train = x_all[:1200], y_all[:1200]
x_val, y_val = x_all[1200:1450], y_all[1200:1450]
x_test, y_test = x_all[1450:], y_all[1450:]


# ---- "API overview: a first end-to-end example" ------------------------------------------
def get_uncompiled_model():
    inputs = keras.Input(shape=(64,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    return model


model = get_compiled_model()
history = model.fit(x_train, y_train, batch_size=64, epochs=20,
                    validation_data=(x_val, y_val), verbose=0)
print(sorted(history.history))
results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
print("test loss, test acc:", results)
predictions = model.predict(x_test[:3])
print("predictions shape:", predictions.shape)
print(f"Test accuracy: {results[1]:.4f}")

# ---- "Class weights" and "Sample weights" ------------------------------------------------
class_weight = {i: 1.0 for i in range(10)}
class_weight[5] = 2.0        # twice the importance for class "5"
model = get_compiled_model()
model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1, verbose=0)
sample_weight = np.ones(shape=(len(y_train),))
sample_weight[y_train == 5] = 2.0
model = get_compiled_model()
model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1, verbose=0)

# ---- "Using callbacks" and "Using learning rate schedules" -------------------------------
model = get_compiled_model()
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1),
    keras.callbacks.ModelCheckpoint(filepath="mymodel_{epoch}.keras", save_best_only=True,
                                    monitor="val_loss", verbose=1),
]
model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks,
          validation_split=0.2, verbose=0)
initial_learning_rate = 0.1
lr_schedule = keras.optimizers.schedules.ExponentialDecay(
    initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True)
optimizer = keras.optimizers.SGD(learning_rate=lr_schedule)

# ---- "Passing data to multi-input, multi-output models" ----------------------------------
image_input = keras.Input(shape=(64,), name="img_input")
timeseries_input = keras.Input(shape=(20,), name="ts_input")
x1 = layers.Dense(32, activation="relu")(image_input)
x2 = layers.Dense(16, activation="relu")(timeseries_input)
x = layers.concatenate([x1, x2])
score_output = layers.Dense(1, name="score_output")(x)
class_output = layers.Dense(10, name="class_output")(x)
model = keras.Model(inputs=[image_input, timeseries_input],
                    outputs=[score_output, class_output])
model.summary()

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss=[keras.losses.MeanSquaredError(), keras.losses.CategoricalCrossentropy()],
    metrics=[
        [keras.metrics.MeanAbsolutePercentageError(), keras.metrics.MeanAbsoluteError()],
        [keras.metrics.CategoricalAccuracy()],
    ],
)
model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "score_output": keras.losses.MeanSquaredError(),
        "class_output": keras.losses.CategoricalCrossentropy(from_logits=True),
    },
    metrics={
        "score_output": [keras.metrics.MeanAbsolutePercentageError(),
                         keras.metrics.MeanAbsoluteError()],
        "class_output": [keras.metrics.CategoricalAccuracy()],
    },
    loss_weights={"score_output": 2.0, "class_output": 1.0},
)

img_data = x_all[:1000]
ts_data = rng.normal(size=(1000, 20)).astype("float32")
score_targets = img_data.mean(axis=1, keepdims=True) + ts_data[:, :1] * 0.1
class_targets = keras.utils.to_categorical(y_all[:1000], 10)

# Fit on lists
history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32,
                    epochs=1, verbose=0)
# Alternatively, fit on dicts
history = model.fit(
    {"img_input": img_data, "ts_input": ts_data},
    {"score_output": score_targets, "class_output": class_targets},
    batch_size=32, epochs=10, verbose=0,
)
print(sorted(history.history))

# "You could also choose not to compute a loss for certain outputs"
model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
              loss=[None, keras.losses.CategoricalCrossentropy(from_logits=True)])
model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=5,
          verbose=0)
score, classes = model.predict({"img_input": img_data[:200], "ts_input": ts_data[:200]})
print("Class accuracy:",
      round(float(np.mean(classes.argmax(axis=1) == y_all[:200])), 4))
