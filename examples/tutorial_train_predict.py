"""The tutorial's training run: will a patient in a drug trial have side effects?

One feature, the patient's age (13 to 100), scaled to [0, 1]; label 1 when the patient had side
effects, which about 95% of patients aged 65 or more had and about 95% of younger ones did not.
The tutorial trains a 16-32-2 network with Adam (learning rate 0.0001) for 20 epochs, then
predicts on held-out patients.

Run: python examples/tutorial_train_predict.py
"""

import numpy as np

from fastnn import Input, Sequential
from fastnn.layers import Dense
from fastnn.optimizers import Adam
from fastnn.utils import set_random_seed


def drug_trial(rng, n_atypical, n_typical):
    """Ages and labels: most young patients without side effects, most old ones with."""
    young = rng.integers(13, 65, n_atypical + n_typical)
    old = rng.integers(65, 101, n_atypical + n_typical)
    ages = np.concatenate([young, old])
    labels = np.concatenate([np.ones(n_atypical), np.zeros(n_typical),
                             np.zeros(n_atypical), np.ones(n_typical)]).astype(int)
    order = rng.permutation(ages.size)
    return ages[order], labels[order]


rng = np.random.default_rng(42)
train_samples, train_labels = drug_trial(rng, 50, 1000)
test_samples, test_labels = drug_trial(rng, 10, 200)
low, high = train_samples.min(), train_samples.max()
scaled_train_samples = ((train_samples - low) / (high - low)).reshape(-1, 1)
scaled_test_samples = ((test_samples - low) / (high - low)).reshape(-1, 1)

set_random_seed(42)
model = Sequential([
    Input(shape=(1,)),
    Dense(units=16, activation="relu"),
    Dense(units=32, activation="relu"),
    Dense(units=2, activation="softmax"),
])
model.compile(optimizer=Adam(learning_rate=0.0001), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x=scaled_train_samples, y=train_labels, validation_split=0.1, batch_size=10,
          epochs=20, shuffle=True, verbose=2)

predictions = model.predict(x=scaled_test_samples, batch_size=10, verbose=0)
for age, p in list(zip(test_samples, predictions))[:5]:
    print(f"age {age:3d}: P(no side effects) = {p[0]:.3f}, P(side effects) = {p[1]:.3f}")
accuracy = np.mean(predictions.argmax(axis=1) == test_labels)
print(f"Test accuracy: {accuracy:.4f}")
