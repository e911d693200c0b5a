"""``optimizer.learning_rate`` and ``optimizer.iterations`` as Keras 3 presents them: variables.

Keras 3 returns a ``keras.Variable`` for both, and scripts (and the popular books' callbacks)
call ``.numpy()``, ``.assign(v)``, ``float()``, ``K.set_value``/``K.get_value`` or do arithmetic
on them. :class:`OptimizerVariable` is a live view of one of the optimizer's values: it reads
the optimizer each time, and ``assign`` goes through the optimizer's own setter, so checks
(finite numbers, schedules not overwritable) and the effect on training are the optimizer's.

``numpy()`` and ``np.asarray`` give Keras's dtype (float32 learning rate, int64 iterations);
``float()``, ``int()``, arithmetic and comparisons use the optimizer's exact value (a Python
float or int), so code that reads and writes the rate back changes nothing by itself.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["OptimizerVariable"]


def _plain(value: Any) -> Any:
    """A number from another variable, a NumPy scalar or 0-d array; anything else as is."""
    if isinstance(value, OptimizerVariable):
        return value._get()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _binary(op: Callable[[Any, Any], Any], reflected: bool = False):
    def method(self: OptimizerVariable, other: Any) -> Any:
        other = _plain(other)
        return op(other, self._get()) if reflected else op(self._get(), other)

    return method


class OptimizerVariable:
    """A scalar variable of an optimizer (Keras 3's ``optimizer.learning_rate`` /
    ``optimizer.iterations``).

    Parameters
    ----------
    name : str
        Keras's variable name ("learning_rate", "iteration").
    dtype : str
        Keras's dtype: "float32" or "int64".
    get : callable
        Returns the current value (a Python float or int).
    set : callable or None
        Stores a new value (the optimizer checks it); None makes the variable read-only, and
        ``read_only_reason`` says why in the TypeError ``assign`` raises.
    """

    __slots__ = ("_get", "_read_only_reason", "_set", "dtype", "name")

    def __init__(self, name: str, dtype: str, get: Callable[[], Any],
                 set: Callable[[Any], None] | None = None, read_only_reason: str = ""):
        self.name = name
        self.dtype = dtype
        self._get = get
        self._set = set
        self._read_only_reason = read_only_reason

    # ---- Keras's Variable API ---------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def value(self) -> Any:
        return self.numpy()

    @property
    def path(self) -> str:
        return self.name

    @property
    def trainable(self) -> bool:
        return False

    def numpy(self) -> np.generic:
        """The value in Keras's dtype (np.float32 / np.int64)."""
        return np.dtype(self.dtype).type(self._get())

    def assign(self, value: Any) -> OptimizerVariable:
        """Store ``value`` (a number, NumPy scalar or 0-d array, or another variable)."""
        if self._set is None:
            raise TypeError(self._read_only_reason or f"`{self.name}` cannot be assigned.")
        value = _plain(value)
        if isinstance(value, np.ndarray) or np.ndim(value) != 0:
            raise ValueError(f"`{self.name}` is a scalar; cannot assign a value of shape "
                             f"{np.shape(value)}.")
        self._set(value)
        return self

    def assign_add(self, value: Any) -> OptimizerVariable:
        return self.assign(self._get() + _plain(value))

    def assign_sub(self, value: Any) -> OptimizerVariable:
        return self.assign(self._get() - _plain(value))

    # ---- conversions ------------------------------------------------------------------

    def __float__(self) -> float:
        return float(self._get())

    def __int__(self) -> int:
        return int(self._get())

    def __index__(self) -> int:
        if self.dtype.startswith("float"):
            raise TypeError(f"`{self.name}` is a float variable, not an index.")
        return int(self._get())

    def __bool__(self) -> bool:
        return bool(self._get())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.numpy(), dtype=dtype)

    def __round__(self, ndigits: int | None = None) -> Any:
        return round(self._get(), ndigits)

    def __format__(self, spec: str) -> str:
        return format(self._get(), spec)

    def __repr__(self) -> str:
        return (f"<OptimizerVariable path={self.name}, shape=(), dtype={self.dtype}, "
                f"value={self.numpy()}>")

    __str__ = __repr__

    # ---- arithmetic and comparisons (on the exact value) ------------------------------

    __add__ = _binary(operator.add)
    __radd__ = _binary(operator.add, reflected=True)
    __sub__ = _binary(operator.sub)
    __rsub__ = _binary(operator.sub, reflected=True)
    __mul__ = _binary(operator.mul)
    __rmul__ = _binary(operator.mul, reflected=True)
    __truediv__ = _binary(operator.truediv)
    __rtruediv__ = _binary(operator.truediv, reflected=True)
    __floordiv__ = _binary(operator.floordiv)
    __rfloordiv__ = _binary(operator.floordiv, reflected=True)
    __mod__ = _binary(operator.mod)
    __rmod__ = _binary(operator.mod, reflected=True)
    __pow__ = _binary(operator.pow)
    __rpow__ = _binary(operator.pow, reflected=True)
    __eq__ = _binary(operator.eq)
    __ne__ = _binary(operator.ne)
    __lt__ = _binary(operator.lt)
    __le__ = _binary(operator.le)
    __gt__ = _binary(operator.gt)
    __ge__ = _binary(operator.ge)
    __hash__ = object.__hash__

    def __neg__(self) -> Any:
        return -self._get()

    def __pos__(self) -> Any:
        return +self._get()

    def __abs__(self) -> Any:
        return abs(self._get())
