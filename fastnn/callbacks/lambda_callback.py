"""LambdaCallback: a callback made of plain functions."""

from __future__ import annotations

from fastnn.callbacks.base import Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
          "on_train_batch_begin", "on_train_batch_end")


class LambdaCallback(Callback):
    """Each given function replaces that hook: ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``,
    ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``; other keyword
    arguments (e.g. Keras 2's ``on_batch_end``) become attributes, as in Keras. A batch
    function makes ``fit`` run its engine batch by batch.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        given = dict(zip(_HOOKS, (on_epoch_begin, on_epoch_end, on_train_begin, on_train_end,
                                  on_train_batch_begin, on_train_batch_end)))
        self._functions = {**{k: v for k, v in given.items() if v is not None}, **kwargs}
        for hook, function in given.items():
            if function is not None:
                setattr(self, hook, function)

    def get_config(self) -> dict:
        return dict(self._functions)
