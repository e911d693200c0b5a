"""The tutorial's first two networks, built layer by layer.

"Deep Learning Fundamentals" builds its models with Keras; with fastnn only the imports change
(``from tensorflow.keras import Sequential`` becomes ``from fastnn import Sequential``).

Run: python examples/tutorial_build_models.py
"""

from fastnn import Input, Sequential
from fastnn.layers import Dense

# Two inputs, a hidden layer of three neurons, two outputs.
model = Sequential()
model.add(Input(shape=(2,)))
model.add(Dense(units=3, activation="relu"))
model.add(Dense(units=2, activation="softmax"))
model.summary()

# Eight inputs, two hidden layers of six neurons, four outputs.
model = Sequential([
    Input(shape=(8,)),
    Dense(units=6, activation="relu"),
    Dense(units=6, activation="relu"),
    Dense(units=4, activation="softmax"),
])
model.summary()

# Each neuron's output is activation(weights . inputs + bias): the weights a layer holds.
for layer in model.layers:
    kernel, bias = layer.get_weights()
    print(f"{layer.name}: kernel {kernel.shape}, bias {bias.shape}")
