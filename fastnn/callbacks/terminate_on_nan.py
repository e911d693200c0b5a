"""TerminateOnNaN: stop training at the first batch whose running loss is NaN or infinite."""

from __future__ import annotations

import math

from fastnn.callbacks.base import Callback


class TerminateOnNaN(Callback):
    """Stop (or, with ``raise_error``, raise RuntimeError) when the loss stops being finite.

    It watches every batch, so ``fit`` runs its engine batch by batch while it is present.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. Loss value: "
                               f"{loss}. Terminating training immediately.")
        print(f"Batch {batch}: Invalid loss, terminating training", flush=True)
        self.model.stop_training = True

    def get_config(self) -> dict:
        return {"raise_error": self.raise_error}
