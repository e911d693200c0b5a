"""Bad input to the Keras facade: the right exception, a message that says what was wrong and
what was expected, and a model left exactly as it was.

"Exactly as it was" means everything that decides the model's future: its weights, the
optimizer's iteration count and slot buffers, fastnn's random state (shuffling, initializers,
dropout streams) and NumPy's global one. ``test_the_snapshot_is_the_whole_state`` checks that
a model whose snapshot is unchanged really trains on as if the failed call had never happened.
"""

import re

import numpy as np
import pytest

from fastnn import Input, Sequential, _random
from fastnn.layers import Dense, Dropout
from fastnn.utils import set_random_seed

N_FEATURES, N_CLASSES, N = 4, 3, 12


def _data(n=N):
    rng = np.random.default_rng(7)
    return rng.random((n, N_FEATURES)), np.arange(n) % N_CLASSES


def _model(loss="sparse_categorical_crossentropy", fitted=True, seed=0):
    """A small classifier; fitted once so that the optimizer has slots and iterations."""
    set_random_seed(seed)
    model = Sequential([Input((N_FEATURES,)), Dense(8, activation="relu", name="hidden"),
                        Dropout(0.25, name="drop"),
                        Dense(N_CLASSES, activation="softmax", name="out")])
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    if fitted:
        x, y = _data()
        model.fit(x, y if "sparse" in loss else np.eye(N_CLASSES)[y], batch_size=4, verbose=0)
    return model


@pytest.fixture
def model():
    return _model()


def _snapshot(model):
    opt = model.optimizer
    return {
        "built": model.built,
        "weights": [w.copy() for w in model.get_weights()],
        "optimizer": opt,
        "iterations": None if opt is None else opt.iterations,
        "slots": None if opt is None or opt.flat_slots is None
        else [s.copy() for s in opt.flat_slots],
        "loss": model.loss,
        "fastnn_rng": _random.generator().bit_generator.state,
        "numpy_rng": np.random.get_state()[1].copy(),
    }


def _assert_same_state(before, after):
    assert after["built"] == before["built"]
    assert after["optimizer"] is before["optimizer"]
    assert after["loss"] == before["loss"]
    assert after["iterations"] == before["iterations"]
    assert len(after["weights"]) == len(before["weights"])
    for a, b in zip(after["weights"], before["weights"]):
        np.testing.assert_array_equal(a, b, strict=True)
    if before["slots"] is not None:     # slots created by a failed call would hold zeros
        for a, b in zip(after["slots"], before["slots"]):
            np.testing.assert_array_equal(a, b, strict=True)
    assert after["fastnn_rng"] == before["fastnn_rng"]
    np.testing.assert_array_equal(after["numpy_rng"], before["numpy_rng"])


def _fails(model, call, exc, message):
    """``call(model)`` raises ``exc`` whose text equals ``message`` (a str) or matches it (a
    compiled pattern), and leaves the model unchanged."""
    before = _snapshot(model)
    with pytest.raises(exc) as info:
        call(model)
    text = str(info.value)
    if isinstance(message, re.Pattern):
        assert message.search(text), text
    else:
        assert text == message
    _assert_same_state(before, _snapshot(model))
    return text


def _with(arr, index, value):
    out = np.array(arr, dtype=np.float64)
    out[index] = value
    return out


X, Y = _data()


# ---- the snapshot is complete -----------------------------------------------------------

