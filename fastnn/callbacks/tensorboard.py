"""TensorBoard (Keras 3's ``keras.callbacks.TensorBoard``): event files that TensorBoard reads.

Keras writes through ``tf.summary``; fastnn writes the same runs, tags and steps through
tensorboardX (the optional extra ``fastnn[tensorboard]``), which needs no TensorFlow:

- ``<log_dir>/train``: ``epoch_<key>`` per epoch (the logs without ``val_``, plus
  ``epoch_learning_rate``), ``batch_<key>`` at global batch steps 1, 2, ... when
  ``update_freq`` is ``"batch"`` or every ``update_freq`` batches, weight histograms
  ``<path>/histogram`` every ``histogram_freq`` epochs, and the model's JSON config (tag
  ``keras``, which TensorBoard's graph tab draws) when ``write_graph``;
- ``<log_dir>/validation``: ``epoch_<key>`` of the ``val_`` logs, and after every evaluation
  ``evaluation_<key>_vs_iterations`` at the optimizer's step count.
"""

from __future__ import annotations

import itertools
import os
import time
import warnings

import numpy as np

from fastnn.callbacks.base import Callback

_EXTRA_HINT = ("TensorBoard needs the optional package tensorboardX to write event files: "
               "pip install 'fastnn[tensorboard]' (or pip install tensorboardX).")


def _tensorboardx():
    try:
        import tensorboardX
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    return tensorboardX


# One number per event file this process opens, as TensorFlow numbers its files: two runs
# opened within the same second get distinct names.
_FILE_NUMBERS = itertools.count()


