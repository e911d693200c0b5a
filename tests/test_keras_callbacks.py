"""Callbacks against Keras 3 on the same data and initial weights: when EarlyStopping stops,
what ReduceLROnPlateau and LearningRateScheduler set, what CSVLogger writes, where
TerminateOnNaN stops; ModelCheckpoint's files; which callbacks make fit step per batch."""

import csv

import numpy as np
import pytest

import fastnn
from fastnn import callbacks as fcb

_rng = np.random.default_rng(11)
X = _rng.normal(size=(40, 5)).astype(np.float32)
Y = (X @ _rng.normal(size=(5, 1))).astype(np.float32)
XV, YV = X[:10] * 1.1, Y[:10]


def twins(tf_keras, lr=0.05):
    models = []
    for lib in (tf_keras, fastnn):
        m = lib.Sequential([lib.Input((5,)), lib.layers.Dense(4, activation="tanh"),
                            lib.layers.Dense(1)])
        m.compile(lib.optimizers.SGD(lr), "mse", metrics=["mae"])
        models.append(m)
    models[1].set_weights(models[0].get_weights())
    return models


def fit_both(km, fm, kcb, fcb_, epochs=8, **kw):
    kw = {"batch_size": 8, "shuffle": False, "verbose": 0, "epochs": epochs,
          "validation_data": (XV, YV), **kw}
    return km.fit(X, Y, callbacks=kcb, **kw), fm.fit(X, Y, callbacks=fcb_, **kw)


@pytest.mark.parametrize("kwargs", [
    {"monitor": "val_loss", "min_delta": 0.02, "patience": 2},
    {"monitor": "val_mae", "min_delta": 0.05, "patience": 1, "restore_best_weights": True},
    {"monitor": "loss", "baseline": 0.01, "patience": 3, "start_from_epoch": 2,
     "min_delta": 0.05},
])
def test_early_stopping_like_keras(tf_keras, kwargs):
    km, fm = twins(tf_keras)
    ke, fe = tf_keras.callbacks.EarlyStopping(**kwargs), fcb.EarlyStopping(**kwargs)
    hk, hf = fit_both(km, fm, [ke], [fe], epochs=12)
    assert hf.epoch == hk.epoch and len(hk.epoch) < 12
    assert fe.stopped_epoch == ke.stopped_epoch > 0
    assert fe.best_epoch == ke.best_epoch
    np.testing.assert_allclose(fe.best, ke.best, rtol=1e-4)
    for a, b in zip(fm.get_weights(), km.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_early_stopping_mode_and_message(capsys):
    m = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(1)])
    m.compile("sgd", "mse", metrics=["kl_divergence", "accuracy"])
    with pytest.raises(ValueError, match="automatically determine"):
        m.fit(X, Y, verbose=0, callbacks=[fcb.EarlyStopping("kl_divergence")])
    es = fcb.EarlyStopping("loss", min_delta=10.0, patience=1, verbose=1)
    h = m.fit(X, Y, epochs=5, verbose=0, callbacks=[es])
    assert h.epoch == [0, 1] and "Epoch 2: early stopping" in capsys.readouterr().out
    with pytest.warns(UserWarning, match="not available"):
        m.fit(X, Y, epochs=1, verbose=0, callbacks=[fcb.EarlyStopping("nope", mode="min")])