def test_the_snapshot_is_the_whole_state():
    """After a failed fit, training continues bit for bit as in a twin that never failed."""
    failed, twin = _model(seed=3), _model(seed=3)
    with pytest.raises(ValueError):
        failed.fit(X, Y + N_CLASSES, verbose=0)
    set_random_seed(11)
    failed.fit(X, Y, batch_size=3, epochs=2, verbose=0)
    set_random_seed(11)
    twin.fit(X, Y, batch_size=3, epochs=2, verbose=0)
    for a, b in zip(failed.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    # And the snapshot notices a change: one real step alters it.
    before = _snapshot(failed)
    failed.train_on_batch(X, Y)
    with pytest.raises(AssertionError):
        _assert_same_state(before, _snapshot(failed))


def test_a_failed_first_fit_leaves_a_fresh_model_as_new():
    """Nothing trained yet: the failed fit may not count a step or draw a random number."""
    failed, twin = _model(fitted=False, seed=4), _model(fitted=False, seed=4)
    _fails(failed, lambda m: m.fit(X, _with(Y, 0, 0.5), verbose=0), ValueError,
           "Sparse categorical labels must be whole numbers (class indices); y[0] is 0.5.")
    assert failed.optimizer.iterations == 0
    for model in (failed, twin):
        set_random_seed(12)
        model.fit(X, Y, batch_size=5, epochs=2, verbose=0)
    for a, b in zip(failed.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- NaN and infinity -------------------------------------------------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_x(model, value):
    x = _with(X, (5, 2), value)
    _fails(model, lambda m: m.fit(x, Y, verbose=0), ValueError,
           f"`x` contains NaN or infinity (the first at row 5, column 2: {value}); every "
           "value must be finite.")


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_sparse_y(model, value):
    y = _with(Y, 4, value)
    _fails(model, lambda m: m.fit(X, y, verbose=0), ValueError,
           f"`y` contains NaN or infinity (the first at row 4: {value}); every value must be "
           "finite.")


def test_non_finite_one_hot_y():
    model = _model(loss="categorical_crossentropy")
    y = _with(np.eye(N_CLASSES)[Y], (2, 1), np.nan)
    _fails(model, lambda m: m.fit(X, y, verbose=0), ValueError,
           "`y` contains NaN or infinity (the first at row 2, column 1: nan); every value must "
           "be finite.")


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
def test_non_finite_sample_weight(model, value):
    w = _with(np.ones(N), 7, value)
    _fails(model, lambda m: m.fit(X, Y, sample_weight=w, verbose=0), ValueError,
           f"`sample_weight` contains NaN or infinity (the first at row 7: {value}); every "
           "value must be finite.")


def test_non_finite_x_in_evaluate_and_train_on_batch(model):
    x = _with(X, (0, 0), np.nan)
    message = ("`x` contains NaN or infinity (the first at row 0, column 0: nan); every value "
               "must be finite.")
    _fails(model, lambda m: m.evaluate(x, Y, verbose=0), ValueError, message)
    _fails(model, lambda m: m.train_on_batch(x, Y), ValueError, message)
    _fails(model, lambda m: m.predict(x, verbose=0), ValueError, message)


def test_non_finite_validation_data(model):
    _fails(model, lambda m: m.fit(X, Y, validation_data=(_with(X, (1, 3), np.inf), Y),
                                  verbose=0), ValueError,
           "`x` contains NaN or infinity (the first at row 1, column 3: inf); every value must "
           "be finite.")


def test_values_beyond_float32(model):
    x = _with(X, (3, 1), 1e300)
    _fails(model, lambda m: m.fit(x, Y, verbose=0), ValueError,
           re.compile(r"^`x` has values too large for float32 \(largest magnitude 1e\+300, "
                      r"limit 3\.4028\d*e\+38\); rescale the data or use "
                      r"fastnn\.config\.set_floatx\('float64'\)"))


# ---- shapes and lengths -----------------------------------------------------------------

@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "train_on_batch"])
def test_wrong_feature_count(model, method):
    x = np.ones((N, N_FEATURES + 1))
    args = (x,) if method == "predict" else (x, Y)
    kwargs = {"verbose": 0} if method in ("fit", "evaluate", "predict") else {}
    _fails(model, lambda m: getattr(m, method)(*args, **kwargs), ValueError,
           "Input 0 of layer 'hidden' is incompatible with the layer: expected axis -1 of input "
           f"shape to have value {N_FEATURES}, but received input with shape "
           f"({N}, {N_FEATURES + 1})")


def test_one_dimensional_x_for_a_multi_feature_model(model):
    _fails(model, lambda m: m.predict(np.ones(N), verbose=0), ValueError,
           "Input 0 of layer 'hidden' is incompatible with the layer: expected shape (None, 4), "
           "but received input with shape (12,)")


@pytest.mark.parametrize("method", ["fit", "evaluate"])
def test_x_and_y_of_different_lengths(model, method):
    # Keras's message, word for word (including its missing space and trailing newline).
    _fails(model, lambda m: getattr(m, method)(X, Y[:-2], verbose=0), ValueError,
           "Data cardinality is ambiguous. Make sure all arrays contain the same number of "
           f"samples.'x' sizes: {N}\n'y' sizes: {N - 2}\n")


