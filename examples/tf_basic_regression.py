"""TensorFlow's tutorial "Basic regression: Predict fuel efficiency"
(https://www.tensorflow.org/tutorials/keras/regression), run on fastnn.

What differs from the tutorial:
- the imports: ``import fastnn as keras`` and ``from fastnn import layers`` instead of
  TensorFlow (so ``tf.keras.X`` is written ``keras.X``, ``tf.linspace`` is ``np.linspace``,
  and the ``.numpy()`` calls go: fastnn's layers and models return NumPy arrays);
- the data: the tutorial downloads the UCI Auto MPG table, which is not reachable offline.
  ``auto_mpg_like()`` below generates a table with the same columns, the same missing
  horsepower marks and relations of the same kind (heavier, more powerful cars use more
  fuel; newer ones less), so that every step of the tutorial runs on it;
- the plots (matplotlib, seaborn) are left out; their numbers are printed instead;
- ``pd.get_dummies(..., dtype=int)``: the tutorial was written when pandas returned 0/1
  integers there; pandas 2 returns booleans, which make ``np.array(train_features)`` an
  object array that neither TensorFlow nor fastnn takes;
- Keras 3's warning about the tutorial's ``input_shape=[1,]`` (fastnn gives the same one) is
  filtered, so that the example's output stays clean.
"""

import warnings

import numpy as np
import pandas as pd

import fastnn as keras  # was: import keras (tf.keras)
from fastnn import layers  # was: from keras import layers

np.set_printoptions(precision=3, suppress=True)
warnings.filterwarnings("ignore", message="Do not pass an `input_shape`")


def auto_mpg_like(n=398, seed=0):
    """A synthetic stand-in for the Auto MPG table (398 cars, 6 without horsepower)."""
    rng = np.random.default_rng(seed)
    cylinders = rng.choice([4, 6, 8], size=n, p=[0.52, 0.22, 0.26])
    displacement = cylinders * rng.normal(45, 6, n) + rng.normal(0, 15, n)
    horsepower = 0.35 * displacement + 35 + rng.normal(0, 8, n)
    weight = 9.0 * displacement + 1500 + rng.normal(0, 250, n)
    acceleration = 21 - horsepower / 25 + rng.normal(0, 1.5, n)
    model_year = rng.integers(70, 83, n)
    origin = np.where(cylinders > 4, 1, rng.choice([1, 2, 3], size=n, p=[0.4, 0.3, 0.3]))
    # Fuel efficiency falls with weight and power, rises with the model year.
    mpg = (58 - 0.0062 * weight - 0.045 * horsepower + 0.75 * (model_year - 70)
           + rng.normal(0, 2.0, n))
    table = pd.DataFrame({"MPG": mpg.round(1), "Cylinders": cylinders,
                          "Displacement": displacement.round(0), "Horsepower": horsepower.round(0),
                          "Weight": weight.round(0), "Acceleration": acceleration.round(1),
                          "Model Year": model_year, "Origin": origin})
    table.loc[rng.choice(n, 6, replace=False), "Horsepower"] = np.nan   # the tutorial's '?'
    return table


# ---- Get the data ----------------------------------------------------------------------
raw_dataset = auto_mpg_like()
dataset = raw_dataset.copy()
print(dataset.tail())

# ---- Clean the data --------------------------------------------------------------------
print(dataset.isna().sum())
dataset = dataset.dropna()
dataset["Origin"] = dataset["Origin"].map({1: "USA", 2: "Europe", 3: "Japan"})
dataset = pd.get_dummies(dataset, columns=["Origin"], prefix="", prefix_sep="", dtype=int)
print(dataset.tail())

# ---- Split the data into training and test sets ------------------------------------------
train_dataset = dataset.sample(frac=0.8, random_state=0)
test_dataset = dataset.drop(train_dataset.index)
print(train_dataset.describe().transpose())

# ---- Split features from labels ----------------------------------------------------------
train_features = train_dataset.copy()
test_features = test_dataset.copy()
train_labels = train_features.pop("MPG")
test_labels = test_features.pop("MPG")

