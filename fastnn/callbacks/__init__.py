"""Callbacks (``keras.callbacks``): hooks that ``fit`` calls around epochs and batches.

``fit`` runs a whole epoch in one engine call; it runs batch by batch only while some callback
overrides a training batch hook (``Callback.overrides_batch_hooks``).
"""

from fastnn._registry import Registry
from fastnn.callbacks.backup_and_restore import BackupAndRestore
from fastnn.callbacks.base import Callback, CallbackList, History
from fastnn.callbacks.csv_logger import CSVLogger
from fastnn.callbacks.early_stopping import EarlyStopping
from fastnn.callbacks.lambda_callback import LambdaCallback
from fastnn.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from fastnn.callbacks.model_checkpoint import ModelCheckpoint
from fastnn.callbacks.monitor import MonitorCallback
from fastnn.callbacks.progbar import ProgbarLogger
from fastnn.callbacks.swap_ema_weights import SwapEMAWeights
from fastnn.callbacks.tensorboard import TensorBoard
from fastnn.callbacks.terminate_on_nan import TerminateOnNaN

_CALLBACKS = {
    cls.__name__: cls
    for cls in (BackupAndRestore, Callback, CSVLogger, EarlyStopping, History, LambdaCallback,
                LearningRateScheduler, ModelCheckpoint, ProgbarLogger, ReduceLROnPlateau,
                SwapEMAWeights, TensorBoard, TerminateOnNaN)
}
_REGISTRY = Registry("callback", _CALLBACKS, module="keras.callbacks")


def get(identifier):
    """A callback from a name (built with its defaults), a config dict or an instance."""
    return _REGISTRY.get(identifier, accept=lambda x: isinstance(x, Callback))


def serialize(callback):
    return _REGISTRY.serialize(callback)


def deserialize(config):
    return _REGISTRY.deserialize(config)


__all__ = [*_CALLBACKS, "CallbackList", "MonitorCallback",  # noqa: PLE0604 (class names)
           "deserialize", "get", "serialize"]