def test_sample_weight_of_a_different_length(model):
    _fails(model, lambda m: m.fit(X, Y, sample_weight=np.ones(N + 1), verbose=0), ValueError,
           "Data cardinality is ambiguous. Make sure all arrays contain the same number of "
           f"samples.'x' sizes: {N}\n'sample_weight' sizes: {N + 1}\n")


def test_sample_weight_of_the_wrong_rank(model):
    _fails(model, lambda m: m.fit(X, Y, sample_weight=np.ones((N, 2)), verbose=0), ValueError,
           "`sample_weight` must have shape (n,) or (n, 1), one weight per sample; received "
           f"shape ({N}, 2).")


def test_one_hot_y_for_a_sparse_loss(model):
    _fails(model, lambda m: m.fit(X, np.eye(N_CLASSES)[Y], verbose=0), ValueError,
           "A sparse categorical loss takes integer class labels of shape (n,) or (n, 1); "
           f"received y of shape ({N}, {N_CLASSES}). Use categorical_crossentropy for one-hot "
           "y.")


def test_integer_labels_for_categorical_crossentropy():
    model = _model(loss="categorical_crossentropy")
    _fails(model, lambda m: m.fit(X, Y, verbose=0), ValueError,
           re.compile(r"^Arguments `target` and `output` must have the same shape\. Received: "
                      r"target\.shape=\(12,\), output\.shape=\(None, 3\)\. For integer class "
                      r"labels use sparse_categorical_crossentropy"))


# ---- class labels for sparse losses -----------------------------------------------------

@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (_with(Y, 6, N_CLASSES).astype(np.int64),
         ("Class labels must lie in [0, 3) for a model with 3 outputs; y[6] is 3 (received "
          "labels from 0 to 3).")),
        (_with(Y, 9, -1).astype(np.int64),
         ("Class labels must lie in [0, 3) for a model with 3 outputs; y[9] is -1 (received "
          "labels from -1 to 2).")),
        (_with(Y, 2, 1.5),
         "Sparse categorical labels must be whole numbers (class indices); y[2] is 1.5."),
        (_with(Y, 2, 2.0**64),     # would wrap around to 0 if cast to int64 before checking
         ("Class labels must lie in [0, 3) for a model with 3 outputs; y[2] is "
          "1.8446744073709552e+19 (received labels from 0.0 to 1.8446744073709552e+19).")),
    ],
    ids=["too-large", "negative", "fractional", "beyond-int64"],
)
@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "validation_data"])
def test_labels_out_of_range(model, labels, message, method):
    calls = {
        "fit": lambda m: m.fit(X, labels, verbose=0),
        "evaluate": lambda m: m.evaluate(X, labels, verbose=0),
        "train_on_batch": lambda m: m.train_on_batch(X, labels),
        "validation_data": lambda m: m.fit(X, Y, validation_data=(X, labels), verbose=0),
    }
    _fails(model, calls[method], ValueError, message)


# ---- non-numeric and empty data ---------------------------------------------------------

@pytest.mark.parametrize(
    ("x", "dtype"),
    [
        (np.full((N, N_FEATURES), "a"), "<U1"),
        (np.array([[1.0, "b", None, 2]] * N, dtype=object), "object"),
        (X.astype(object), "object"),
    ],
    ids=["strings", "mixed-objects", "numbers-as-objects"],
)
def test_non_numeric_x(model, x, dtype):
    _fails(model, lambda m: m.fit(x, Y, verbose=0), ValueError,
           f"`x` must be numeric (integers, floats or booleans); received an array of dtype "
           f"{dtype}. Convert strings or mixed objects to numbers first.")


