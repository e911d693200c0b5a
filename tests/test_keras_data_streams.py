"""fit / evaluate / predict over generators, iterators, PyDatasets and tf.data, judged against
the same data as arrays (same order: the same weights, bit for bit) and Keras 3's rules for
streams that run out."""

import threading
import warnings

import numpy as np
import pytest
from _threads import assert_same_bits_on_one_and_two_threads

import fastnn
from fastnn.layers import Dense

RNG = np.random.default_rng(0)
X = RNG.normal(size=(96, 5)).astype(np.float32)
Y = (X @ RNG.normal(size=(5, 3))).argmax(axis=1)
W = RNG.uniform(0.5, 2.0, size=96).astype(np.float32)
BATCH = 16


def _model(dtype="float32", metrics=("accuracy",)):
    fastnn.utils.set_random_seed(3)
    model = fastnn.Sequential([fastnn.Input((5,), dtype=dtype), Dense(8, activation="relu",
                                                                       dtype=dtype),
                               Dense(3, activation="softmax", dtype=dtype)])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=list(metrics))
    return model


def _batches(with_weights=False, x=X, y=Y, repeat=1):
    for _ in range(repeat):
        for lo in range(0, len(x), BATCH):
            item = (x[lo:lo + BATCH], y[lo:lo + BATCH])
            yield item + (W[lo:lo + BATCH],) if with_weights else item


def _same_weights(a, b):
    for p, q in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(p, q)


def _quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(*args, verbose=0, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("with_weights", [False, True])
def test_generator_trains_as_the_same_arrays(dtype, with_weights):
    ref = _model(dtype)
    h_ref = ref.fit(X, Y, sample_weight=W if with_weights else None, batch_size=BATCH,
                    shuffle=False, verbose=0)
    model = _model(dtype)
    h = _quiet_fit(model, _batches(with_weights))
    _same_weights(ref, model)
    assert h.history["loss"] == pytest.approx(h_ref.history["loss"], rel=1e-12)
    assert h.history["accuracy"] == h_ref.history["accuracy"]


def test_generator_fit_same_bits_on_one_and_two_threads():
    def train():
        model = _model()
        _quiet_fit(model, _batches(repeat=3), steps_per_epoch=6, epochs=3)
        return model
    assert_same_bits_on_one_and_two_threads(train)


def test_iterator_with_steps_per_epoch_continues_across_epochs():
    # An endless iterator and steps_per_epoch: each epoch takes the next batches, so three
    # epochs of 4 batches are the 12 batches of two passes, as train_on_batch would take them.
    model = _model()
    h = model.fit(iter(list(_batches(repeat=2))), steps_per_epoch=4, epochs=3, verbose=0,
                  shuffle=False)
    ref = _model()
    for bx, by in _batches(repeat=2):
        ref.train_on_batch(bx, by)
    _same_weights(ref, model)
    assert len(h.history["loss"]) == 3 and h.params["steps"] == 4


def test_generator_running_out_warns_and_stops_as_keras():
    model = _model()
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        h = model.fit(_batches(), epochs=3, verbose=0, shuffle=False)
    assert len(h.history["loss"]) == 1          # nothing left for epochs 2 and 3
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        h = model.fit(_batches(), epochs=3, steps_per_epoch=4, verbose=0, shuffle=False)
    assert len(h.history["loss"]) == 2          # 4 batches, then the last 2 of 6
    ref = _model()
    ref.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)
    _same_weights(ref, model)


