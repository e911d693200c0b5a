"""TensorFlow's tutorial "Classification on imbalanced data", run by fastnn.

https://www.tensorflow.org/tutorials/structured_data/imbalanced_data : a small network that
detects fraudulent credit-card transactions, with the tutorial's metrics (TruePositives ...
AUC(curve='PR')), a careful output-bias initialization, class weights, oversampling and
EarlyStopping(restore_best_weights=True).

Changed from the tutorial: the imports; the data, since there is no network here (the block
marked OFFLINE below makes a synthetic table in the credit-card file's shape with NumPy); the
first layer takes ``keras.Input`` instead of the deprecated ``input_shape`` argument (Keras 3
warns about it); the matplotlib/seaborn plots are left out (their numbers are printed), and
the oversampled set is fed as NumPy arrays (the tutorial's NumPy variant) rather than tf.data.

Run: python examples/tf_imbalanced_data.py   (needs pandas and scikit-learn)
"""

# ruff: noqa: UP032  (the tutorial's own str.format calls, kept as written)

import os
import tempfile

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastnn as keras  # was: from tensorflow import keras (and tf.keras.X is keras.X)

keras.utils.set_random_seed(0)

# ---- OFFLINE: a stand-in for pd.read_csv('https://storage.googleapis.com/download.'
# 'tensorflow.org/data/creditcard.csv'). The real file has 284,807 transactions with the
# columns Time, V1..V28 (PCA components of the card data), Amount and Class (1 = fraud, 492
# of them, 0.17%). This makes 20,000 rows with the same columns: frauds are 0.6% (so the
# small set still has about 120), their first V components are shifted so that they can be
# found, but not all of them, and amounts are log-normal as in the real data.
rng = np.random.default_rng(42)
n_rows = 20_000
is_fraud = rng.random(n_rows) < 0.006
v = rng.normal(size=(n_rows, 28))
v[is_fraud, :6] += rng.normal(2.0, 1.0, size=(is_fraud.sum(), 6))
raw_df = pd.DataFrame({
    "Time": np.sort(rng.uniform(0, 172_792, n_rows)).round(),
    **{f"V{i + 1}": v[:, i] for i in range(28)},
    "Amount": rng.lognormal(3.0, 1.5, n_rows).round(2),
    "Class": is_fraud.astype(int),
})
# ---- end of OFFLINE

neg, pos = np.bincount(raw_df['Class'])
total = neg + pos
print('Examples:\n    Total: {}\n    Positive: {} ({:.2f}% of total)\n'.format(
    total, pos, 100 * pos / total))

cleaned_df = raw_df.copy()
# You don't want the `Time` column.
cleaned_df.pop('Time')
# The `Amount` column covers a huge range. Convert to log-space.
eps = 0.001  # 0 => 0.1¢
cleaned_df['Log Amount'] = np.log(cleaned_df.pop('Amount') + eps)

# Use a utility from sklearn to split and shuffle your dataset.
train_df, test_df = train_test_split(cleaned_df, test_size=0.2, random_state=0)
train_df, val_df = train_test_split(train_df, test_size=0.2, random_state=0)

# Form np arrays of labels and features.
train_labels = np.array(train_df.pop('Class')).reshape(-1, 1)
bool_train_labels = train_labels[:, 0] != 0
val_labels = np.array(val_df.pop('Class')).reshape(-1, 1)
test_labels = np.array(test_df.pop('Class')).reshape(-1, 1)

train_features = np.array(train_df)
val_features = np.array(val_df)
test_features = np.array(test_df)

scaler = StandardScaler()
train_features = scaler.fit_transform(train_features)
val_features = scaler.transform(val_features)
test_features = scaler.transform(test_features)

train_features = np.clip(train_features, -5, 5)
val_features = np.clip(val_features, -5, 5)
test_features = np.clip(test_features, -5, 5)

print('Training labels shape:', train_labels.shape)
print('Validation labels shape:', val_labels.shape)
print('Test labels shape:', test_labels.shape)
print('Training features shape:', train_features.shape)
print('Validation features shape:', val_features.shape)
print('Test features shape:', test_features.shape)

METRICS = [
    keras.metrics.BinaryCrossentropy(name='cross entropy'),  # same as model's loss
    keras.metrics.MeanSquaredError(name='Brier score'),
    keras.metrics.TruePositives(name='tp'),
    keras.metrics.FalsePositives(name='fp'),
    keras.metrics.TrueNegatives(name='tn'),
    keras.metrics.FalseNegatives(name='fn'),
    keras.metrics.BinaryAccuracy(name='accuracy'),
    keras.metrics.Precision(name='precision'),
    keras.metrics.Recall(name='recall'),
    keras.metrics.AUC(name='auc'),
    keras.metrics.AUC(name='prc', curve='PR'),  # precision-recall curve
]


def make_model(metrics=METRICS, output_bias=None):
    if output_bias is not None:
        output_bias = keras.initializers.Constant(output_bias)
    model = keras.Sequential([
        keras.Input(shape=(train_features.shape[-1],)),
        keras.layers.Dense(16, activation='relu'),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1, activation='sigmoid', bias_initializer=output_bias),
    ])

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=metrics)

    return model


EPOCHS = 100
BATCH_SIZE = 2048


def early_stopping():
    return keras.callbacks.EarlyStopping(
        monitor='val_prc',
        verbose=1,
        patience=10,
        mode='max',
        restore_best_weights=True)


model = make_model()
model.summary()
print(model.predict(train_features[:10]))

results = model.evaluate(train_features, train_labels, batch_size=BATCH_SIZE, verbose=0)
print("Loss: {:0.4f}".format(results[0]))

# Set the correct initial bias: log(pos / neg), so the first predictions are the base rate.
initial_bias = np.log([pos / neg])
print("Initial bias:", initial_bias)