def test_non_numeric_y(model):
    _fails(model, lambda m: m.fit(X, np.array(["cat", "dog"] * (N // 2)), verbose=0),
           ValueError,
           "`y` must be numeric (integers, floats or booleans); received an array of dtype "
           "<U3. Convert strings or mixed objects to numbers first.")


def test_complex_x(model):
    _fails(model, lambda m: m.predict(X + 1j, verbose=0), ValueError,
           "`x` must be real-valued; received complex data (complex128).")


def test_ragged_list_x(model):
    _fails(model, lambda m: m.fit([[1.0, 2.0, 3.0, 4.0], [1.0]], [0, 1], verbose=0),
           ValueError, re.compile(r"^`x` could not be converted to a numeric array: .*inhomogeneous"))


def test_none_y(model):
    _fails(model, lambda m: m.evaluate(X, None, verbose=0), ValueError,
           "`y` is required; received None.")


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch"])
def test_empty_data(model, method):
    x, y = np.empty((0, N_FEATURES)), np.empty((0,), dtype=np.int64)
    kwargs = {} if method == "train_on_batch" else {"verbose": 0}
    _fails(model, lambda m: getattr(m, method)(x, y, **kwargs), ValueError,
           "Expected input data to be non-empty.")


def test_predict_on_no_rows_returns_no_rows(model):
    out = model.predict(np.empty((0, N_FEATURES)), verbose=0)
    assert out.shape == (0, N_CLASSES) and out.dtype == np.float32


# ---- arguments of fit, evaluate, predict ------------------------------------------------

@pytest.mark.parametrize("batch_size", [0, -3, 2.5, 4.0, "32", True])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_bad_batch_size(model, batch_size, method):
    args = (X,) if method == "predict" else (X, Y)
    _fails(model, lambda m: getattr(m, method)(*args, batch_size=batch_size, verbose=0),
           ValueError, f"`batch_size` must be a positive integer; received {batch_size!r}.")


@pytest.mark.parametrize("epochs", [-1, 1.5, "3"])
def test_bad_epochs(model, epochs):
    _fails(model, lambda m: m.fit(X, Y, epochs=epochs, verbose=0), ValueError,
           f"`epochs` must be a non-negative integer; received {epochs!r}.")


@pytest.mark.parametrize("split", [1.0, 1.5, -0.1, "0.2", True])
def test_validation_split_out_of_range(model, split):
    _fails(model, lambda m: m.fit(X, Y, validation_split=split, verbose=0), ValueError,
           "`validation_split` must be a number strictly between 0 and 1 (the fraction of "
           f"samples held out); received {split!r}.")


def test_validation_split_leaving_no_validation_sample(model):
    _fails(model, lambda m: m.fit(X, Y, validation_split=0.95, verbose=0), ValueError,
           "Training data contains 12 samples, which is not sufficient to split it into a "
           "validation and training set as specified by `validation_split=0.95`. Either "
           "provide more data, or a different value for the `validation_split` argument.")


@pytest.mark.parametrize("data", [(X,), X, (X, Y, None, None)],
                         ids=["1-tuple", "bare-array", "4-tuple"])
def test_malformed_validation_data(model, data):
    _fails(model, lambda m: m.fit(X, Y, validation_data=data, verbose=0), ValueError,
           re.compile(r"^`validation_data` must be a tuple \(x_val, y_val\) or \(x_val, y_val, "
                      r"val_sample_weight\); received (a tuple of length [14]|an object of "
                      r"type ndarray)\.$"))


def test_class_weight_with_sample_weight(model):
    _fails(model, lambda m: m.fit(X, Y, sample_weight=np.ones(N), class_weight={0: 2.0},
                                  verbose=0),
           ValueError, "You cannot `class_weight` and `sample_weight` at the same time.")


def test_class_weight_not_a_dict(model):
    _fails(model, lambda m: m.fit(X, Y, class_weight=[1.0, 2.0, 1.0], verbose=0), ValueError,
           "`class_weight` must be a dict of class index to weight; received list.")


# ---- unknown names ----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("kind", "call", "some_valid"),
    [
        ("loss", lambda m: m.compile(optimizer="adam", loss="cross_entropy_typo"),
         ["MeanSquaredError", "SparseCategoricalCrossentropy"]),
        ("optimizer", lambda m: m.compile(optimizer="cross_entropy_typo", loss="mse"),
         ["Adam", "RMSprop", "SGD"]),
        ("metric", lambda m: m.compile(optimizer="adam", loss="mse",
                                       metrics=["cross_entropy_typo"]),
         ["AUC", "BinaryAccuracy"]),
    ],
    ids=["loss", "optimizer", "metric"],
)
def test_unknown_name_in_compile(model, kind, call, some_valid):
    text = _fails(model, call, ValueError, re.compile(
        rf"^Could not interpret {kind} identifier: 'cross_entropy_typo'\. Valid names are: "))
    for name in some_valid:
        assert name in text


@pytest.mark.parametrize(
    ("argument", "kind", "some_valid"),
    [
        ("activation", "activation function", ["relu", "softmax", "tanh"]),
        ("kernel_initializer", "initializer", ["GlorotUniform", "he_normal"]),
        ("kernel_regularizer", "regularizer", ["L1", "l2"]),
        ("kernel_constraint", "constraint", ["MaxNorm", "non_neg"]),
    ],
)
def test_unknown_name_in_a_layer(argument, kind, some_valid):
    with pytest.raises(ValueError) as info:
        Dense(4, **{argument: "relu_typo"})
    text = str(info.value)
    assert text.startswith(f"Could not interpret {kind} identifier: 'relu_typo'. "
                           "Valid names are: ")
    for name in some_valid:
        assert name in text


# ---- layer arguments --------------------------------------------------------------------

@pytest.mark.parametrize("units", [0, -2, 2.5, True, None])
def test_invalid_units(units):
    with pytest.raises(ValueError) as info:
        Dense(units)
    assert str(info.value) == ("Received an invalid value for `units`, expected a positive "
                               f"integer. Received: units={units}")


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "0.5"])
def test_dropout_rate_outside_zero_one(rate):
    with pytest.raises(ValueError) as info:
        Dropout(rate)
    assert str(info.value) == ("Invalid value received for argument `rate` of Dropout. "
                               f"Expected a float value between 0 and 1. Received: rate={rate}")


