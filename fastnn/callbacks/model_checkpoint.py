"""ModelCheckpoint: save the model (or its weights) every epoch or every N batches."""

from __future__ import annotations

import os
import warnings

from fastnn.callbacks.monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save to ``filepath`` during training, Keras 3's way.

    Parameters
    ----------
    filepath : str or os.PathLike
        Ends in ``.keras`` (or ``.h5``), or in ``.weights.h5`` with ``save_weights_only``. May
        hold ``str.format`` fields: ``{epoch}`` (1-based), ``{batch}`` (1-based, when saving
        per batch) and any log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.
    monitor : str
        The log key ``save_best_only`` compares.
    verbose : int
        1 prints a line for every save decision.
    save_best_only : bool
        Save only when ``monitor`` improves on the best value seen so far.
    save_weights_only : bool
        ``model.save_weights`` instead of ``model.save``.
    mode : {"auto", "min", "max"}
    save_freq : "epoch" or int
        Save at the end of every epoch, or after every ``save_freq`` batches (which makes
        ``fit`` run its engine batch by batch).
    initial_value_threshold : float, optional
        The best value to beat at first with ``save_best_only``.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.initial_value_threshold = initial_value_threshold
        self._batches_since_save = 0
        self._last_batch = None
        self._epoch = 0
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int)):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             "'epoch' or integer values")
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                "provided must end in `.weights.h5` (Keras weights format). Received: "
                f"filepath={self.filepath}"
            )
        if not save_weights_only and not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model "
                             f"format). Received: filepath={self.filepath}")

    def overrides_batch_hooks(self) -> bool:
        return self.save_freq != "epoch"

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # A batch index at or below the last one seen means a new epoch began.
        seen = batch + 1 if self._last_batch is None or batch <= self._last_batch \
            else batch - self._last_batch
        self._batches_since_save += seen
        self._last_batch = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch, batch, logs) -> str:
        logs = logs or {}
        fields = {"epoch": epoch + 1, **logs}
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None

    def _should_save(self, epoch, logs, path) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}", flush=True)
            return True
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {path}", flush=True)
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}",
                  flush=True)
        return False

    def _save(self, epoch, batch, logs) -> None:
        path = self._path(epoch, batch, logs)
        if os.path.isdir(path):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {path}")
        if not self._should_save(epoch, logs, path):
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}", flush=True)

    def get_config(self) -> dict:
        return {"filepath": self.filepath, "monitor": self.monitor, "verbose": self.verbose,
                "save_best_only": self.save_best_only,
                "save_weights_only": self.save_weights_only, "mode": self.mode,
                "save_freq": self.save_freq,
                "initial_value_threshold": self.initial_value_threshold}