def test_reduce_lr_on_plateau_like_keras(tf_keras):
    km, fm = twins(tf_keras, lr=0.05)
    kwargs = {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_delta": 0.2,
              "cooldown": 1, "min_lr": 0.01}
    kr, fr = tf_keras.callbacks.ReduceLROnPlateau(**kwargs), fcb.ReduceLROnPlateau(**kwargs)
    hk, hf = fit_both(km, fm, [kr], [fr], epochs=8)
    lk, lf = hk.history["learning_rate"], hf.history["learning_rate"]
    assert len(set(np.round(lk, 6))) > 2  # it reduced at least twice
    # Keras keeps the rate in float32.
    np.testing.assert_allclose(lf, lk, rtol=1e-7)
    assert fm.optimizer.learning_rate == pytest.approx(float(km.optimizer.learning_rate), 1e-7)
    with pytest.raises(ValueError, match="factor >= 1.0"):
        fcb.ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_like_keras(tf_keras, capsys):
    km, fm = twins(tf_keras)
    schedules = [lambda epoch, lr: lr * 0.5 if epoch else 0.1, lambda epoch: 0.01 * (epoch + 1)]
    for schedule in schedules:
        ks = tf_keras.callbacks.LearningRateScheduler(schedule)
        fs = fcb.LearningRateScheduler(schedule, verbose=1)
        hk, hf = fit_both(km, fm, [ks], [fs], epochs=4)
        np.testing.assert_allclose(hf.history["learning_rate"], hk.history["learning_rate"],
                                   rtol=1e-7)
        np.testing.assert_allclose(hf.history["loss"], hk.history["loss"], rtol=1e-4)
    assert "Epoch 2: LearningRateScheduler setting learning rate to 0.02." in \
        capsys.readouterr().out
    with pytest.raises(ValueError, match="should be a float"):
        fm.fit(X, Y, verbose=0, callbacks=[fcb.LearningRateScheduler(lambda e: "x")])


@pytest.mark.parametrize("validation", [True, False])
def test_csv_logger_like_keras(tf_keras, tmp_path, validation):
    km, fm = twins(tf_keras)
    kp, fp = tmp_path / "k.csv", tmp_path / "f.csv"
    kw = {} if validation else {"validation_data": None}
    fit_both(km, fm, [tf_keras.callbacks.CSVLogger(str(kp))],
             [fcb.CSVLogger(fp, separator=",")], epochs=3, **kw)
    rows_k, rows_f = list(csv.reader(kp.open())), list(csv.reader(fp.open()))
    assert rows_f[0] == rows_k[0]
    assert len(rows_f) == len(rows_k) == 4
    for rk, rf in zip(rows_k[1:], rows_f[1:]):
        assert rf[0] == rk[0]
        for a, b in zip(rf[1:], rk[1:]):
            assert (a == "NA") == (b == "NA")
            if a != "NA":
                assert float(a) == pytest.approx(float(b), rel=1e-4)
    # append=True adds rows without a second header
    fm.fit(X, Y, epochs=1, verbose=0, callbacks=[fcb.CSVLogger(fp, append=True)])
    rows = list(csv.reader(fp.open()))
    assert len(rows) == 5 and rows[-1][0] == "0"


def test_terminate_on_nan_like_keras(tf_keras, capsys):
    km, fm = twins(tf_keras, lr=1e12)
    hk, hf = fit_both(km, fm, [tf_keras.callbacks.TerminateOnNaN()], [fcb.TerminateOnNaN()],
                      epochs=3, validation_data=None)
    out = capsys.readouterr().out
    bad = [line for line in out.splitlines() if "Invalid loss" in line]
    assert len(bad) == 2 and bad[0] == bad[1]
    assert hf.epoch == hk.epoch
    with pytest.raises(RuntimeError, match="NaN or Inf loss"):
        fm.fit(X, Y, verbose=0, callbacks=[fcb.TerminateOnNaN(raise_error=True)])


def test_lambda_callback_and_batch_hooks():
    seen = {"batches": 0, "epochs": [], "begin": 0, "end": 0, "legacy": 0}
    cb = fcb.LambdaCallback(
        on_train_begin=lambda logs: seen.__setitem__("begin", seen["begin"] + 1),
        on_epoch_end=lambda epoch, logs: seen["epochs"].append((epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: seen.__setitem__("batches",
                                                                seen["batches"] + 1),
        on_train_end=lambda logs: seen.__setitem__("end", seen["end"] + 1),
        on_batch_end=lambda batch, logs: seen.__setitem__("legacy", seen["legacy"] + 1))
    m = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(1)])
    m.compile("sgd", "mse")
    m.fit(X, Y, epochs=2, batch_size=8, verbose=0, callbacks=[cb])
    assert seen == {"batches": 10, "epochs": [(0, ["loss"]), (1, ["loss"])], "begin": 1,
                    "end": 1, "legacy": 10}


