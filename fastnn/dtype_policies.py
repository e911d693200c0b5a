"""Dtype policies (``keras.dtype_policies``): which dtype a layer computes in and which its
weights are stored in.

A policy is a name: ``"float32"``/``"float64"`` (compute and weights in that dtype) or
``"mixed_bfloat16"`` (weights float32, matrix products on bfloat16 inputs with float32
accumulation). Keras's other names (``"mixed_float16"``, ``"bfloat16"``, ``"float16"``, integer
dtypes) make valid policy objects, so files and comparisons work, but fastnn has no CPU kernels
for them: a layer, a model or the global setting refuses them (:func:`check_runnable`) before
it changes anything.

The global policy (``set_dtype_policy``) is read when a layer is created, as in Keras, and
``clear_session`` forgets it. Until it is set, layers follow ``fastnn.config.floatx()`` (Keras
freezes the policy on first use, so that a later ``set_floatx`` no longer reaches new layers;
fastnn keeps ``set_floatx`` working). It is one setting for the process, where Keras keeps one
per thread (a thread pool's workers would not see Keras's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastnn import config as _config

QUANTIZATION_MODES = ("int8", "float8", "int4", "gptq", "awq")   # names Keras reserves
RUNNABLE = ("float32", "float64", "mixed_bfloat16")

_MIXED = {"mixed_float16": ("float16", "float32"), "mixed_bfloat16": ("bfloat16", "float32")}
_GLOBAL: list[DTypePolicy | None] = [None]   # None: follow floatx()


def _standardize_dtype(name: str) -> str | None:
    """The Keras name of the dtype ``name`` names, or None when it names none."""
    if name in ("bfloat16", "string"):
        return name
    try:
        dtype = np.dtype(name)
    except TypeError:
        return None
    return str(dtype) if dtype.kind in "fiub" else None


class DTypePolicy:
    """A layer's compute dtype and variable (weight) dtype, named as in Keras 3.

    Parameters
    ----------
    name : str, optional
        ``"float32"``, ``"float64"`` or ``"mixed_bfloat16"`` (compute bfloat16, weights
        float32); by default the global policy's name. Keras's other names build a policy
        object that fastnn layers refuse.

    Examples
    --------
    >>> policy = DTypePolicy("mixed_bfloat16")
    >>> policy.compute_dtype, policy.variable_dtype
    ('bfloat16', 'float32')
    """

    def __init__(self, name: str | None = None):
        if name is None:
            name = dtype_policy().name
        self._compute_dtype, self._variable_dtype = self._parse(name)
        self._name = name
        self._quantization_mode = None

    @staticmethod
    def _parse(name) -> tuple[str, str]:
        if not isinstance(name, str):
            raise TypeError("'name' must be a string, such as 'mixed_float16'. "
                            f"Received: name={name} (of type {type(name)})")
        if name in _MIXED:
            return _MIXED[name]
        dtype = _standardize_dtype(name)
        if dtype is None:
            raise ValueError(f"Cannot convert '{name}' to a mixed precision DTypePolicy. Valid "
                             "policies include 'mixed_float16', 'mixed_bfloat16', and the name "
                             "of any float dtype such as 'float32'.")
        return dtype, dtype

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        """The dtype of the layer's computation (fastnn: of its matrix products' inputs)."""
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The dtype of the layer's weights (and of the optimizer state for them)."""
        return self._variable_dtype

    @property
    def quantization_mode(self) -> str | None:
        return self._quantization_mode

    def get_config(self) -> dict[str, Any]:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]):
        return cls(**config)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'

    def __eq__(self, other) -> bool:
        if type(self) in (DTypePolicy, FloatDTypePolicy):
            if type(other) not in (DTypePolicy, FloatDTypePolicy):
                return False
        elif type(other) is not type(self):
            return False
        return self._name == other._name

    __hash__ = None   # equal by name, yet not frozen (as Keras's)


class FloatDTypePolicy(DTypePolicy):
    """Keras's other name for :class:`DTypePolicy`."""


class QuantizedDTypePolicy(DTypePolicy):
    """The policy of a quantized layer: ``"<mode>_from_<source policy>"`` (``layer.quantize``
    sets it). Compute and variable dtypes are the source policy's; the quantized kernel is
    int8."""

    def __init__(self, mode: str, source_name: str | None = None):
        if source_name is None:
            source_name = dtype_policy().name
        self._compute_dtype, self._variable_dtype = self._parse(source_name)
        if mode not in QUANTIZATION_MODES:
            raise ValueError(f"Invalid quantization mode. Expected one of "
                             f"{QUANTIZATION_MODES}. Received: mode={mode}")
        if mode == "int8" and self._compute_dtype == "float16":
            raise ValueError(f"Quantization mode='{mode}' doesn't work well with "
                             "compute_dtype='float16'.")
        self._name = f"{mode}_from_{source_name}"
        self._source_name = source_name
        self._quantization_mode = mode

    @property
    def source_name(self) -> str:
        return self._source_name

    def get_config(self) -> dict[str, Any]:
        return {"mode": self._quantization_mode, "source_name": self._source_name}

    def __repr__(self) -> str:
        return f'<QuantizedDTypePolicy "{self._name}">'

    def __eq__(self, other) -> bool:
        return (DTypePolicy.__eq__(self, other)
                and self._quantization_mode == other._quantization_mode
                and self._source_name == other._source_name)

    __hash__ = None


