"""keras-io's "Imbalanced classification: credit card fraud detection", run by fastnn.

https://keras.io/examples/structured_data/imbalanced_classification/ : a 3x256 MLP on the
Kaggle credit-card transactions, with class weights inversely proportional to the class
counts, confusion-count metrics (FalseNegatives ... Recall) and a ModelCheckpoint per epoch.

Changed from the example: the import of keras, and the data: there is no network (nor
Kaggle login) here, so the block marked OFFLINE writes a synthetic ``creditcard.csv`` in the
real file's layout (header, 30 float columns Time, V1..V28, Amount, and a quoted "Class")
with NumPy; the example's own code then reads it line by line as it reads the real file.

Run: python examples/keras_imbalanced_classification.py   (writes files in the current folder)
"""

# ruff: noqa: UP032  (the tutorial's own str.format calls, kept as written)

import csv

import numpy as np

# ---- OFFLINE: the real file has 284,807 rows of which 492 (0.17%) are frauds. This writes
# 12,000 rows with 0.6% frauds (about 70, so that the validation split holds some), whose
# first V components are shifted so that most, not all, can be found.
rng = np.random.default_rng(7)
n_rows = 12_000
is_fraud = rng.random(n_rows) < 0.006
v = rng.normal(size=(n_rows, 28))
v[is_fraud, :6] += rng.normal(2.0, 1.0, size=(is_fraud.sum(), 6))
with open("creditcard.csv", "w", newline="") as out:
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(["Time", *[f"V{i + 1}" for i in range(28)], "Amount", "Class"])
    times = np.sort(rng.uniform(0, 172_792, n_rows)).round()
    amounts = rng.lognormal(3.0, 1.5, n_rows).round(2)
    for t, row, amount, fraud in zip(times, v, amounts, is_fraud):
        writer.writerow([float(t), *row.round(6).tolist(), float(amount), str(int(fraud))])
# ---- end of OFFLINE

# Get the real data from https://www.kaggle.com/mlg-ulb/creditcardfraud/
fname = "creditcard.csv"

all_features = []
all_targets = []
with open(fname) as f:
    for i, line in enumerate(f):
        if i == 0:
            print("HEADER:", line.strip())
            continue  # Skip header
        fields = line.strip().split(",")
        all_features.append([float(v.replace('"', "")) for v in fields[:-1]])
        all_targets.append([int(fields[-1].replace('"', ""))])
        if i == 1:
            print("EXAMPLE FEATURES:", all_features[-1])

features = np.array(all_features, dtype="float32")
targets = np.array(all_targets, dtype="uint8")
print("features.shape:", features.shape)
print("targets.shape:", targets.shape)

num_val_samples = int(len(features) * 0.2)
train_features = features[:-num_val_samples]
train_targets = targets[:-num_val_samples]
val_features = features[-num_val_samples:]
val_targets = targets[-num_val_samples:]

print("Number of training samples:", len(train_features))
print("Number of validation samples:", len(val_features))

counts = np.bincount(train_targets[:, 0])
print(
    "Number of positive samples in training data: {} ({:.2f}% of total)".format(
        counts[1], 100 * float(counts[1]) / len(train_targets)
    )
)

weight_for_0 = 1.0 / counts[0]
weight_for_1 = 1.0 / counts[1]

mean = np.mean(train_features, axis=0)
train_features -= mean
val_features -= mean
std = np.std(train_features, axis=0)
train_features /= std
val_features /= std

import fastnn as keras  # was: import keras

keras.utils.set_random_seed(0)   # (not in the example: a reproducible run for CI)

model = keras.Sequential(
    [
        keras.Input(shape=train_features.shape[1:]),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(1, activation="sigmoid"),
    ]
)
model.summary()

metrics = [
    keras.metrics.FalseNegatives(name="fn"),
    keras.metrics.FalsePositives(name="fp"),
    keras.metrics.TrueNegatives(name="tn"),
    keras.metrics.TruePositives(name="tp"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
]

model.compile(
    optimizer=keras.optimizers.Adam(1e-2), loss="binary_crossentropy", metrics=metrics
)

callbacks = [keras.callbacks.ModelCheckpoint("fraud_model_at_epoch_{epoch}.keras")]
class_weight = {0: weight_for_0, 1: weight_for_1}

model.fit(
    train_features,
    train_targets,
    batch_size=2048,
    epochs=30,
    verbose=2,
    callbacks=callbacks,
    validation_data=(val_features, val_targets),
    class_weight=class_weight,
)