def test_which_callbacks_need_batch_steps(tmp_path):
    epoch_level = [fcb.EarlyStopping(), fcb.ReduceLROnPlateau(), fcb.CSVLogger(tmp_path / "a"),
                   fcb.LearningRateScheduler(lambda e: 0.1), fcb.History(),
                   fcb.ModelCheckpoint(str(tmp_path / "m.keras")), fcb.ProgbarLogger(),
                   fcb.LambdaCallback(on_epoch_end=print)]
    assert not any(cb.overrides_batch_hooks() for cb in epoch_level)
    batch_level = [fcb.TerminateOnNaN(), fcb.ModelCheckpoint(str(tmp_path / "m.keras"),
                                                             save_freq=3),
                   fcb.LambdaCallback(on_train_batch_begin=print)]
    assert all(cb.overrides_batch_hooks() for cb in batch_level)


def test_model_checkpoint(tmp_path, capsys):
    m = fastnn.Sequential([fastnn.Input((5,)), fastnn.layers.Dense(1)])
    m.compile(fastnn.optimizers.SGD(0.05), "mse")
    template = str(tmp_path / "ep{epoch:02d}-{val_loss:.3f}.keras")
    ck = fcb.ModelCheckpoint(template, save_best_only=True, verbose=1)
    h = m.fit(X, Y, epochs=3, batch_size=8, verbose=0, validation_data=(XV, YV),
              callbacks=[ck])
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = [f"ep{e + 1:02d}-{v:.3f}.keras" for e, v in enumerate(h.history["val_loss"])]
    assert names == expected  # val_loss falls every epoch here: every epoch is a best
    out = capsys.readouterr().out
    assert "Epoch 1: val_loss improved from None to" in out
    saved = fastnn.models.load_model(tmp_path / expected[-1])
    np.testing.assert_array_equal(saved.predict(X), m.predict(X))
    wck = fcb.ModelCheckpoint(str(tmp_path / "w{epoch}-{batch}.weights.h5"),
                              save_weights_only=True, save_freq=3)
    m.fit(X, Y, epochs=1, batch_size=8, verbose=0, callbacks=[wck])
    assert sorted(p.name for p in tmp_path.glob("w*")) == ["w1-3.weights.h5"]
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        fcb.ModelCheckpoint("x.keras", save_weights_only=True)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        fcb.ModelCheckpoint("x.txt")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        fcb.ModelCheckpoint("x.keras", save_freq="batch")


def test_registry_round_trips(tmp_path):
    for name in ["EarlyStopping", "ReduceLROnPlateau", "TerminateOnNaN", "History",
                 "ProgbarLogger", "Callback"]:
        cb = fcb.get(name)
        again = fcb.deserialize(fcb.serialize(cb))
        assert type(again) is type(cb) and again.get_config() == cb.get_config()
    for cb in [fcb.CSVLogger(tmp_path / "x.csv", ";", True),
               fcb.ModelCheckpoint(str(tmp_path / "m.keras"), "loss", save_best_only=True),
               fcb.EarlyStopping("loss", 0.1, 3, mode="min", baseline=1.0)]:
        assert fcb.deserialize(fcb.serialize(cb)).get_config() == cb.get_config()
    with pytest.raises(ValueError, match="Valid names are"):
        fcb.get("NoSuchCallback")


def test_every_hook_gets_a_dict_of_logs_as_in_keras(tf_keras):
    import fastnn

    def record(lib):
        seen = []

        class Recorder(lib.callbacks.Callback):
            pass

        for hook in ("on_train_begin", "on_epoch_begin", "on_train_batch_begin",
                     "on_train_batch_end", "on_epoch_end", "on_train_end"):
            def method(self, *args, _hook=hook, **kwargs):
                logs = kwargs["logs"] if "logs" in kwargs else args[-1]
                seen.append((_hook, type(logs).__name__, sorted(logs.keys())))
            setattr(Recorder, hook, method)
        lib.utils.set_random_seed(0)
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse")
        x = np.ones((4, 3), np.float32)
        model.fit(x, x[:, :1], batch_size=2, epochs=1, verbose=0, callbacks=[Recorder()])
        return seen

    assert record(fastnn) == record(tf_keras)
