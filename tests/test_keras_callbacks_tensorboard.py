"""TensorBoard against Keras 3: both write event files for the same model, weights and data;
read back with a plain TFRecord + Event protobuf reader, the runs, tags, steps and values
match (Keras writes scalars as tensors, tensorboardX as simple values: both are read)."""

import struct
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn import callbacks as fcb

tensorboardX = pytest.importorskip("tensorboardX")
from tensorboardX.crc32c import crc32c
from tensorboardX.proto import event_pb2

_rng = np.random.default_rng(3)
X = _rng.normal(size=(20, 4)).astype(np.float32)
Y = (X @ _rng.normal(size=(4, 1))).astype(np.float32)


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(run_dir: Path) -> list:
    """Every Event of every event file in run_dir, checking the TFRecord checksums."""
    events = []
    for path in sorted(run_dir.glob("events.out.tfevents.*")):
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            header = data[pos:pos + 8]
            (length,) = struct.unpack("<Q", header)
            (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
            assert header_crc == _masked(crc32c(header))
            body = data[pos + 12:pos + 12 + length]
            (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
            assert body_crc == _masked(crc32c(body))
            events.append(event_pb2.Event.FromString(body))
            pos += 16 + length
    return events


def scalars(run_dir: Path) -> dict:
    """{tag: [(step, value), ...]} of the scalar summaries in a run."""
    out = {}
    for event in read_events(run_dir):
        for value in event.summary.value:
            if value.HasField("simple_value"):
                number = value.simple_value
            elif value.metadata.plugin_data.plugin_name == "scalars":
                tensor = value.tensor
                number = (tensor.float_val[0] if tensor.float_val
                          else np.frombuffer(tensor.tensor_content, np.float32)[0])
            else:
                continue
            out.setdefault(value.tag, []).append((event.step, float(number)))
    return out


def twins(tf_keras):
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3, activation="tanh"),
                            lib.layers.Dense(1)])
        m.compile(lib.optimizers.SGD(0.05), "mse", metrics=["mae"])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    return models


def _compare(theirs: dict, ours: dict, every_epoch_ours=False):
    assert sorted(ours) == sorted(theirs)
    for tag, points in ours.items():
        if every_epoch_ours and not tag.startswith("batch_"):
            # Keras's record_if(step % update_freq == 0) also drops epoch scalars of epochs
            # ending on another step; fastnn writes every epoch: compare Keras's points.
            points = [p for p in points if p[0] in {s for s, _ in theirs[tag]}]
        assert [s for s, _ in points] == [s for s, _ in theirs[tag]], tag
        np.testing.assert_allclose([v for _, v in points], [v for _, v in theirs[tag]],
                                   rtol=1e-5, atol=1e-6, err_msg=tag)


@pytest.mark.parametrize("update_freq", ["epoch", "batch", 3])
def test_runs_tags_steps_and_values_like_keras(tf_keras, tmp_path, update_freq):
    km, fm = twins(tf_keras)
    kw = {"batch_size": 4, "epochs": 3, "shuffle": False, "verbose": 0,
          "validation_data": (X[:8], Y[:8])}
    km.fit(X, Y, callbacks=[tf_keras.callbacks.TensorBoard(tmp_path / "k",
                                                           update_freq=update_freq)], **kw)
    fm.fit(X, Y, callbacks=[fcb.TensorBoard(tmp_path / "f", update_freq=update_freq)], **kw)
    for run in ("train", "validation"):
        _compare(scalars(tmp_path / "k" / run), scalars(tmp_path / "f" / run),
                 every_epoch_ours=isinstance(update_freq, int))
    train = scalars(tmp_path / "f" / "train")
    assert {"epoch_loss", "epoch_mae", "epoch_learning_rate"} <= set(train)
    assert {"epoch_loss", "epoch_mae", "evaluation_loss_vs_iterations"} \
        <= set(scalars(tmp_path / "f" / "validation"))
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
    if update_freq == "epoch":
        assert not any(t.startswith("batch_") for t in train)
    else:
        every = 1 if update_freq == "batch" else update_freq
        assert [s for s, _ in train["batch_loss"]] == list(range(every, 16, every))


def test_evaluate_writes_evaluation_scalars_like_keras(tf_keras, tmp_path):
    km, fm = twins(tf_keras)
    ktb = tf_keras.callbacks.TensorBoard(tmp_path / "k")
    km.evaluate(X, Y, verbose=0, callbacks=[ktb])
    ktb._close_writers()      # Keras closes (flushes) its writers only at the end of fit
    fm.evaluate(X, Y, verbose=0, callbacks=[fcb.TensorBoard(tmp_path / "f")])
    _compare(scalars(tmp_path / "k" / "validation"), scalars(tmp_path / "f" / "validation"))


def test_graph_and_histograms(tmp_path):
    m = fastnn.Sequential([fastnn.Input((4,)), fastnn.layers.Dense(3), fastnn.layers.Dense(1)])
    m.compile("sgd", "mse")
    m.fit(X, Y, epochs=3, verbose=0, callbacks=[fcb.TensorBoard(tmp_path, histogram_freq=2)])
    events = read_events(tmp_path / "train")
    values = [(e.step, v) for e in events for v in e.summary.value]
    graph = [v for _, v in values if v.tag == "keras"]
    assert len(graph) == 1
    assert graph[0].metadata.plugin_data.plugin_name == "graph_keras_model"
    assert '"class_name": "Sequential"' in graph[0].tensor.string_val[0].decode()
    hist = {(s, v.tag): v.histo for s, v in values if v.HasField("histo")}
    kernel = m.layers[0].kernel
    tag = f"{kernel.path}/histogram"
    assert {s for s, t in hist if t == tag} == {0, 2}
    h = hist[(2, tag)]
    assert h.num == kernel.numpy().size
    np.testing.assert_allclose([h.min, h.max, h.sum],
                               [kernel.numpy().min(), kernel.numpy().max(),
                                kernel.numpy().sum()], rtol=1e-6)


def test_bad_arguments_and_missing_extra(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="update_freq"):
        fcb.TensorBoard(tmp_path, update_freq="sometimes")
    with pytest.raises(ValueError, match="profile_batch"):
        fcb.TensorBoard(tmp_path, profile_batch=2)
    import sys

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"fastnn\[tensorboard\]"):
        fcb.TensorBoard(tmp_path)
    assert not any(tmp_path.iterdir())


def test_config_round_trip(tmp_path):
    tb = fcb.TensorBoard(str(tmp_path), histogram_freq=2, update_freq=5)
    again = fcb.deserialize(fcb.serialize(tb))
    assert again.get_config() == tb.get_config()
    assert isinstance(fcb.get("TensorBoard"), fcb.TensorBoard)
