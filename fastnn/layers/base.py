"""Layer and Variable: what every fastnn layer shares.

A layer stores and resolves its arguments in ``__init__``, sizes its weights in ``build`` and
describes its computation as engine ops in ``engine_ops``; the engine (fastnn/_kernels/
_engine.pyx) runs forward and backward for every layer, so no layer computes in Python.
``get_config`` returns exactly the constructor's arguments.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

from fastnn import config as _config
from fastnn import constraints as _constraints
from fastnn import dtype_policies as _dtype_policies
from fastnn import initializers as _initializers
from fastnn import regularizers as _regularizers

_name_counts: defaultdict[str, int] = defaultdict(int)

# While a file is loaded: [values its weights can still hold, what holds them]. A small file
# whose config asks for billions of weight values is refused before they are allocated.
_value_budget: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "fastnn_value_budget", default=None)


@contextlib.contextmanager
def value_budget(n_values: int, holder: str) -> Iterator[None]:
    """Within this block, layers may create at most ``n_values`` weight values in all."""
    token = _value_budget.set([n_values, holder])
    try:
        yield
    finally:
        _value_budget.reset(token)


def unique_name(base: str) -> str:
    """Keras's automatic names: ``dense``, then ``dense_1``, ``dense_2``, ... per process."""
    n = _name_counts[base]
    _name_counts[base] += 1
    return base if n == 0 else f"{base}_{n}"


def reset_names() -> None:
    """Restart the automatic names (``fastnn.backend.clear_session``)."""
    _name_counts.clear()


def snake_case(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class Variable:
    """A weight: a NumPy array with a name, a trainable flag, a regularizer and a constraint.

    Inside a compiled model the array is a view into the model's flat parameter buffer, so the
    engine's updates show here without copies; ``assign`` writes in place to keep it so.
    """

    # Every bind() in the process so far: Plan.adopt compares it with the count it last saw
    # instead of checking each variable's owner on every call. (An increment two threads race
    # on may count once, but still changes the count: a changed count is all adopt looks at.)
    binds = 0

    def __init__(self, value, name, path, trainable=True, regularizer=None, constraint=None):
        value = np.asarray(value)     # (ascontiguousarray would make a scalar 1-D)
        self._value = value if value.flags.c_contiguous else np.array(value, order="C")
        self.name = name
        self.path = path
        self.trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint
        self.owner = None   # the token of the plan whose buffer holds the value, if any

    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def value(self) -> np.ndarray:
        """The live array (a view into the model's buffer once compiled)."""
        return self._value

    def numpy(self) -> np.ndarray:
        """A copy of the current value."""
        return self._value.copy()

    def assign(self, value) -> None:
        """Write ``value`` (same shape) into the variable, in place."""
        value = np.asarray(value)
        if value.shape != self.shape:
            raise ValueError(
                f"Cannot assign a value of shape {value.shape} to variable '{self.path}' of "
                f"shape {self.shape}."
            )
        self._value[...] = value

    def bind(self, view: np.ndarray, owner=None) -> None:
        """Move the value into ``view`` (a slice of a model buffer, belonging to ``owner``)
        and live there."""
        view[...] = self._value.reshape(view.shape)
        self._value = view.reshape(self._value.shape)
        self.owner = owner
        Variable.binds += 1     # a plan checks its variables again only after a bind

    def assign_add(self, value) -> None:
        """``variable += value`` in place (Keras's ``assign_add``, as metric states use)."""
        self.assign(self._value + np.asarray(value, dtype=self.dtype))

    def assign_sub(self, value) -> None:
        self.assign(self._value - np.asarray(value, dtype=self.dtype))

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype=dtype)

    # Arithmetic reads the value, as Keras's variables do in ``result()``: ``self.tp / n``.
    __array_priority__ = 100

    def __float__(self):
        return float(self._value)

    def __int__(self):
        return int(self._value)

    def __getitem__(self, key):
        return self._value[key]

    def __neg__(self):
        return -self._value

    def __abs__(self):
        return abs(self._value)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def _binary(name):
    def op(self, other):
        other = other._value if isinstance(other, Variable) else other
        return getattr(self._value, name)(other)
    op.__name__ = name
    return op


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__pow__",
              "__rpow__", "__mod__", "__matmul__", "__rmatmul__", "__lt__", "__le__",
              "__gt__", "__ge__"):
    setattr(Variable, _name, _binary(_name))


_BASE_KWARGS = ("input_shape", "input_dim", "batch_input_shape", "batch_size")


