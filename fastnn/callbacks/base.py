"""Callback, CallbackList and History (Keras 3 semantics).

The engine runs a whole epoch in one call; it runs batch by batch only when some callback
overrides a batch-level hook, which ``CallbackList.needs_batch_hooks`` tells.
"""

from __future__ import annotations

from typing import Any

_BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


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
        cls = type(self)
        return any(getattr(cls, h) is not getattr(Callback, h) or h in vars(self)
                   for h in _BATCH_HOOKS)

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
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


class CallbackList:
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    @property
    def needs_batch_hooks(self) -> bool:
        return any(cb.overrides_batch_hooks() for cb in self.callbacks)

    def call(self, hook: str, *args) -> None:
        if args and (args[-1] is None or isinstance(args[-1], dict)):
            # Keras 3 hands every hook a dict of plain floats, {} when there is nothing yet
            # (callbacks written for it call logs.keys()).
            args = (*args[:-1], {k: _plain(v) for k, v in sorted((args[-1] or {}).items())})
        for cb in self.callbacks:
            getattr(cb, hook)(*args)
            if hook in ("on_train_batch_begin", "on_train_batch_end"):
                # Keras 2 scripts override the old names.
                getattr(cb, hook.replace("train_", ""))(*args)