# ---- set_weights ------------------------------------------------------------------------

_ORDER = ("hidden/kernel (4, 8), hidden/bias (8,), out/kernel (8, 3), out/bias (3,)")


def test_set_weights_with_a_wrong_count(model):
    sequential_name = model.name
    _fails(model, lambda m: m.set_weights(m.get_weights()[:-1]), ValueError,
           f"You called `set_weights(weights)` on model '{sequential_name}' with a weight list "
           f"of length 3, but the model was expecting 4 weights: {_ORDER}.")


def test_set_weights_with_a_wrong_shape(model):
    # All but the last are right: nothing may be written before the bad one is found.
    weights = [w + 1 for w in model.get_weights()]
    weights[-1] = np.zeros(N_CLASSES + 1)
    _fails(model, lambda m: m.set_weights(weights), ValueError,
           "weights[3] is for out/bias, of shape (3,); received an array of shape (4,). The "
           f"order is {_ORDER}.")


def test_set_weights_with_nan(model):
    weights = model.get_weights()
    weights[2] = _with(weights[2], (1, 1), np.nan)
    _fails(model, lambda m: m.set_weights(weights), ValueError,
           "`weights[2] (out/kernel)` contains NaN or infinity (the first at row 1, column 1: "
           "nan); every value must be finite.")


# ---- before compile ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_before_compile(method):
    fresh = Sequential([Input((N_FEATURES,)), Dense(N_CLASSES, name="out")])
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    _fails(fresh, lambda m: getattr(m, method)(X, Y, **kwargs), (RuntimeError, ValueError),
           re.compile(r"^You must call `compile\(\)` .*before using"))


def test_training_before_compile_raises_value_error_as_keras():
    fresh = Sequential([Input((N_FEATURES,)), Dense(N_CLASSES)])
    with pytest.raises(ValueError):
        fresh.fit(X, Y, verbose=0)


# ---- a model built lazily from the data is not built by a failed call -------------------

def _unbuilt():
    set_random_seed(5)
    model = Sequential([Dense(8, activation="relu"), Dense(N_CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_failed_predict_does_not_build_the_model():
    model = _unbuilt()
    _fails(model, lambda m: m.predict(_with(np.ones((3, 5)), (0, 0), np.nan), verbose=0),
           ValueError, "`x` contains NaN or infinity (the first at row 0, column 0: nan); every "
           "value must be finite.")
    assert model.predict(np.ones((3, N_FEATURES)), verbose=0).shape == (3, N_CLASSES)


def test_failed_fit_does_not_build_the_model():
    model = _unbuilt()
    _fails(model, lambda m: m.fit(np.ones((N, 5)), Y[:-1], verbose=0), ValueError,
           re.compile("^Data cardinality is ambiguous"))
