"""Keras 3's activation functions, computed by fastnn's activation kernels.

Each function takes an array-like and returns a NumPy array of the same shape: float32 and
float64 input keep their type, anything else is converted to floatx. Layers do not call these
functions: at compile time they ask :func:`kernel_spec` for the kernel id and parameters and the
engine applies the kernel itself, fused with the bias. So only the built-in activations (and
their parametrised ``functools.partial`` forms) can run in a model; a custom Python callable is
rejected when the model compiles.

Names (case-sensitive, as Keras 3): every function's name plus the aliases ``swish`` (silu) and
``hard_swish`` (hard_silu); ``get(None)`` is :func:`linear`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from fastnn._kernels import _activations
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn._registry import Registry
from fastnn.config import floatx

__all__ = [
    "ActivationSpec",
    "deserialize",
    "elu",
    "exponential",
    "gelu",
    "get",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "kernel_spec",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mish",
    "relu",
    "relu6",
    "selu",
    "serialize",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "softsign",
    "swish",
    "tanh",
]


class ActivationSpec(NamedTuple):
    """What the engine needs to run an activation: a kernel id and the kernel's parameters.

    ``kernel`` is a value of ``fastnn._kernels._activations.ACTIVATIONS``; the four parameters
    are the fields of the C ``fnn_act_params`` (an activation ignores those it does not use).
    ``max_value`` is ``inf`` for Keras's ``max_value=None``.
    """

    kernel: int
    negative_slope: float = 0.0
    max_value: float = math.inf
    threshold: float = 0.0
    alpha: float = 1.0


def _as_float_array(x: ArrayLike) -> np.ndarray:
    arr = np.asarray(x)
    dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.dtype(floatx())
    return np.asarray(arr, dtype=dtype, order="C")  # ascontiguousarray would make 0-d 1-d


def _apply(name: str, x: ArrayLike, **params: float) -> np.ndarray:
    """Run kernel ``name`` over ``x`` (any shape) viewed as rows of its last axis."""
    z = _as_float_array(x)
    out = np.empty_like(z)
    if z.size:
        cols = z.shape[-1] if z.ndim else 1
        spec = ActivationSpec(_activations.ACTIVATIONS[name], **params)
        _activations.activation_forward(
            spec.kernel,
            z.reshape(-1, cols),
            None,
            out.reshape(-1, cols),
            None,
            spec.negative_slope,
            spec.max_value,
            spec.threshold,
            spec.alpha,
            effective_n_threads(),
        )
    return out


def _apply_along(name: str, x: ArrayLike, axis: int) -> np.ndarray:
    """Run a row-wise kernel (softmax, log_softmax) along ``axis``."""
    z = _as_float_array(x)
    if z.ndim == 0:
        return _apply(name, z)
    moved = np.moveaxis(z, axis, -1)
    return np.moveaxis(_apply(name, moved), -1, axis)


def linear(x: ArrayLike) -> np.ndarray:
    """Identity: ``x``."""
    return _apply("linear", x)


def relu(
    x: ArrayLike,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> np.ndarray:
    """Rectified linear unit, with Keras 3's optional slope, cap and threshold.

    ``x`` where ``threshold < x``, ``negative_slope * (x - threshold)`` below the threshold,
    and the result capped at ``max_value`` (None: no cap). Defaults give ``max(x, 0)``.
    """
    return _apply(
        "relu",
        x,
        negative_slope=float(negative_slope),
        max_value=math.inf if max_value is None else float(max_value),
        threshold=float(threshold),
    )


def relu6(x: ArrayLike) -> np.ndarray:
    """``min(max(x, 0), 6)``."""
    return _apply("relu6", x)


def leaky_relu(x: ArrayLike, negative_slope: float = 0.2) -> np.ndarray:
    """``x`` for ``x > 0``, else ``negative_slope * x`` (Keras 3's default slope, 0.2)."""
    return _apply("leaky_relu", x, negative_slope=float(negative_slope))


def elu(x: ArrayLike, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Clevert et al., 2016, https://arxiv.org/abs/1511.07289
    """
    return _apply("elu", x, alpha=float(alpha))


def selu(x: ArrayLike) -> np.ndarray:
    """Scaled ELU: ``scale * elu(x, alpha)`` with alpha = 1.67326324, scale = 1.05070098.

    Klambauer et al., 2017, https://arxiv.org/abs/1706.02515
    """
    return _apply("selu", x)


def sigmoid(x: ArrayLike) -> np.ndarray:
    """``1 / (1 + exp(-x))``."""
    return _apply("sigmoid", x)


def hard_sigmoid(x: ArrayLike) -> np.ndarray:
    """Keras 3's piecewise-linear sigmoid: ``relu6(x + 3) / 6`` (0 below -3, 1 above 3).

    Keras 2 used ``clip(0.2 * x + 0.5, 0, 1)``; fastnn follows Keras 3.
    """
    return _apply("hard_sigmoid", x)


def hard_silu(x: ArrayLike) -> np.ndarray:
    """``x * hard_sigmoid(x)`` (also named ``hard_swish``)."""
    return _apply("hard_silu", x)


def silu(x: ArrayLike) -> np.ndarray:
    """``x * sigmoid(x)`` (also named ``swish``).

    Ramachandran et al., 2017, https://arxiv.org/abs/1710.05941
    """
    return _apply("silu", x)


def gelu(x: ArrayLike, approximate: bool = False) -> np.ndarray:
    """Gaussian error linear unit: ``0.5 x (1 + erf(x / sqrt 2))``.

    With ``approximate=True``: ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.
    Hendrycks and Gimpel, 2016, https://arxiv.org/abs/1606.08415
    """
    return _apply("gelu_approximate" if approximate else "gelu", x)


def tanh(x: ArrayLike) -> np.ndarray:
    """Hyperbolic tangent."""
    return _apply("tanh", x)


def softplus(x: ArrayLike) -> np.ndarray:
    """``log(1 + exp(x))``, computed without overflow."""
    return _apply("softplus", x)


def softsign(x: ArrayLike) -> np.ndarray:
    """``x / (|x| + 1)``."""
    return _apply("softsign", x)


def exponential(x: ArrayLike) -> np.ndarray:
    """``exp(x)``."""
    return _apply("exponential", x)


def mish(x: ArrayLike) -> np.ndarray:
    """``x * tanh(softplus(x))``.

    Misra, 2019, https://arxiv.org/abs/1908.08681
    """
    return _apply("mish", x)


def softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """``exp(x) / sum(exp(x))`` along ``axis``, computed on the max-shifted values."""
    return _apply_along("softmax", x, axis)


def log_softmax(x: ArrayLike, axis: int = -1) -> np.ndarray:
    """``x - logsumexp(x)`` along ``axis``."""
    return _apply_along("log_softmax", x, axis)


swish = silu
hard_swish = hard_silu

_FUNCTIONS = (
    linear, relu, relu6, leaky_relu, elu, selu, sigmoid, hard_sigmoid, hard_silu, silu, gelu,
    tanh, softplus, softsign, exponential, mish, softmax, log_softmax,
)  # fmt: skip
_ACTIVATIONS = {fn.__name__: fn for fn in _FUNCTIONS} | {"swish": silu, "hard_swish": hard_silu}
_REGISTRY = Registry("activation function", _ACTIVATIONS, module="keras.activations")


def get(identifier: Any) -> Callable[..., np.ndarray]:
    """The activation for a name, a serialized form or a callable; None gives :func:`linear`.

    Raises
    ------
    ValueError
        For an unknown name, listing the valid ones.
    """
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    return _REGISTRY.get(identifier, default=linear)


def serialize(activation: Callable[..., Any]) -> str:
    """The name of a built-in activation function (what Keras 3 writes in layer configs)."""
    return _REGISTRY.serialize(activation)


def deserialize(config: Any) -> Callable[..., np.ndarray]:
    """Inverse of :func:`serialize`. Also reads Keras 3's long form of a function,
    ``{"class_name": "function", "config": "relu", ...}``."""
    if isinstance(config, Mapping) and config.get("class_name") == "function":
        config = config.get("config")
    return _REGISTRY.deserialize(config)


def python_activation(activation: Any) -> Callable[..., Any] | None:
    """The callable when ``activation`` is the user's own Python function (it then runs in
    Python once per batch, differentiated by autograd), or None for a built-in."""
    if activation is None or isinstance(activation, (str, Mapping, ActivationSpec)):
        return None
    fn = get(activation)
    try:
        kernel_spec(fn)
    except ValueError:
        return fn if callable(fn) else None
    return None


def kernel_spec(activation: Any) -> ActivationSpec:
    """The engine's form of an activation: kernel id and parameters.

    Parameters
    ----------
    activation : None, str, callable or ActivationSpec
        A name, a built-in function of this module, or a ``functools.partial`` of one with
        keyword arguments only (``partial(relu, max_value=6.0)``, ``partial(leaky_relu,
        negative_slope=0.3)``, ``partial(elu, alpha=0.5)``, ``partial(gelu, approximate=True)``,
        ``partial(softmax, axis=-1)``). None is linear.

    Raises
    ------
    ValueError
        For a custom callable (the engine cannot run Python code), a partial with positional
        or unknown arguments, or softmax/log_softmax along an axis other than -1.
    """
    if isinstance(activation, ActivationSpec):
        return activation
    fn = get(activation)
    keywords: dict[str, Any] = {}
    if isinstance(fn, functools.partial) and not fn.args:
        fn, keywords = fn.func, dict(fn.keywords)
    name = getattr(fn, "__name__", None)
    if _ACTIVATIONS.get(name) is not fn:
        raise ValueError(
            f"Activation {activation!r} is not a built-in activation: fastnn runs activations "
            "in its compiled kernels, which support only "
            f"{', '.join(_REGISTRY.names)} (and functools.partial of them with keyword "
            "arguments)."
        )
    try:
        params = inspect.signature(fn).bind(None, **keywords)
    except TypeError as err:
        raise ValueError(f"Invalid arguments for activation {name!r}: {err}.") from None
    params.apply_defaults()
    args = params.arguments
    if args.get("axis", -1) != -1:
        raise ValueError(
            f"{name} runs along the last axis only in a model; got axis={args['axis']!r}."
        )
    kernel = "gelu_approximate" if name == "gelu" and args["approximate"] else name
    max_value = args.get("max_value")
    return ActivationSpec(
        kernel=_activations.ACTIVATIONS[kernel],
        negative_slope=float(args.get("negative_slope", 0.0)),
        max_value=math.inf if max_value is None else float(max_value),
        threshold=float(args.get("threshold", 0.0)),
        alpha=float(args.get("alpha", 1.0)),
    )