# ---- Normalization -----------------------------------------------------------------------
print(train_dataset.describe().transpose()[["mean", "std"]])
normalizer = keras.layers.Normalization(axis=-1)
normalizer.adapt(np.array(train_features))
print(normalizer.mean)
first = np.array(train_features[:1])
with np.printoptions(precision=2, suppress=True):
    print("First example:", first)
    print()
    print("Normalized:", normalizer(first))

# ---- Linear regression with one variable -------------------------------------------------
horsepower = np.array(train_features["Horsepower"])
horsepower_normalizer = layers.Normalization(input_shape=[1,], axis=None)
horsepower_normalizer.adapt(horsepower)
horsepower_model = keras.Sequential([
    horsepower_normalizer,
    layers.Dense(units=1),
])
horsepower_model.summary()
print(horsepower_model.predict(horsepower[:10]))
horsepower_model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.1),
    loss="mean_absolute_error")
history = horsepower_model.fit(
    train_features["Horsepower"],
    train_labels,
    epochs=100,
    # Suppress logging.
    verbose=0,
    # Calculate validation results on 20% of the training data.
    validation_split=0.2)
hist = pd.DataFrame(history.history)
hist["epoch"] = history.epoch
print(hist.tail())

test_results = {}
test_results["horsepower_model"] = horsepower_model.evaluate(
    test_features["Horsepower"],
    test_labels, verbose=0)
x = np.linspace(0.0, 250, 251)
y = horsepower_model.predict(x)

# ---- Linear regression with multiple inputs ----------------------------------------------
linear_model = keras.Sequential([
    normalizer,
    layers.Dense(units=1)
])
print(linear_model.predict(np.array(train_features[:10])))
print(linear_model.layers[1].kernel)
linear_model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=0.1),
    loss="mean_absolute_error")
history = linear_model.fit(
    train_features,
    train_labels,
    epochs=100,
    # Suppress logging.
    verbose=0,
    # Calculate validation results on 20% of the training data.
    validation_split=0.2)
test_results["linear_model"] = linear_model.evaluate(
    test_features, test_labels, verbose=0)


# ---- Regression with a deep neural network (DNN) ------------------------------------------
def build_and_compile_model(norm):
    model = keras.Sequential([
        norm,
        layers.Dense(64, activation="relu"),
        layers.Dense(64, activation="relu"),
        layers.Dense(1)
    ])

    model.compile(loss="mean_absolute_error",
                  optimizer=keras.optimizers.Adam(0.001))
    return model


dnn_horsepower_model = build_and_compile_model(horsepower_normalizer)
dnn_horsepower_model.summary()
history = dnn_horsepower_model.fit(
    train_features["Horsepower"],
    train_labels,
    validation_split=0.2,
    verbose=0, epochs=100)
x = np.linspace(0.0, 250, 251)
y = dnn_horsepower_model.predict(x)
test_results["dnn_horsepower_model"] = dnn_horsepower_model.evaluate(
    test_features["Horsepower"], test_labels,
    verbose=0)

dnn_model = build_and_compile_model(normalizer)
dnn_model.summary()
history = dnn_model.fit(
    train_features,
    train_labels,
    validation_split=0.2,
    verbose=0, epochs=100)
test_results["dnn_model"] = dnn_model.evaluate(test_features, test_labels, verbose=0)

# ---- Performance -------------------------------------------------------------------------
print(pd.DataFrame(test_results, index=["Mean absolute error [MPG]"]).T)
test_predictions = dnn_model.predict(test_features).flatten()
error = test_predictions - test_labels
print("Prediction error quantiles:", np.quantile(error, [0.05, 0.5, 0.95]))

dnn_model.save("dnn_model.keras")
reloaded = keras.models.load_model("dnn_model.keras")
test_results["reloaded"] = reloaded.evaluate(
    test_features, test_labels, verbose=0)
print(pd.DataFrame(test_results, index=["Mean absolute error [MPG]"]).T)
for name, value in test_results.items():
    print(f"{name} MAE: {value:.4f}")
