"""Keras 3's console output: the progress bar (verbose=1) and the epoch line (verbose=2)."""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from fastnn.callbacks.base import Callback

_BAR_WIDTH = 20
_DONE, _TODO, _BOLD, _RESET = "\x1b[32m", "\x1b[37m", "\x1b[1m", "\x1b[0m"


def format_value(value: float, verbose: int) -> str:
    """``.4f`` above 1e-3, ``.4e`` below (verbose=1 compares the absolute value); a vector
    result (an F1Score per class) shows its mean, as Keras's bar does."""
    if not isinstance(value, (int, float)):
        value = float(np.mean(value))
    big = abs(value) > 1e-3 if verbose == 1 else value > 1e-3
    return f"{value:.4f}" if big else f"{value:.4e}"


def format_step_time(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/step"
    return f" {seconds * 1e6:.0f}us/step"


class Progbar:
    """One line that repaints itself: ``current/target ━━━━ elapsed step-time - key: value``."""

    def __init__(self, target: int, verbose: int = 1, stream=None):
        self.target = target
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self.start = time.perf_counter()
        self.first_step_end: float | None = None
        self.first_step_count = 0
        self.previous_width = 0

    def _step_time(self, current: int, now: float) -> float:
        # The mean step time leaves out the first update (Keras excludes step 1).
        if self.first_step_end is None or current <= self.first_step_count:
            return (now - self.start) / max(current, 1)
        return (now - self.first_step_end) / (current - self.first_step_count)

    def update(self, current: int, logs: dict[str, float] | None = None, final: bool = False):
        now = time.perf_counter()
        if self.first_step_end is None and current > 0:
            self.first_step_end, self.first_step_count = now, current
        values = "".join(f" - {k}: {format_value(v, self.verbose)}"
                         for k, v in (logs or {}).items())
        ndigits = int(math.log10(self.target)) + 1 if self.target else 1
        step = self._step_time(current, now)
        # A stream of unknown length: Keras's "n/Unknown", and "n/n" once it has ended.
        target = self.target or (current if final else "Unknown")
        if self.verbose == 2:
            if final:
                self.stream.write(f"{current:>{ndigits}}/{target} - "
                                  f"{now - self.start:.0f}s -{format_step_time(step)}{values}\n")
                self.stream.flush()
            return
        filled = int(_BAR_WIDTH * current / self.target) if self.target else _BAR_WIDTH
        bar = f"{_DONE}{'━' * filled}{_TODO}{'━' * (_BAR_WIDTH - filled)}{_RESET}"
        when = (now - self.start if final
                else step * max(self.target - current, 0))
        text = (f"{_BOLD}{current:>{ndigits}}/{target}{_RESET} {bar} "
                f"{_BOLD}{when:.0f}s{_RESET}{format_step_time(step)}{values}")
        pad = max(self.previous_width - len(text), 0)
        self.stream.write("\b" * self.previous_width + "\r" + text + " " * pad
                          + ("\n" if final else ""))
        self.stream.flush()
        self.previous_width = len(text)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/E`` (when E > 1) and a progress bar or one line per epoch."""

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self.bar: Progbar | None = None

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if epochs > 1:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        self.bar = Progbar(self.params.get("steps") or 0, self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        if self.verbose == 1 and self.bar is not None:
            self.bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.bar is not None:
            self.bar.update(self.params.get("steps") or 0, logs, final=True)

    def get_config(self) -> dict:
        return {"verbose": self.verbose}

    def overrides_batch_hooks(self) -> bool:
        # The model updates the bar between engine chunks; it never needs per-batch steps.
        return False
