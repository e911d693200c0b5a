"""A classic Keras MLP script, run by fastnn: change the Keras import, nothing else.

It classifies scikit-learn's 8x8 handwritten digits (1,797 images, bundled, no download) with
two hidden layers, dropout and RMSprop, the way Keras's MNIST MLP example does.

Run: python examples/keras_mlp_digits.py   (needs scikit-learn for the data)
"""

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastnn as keras  # was: from tensorflow import keras
from fastnn.layers import Dense, Dropout
from fastnn.models import Sequential
from fastnn.optimizers import RMSprop
from fastnn.utils import to_categorical

keras.utils.set_random_seed(1)
batch_size = 64
num_classes = 10
epochs = 20

digits = load_digits()
x = digits.data.astype("float32") / 16  # pixel intensities 0..16 -> [0, 1]
y = to_categorical(digits.target, num_classes)
x_train, x_test, y_train, y_test = train_test_split(
    x, y, test_size=0.2, random_state=1, stratify=digits.target)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

model = Sequential([
    keras.Input(shape=(64,)),
    Dense(256, activation="relu"),
    Dropout(0.2),
    Dense(256, activation="relu"),
    Dropout(0.2),
    Dense(num_classes, activation="softmax"),
])
model.summary()
model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2,
                    validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