model = make_model(output_bias=initial_bias)
print(model.predict(train_features[:10]))

results = model.evaluate(train_features, train_labels, batch_size=BATCH_SIZE, verbose=0)
print("Loss: {:0.4f}".format(results[0]))

initial_weights = os.path.join(tempfile.mkdtemp(), 'initial.weights.h5')
model.save_weights(initial_weights)

# Confirm that the bias fix helps.
model = make_model()
model.load_weights(initial_weights)
model.layers[-1].bias.assign([0.0])
zero_bias_history = model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=20,
    validation_data=(val_features, val_labels),
    verbose=0)

model = make_model()
model.load_weights(initial_weights)
careful_bias_history = model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=20,
    validation_data=(val_features, val_labels),
    verbose=0)
print("Zero bias val_loss after 20 epochs: {:0.4f}".format(
    zero_bias_history.history['val_loss'][-1]))
print("Careful bias val_loss after 20 epochs: {:0.4f}".format(
    careful_bias_history.history['val_loss'][-1]))


def plot_cm(labels, predictions, threshold=0.5):
    # The tutorial draws this matrix with seaborn; its printed lines are kept.
    cm = confusion_matrix(labels, predictions > threshold)
    print('Legitimate Transactions Detected (True Negatives): ', cm[0][0])
    print('Legitimate Transactions Incorrectly Detected (False Positives): ', cm[0][1])
    print('Fraudulent Transactions Missed (False Negatives): ', cm[1][0])
    print('Fraudulent Transactions Detected (True Positives): ', cm[1][1])
    print('Total Fraudulent Transactions: ', np.sum(cm[1]))


# Train the baseline model.
model = make_model()
model.load_weights(initial_weights)
baseline_history = model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    callbacks=[early_stopping()],
    validation_data=(val_features, val_labels),
    verbose=0)

train_predictions_baseline = model.predict(train_features, batch_size=BATCH_SIZE)
test_predictions_baseline = model.predict(test_features, batch_size=BATCH_SIZE)

baseline_results = model.evaluate(test_features, test_labels,
                                  batch_size=BATCH_SIZE, verbose=0)
for name, value in zip(model.metrics_names, baseline_results):
    print(name, ': ', value)
print()

plot_cm(test_labels, test_predictions_baseline)

# Class weights: scaling by total / 2 keeps the loss on the same scale.
weight_for_0 = (1 / neg) * (total / 2.0)
weight_for_1 = (1 / pos) * (total / 2.0)

class_weight = {0: weight_for_0, 1: weight_for_1}

print('Weight for class 0: {:.2f}'.format(weight_for_0))
print('Weight for class 1: {:.2f}'.format(weight_for_1))

weighted_model = make_model()
weighted_model.load_weights(initial_weights)

weighted_history = weighted_model.fit(
    train_features,
    train_labels,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    callbacks=[early_stopping()],
    validation_data=(val_features, val_labels),
    # The class weights go here
    class_weight=class_weight,
    verbose=0)

train_predictions_weighted = weighted_model.predict(train_features, batch_size=BATCH_SIZE)
test_predictions_weighted = weighted_model.predict(test_features, batch_size=BATCH_SIZE)

weighted_results = weighted_model.evaluate(test_features, test_labels,
                                           batch_size=BATCH_SIZE, verbose=0)
for name, value in zip(weighted_model.metrics_names, weighted_results):
    print(name, ': ', value)
print()

plot_cm(test_labels, test_predictions_weighted)

# Oversampling: repeat the positive examples until the classes balance (NumPy variant).
pos_features = train_features[bool_train_labels]
neg_features = train_features[~bool_train_labels]

pos_labels = train_labels[bool_train_labels]
neg_labels = train_labels[~bool_train_labels]

ids = np.arange(len(pos_features))
choices = np.random.choice(ids, len(neg_features))

res_pos_features = pos_features[choices]
res_pos_labels = pos_labels[choices]

print(res_pos_features.shape)

resampled_features = np.concatenate([res_pos_features, neg_features], axis=0)
resampled_labels = np.concatenate([res_pos_labels, neg_labels], axis=0)

order = np.arange(len(resampled_labels))
np.random.shuffle(order)
resampled_features = resampled_features[order]
resampled_labels = resampled_labels[order]

print(resampled_features.shape)

resampled_model = make_model()
resampled_model.load_weights(initial_weights)

# Reset the bias to zero, since this dataset is balanced.
output_layer = resampled_model.layers[-1]
output_layer.bias.assign([0])

resampled_history = resampled_model.fit(
    resampled_features,
    resampled_labels,
    batch_size=BATCH_SIZE,
    epochs=EPOCHS,
    callbacks=[early_stopping()],
    validation_data=(val_features, val_labels),
    verbose=0)

train_predictions_resampled = resampled_model.predict(train_features, batch_size=BATCH_SIZE)
test_predictions_resampled = resampled_model.predict(test_features, batch_size=BATCH_SIZE)

resampled_results = resampled_model.evaluate(test_features, test_labels,
                                             batch_size=BATCH_SIZE, verbose=0)
for name, value in zip(resampled_model.metrics_names, resampled_results):
    print(name, ': ', value)
print()

plot_cm(test_labels, test_predictions_resampled)

# The tutorial compares the three models' ROC and PR curves in plots; their areas:
for label, m in (("Baseline", model), ("Weighted", weighted_model),
                 ("Resampled", resampled_model)):
    logs = m.evaluate(test_features, test_labels, batch_size=BATCH_SIZE, verbose=0,
                      return_dict=True)
    print(f"{label} test AUC: {logs['auc']:.4f}  PR AUC: {logs['prc']:.4f}  "
          f"recall: {logs['recall']:.4f}")
