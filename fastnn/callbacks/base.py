"""Callback, CallbackList and History (Keras 3 semantics).

The engine runs a whole epoch in one call; it runs batch by batch only when some callback
overrides a batch-level hook, which ``CallbackList.needs_batch_hooks`` tells.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
_TEST_BATCH_HOOKS = ("on_test_batch_begin", "on_test_batch_end")
_PREDICT_BATCH_HOOKS = ("on_predict_batch_begin", "on_predict_batch_end")
_ALL_HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
              "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
              "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: override the hooks you need. ``self.model`` and ``self.params`` are set
    by the model before training starts."""

    def __init__(self):
        self.model = None
        self.params: dict[str, Any] = {}
        self.validation_data = None

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    # Keras 3's hooks, all no-ops here.
    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...
    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...
    # Keras 2's aliases of the training batch hooks.
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def overrides_batch_hooks(self) -> bool:
        """True if a training batch hook does something (the engine then steps per batch):
        overridden in a subclass or set on the instance (LambdaCallback)."""
        return _overrides(self, _BATCH_HOOKS)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (none for the base class)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)


class History(Callback):
    """Records every epoch's logs: ``history[key]`` is a list with one float per epoch."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


def _plain(value):
    # Scalars become floats; arrays (predict's batch outputs) and structures stay as they are.
    if isinstance(value, (list, tuple, dict)) or (isinstance(value, np.ndarray) and value.ndim):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _overrides(cb: Callback, hooks: tuple[str, ...]) -> bool:
    cls = type(cb)
    return any(getattr(cls, h) is not getattr(Callback, h) or h in vars(cb) for h in hooks)


class CallbackList:
    """Calls each hook on every callback in order (Keras 3's ``keras.callbacks.CallbackList``).

    ``add_history`` and ``add_progbar`` append a History and a ProgbarLogger as Keras does;
    ``params`` (Keras's keys: ``verbose``, ``epochs``, ``steps``) go to every callback.
    Every hook hands the callbacks a dict of plain floats, ``{}`` when there is nothing yet.
    """

    def __init__(self, callbacks=None, add_history: bool = False, add_progbar: bool = False,
                 model=None, **params):
        self.callbacks = list(callbacks or [])
        if not all(isinstance(cb, Callback) for cb in self.callbacks):
            raise ValueError("`callbacks` must be a list of fastnn.callbacks.Callback objects.")
        if add_progbar and not any(type(cb).__name__ == "ProgbarLogger"
                                   for cb in self.callbacks):
            from fastnn.callbacks.progbar import ProgbarLogger

            self.callbacks.append(ProgbarLogger(params.get("verbose", 1) or 1))
        if add_history and not any(isinstance(cb, History) for cb in self.callbacks):
            self.callbacks.append(History())
        self.model = None
        self.params = params
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def append(self, callback: Callback) -> None:
        self.callbacks.append(callback)

    def __iter__(self):
        return iter(self.callbacks)

    def set_model(self, model) -> None:
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    @property
    def needs_batch_hooks(self) -> bool:
        """Some callback acts between training batches (fit then steps batch by batch)."""
        return any(cb.overrides_batch_hooks() for cb in self.callbacks)

    @property
    def needs_test_batch_hooks(self) -> bool:
        return any(_overrides(cb, _TEST_BATCH_HOOKS) for cb in self.callbacks)

    @property
    def needs_predict_batch_hooks(self) -> bool:
        return any(_overrides(cb, _PREDICT_BATCH_HOOKS) for cb in self.callbacks)

    def call(self, hook: str, *args) -> None:
        if args and (args[-1] is None or isinstance(args[-1], dict)):
            logs = args[-1] or {}
            args = (*args[:-1], {k: _plain(logs[k]) for k in sorted(logs)})
        for cb in self.callbacks:
            getattr(cb, hook)(*args)
            if hook in ("on_train_batch_begin", "on_train_batch_end"):
                # Keras 2 scripts override the old names.
                getattr(cb, hook.replace("train_", ""))(*args)


def _hook(name: str):
    def hook(self, *args, **kwargs):
        self.call(name, *args, *kwargs.values())
    hook.__name__ = name
    hook.__doc__ = f"Calls ``{name}`` on every callback."
    return hook


for _name in _ALL_HOOKS:
    setattr(CallbackList, _name, _hook(_name))
