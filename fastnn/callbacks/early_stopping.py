"""EarlyStopping: stop training when a monitored value stops improving (Keras 3 semantics)."""

from __future__ import annotations

import warnings

from fastnn.callbacks.monitor import MonitorCallback


class EarlyStopping(MonitorCallback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs.

    Parameters
    ----------
    monitor : str
        A log key, ``"val_loss"`` by default.
    min_delta : float
        The smallest change that counts as an improvement.
    patience : int
        Epochs without improvement before stopping.
    verbose : int
        1 prints ``Epoch N: early stopping`` when training stops.
    mode : {"auto", "min", "max"}
    baseline : float, optional
        The patience counter restarts only on epochs that also beat the baseline.
    restore_best_weights : bool
        At the end of training, restore the weights of the best epoch.
    start_from_epoch : int
        Epochs to wait before watching (warm-up).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        # A callback can be reused across fit calls.
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.", flush=True)
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs or {})}",
                stacklevel=2,
            )
        return value

    def get_config(self) -> dict:
        return {"monitor": self.monitor, "min_delta": abs(self.min_delta),
                "patience": self.patience, "verbose": self.verbose, "mode": self.mode,
                "baseline": self.baseline, "restore_best_weights": self.restore_best_weights,
                "start_from_epoch": self.start_from_epoch}
