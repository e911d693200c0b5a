"""The engine's view of a loss (a plain LossSpec), the fused softmax / sigmoid specs, and the
compile-time resolution of "crossentropy"/"ce"."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import NamedTuple

from fastnn._kernels import _losses as _k
from fastnn.losses import get  # defined before fastnn.losses imports this module
from fastnn.losses.classes import Loss, LossFunctionWrapper
from fastnn.losses.functions import (
    BUILTIN_FUNCTIONS,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
)
from fastnn.losses.ops_losses import categorical_focal_crossentropy, dice, tversky


def is_binary_or_sparse_categorical(
    y_true_shape: Sequence[int], y_pred_shape: Sequence[int]
) -> tuple[bool, bool]:
    """Keras's guess of the task from the first batch's shapes: binary when the output has one
    column; sparse categorical when y has a lower rank or one column against several."""
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (
        y_true_shape[-1] == 1 and y_pred_shape[-1] > 1
    )
    return is_binary, is_sparse


def resolve_compile_loss(identifier, y_true_shape, y_pred_shape) -> Loss:
    """The Loss object ``compile(loss=identifier)`` uses, named as Keras names it.

    ``"crossentropy"``/``"ce"`` (any case) picks binary, sparse categorical or categorical
    cross-entropy from the shapes of y_true and the model's output; functions and names are
    wrapped in a :class:`LossFunctionWrapper` named with the user's string (or the function's
    name).
    """
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        binary, sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
        fn = (
            binary_crossentropy
            if binary
            else sparse_categorical_crossentropy
            if sparse
            else categorical_crossentropy
        )
    else:
        fn = get(identifier)
    if fn is None or isinstance(fn, Loss):
        return fn
    name = identifier if isinstance(identifier, str) else getattr(fn, "__name__", None)
    return LossFunctionWrapper(fn, name=name)


class LossSpec(NamedTuple):
    """What the engine needs to compute a built-in loss and its gradient.

    ``kernel`` is a ``fastnn._kernels._losses.LOSS_IDS`` value; ``sparse`` says y_true holds
    integer labels (use ``sparse_loss_forward_backward``); ``from_logits`` says the kernel
    takes logits (the last activation's output is not to be applied / differentiated).
    """

    kernel: int
    sparse: bool
    label_smoothing: float = 0.0
    delta: float = 1.0
    gamma: float = 2.0
    alpha: float = 0.25
    apply_class_balancing: bool = False
    from_logits: bool = False
    reduction: str | None = "sum_over_batch_size"
    beta: float = 0.5


_OPS_DEFAULTS = {
    fn: {name: p.default for name, p in inspect.signature(fn).parameters.items()
         if p.default is not inspect.Parameter.empty}
    for fn in (categorical_focal_crossentropy, dice, tversky)
}


def compiled_ops_loss(fn, kwargs: dict, output_rank: int = 2) -> bool:
    """Whether an ops-written loss (fastnn.losses.ops_losses) with these arguments has an
    engine kernel: on a 2-D output, categorical focal cross-entropy with one alpha for every
    class over the last axis; Dice and Tversky over the last axis (a row kernel) or over
    everything (axis=None: the whole-batch kernel). Circle, a per-class alpha, other axes
    and outputs of higher rank (the engine's built-in losses take 2-D targets) stay Python
    code (python_loss.PythonLoss)."""
    if fn not in _OPS_DEFAULTS or output_rank != 2:
        return False
    kwargs = {**_OPS_DEFAULTS[fn], **kwargs}     # a bare function runs with its defaults
    axis = kwargs["axis"]
    if isinstance(axis, bool):
        return False
    last = axis in (-1, 1)
    if fn is categorical_focal_crossentropy:
        alpha = kwargs["alpha"]
        return last and isinstance(alpha, numbers.Real) and not isinstance(alpha, bool)
    if fn in (dice, tversky):
        return axis is None or last
    return False


def _builtin_fn_and_kwargs(loss, output_rank: int = 2
                           ) -> tuple[Callable, dict, str | None] | None:
    if isinstance(loss, LossFunctionWrapper):
        if type(loss).call is not LossFunctionWrapper.call:
            return None
        if loss.fn in BUILTIN_FUNCTIONS.values() or compiled_ops_loss(
                loss.fn, loss._fn_kwargs, output_rank):
            return loss.fn, loss._fn_kwargs, loss.reduction
        return None
    if callable(loss) and (loss in BUILTIN_FUNCTIONS.values()
                           or compiled_ops_loss(loss, {}, output_rank)):
        return loss, {}, "sum_over_batch_size"
    return None


def engine_spec(loss) -> LossSpec:
    """The :class:`LossSpec` of a built-in loss given as a name, config, function or instance.

    Raises ValueError for anything the engine cannot run: custom Python losses (a documented
    limitation), "crossentropy"/"ce" before :func:`resolve_compile_loss`, axis other than the
    last, and ``ignore_class``.
    """
    if isinstance(loss, str) and loss.lower() in ("crossentropy", "ce"):
        raise ValueError(
            f"The loss {loss!r} depends on the data's shapes: resolve it with "
            "resolve_compile_loss(loss, y_true_shape, y_pred_shape) first."
        )
    obj = get(loss) if isinstance(loss, (str, dict, type)) else loss
    found = _builtin_fn_and_kwargs(obj)
    if found is None:
        name = getattr(obj, "name", None) or getattr(obj, "__name__", None) or repr(obj)
        raise ValueError(
            f"The loss {name!r} is custom Python code, which fastnn's engine cannot run: it "
            "computes the built-in losses only (" + ", ".join(BUILTIN_FUNCTIONS) + " and their "
            "classes). Use one of them."
        )
    fn, kw, reduction = found
    if fn in (dice, tversky):
        kernel = fn.__name__ + ("_batch" if kw.get("axis") is None else "")
        return LossSpec(kernel=int(_k.LOSS_IDS[kernel]), sparse=False,
                        alpha=float(kw.get("alpha", 0.5)), beta=float(kw.get("beta", 0.5)),
                        reduction=reduction)
    if kw.get("axis", -1) not in (-1, 1):
        raise ValueError(
            f"The engine computes {fn.__name__} over the last axis only; got axis={kw['axis']}."
        )
    if kw.get("ignore_class") is not None:
        raise ValueError(
            "The engine does not support sparse_categorical_crossentropy's ignore_class."
        )
    from_logits = bool(kw.get("from_logits", False))
    kernel = fn.__name__
    if from_logits and kernel == "binary_crossentropy":
        kernel = "sigmoid_binary_crossentropy"
    elif from_logits and kernel in ("categorical_crossentropy", "sparse_categorical_crossentropy",
                                    "categorical_focal_crossentropy"):
        kernel = "softmax_" + kernel
    return LossSpec(
        kernel=int(_k.LOSS_IDS[kernel]),
        sparse=fn is sparse_categorical_crossentropy,
        label_smoothing=float(kw.get("label_smoothing", 0.0)),
        delta=float(kw.get("delta", 1.0)),
        gamma=float(kw.get("gamma", 2.0)),
        alpha=float(kw.get("alpha", 0.25)),
        apply_class_balancing=bool(kw.get("apply_class_balancing", False)),
        from_logits=from_logits,
        reduction=reduction,
    )


_WHOLE_BATCH = (int(_k.LOSS_IDS["dice_batch"]), int(_k.LOSS_IDS["tversky_batch"]))


def spec_depends_on_batch(spec) -> bool:
    """Whether a compiled loss gives one value per batch (Dice / Tversky with axis=None), so
    evaluate must go batch by batch as fit does."""
    return isinstance(spec, LossSpec) and int(spec.kernel) in _WHOLE_BATCH


_FUSED = {
    ("softmax", "categorical_crossentropy"): "softmax_categorical_crossentropy",
    ("softmax", "sparse_categorical_crossentropy"): "softmax_sparse_categorical_crossentropy",
    ("sigmoid", "binary_crossentropy"): "sigmoid_binary_crossentropy",
    ("sigmoid", "binary_focal_crossentropy"): "binary_focal_crossentropy",
    # Not a Keras fusion (Keras applies the softmax, then renormalizes and clips): the fused
    # kernel computes that same function from the logits and saves the activation's backward.
    ("softmax", "categorical_focal_crossentropy"): "softmax_categorical_focal_crossentropy",
}
_KERNEL_NAMES = {int(v): k for k, v in _k.LOSS_IDS.items()}


def fused_logits_spec(spec: LossSpec, output_activation_name: str | None) -> LossSpec | None:
    """The spec computing ``spec``'s loss from the logits of a softmax / sigmoid output layer,
    or None when there is nothing to fuse.

    Keras's TensorFlow backend computes categorical / sparse categorical cross-entropy after a
    softmax, and binary (and binary focal) cross-entropy after a sigmoid, from the cached logits
    when ``from_logits=False``: stable and unclipped. The engine then skips the output
    activation and feeds its input (the logits) to the returned spec.
    """
    if spec.from_logits or output_activation_name is None:
        return None
    fused = _FUSED.get((output_activation_name, _KERNEL_NAMES.get(int(spec.kernel))))
    if fused is None:
        return None
    return spec._replace(kernel=int(_k.LOSS_IDS[fused]), from_logits=True)