_CLASSES = {cls.__name__: cls for cls in (DTypePolicy, FloatDTypePolicy, QuantizedDTypePolicy)}


def _quantized_by_name(name: str) -> QuantizedDTypePolicy:
    parts = name.split("_from_")
    if len(parts) != 2:
        raise ValueError("Cannot convert `policy` into a valid pair (`mode`, `source_name`) "
                         f"to instantiate `QuantizedDTypePolicy`. Received: policy={name}")
    return QuantizedDTypePolicy(*parts)


def get(identifier) -> DTypePolicy:
    """A policy from None (the global one), a name, a serialized policy or a policy."""
    if identifier is None:
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, Mapping):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.startswith(QUANTIZATION_MODES):
            return _quantized_by_name(identifier)
        # numpy's aliases ("float", "f8") under their Keras names, which Keras files read
        return DTypePolicy(_standardize_dtype(identifier) or identifier)
    try:      # a NumPy dtype or type: np.float64, np.dtype("float32")
        name = str(np.dtype(identifier))
    except TypeError:
        name = None
    if name is None or _standardize_dtype(name) is None:
        raise ValueError("Cannot interpret `dtype` argument. Expected a string or an instance "
                         f"of DTypePolicy. Received: dtype={identifier}")
    return DTypePolicy(name)


def serialize(policy: DTypePolicy) -> dict[str, Any]:
    """The policy as Keras writes it into a layer's config."""
    module = "keras" if type(policy) in (DTypePolicy, FloatDTypePolicy) \
        else "keras.dtype_policies"
    return {"module": module, "class_name": type(policy).__name__,
            "config": policy.get_config(), "registered_name": None}


def deserialize(config: Mapping[str, Any]) -> DTypePolicy:
    cls = _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown dtype policy class {config.get('class_name')!r}; fastnn "
                         f"reads {sorted(_CLASSES)}.")
    inner = config.get("config") or {}
    if not isinstance(inner, Mapping):
        raise ValueError(f"Invalid dtype policy config: {config!r}.")
    return cls.from_config(dict(inner))


_RUNNABLE_DTYPES = {("float32", "float32"), ("float64", "float64"), ("bfloat16", "float32")}


def check_runnable(policy: DTypePolicy, where: str = "") -> DTypePolicy:
    """``policy`` when fastnn's kernels run it; a ValueError naming those that run otherwise.

    Quantized policies run when their source policy does (``quantize`` checks the mode)."""
    if (policy.compute_dtype, policy.variable_dtype) not in _RUNNABLE_DTYPES:
        raise ValueError(
            f"{where}fastnn cannot run the dtype policy '{policy.name}' (compute dtype "
            f"{policy.compute_dtype}, variables {policy.variable_dtype}): fastnn's CPU kernels "
            f"run the policies {list(RUNNABLE)} only (and, through `quantize('int8')`, "
            "'int8_from_float32' and 'int8_from_mixed_bfloat16'). For reduced precision use "
            "'mixed_bfloat16'.")
    return policy


def set_dtype_policy(policy) -> None:
    """Set the policy of the layers created from now on (``keras.config.set_dtype_policy``).

    A policy fastnn cannot run is refused, leaving the current one in place."""
    if not isinstance(policy, DTypePolicy):
        if not isinstance(policy, str):
            raise ValueError("Invalid `policy` argument. Expected the string name of a policy "
                             "(such as 'mixed_float16') or a `DTypePolicy` instance. Received: "
                             f"policy={policy} (of type {type(policy)})")
        policy = get(policy)
    check_runnable(policy, "set_dtype_policy: ")
    if policy.quantization_mode is not None:
        raise ValueError(f"set_dtype_policy: fastnn does not take a quantized global policy "
                         f"({policy.name}); build the model, then call "
                         f"`model.quantize('{policy.quantization_mode}')`.")
    _GLOBAL[0] = policy


def reset() -> None:
    """Forget the global policy: layers follow ``floatx()`` again (``clear_session``)."""
    _GLOBAL[0] = None


def dtype_policy() -> DTypePolicy:
    """The global policy: the one last set, else ``DTypePolicy(floatx())``."""
    return _GLOBAL[0] if _GLOBAL[0] is not None else DTypePolicy(_config.floatx())


def creation_policy(dtype, where: str = "") -> DTypePolicy | None:
    """The policy a layer created with ``dtype`` keeps, checked runnable; None when the
    layer follows ``floatx()`` (no dtype given, no global policy set)."""
    if dtype is None and _GLOBAL[0] is None:
        return None
    return check_runnable(get(dtype), where)


__all__ = ["DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "deserialize", "get",
           "serialize"]
