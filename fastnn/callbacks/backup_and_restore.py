"""BackupAndRestore (Keras 3's ``keras.callbacks.BackupAndRestore``): resume a fit that died.

At the end of each epoch (or every ``save_freq`` batches) the callback writes
``<backup_dir>/latest.weights.h5`` (weights and optimizer state, written atomically by
``save_weights``) and ``training_metadata.json`` (``{"epoch": ..., "batch": ...}``, Keras's
keys). A fit that starts with a backup present loads it and starts at the saved epoch; the
backup is deleted when a fit completes (``delete_checkpoint``).

Beyond Keras, the metadata also holds fastnn's random generator state, so that a resumed
fit shuffles its later epochs (and draws its dropout masks) exactly as the uninterrupted fit
would: with one thread, the resumed run ends with the same weights bit for bit.
"""

from __future__ import annotations

import json
import os
import shutil

from fastnn import _random
from fastnn.callbacks.base import Callback

_RANDOM_KEY = "fastnn_random_state"


class BackupAndRestore(Callback):
    """Back up the training state so that a new ``fit`` resumes after an interruption.

    Parameters
    ----------
    backup_dir : str or path
        Where the backup lives; use one directory per training job.
    save_freq : "epoch", int or False
        Back up at the end of every epoch, every ``save_freq`` batches (a resumed fit then
        restarts the interrupted epoch from the mid-epoch weights, as Keras does), or never.
    double_checkpoint : bool
        Keep the previous backup as ``*.bkp`` too, used when the latest one cannot be read.
    delete_checkpoint : bool
        Delete ``backup_dir`` when ``fit`` completes.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq not in ("epoch", False) and (
                isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. Received: "
                             f"save_freq={save_freq}. Expected either 'epoch', False or a "
                             "positive integer.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, "latest.weights.h5")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._batches_since_save = 0
        self._last_batch_seen = 0
        self._current_epoch = 0

    def overrides_batch_hooks(self) -> bool:
        # Only a backup every n batches needs fit to step batch by batch.
        return self.save_freq not in ("epoch", False)

    # ---- restore ---------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._batches_since_save = self._last_batch_seen = 0
        try:
            self._load()
        except (OSError, ValueError, KeyError) as exc:
            if not (self.double_checkpoint and os.path.exists(self._weights_path + ".bkp")):
                raise
            # The latest backup is unreadable (a crash while writing it): use the one before.
            shutil.copyfile(self._weights_path + ".bkp", self._weights_path)
            if os.path.exists(self._metadata_path + ".bkp"):
                shutil.copyfile(self._metadata_path + ".bkp", self._metadata_path)
            elif os.path.exists(self._metadata_path):
                os.remove(self._metadata_path)
            try:
                self._load()
            except (OSError, ValueError, KeyError):
                raise exc from None

    def _load(self) -> None:
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you "
                f"call `fit()`. Model {self.model.name} is unbuilt. You can build it "
                "beforehand by calling it on a batch of data.")
        if os.path.exists(self._weights_path):
            self.model.load_weights(self._weights_path)
        if os.path.exists(self._metadata_path):
            with open(self._metadata_path, encoding="utf-8") as f:
                metadata = json.load(f)
            self.model._initial_epoch = int(metadata["epoch"])
            self._current_epoch = int(metadata["epoch"])
            if _RANDOM_KEY in metadata:
                _random.generator().bit_generator.state = metadata[_RANDOM_KEY]

    # ---- back up ---------------------------------------------------------------------------

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq in ("epoch", False):
            return
        # Count batches across epochs as Keras does (batch indices restart each epoch).
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_since_save += added
        self._last_batch_seen = batch
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save()

    def _save(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._weights_path, self._metadata_path):
                if os.path.exists(path):
                    shutil.copyfile(path, path + ".bkp")
        self.model.save_weights(self._weights_path, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                    _RANDOM_KEY: _random.generator().bit_generator.state}
        # Written to a temporary file and renamed: a crash mid-write leaves the old one.
        tmp = self._metadata_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metadata, f)
        os.replace(tmp, self._metadata_path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)

    def get_config(self) -> dict:
        return {"backup_dir": self.backup_dir, "save_freq": self.save_freq,
                "double_checkpoint": self.double_checkpoint,
                "delete_checkpoint": self.delete_checkpoint}
