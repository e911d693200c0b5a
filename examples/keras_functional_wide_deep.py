"""A wide-and-deep model with two inputs and two outputs, in the style of Keras's functional
API guide; only the import differs from a Keras 3 script."""

import numpy as np

import fastnn as keras
from fastnn import layers

rng = np.random.default_rng(0)
n = 2000
deep_x = rng.normal(size=(n, 16)).astype("float32")
wide_x = rng.integers(0, 2, size=(n, 4)).astype("float32")
priority = (deep_x[:, :1] + wide_x[:, :1] > 0.5).astype("float32")
department = (np.abs(deep_x[:, 1]) * 2).astype("int64").clip(0, 3)

deep_in = keras.Input(shape=(16,), name="deep")
wide_in = keras.Input(shape=(4,), name="wide")
x = layers.Dense(64, activation="relu")(deep_in)
x = layers.Dense(32, activation="relu")(x)
residual = layers.Dense(32, activation="relu")(x)
x = layers.Add()([x, residual])
merged = layers.concatenate([x, wide_in])
priority_out = layers.Dense(1, activation="sigmoid", name="priority")(merged)
department_out = layers.Dense(4, activation="softmax", name="department")(merged)
model = keras.Model(inputs=[deep_in, wide_in], outputs=[priority_out, department_out])
model.summary()

model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss={"priority": "binary_crossentropy", "department": "sparse_categorical_crossentropy"},
    loss_weights={"priority": 1.0, "department": 0.2},
    metrics={"priority": ["accuracy"], "department": ["accuracy"]},
)
history = model.fit({"deep": deep_x, "wide": wide_x},
                    {"priority": priority, "department": department},
                    epochs=5, batch_size=32, validation_split=0.2, verbose=2)
print(sorted(history.history))
p, d = model.predict({"deep": deep_x[:5], "wide": wide_x[:5]})
print(p.shape, d.shape)
print(f"Priority accuracy: {history.history['val_priority_accuracy'][-1]:.4f}")
