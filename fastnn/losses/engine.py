"""The engine's view of a loss (a plain LossSpec), the fused softmax / sigmoid specs, and the
compile-time resolution of "crossentropy"/"ce"."""

from __future__ import annotations

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


def _builtin_fn_and_kwargs(loss) -> tuple[Callable, dict, str | None] | None:
    if isinstance(loss, LossFunctionWrapper):
        if type(loss).call is LossFunctionWrapper.call and loss.fn in BUILTIN_FUNCTIONS.values():
            return loss.fn, loss._fn_kwargs, loss.reduction
        return None
    if callable(loss) and loss in BUILTIN_FUNCTIONS.values():
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
    elif from_logits and kernel in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
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


_FUSED = {
    ("softmax", "categorical_crossentropy"): "softmax_categorical_crossentropy",
    ("softmax", "sparse_categorical_crossentropy"): "softmax_sparse_categorical_crossentropy",
    ("sigmoid", "binary_crossentropy"): "sigmoid_binary_crossentropy",
    ("sigmoid", "binary_focal_crossentropy"): "binary_focal_crossentropy",
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
