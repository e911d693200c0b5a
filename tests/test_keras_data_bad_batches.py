"""A stream that hands over a bad batch mid-epoch: a clear error naming the batch and what
was expected, and the model as it was before that epoch began (judged against a model trained
on the good epochs only)."""

import numpy as np
import pytest

import fastnn
from fastnn.layers import Dense

RNG = np.random.default_rng(1)
BATCH, N_BATCHES = 8, 20
X = RNG.normal(size=(BATCH * N_BATCHES, 4)).astype(np.float32)
Y = RNG.normal(size=(BATCH * N_BATCHES, 2)).astype(np.float32)


def _model():
    fastnn.utils.set_random_seed(7)
    model = fastnn.Sequential([fastnn.Input((4,)), Dense(6, activation="tanh"), Dense(2)])
    model.compile("adam", "mse", metrics=["mae"])
    return model


class Spoiled(fastnn.utils.PyDataset):
    """Good batches, except batch `bad` of epoch `epoch` (1-based), which `spoil` replaces."""

    def __init__(self, bad, spoil, epoch=2):
        super().__init__()
        self.bad, self.spoil, self.epoch, self.epochs_done = bad, spoil, epoch, 0

    def __len__(self):
        return N_BATCHES

    def __getitem__(self, index):
        lo = index * BATCH
        batch = (X[lo:lo + BATCH], Y[lo:lo + BATCH])
        if index == self.bad and self.epochs_done + 1 == self.epoch:
            return self.spoil(batch)
        return batch

    def on_epoch_end(self):
        self.epochs_done += 1


def _with_nan(batch):
    x = batch[0].copy()
    x[3, 1] = np.nan
    return x, batch[1]


def _ragged(batch):
    return [list(row[:3]) if i % 2 else list(row) for i, row in enumerate(batch[0])], batch[1]


CASES = [
    (17, _with_nan, (r"Batch 17 of epoch 2 from the PyDataset cannot be used: `x` contains NaN "
                    r"or infinity \(the first at row 3, column 1")),
    (5, lambda b: (*b, b[1], b[1]), r"Batch 5 of epoch 2 .*found a tuple of 4 items"),
    (9, _ragged, r"Batch 9 of epoch 2 .*could not be converted to a numeric array"),
    (3, lambda b: (np.hstack([b[0], b[0][:, :1]]), b[1]),
     (r"Batch 3 of epoch 2 .*expected axis -1 of input shape to have value 4, but received "
     r"input with shape \(8, 5\)")),
    (11, lambda b: (b[0].astype(str), b[1]), r"Batch 11 of epoch 2 .*must be numeric"),
    (2, lambda b: (b[0], b[1][:, :1]), (r"Batch 2 of epoch 2 .*target.shape=\(8, 1\), "
                                       r"output.shape=\(None, 2\)")),
    (4, lambda b: (b[0],), r"Batch 4 of epoch 2 .*holds no targets"),
]


@pytest.mark.parametrize("bad,spoil,message", CASES,
                         ids=["nan", "structure", "ragged", "features", "strings", "targets",
                              "no_y"])
def test_bad_batch_names_it_and_restores_the_epoch(bad, spoil, message):
    model = _model()
    with pytest.raises(ValueError, match=message) as info:
        model.fit(Spoiled(bad, spoil), epochs=3, shuffle=False, verbose=0)
    assert "The model is as it was before epoch 2 began." in str(info.value)
    ref = _model()
    ref.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for got, expected in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(got, expected)
    assert model.optimizer.iterations == ref.optimizer.iterations == N_BATCHES
    # and it trains on from there as the reference does
    model.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)
    ref.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)
    for got, expected in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(got, expected)


def test_a_failing_getitem_restores_the_epoch_and_keeps_its_error():
    def boom(batch):
        raise RuntimeError("disk went away")

    model = _model()
    with pytest.raises(RuntimeError, match="disk went away") as info:
        model.fit(Spoiled(6, boom), epochs=2, shuffle=False, verbose=0)
    assert any("as it was before epoch 2 began" in note for note in info.value.__notes__)
    ref = _model()
    ref.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)
    for got, expected in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(got, expected)


def test_bad_first_batch_leaves_an_unbuilt_model_unbuilt():
    fastnn.utils.set_random_seed(7)
    model = fastnn.Sequential([Dense(2)])
    model.compile("adam", "mse")

    def gen():
        yield X[:8].astype(str), Y[:8]

    with pytest.raises(ValueError, match="Batch 0 from the generator cannot be used"):
        model.fit(gen(), shuffle=False, verbose=0)
    assert not model.built


def test_generator_yielding_no_tuple_is_refused_as_keras():
    model = _model()

    def gen():
        yield X[:8]

    with pytest.raises(ValueError, match="the generator must return a tuple"):
        model.fit(gen(), shuffle=False, verbose=0)


def test_predict_and_evaluate_name_the_bad_batch():
    model = _model()
    data = Spoiled(13, _with_nan, epoch=1)
    with pytest.raises(ValueError, match="Batch 13 from the PyDataset cannot be used"):
        model.predict(data)
    with pytest.raises(ValueError, match="Batch 13 from the PyDataset cannot be used"):
        model.evaluate(Spoiled(13, _with_nan, epoch=1), verbose=0)
