"""Losses written in Python: a function ``(y_true, y_pred) -> per-sample values``, a
``Loss`` subclass with its own ``call``, or a ``LossFunctionWrapper`` around such a function.

The engine runs the model; once per batch it hands the output's values to a ``PythonLoss``,
which evaluates the user's code on NumPy arrays and, in training, differentiates it with
respect to ``y_pred`` (autograd, through :mod:`fastnn._autodiff`). The engine then runs the
backward pass and the optimizer step in C as for a built-in loss.

The reduction is Keras 3's: per-sample values times sample weights, summed, over the number
of values for "sum_over_batch_size" (a function returning one value per row averages rows; one
returning a value per element averages elements), plain sum for "sum", over the weights' sum
for "mean_with_sample_weight".
"""

from __future__ import annotations

import threading

import numpy as np

from fastnn import config
from fastnn.losses.classes import Loss, LossFunctionWrapper
from fastnn.losses.engine import _builtin_fn_and_kwargs

_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight")


def custom_loss(loss, output_rank: int = 2):
    """``loss`` when it is Python code fastnn runs per batch, else None (a built-in, a name,
    a config: the engine computes those). An ops-written loss is Python code only with
    arguments (or an output rank) its kernel does not cover (engine.compiled_ops_loss)."""
    if isinstance(loss, (str, dict, type)) or loss is None:
        return None
    if _builtin_fn_and_kwargs(loss, output_rank) is not None:
        return None
    if isinstance(loss, Loss) or callable(loss):
        return loss
    return None


def loss_name(loss) -> str:
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) \
        or type(loss).__name__


class PythonLoss:
    """The engine's callback for one output's Python loss (``Engine.set_external_loss``).

    ``bind(y, sample_weight)`` gives it the call's targets and weights (whole arrays, one row
    per sample); the engine then calls it with each batch's predictions and row numbers.
    """

    def __init__(self, loss, output_shape: tuple, output_name: str):
        self.loss = loss
        self.name = loss_name(loss)
        self.output_shape = tuple(output_shape)    # (None, ...) of the model's output
        self.output_name = output_name
        reduction = getattr(loss, "reduction", "sum_over_batch_size")
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"The custom loss '{self.name}' has reduction={reduction!r}; a loss that "
                f"trains a model must reduce to one number: use one of {list(_REDUCTIONS)}.")
        self.reduction = reduction
        self.dtype = np.dtype(getattr(loss, "dtype", None) or config.floatx())
        # Per thread: concurrent evaluate calls bind their own data (the engine calls the
        # loss in the thread that called it).
        self._bound = threading.local()

    sparse = False       # the targets reach the loss as given, not as class indices

    def bind(self, y, sample_weight) -> None:
        self._bound.y, self._bound.sample_weight = y, sample_weight
        self._bound.batches = 0

    # ---- the engine's call ---------------------------------------------------------------

    def __call__(self, pred: np.ndarray, rows: np.ndarray, with_grad: bool):
        from fastnn import _autodiff

        bound = self._bound
        batch = bound.batches
        bound.batches += 1
        y_true = bound.y[rows]
        weights = None if bound.sample_weight is None else bound.sample_weight[rows]
        shaped = pred.reshape((pred.shape[0], *self.output_shape[1:]))
        where = f"The custom loss '{self.name}' of output '{self.output_name}'"
        try:
            if with_grad:
                value, grad = _autodiff.value_and_grad(
                    self._objective, name=f"the custom loss '{self.name}'")(
                        shaped, y_true, weights)
                grad = np.asarray(grad, dtype=pred.dtype).reshape(pred.shape)
            else:
                value, grad = self._objective(shaped, y_true, weights), None
            value = float(np.asarray(value))
        except _autodiff.NotDifferentiableError as exc:
            raise _marked(exc)
        except Exception as exc:
            raise _marked(_retyped(exc, f"{where} failed on batch {batch}: {exc}")) from exc
        if not np.isfinite(value) or (grad is not None and not np.all(np.isfinite(grad))):
            raise _marked(ValueError(
                f"{where} gave a non-finite {'value' if not np.isfinite(value) else 'gradient'}"
                f" on batch {batch} (loss {value}); check it for log(0), division by zero or "
                "overflow (clip y_pred with fastnn.ops.clip, add fastnn.ops.epsilon())."))
        return value, grad

    def _objective(self, y_pred, y_true, sample_weight):
        import autograd.numpy as anp  # loaded on first use: `import fastnn` stays light

        values = self._values(y_true, y_pred)
        shape = tuple(np.shape(values))
        rows = y_pred.shape[0]
        if shape and shape[0] != rows:
            raise ValueError(
                f"it returned values of shape {shape} for a batch of {rows} rows; return "
                f"one value per sample (shape ({rows},)), per element, or one number.")
        if sample_weight is not None:
            w = sample_weight.astype(self.dtype)
            if shape:
                w = w.reshape((rows,) + (1,) * (len(shape) - 1))
            weighted = values * w
        else:
            weighted = values
        if getattr(self.loss, "masks_zero_values", False) and shape:
            # Keras masks the values that are exactly 0 (Circle's rows without a pair): they
            # leave the mean's count, the others weigh n / valid each.
            from autograd.tracer import getval

            mask = (np.asarray(getval(values)) > 0).astype(self.dtype)
            if self.reduction in ("sum_over_batch_size", "mean"):
                valid = mask.sum()
                mask *= mask.size / valid if valid else 0
            weighted = weighted * mask
        total = anp.sum(weighted)
        if self.reduction in ("sum_over_batch_size", "mean"):
            # One number for the batch (Dice's axis=None) times per-row weights is, as in
            # Keras, a value per row: the mean divides by the rows.
            count = np.shape(weighted)
            return total / max(1, int(np.prod(count)) if count else 1)
        if self.reduction == "mean_with_sample_weight":
            denominator = rows if sample_weight is None else float(np.sum(sample_weight))
            return total / denominator
        return total

    def _values(self, y_true, y_pred):
        y_true = np.asarray(y_true, dtype=self.dtype)
        loss = self.loss
        if isinstance(loss, LossFunctionWrapper):
            y_true = _match_rank(y_true, y_pred)
            return loss.fn(y_true, y_pred, **loss._fn_kwargs)
        if isinstance(loss, Loss):
            return loss.call(y_true, y_pred)
        return loss(_match_rank(y_true, y_pred), y_pred)


def _marked(exc: BaseException) -> BaseException:
    # The trainer restores the model for errors of Python pieces (fit must change nothing).
    exc.fastnn_python_piece = True
    return exc


def _retyped(exc: Exception, message: str) -> Exception:
    """``exc``'s type with ``message`` (a type whose constructor takes other arguments
    becomes a RuntimeError)."""
    try:
        return type(exc)(message)
    except Exception:   # noqa: BLE001 (any constructor failure: fall back to RuntimeError)
        return RuntimeError(message)


def _match_rank(y_true: np.ndarray, y_pred) -> np.ndarray:
    """Keras's squeeze_or_expand_to_same_rank, on the targets only (the prediction is being
    differentiated): (n,) labels against an (n, 1) output become (n, 1), and the other way."""
    rank = len(y_pred.shape)
    if y_true.ndim == rank - 1 and y_pred.shape[-1] == 1:
        return y_true.reshape(*y_true.shape, 1)
    if y_true.ndim == rank + 1 and y_true.shape[-1] == 1:
        return y_true.reshape(y_true.shape[:-1])
    return y_true