class _Run:
    """One run's event file, written synchronously (tensorboardX's SummaryWriter queues
    events for a background thread, and its flush does not wait for that queue, so a file
    read right after a fit could miss its last events)."""

    def __init__(self, directory: str):
        from tensorboardX.event_file_writer import EventsWriter

        os.makedirs(directory, exist_ok=True)
        self._writer = EventsWriter(os.path.join(directory, "events"),
                                    f".{os.getpid()}.{next(_FILE_NUMBERS)}.v2")

    def add(self, summary, step: int) -> None:
        from tensorboardX.proto.event_pb2 import Event

        self._writer.write_event(Event(wall_time=time.time(), step=int(step), summary=summary))

    def flush(self) -> None:
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class TensorBoard(Callback):
    """Write the training curves (and optionally histograms) for TensorBoard.

    Parameters
    ----------
    log_dir : str or path
        The run's directory; ``train/`` and ``validation/`` are created inside it.
    histogram_freq : int
        Every how many epochs to write each weight's histogram (0: never).
    write_graph : bool
        Write the model's configuration, drawn by TensorBoard's graph tab.
    write_steps_per_second : bool
        Also write ``epoch_steps_per_second`` (and ``batch_steps_per_second``).
    update_freq : "epoch", "batch" or int
        ``"batch"`` (or n) also writes the running batch logs every batch (every n batches);
        fit then steps batch by batch.
    write_images, profile_batch, embeddings_freq, embeddings_metadata
        Keras's arguments for images of weights, the TensorFlow profiler and the embedding
        projector: fastnn does not write these, so anything but the default is refused.
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        unsupported = {"write_images": (write_images, False),
                       "profile_batch": (profile_batch, 0),
                       "embeddings_freq": (embeddings_freq, 0),
                       "embeddings_metadata": (embeddings_metadata, None)}
        for name, (value, default) in unsupported.items():
            if value != default:
                raise ValueError(f"TensorBoard({name}={value!r}) is not supported by fastnn, "
                                 f"which writes scalars, histograms and the model graph; "
                                 f"leave {name} at {default!r}.")
        if update_freq not in ("epoch", "batch") and (
                isinstance(update_freq, bool) or not isinstance(update_freq, (int, np.integer))
                or update_freq < 1):
            raise ValueError("`update_freq` must be 'epoch', 'batch' or a positive integer; "
                             f"received {update_freq!r}.")
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, (int, np.integer)) \
                or histogram_freq < 0:
            raise ValueError("`histogram_freq` must be a non-negative integer; received "
                             f"{histogram_freq!r}.")
        self._writer_module = _tensorboardx()   # fail here, naming the extra, not mid-fit
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = int(histogram_freq)
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.profile_batch = profile_batch
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._writers: dict = {}
        self._global_train_batch = 0
        self._batch_start = self._epoch_start = 0.0
        self._epoch_start_iterations = 0

    # ---- writers ---------------------------------------------------------------------------

    def _writer(self, run: str) -> _Run:
        if run not in self._writers:
            self._writers[run] = _Run(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _scalars(self, run: str, prefix: str, logs: dict, step: int) -> None:
        writer = self._writer(run)
        for name, value in logs.items():
            writer.add(self._writer_module.summary.scalar(f"{prefix}{name}", float(value)),
                       step)
        writer.flush()

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _write_model_config(self) -> None:
        """The model's JSON as Keras's ``keras_model_summary`` writes it (plugin
        ``graph_keras_model``), at step 0 of the train run."""
        try:
            config = self.model.to_json()
        except Exception as exc:  # noqa: BLE001 (as Keras: no graph, training goes on)
            warnings.warn(f"Model failed to serialize as JSON. Ignoring... {exc}",
                          stacklevel=2)
            return
        from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboardX.proto.tensor_pb2 import TensorProto
        from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="graph_keras_model", content=b"1"))
        tensor = TensorProto(dtype=7, string_val=[config.encode()],   # 7: DT_STRING
                             tensor_shape=TensorShapeProto())
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        writer = self._writer("train")
        writer.add(summary, 0)
        writer.flush()

    # ---- hooks -----------------------------------------------------------------------------

    def set_model(self, model) -> None:
        super().set_model(model)
        self._close_writers()
        if self.write_graph and type(model).__name__ in ("Sequential", "Functional", "Model"):
            self._write_model_config()

    def overrides_batch_hooks(self) -> bool:
        # Batch scalars need fit's per-batch steps; epoch scalars do not.
        return self.update_freq != "epoch"

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_train_batch_begin(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        logs = dict(logs or {})
        if self.write_steps_per_second:
            logs = {"steps_per_second": 1.0 / max(time.perf_counter() - self._batch_start,
                                                  1e-9), **logs}
        self._scalars("train", "batch_", logs, self._global_train_batch)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._epoch_start_iterations = self._iterations()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        if self.write_steps_per_second:
            seconds = max(time.perf_counter() - self._epoch_start, 1e-9)
            train["steps_per_second"] = (self._iterations()
                                         - self._epoch_start_iterations) / seconds
        if logs:
            self._scalars("train", "epoch_", train, epoch)
        if val:
            self._scalars("validation", "epoch_", val, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._histograms(epoch)

    def on_test_end(self, logs=None):
        if getattr(self.model, "optimizer", None) is None:
            return
        self._scalars("validation", "evaluation_", {f"{k}_vs_iterations": v
                                                    for k, v in (logs or {}).items()},
                      self._iterations())

    def _iterations(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        return int(np.asarray(optimizer.iterations)) if optimizer is not None else 0

    def _histograms(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                tag = f"{weight.path.replace(':', '_')}/histogram"
                writer.add(self._writer_module.summary.histogram(
                    tag, np.asarray(weight, dtype=np.float64), "auto"), epoch)
        writer.flush()

    def get_config(self) -> dict:
        return {"log_dir": self.log_dir, "histogram_freq": self.histogram_freq,
                "write_graph": self.write_graph, "write_images": self.write_images,
                "write_steps_per_second": self.write_steps_per_second,
                "update_freq": "batch" if self.update_freq == 1 else self.update_freq,
                "profile_batch": self.profile_batch, "embeddings_freq": self.embeddings_freq,
                "embeddings_metadata": self.embeddings_metadata}
