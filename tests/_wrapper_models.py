"""Build functions shared by the wrapper tests: dense models sized from scikeras's ``meta``
(the shapes of scikeras's own test models, written for fastnn)."""

import fastnn
from fastnn.layers import Dense, Input


def dynamic_classifier(hidden_layer_sizes=(10,), meta=None, compile_kwargs=None):
    """An MLP whose output and default loss follow the target type in ``meta``."""
    inp = Input(shape=(meta["n_features_in_"],))
    hidden = inp
    for size in hidden_layer_sizes:
        hidden = Dense(size, activation="relu")(hidden)
    kind, n_classes = meta["target_type_"], meta["n_classes_"]
    if kind == "binary":
        compile_kwargs["loss"] = compile_kwargs["loss"] or "binary_crossentropy"
        out = [Dense(1, activation="sigmoid")(hidden)]
    elif kind == "multilabel-indicator":
        compile_kwargs["loss"] = compile_kwargs["loss"] or "binary_crossentropy"
        if isinstance(n_classes, list):
            out = [Dense(1, activation="sigmoid")(hidden)
                   for _ in range(meta["n_outputs_expected_"])]
        else:
            out = Dense(n_classes, activation="softmax")(hidden)
    else:
        compile_kwargs["loss"] = compile_kwargs["loss"] or "sparse_categorical_crossentropy"
        out = [Dense(n_classes, activation="softmax")(hidden)]
    model = fastnn.Model(inp, out)
    model.compile(**compile_kwargs)
    return model


def dynamic_regressor(hidden_layer_sizes=(10,), meta=None, compile_kwargs=None):
    """An MLP with one linear output per target."""
    compile_kwargs["loss"] = compile_kwargs["loss"] or "mse"
    inp = Input(shape=(meta["n_features_in_"],))
    hidden = inp
    for size in hidden_layer_sizes:
        hidden = Dense(size, activation="relu")(hidden)
    model = fastnn.Model(inp, Dense(meta["n_outputs_"])(hidden))
    model.compile(**compile_kwargs)
    return model