class Layer:
    """The base class of fastnn's layers (Keras 3's ``keras.layers.Layer`` arguments).

    Parameters
    ----------
    name : str, optional
        Unique name; by default the snake_case class name with a counter (``dense_1``).
    trainable : bool
        Whether the layer's weights are updated by ``fit``.
    dtype : str or DTypePolicy, optional
        ``"float32"``, ``"float64"`` or ``"mixed_bfloat16"`` (float32 weights, bfloat16
        matrix-product inputs), a policy object or Keras's serialized policy; by default the
        global policy (``fastnn.mixed_precision.set_global_policy``), else
        ``fastnn.config.floatx()``. The ``dtype_policy`` attribute reads and sets it.
    activity_regularizer : regularizer, optional
        Penalty on the layer's output, divided by the batch size (Keras).
    input_shape, input_dim, batch_input_shape : legacy Keras 2 arguments
        Accepted on any layer with Keras 3's warning; the model then starts with an
        ``InputLayer`` of that shape.
    """

    def __init__(self, *, name=None, trainable=True, dtype=None, activity_regularizer=None,
                 **kwargs):
        legacy = {k: kwargs.pop(k) for k in _BASE_KWARGS if k in kwargs}
        kwargs.pop("autocast", None)
        if kwargs:
            raise ValueError(
                f"Unrecognized keyword arguments passed to {type(self).__name__}: {kwargs}"
            )
        # First, so that a policy fastnn cannot run leaves nothing behind (not even a name).
        policy = _dtype_policies.creation_policy(
            dtype, f"Layer '{name}': " if isinstance(name, str) else f"{type(self).__name__}: ")
        self._input_shape_arg = _legacy_input_shape(legacy)
        if self._input_shape_arg is not None:
            warnings.warn(
                "Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
                "Sequential models, prefer using an `Input(shape)` object as the first layer "
                "in the model instead.",
                UserWarning,
                stacklevel=3,
            )
        if name is not None and not isinstance(name, str):
            raise ValueError(f"Layer name must be a string, got {name!r}.")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self._policy = policy      # None: follow fastnn.config.floatx()
        self.activity_regularizer = _regularizers.get(activity_regularizer)
        self.built = False
        self._weights: list[Variable] = []
        self.input_shape_built: tuple | None = None
        self._inbound_nodes: list = []     # the calls of this layer in graphs

    # ---- shapes and weights ----------------------------------------------------------------

    @property
    def dtype_policy(self) -> _dtype_policies.DTypePolicy:
        """The layer's :class:`~fastnn.dtype_policies.DTypePolicy` (Keras 3)."""
        if self._policy is None:
            return _dtype_policies.DTypePolicy(_config.floatx())
        return self._policy

    @dtype_policy.setter
    def dtype_policy(self, value) -> None:
        policy = _dtype_policies.check_runnable(_dtype_policies.get(value),
                                                f"Layer '{self.name}': ")
        if policy.quantization_mode is not None:
            raise ValueError(f"Layer '{self.name}': quantize it with `quantize("
                             f"'{policy.quantization_mode}')` rather than by setting "
                             f"dtype_policy={policy.name!r}.")
        if self.quantization_mode is not None:
            raise ValueError(f"Layer '{self.name}' is quantized ({self.dtype_policy.name}); "
                             "its dtype policy can no longer change.")
        if self.built and self._weights and policy.variable_dtype != self.variable_dtype:
            raise ValueError(f"Layer '{self.name}' already holds {self.variable_dtype} "
                             f"weights; dtype_policy={policy.name!r} would need "
                             f"{policy.variable_dtype} ones. Set the policy before building.")
        self._policy = policy
        from fastnn.layers import quantized

        quantized.GENERATION[0] += 1    # models built over this layer plan again

    @property
    def dtype(self) -> str:
        """The weights' dtype (Keras: an alias of ``variable_dtype``)."""
        return self.dtype_policy.variable_dtype

    @property
    def variable_dtype(self) -> str:
        return self.dtype_policy.variable_dtype

    @property
    def compute_dtype(self) -> str:
        """``"bfloat16"`` under ``mixed_bfloat16``: the dtype of the inputs of the layer's
        matrix products (fastnn keeps its activations in the variable dtype)."""
        return self.dtype_policy.compute_dtype

    @property
    def quantization_mode(self) -> str | None:
        return self.dtype_policy.quantization_mode

    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis first, may be None)."""
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        from fastnn.layers.python_layers import infer_output_shape, is_python_layer

        if is_python_layer(self):       # a user's `call`: run it once to learn the shape
            return infer_output_shape(self, input_shape)
        return tuple(input_shape)

    def check_input_shape(self, input_shape) -> None:
        """Raise Keras's ValueError when a built layer cannot take ``input_shape``."""

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            self.input_shape_built = tuple(input_shape)
            self.build(tuple(input_shape))
            self.built = True

    def add_weight(self, shape, initializer="glorot_uniform", name=None, regularizer=None,
                   constraint=None, trainable=True, dtype=None) -> Variable:
        """Create a weight, drawing its value from ``initializer``."""
        budget = _value_budget.get()
        if budget is not None:
            size = math.prod(int(d) for d in shape)
            if size > budget[0]:
                raise ValueError(f"Layer '{self.name}' asks for a weight of shape {tuple(shape)} "
                                 f"({size:,} values), more than {budget[1]} can hold: the "
                                 "file is corrupt, truncated or hostile.")
            budget[0] -= size
        if initializer is None:
            # Keras 3's default for a weight without one (Dense(bias_initializer=None), as
            # TensorFlow's imbalanced-data tutorial passes): glorot_uniform for floats.
            is_float = np.dtype(dtype or self.dtype).kind == "f"
            initializer = "glorot_uniform" if is_float else "zeros"
        init = _initializers.get(initializer)
        value = np.asarray(init(tuple(shape), dtype=dtype or self.dtype), dtype=dtype or self.dtype)
        var = Variable(value, name or f"variable_{len(self._weights)}", f"{self.name}/{name}",
                       trainable=trainable, regularizer=regularizer, constraint=constraint)
        self._weights.append(var)
        return var

    @property
    def weights(self) -> list[Variable]:
        """Trainable then non-trainable weights, each in creation order (Keras 3)."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self) -> list[Variable]:
        return [w for w in self._weights if w.trainable and self.trainable]

    @property
    def non_trainable_weights(self) -> list[Variable]:
        return [w for w in self._weights if not (w.trainable and self.trainable)]

    @property
    def variables(self) -> list[Variable]:
        return self.weights

    def get_weights(self) -> list[np.ndarray]:
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Assign every weight at once; checks the count and each shape before writing."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list "
                f"of length {len(weights)}, but the layer was expecting {len(own)} weights."
            )
        arrays = [np.asarray(w) for w in weights]
        for var, arr in zip(own, arrays):
            if var.shape != arr.shape:
                raise ValueError(
                    f"Layer {self.name} weight shape {var.shape} is not compatible with "
                    f"provided weight shape {arr.shape}."
                )
        for var, arr in zip(own, arrays):
            var.assign(arr)

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer "
                "isn't built. You can build it manually via: `layer.build(input_shape)`."
            )
        return int(sum(w.value.size for w in self._weights))

    # ---- the engine --------------------------------------------------------------------

    def engine_ops(self, width: int) -> list[dict[str, Any]]:
        """The ops this layer runs on rows of ``width`` features (an empty list = identity).

        Each op is a dict: ``kind`` (a key of ``_engine.OPS``), ``n_out``, and, as needed,
        ``activation`` (an ActivationSpec), weights by role (``kernel``, ``bias``, ``gamma``,
        ``beta``, ``alpha``, ``moving_mean``, ``moving_variance``: Variables) and scalars
        (``rate``, ``epsilon``, ``momentum``, ``seed``).
        """
        return []

    def __call__(self, inputs, training=None, **kwargs):
        """On symbolic tensors (from ``Input``): a node of a functional graph, returning
        symbolic outputs. On arrays: the layer's output for that batch, computed by the
        engine (inference unless ``training``)."""
        from fastnn import _graph

        if kwargs:
            raise ValueError(f"Layer '{self.name}' got unexpected keyword arguments "
                             f"{sorted(kwargs)}.")
        if _graph.is_symbolic(inputs):
            return _graph.symbolic_call(self, inputs, {"training": training}
                                        if training is not None else None)
        from fastnn._plan import run_eagerly

        return run_eagerly(self, inputs, training=bool(training))

    # ---- config ------------------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": _dtype_policies.serialize(self.dtype_policy)}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = _regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _legacy_input_shape(legacy: dict[str, Any]) -> tuple | None:
    """The per-sample input shape named by Keras 2's layer arguments, or None."""
    if legacy.get("batch_input_shape") is not None:
        return tuple(legacy["batch_input_shape"])[1:]
    if legacy.get("input_shape") is not None:
        shape = legacy["input_shape"]
        return tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if legacy.get("input_dim") is not None:
        return (int(legacy["input_dim"]),)
    return None


def check_rate(value, name: str, cls: str) -> float:
    """A probability-like argument in [0, 1], or ValueError as Keras words it."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not 0 <= value <= 1:
        raise ValueError(
            f"Invalid value received for argument `{name}` of {cls}. Expected a float value "
            f"between 0 and 1. Received: {name}={value}"
        )
    return float(value)


def constraint_of(identifier):
    return _constraints.get(identifier)
