"""Callbacks (``keras.callbacks``): hooks that ``fit`` calls around epochs and batches.

``fit`` runs a whole epoch in one engine call; it runs batch by batch only while some callback
overrides a training batch hook (``Callback.overrides_batch_hooks``).
"""

from fastnn import _lazy
from fastnn._registry import Registry
from fastnn.callbacks.base import Callback, CallbackList, History
from fastnn.callbacks.early_stopping import EarlyStopping
from fastnn.callbacks.lambda_callback import LambdaCallback
from fastnn.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from fastnn.callbacks.monitor import MonitorCallback
from fastnn.callbacks.progbar import ProgbarLogger
from fastnn.callbacks.terminate_on_nan import TerminateOnNaN

# Callbacks of files, checkpoints, event logs and weight averages load on first use
# (fastnn._lazy): as attributes of this module, by name, or from a config.
_ON_FIRST_USE = {
    "BackupAndRestore": "fastnn.callbacks.backup_and_restore",
    "CSVLogger": "fastnn.callbacks.csv_logger",
    "ModelCheckpoint": "fastnn.callbacks.model_checkpoint",
    "SwapEMAWeights": "fastnn.callbacks.swap_ema_weights",
    "TensorBoard": "fastnn.callbacks.tensorboard",
}
__getattr__, __dir__ = _lazy.attach(globals(), _ON_FIRST_USE)

_CALLBACKS = {
    **{cls.__name__: cls
       for cls in (Callback, EarlyStopping, History, LambdaCallback, LearningRateScheduler,
                   ProgbarLogger, ReduceLROnPlateau, TerminateOnNaN)},
    **{name: _lazy.Lazy(module, name) for name, module in _ON_FIRST_USE.items()},
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