def test_shuffle_warning_and_arguments_keras_refuses():
    model = _model()
    with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
        model.fit(_batches(), verbose=0)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(_batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weights` should not be passed"):
        model.fit(_batches(), sample_weight=W, verbose=0)
    with pytest.raises(ValueError, match="`class_weight` is not supported for Python gen"):
        model.fit(_batches(), class_weight={0: 1.0}, verbose=0, shuffle=False)
    with pytest.raises(ValueError, match="`validation_split` is only supported"):
        model.fit(_batches(), validation_split=0.2, verbose=0, shuffle=False)
    with pytest.raises(ValueError, match="must yield at least one batch"):
        model.fit((b for b in ()), verbose=0, shuffle=False)


def test_validation_generator_with_validation_steps():
    model = _model()
    xv, yv = X[:48], Y[:48]
    h = model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
                  validation_data=_batches(x=xv, y=yv, repeat=2), validation_steps=2)
    expected = model.evaluate(xv[:32], yv[:32], verbose=0, return_dict=True)
    assert h.history["val_loss"][0] == pytest.approx(expected["loss"], rel=1e-6)
    assert h.history["val_accuracy"][0] == pytest.approx(expected["accuracy"])


def test_evaluate_and_predict_over_a_generator():
    model = _model()
    model.fit(X, Y, batch_size=BATCH, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = model.evaluate(_batches(True), verbose=0, return_dict=True)
        pred = model.predict(_batches())
        pred_two = model.predict(_batches(), steps=2)
    ref = model.evaluate(X, Y, sample_weight=W, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(ref["loss"], rel=1e-6)
    assert got["accuracy"] == pytest.approx(ref["accuracy"])
    np.testing.assert_array_equal(pred, model.predict(X))
    np.testing.assert_array_equal(pred_two, model.predict(X[:32]))


class Batches(fastnn.utils.PyDataset):
    def __init__(self, x, y, batch_size=BATCH, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.read = []
        self.lock = threading.Lock()
        self.epochs_ended = 0

    def __len__(self):
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __getitem__(self, index):
        with self.lock:
            self.read.append(index)
        lo = index * self.batch_size
        return self.x[lo:lo + self.batch_size], self.y[lo:lo + self.batch_size]

    def on_epoch_end(self):
        self.epochs_ended += 1


@pytest.mark.parametrize("workers,processes", [(1, False), (2, False), (2, True)])
def test_py_dataset_trains_as_the_same_arrays(workers, processes):
    data = Batches(X, Y, workers=workers, use_multiprocessing=processes, max_queue_size=3)
    model = _model()
    h = model.fit(data, epochs=2, shuffle=False, verbose=0)
    ref = _model()
    h_ref = ref.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    _same_weights(ref, model)
    assert h.history["loss"] == pytest.approx(h_ref.history["loss"], rel=1e-12)
    assert data.epochs_ended == 2
    assert h.params["steps"] == len(data)


def test_py_dataset_shuffle_reorders_batches_each_epoch():
    data = Batches(X, Y)
    model = _model()
    model.fit(data, epochs=2, shuffle=True, verbose=0)
    first, second = data.read[:6], data.read[6:]   # fit builds from epoch 1's first batch
    assert sorted(first) == sorted(second) == list(range(6)) and first != list(range(6))
    order = np.concatenate([np.arange(i * BATCH, (i + 1) * BATCH) for i in first + second])
    ref = _model()
    for lo in range(0, len(order), BATCH):
        ref.train_on_batch(X[order[lo:lo + BATCH]], Y[order[lo:lo + BATCH]])
    _same_weights(ref, model)


def test_keras_2_name_and_defaults():
    assert fastnn.utils.Sequence is fastnn.utils.PyDataset
    data = Batches(X, Y)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (1, False, 10)
    with pytest.raises(ValueError, match="`workers` must be a positive integer"):
        Batches(X, Y, workers=0)


def test_keras_py_dataset_and_tf_data_by_duck_typing():
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")

    class KerasBatches(keras.utils.PyDataset):
        def __len__(self):
            return 6

        def __getitem__(self, index):
            return X[index * BATCH:(index + 1) * BATCH], Y[index * BATCH:(index + 1) * BATCH]

    ref = _model()
    ref.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    model = _model()
    model.fit(KerasBatches(), epochs=2, shuffle=False, verbose=0)
    _same_weights(ref, model)
    model = _model()
    dataset = tf.data.Dataset.from_tensor_slices((X, Y)).batch(BATCH)
    model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    _same_weights(ref, model)
    np.testing.assert_array_equal(model.predict(dataset), model.predict(X))


def test_named_inputs_from_a_dict_and_a_data_frame():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"age": X[:, 0], "income": X[:, 1], "noise": X[:, 2]})

    def model():
        fastnn.utils.set_random_seed(4)
        age, income = fastnn.Input((1,), name="age"), fastnn.Input((1,), name="income")
        out = Dense(3, activation="softmax")(fastnn.layers.concatenate([age, income]))
        m = fastnn.Model([age, income], out)
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    ref = model()
    ref.fit([X[:, :1], X[:, 1:2]], Y, batch_size=BATCH, shuffle=False, verbose=0)
    from_frame = model()
    from_frame.fit(frame, Y, batch_size=BATCH, shuffle=False, verbose=0)
    _same_weights(ref, from_frame)
    from_dict = model()
    from_dict.fit({"income": X[:, 1], "age": X[:, 0]}, Y, batch_size=BATCH, shuffle=False,
                  verbose=0)
    _same_weights(ref, from_dict)
    from_stream = model()
    _quiet_fit(from_stream, ((frame.iloc[lo:lo + BATCH], Y[lo:lo + BATCH])
                             for lo in range(0, len(Y), BATCH)))
    _same_weights(ref, from_stream)
    with pytest.raises(ValueError, match='Missing data for input "income"'):
        from_dict.predict(frame.drop(columns=["income"]))


def test_split_dataset():
    split = fastnn.utils.split_dataset
    left, right = split((X, Y), left_size=0.75)
    np.testing.assert_array_equal(left[0], X[:72])
    np.testing.assert_array_equal(right[1], Y[72:])
    left, right = split({"a": X, "b": Y}, right_size=10, shuffle=True, seed=1)
    assert left["a"].shape == (86, 5) and right["b"].shape == (10,)
    rows = np.concatenate([left["a"], right["a"]])
    np.testing.assert_array_equal(np.sort(rows, axis=0), np.sort(X, axis=0))
    left, right = split(X, left_size=0.333)       # Python's round, as Keras: 32 rows
    assert len(left) == 32 and len(right) == 64
    with pytest.raises(ValueError, match="more than the dataset's 96 rows"):
        split(X, left_size=50, right_size=50)
    with pytest.raises(ValueError, match="same number of rows"):
        split((X, Y[:5]))


class BatchLog(fastnn.callbacks.Callback):
    def __init__(self, stop_at=None):
        super().__init__()
        self.seen, self.stop_at = [], stop_at

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(("end", batch, round(logs["loss"], 6)))
        if batch == self.stop_at:
            self.model.stop_training = True


@pytest.mark.parametrize("stop_at", [None, 2])
def test_batch_hooks_see_what_they_see_with_arrays(stop_at):
    ref, ref_log = _model(), BatchLog(stop_at)
    ref.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[ref_log])
    model, log = _model(), BatchLog(stop_at)
    _quiet_fit(model, _batches(repeat=2), steps_per_epoch=6, epochs=2, callbacks=[log])
    assert log.seen == ref_log.seen
    _same_weights(ref, model)


def test_python_loss_and_metric_over_a_stream_and_a_memmap(tmp_path):
    ops = fastnn.ops

    def sparse_ce(y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        return -ops.log(ops.clip(ops.sum(ops.one_hot(labels, 3) * y_pred, axis=-1), 1e-7, 1))

    def top_share(y_true, y_pred):
        return ops.max(y_pred, axis=-1)

    def model():
        m = _model()
        m.compile("adam", sparse_ce, metrics=[top_share])
        return m

    ref = model()
    h_ref = ref.fit(X, Y, batch_size=BATCH, shuffle=False, verbose=0)
    streamed = model()
    h = _quiet_fit(streamed, _batches())
    _same_weights(ref, streamed)
    assert h.history["top_share"] == pytest.approx(h_ref.history["top_share"], rel=1e-6)
    mm = np.memmap(tmp_path / "x.f64", dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mapped = model()
    h = mapped.fit(mm, Y, batch_size=BATCH, shuffle=False, verbose=0)
    _same_weights(ref, mapped)
    assert h.history["loss"] == pytest.approx(h_ref.history["loss"], rel=1e-6)


def test_first_evaluate_of_a_fresh_model_over_a_stream_logs_its_metrics():
    # The compiled metrics are built from the first batch's targets: a model's first evaluate
    # over a generator used to return the loss alone.
    streamed = _model().evaluate(_batches(), verbose=0, return_dict=True)
    arrays = _model().evaluate(X, Y, batch_size=BATCH, verbose=0, return_dict=True)
    assert sorted(streamed) == ["accuracy", "loss"]
    assert streamed == arrays
