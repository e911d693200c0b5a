"""Keras 3's scikit-learn wrappers (keras.wrappers) on fastnn: the examples of Keras's
SKLearnClassifier and SKLearnRegressor documentation, with only the imports changed (marked
"was:"), then their scores.

Run: python examples/keras_sklearn_wrappers.py   (needs scikit-learn)
"""

from fastnn.layers import Dense, Input      # was: from keras.layers import Dense, Input
from fastnn.models import Model             # was: from keras.models import Model


def dynamic_model(X, y, loss, layers=[10]):
    # Creates a basic MLP model dynamically choosing the input and
    # output shapes.
    n_features_in = X.shape[1]
    inp = Input(shape=(n_features_in,))

    hidden = inp
    for layer_size in layers:
        hidden = Dense(layer_size, activation="relu")(hidden)

    n_outputs = y.shape[1] if len(y.shape) > 1 else 1
    out = Dense(n_outputs, activation="softmax")(hidden)
    model = Model(inp, out)
    model.compile(loss=loss, optimizer="rmsprop")

    return model


from sklearn.datasets import make_classification  # noqa: E402
from fastnn.wrappers import SKLearnClassifier  # noqa: E402  was: from keras.wrappers import ...

X, y = make_classification(n_samples=1000, n_features=10)
est = SKLearnClassifier(
    model=dynamic_model,
    model_kwargs={
        "loss": "categorical_crossentropy",
        "layers": [20, 20, 20],
    },
)

est.fit(X, y, epochs=5)
print(f"Classifier accuracy: {est.score(X, y):.4f}")


def dynamic_model(X, y, loss, layers=[10]):  # noqa: F811  (the regressor's own example)
    # Creates a basic MLP model dynamically choosing the input and
    # output shapes.
    n_features_in = X.shape[1]
    inp = Input(shape=(n_features_in,))

    hidden = inp
    for layer_size in layers:
        hidden = Dense(layer_size, activation="relu")(hidden)

    n_outputs = y.shape[1] if len(y.shape) > 1 else 1
    out = Dense(n_outputs)(hidden)
    model = Model(inp, out)
    model.compile(loss=loss, optimizer="rmsprop")

    return model


from sklearn.datasets import make_regression  # noqa: E402
from fastnn.wrappers import SKLearnRegressor  # noqa: E402  was: from keras.wrappers import ...

X, y = make_regression(n_samples=1000, n_features=10)
est = SKLearnRegressor(
    model=dynamic_model,
    model_kwargs={
        "loss": "mse",
        "layers": [20, 20, 20],
    },
)

est.fit(X, y, epochs=5)
print(f"Regressor R2: {est.score(X, y):.4f}")
