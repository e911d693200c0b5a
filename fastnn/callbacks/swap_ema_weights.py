"""SwapEMAWeights (Keras 3's ``keras.callbacks.SwapEMAWeights``): evaluate with the moving
average of the weights that an optimizer with ``use_ema=True`` keeps.

Evaluation and prediction run with the averages swapped into the model, and the training
weights come back afterwards; with ``swap_on_epoch=True`` the averages are also in the model
between epochs (so ModelCheckpoint and EarlyStopping, listed after it, see them).
"""

from __future__ import annotations

import numpy as np

from fastnn.callbacks.base import Callback


class SwapEMAWeights(Callback):
    """Swap the model's weights with the optimizer's moving averages around evaluation."""

    def __init__(self, swap_on_epoch=False):
        super().__init__()
        self.swap_on_epoch = swap_on_epoch
        self._ema_weights_in_model = False

    def _optimizer(self):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not getattr(optimizer, "use_ema", False):
            raise ValueError("SwapEMAWeights must be used when `use_ema=True` is set on the "
                             f"optimizer. Received: use_ema="
                             f"{getattr(optimizer, 'use_ema', None)}")
        return optimizer

    def _swap(self) -> None:
        optimizer = self._optimizer()
        for var, average in zip(optimizer._ema_owners,
                                optimizer._model_variables_moving_average):
            current = np.array(var.value)
            var.assign(average)
            average[...] = current

    def _finalize(self) -> None:
        # The averages take the (swapped-in) model values, so that fit's final overwrite
        # of the weights by their averages keeps them.
        optimizer = self._optimizer()
        for var, average in zip(optimizer._ema_owners,
                                optimizer._model_variables_moving_average):
            average[...] = var.value

    def on_train_begin(self, logs=None):
        self._optimizer()        # fail before training, not at the first evaluation

    def on_epoch_begin(self, epoch, logs=None):
        if self.swap_on_epoch and self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    def on_epoch_end(self, epoch, logs=None):
        if self.swap_on_epoch and not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True
            if epoch == self.params["epochs"] - 1:
                self._finalize()

    def on_test_begin(self, logs=None):
        if not self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = True

    def on_test_end(self, logs=None):
        if self._ema_weights_in_model:
            self._swap()
            self._ema_weights_in_model = False

    on_predict_begin = on_test_begin
    # Keras 3.x's on_predict_end tests the flag the wrong way round and leaves the averages in
    # the model after predict; fastnn puts the training weights back, as after evaluate.
    on_predict_end = on_test_end

    def get_config(self) -> dict:
        return {"swap_on_epoch": self.swap_on_epoch}
