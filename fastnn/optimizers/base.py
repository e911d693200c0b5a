"""The optimizer base class: hyperparameters, learning rate, clipping, slots and stepping.

An optimizer is its hyperparameters plus one update rule that calls one fused in-place kernel
(fastnn/_kernels/_optimizers.pyx) per variable. Stepping follows Keras 3's order: drop None
gradients, divide by ``loss_scale_factor``, clip (``clipnorm`` per tensor, else
``global_clipnorm``, else ``clipvalue``), decoupled weight decay ``w -= w * weight_decay * lr``,
the rule, ``iterations += 1``. Clipping and decay are folded into the kernel's pass
(``grad_scale``, ``clip_value``, ``weight_decay``), so one step reads each buffer once.

Two ways to step share one state. ``apply``/``apply_gradients`` update NumPy arrays in place
from Python. The engine (fastnn/_kernels/_engine.pyx) instead updates the model's one flat
parameter buffer without the GIL: it reads :meth:`Optimizer.engine_spec` and
:meth:`Optimizer.learning_rates`, gets its slot buffers from :meth:`Optimizer.slots_for`, and
writes ``iterations`` (and Nadam's ``u_product``) back. Variables that are views into that flat
buffer get views of the same slot buffers when stepped from Python, so both paths see the same
momentum, velocity, ...

Rules for the engine (one step k of n, starting at ``it0 = optimizer.iterations``):

* learning rate: ``lrs = optimizer.learning_rates(it0, n)``; step k uses ``lrs[k]`` for both the
  rule and the weight decay;
* ``t = it0 + k + 1`` (Adam's, Adamax's and Nadam's bias corrections);
* clipping: with ``clipnorm`` c > 0, each variable's slice gets ``grad_scale = c / max(‖g‖, c)``;
  with ``global_clipnorm`` c > 0, every slice gets ``c * min(1 / ‖G‖, 1 / c)`` (NaN when ‖G‖ is
  not finite, as in Keras); with ``clipvalue`` v > 0, ``clip_value = v``; 0 means off. Only one
  is ever set;
* weight decay: ``weight_decay`` for every variable unless ``use_weight_decay(var)`` says no
  (``exclude_from_weight_decay``), then 0 for that slice;
* Nadam: pass ``u_product = optimizer.u_product`` to every slice of step k and keep the value
  the kernel returns (the same from every slice) as the next step's input;
* afterwards: ``optimizer.iterations = it0 + n`` and, for Nadam, ``optimizer.u_product`` = the
  last returned product.

``loss_scale_factor`` is not in the spec: in ``fit`` Keras multiplies the loss by it and the
optimizer divides the gradients by it, which cancels; only ``apply`` divides.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from fastnn._kernels import _reductions
from fastnn._kernels._openmp_helpers import effective_n_threads
from fastnn.optimizers import schedules
from fastnn.optimizers.schedules import LearningRateSchedule
from fastnn.optimizers.variable import OptimizerVariable, _plain

__all__ = ["KERNEL_SLOTS", "EngineSpec", "LearningRate", "Optimizer", "OptimizerKind"]

LearningRate = float | LearningRateSchedule | Callable[[], float]


class OptimizerKind(IntEnum):
    """The update rule, one per kernel (AdamW is ADAM with weight decay)."""

    SGD = 0
    ADAM = 1
    RMSPROP = 2
    ADAGRAD = 3
    ADADELTA = 4
    ADAMAX = 5
    NADAM = 6
    LION = 7
    FTRL = 8
    LAMB = 9


# Each kernel's slot arguments, by Keras slot name, in the kernel's argument order. A name the
# optimizer does not use (SGD without momentum, Adam without amsgrad, RMSprop without
# momentum or centering) is passed as None / NULL.
KERNEL_SLOTS: dict[OptimizerKind, tuple[str, ...]] = {
    OptimizerKind.SGD: ("momentum",),
    OptimizerKind.ADAM: ("momentum", "velocity", "velocity_hat"),
    OptimizerKind.RMSPROP: ("velocity", "average_gradient", "momentum"),
    OptimizerKind.ADAGRAD: ("accumulator",),
    OptimizerKind.ADADELTA: ("accumulated_grad", "accumulated_delta_var"),
    OptimizerKind.ADAMAX: ("momentum", "norm"),
    OptimizerKind.NADAM: ("momentum", "velocity"),
    OptimizerKind.LION: ("momentum",),
    OptimizerKind.FTRL: ("accumulator", "linear"),
    OptimizerKind.LAMB: ("momentum", "velocity"),
}


class EngineSpec(NamedTuple):
    """What the engine needs to run an optimizer's steps; plain values only.

    ``slot_names`` lists the slot buffers :meth:`Optimizer.slots_for` returns, in that order,
    which is Keras's variable order (``optimizer.variables``); :data:`KERNEL_SLOTS` maps them
    to kernel arguments. The remaining fields are hyperparameters named as the engine's
    ``HYPER`` table; a field the rule does not use is 0 / False. ``weight_decay``,
    ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` are 0.0 when off.
    """

    kind: OptimizerKind
    slot_names: tuple[str, ...]
    beta_1: float = 0.0
    beta_2: float = 0.0
    epsilon: float = 0.0
    rho: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    centered: bool = False
    amsgrad: bool = False
    weight_decay: float = 0.0
    clipnorm: float = 0.0
    global_clipnorm: float = 0.0
    clipvalue: float = 0.0
    learning_rate_power: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    l2_shrinkage: float = 0.0
    beta: float = 0.0


_NAME_COUNTS: dict[str, int] = {}


def _auto_name(class_name: str) -> str:
    """Keras's default names: snake case, numbered from the second instance (adam, adam_1)."""
    chars = []
    for i, c in enumerate(class_name):
        before, after = class_name[i - 1 : i], class_name[i + 1 : i + 2]
        if i and c.isupper() and (before.islower() or after.islower()):
            chars.append("_")
        chars.append(c.lower())
    base = "".join(chars)
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_finite(**values: Any) -> None:
    """Refuse a hyperparameter that is not a finite number (None means unset): in Keras's
    update rules a NaN or an infinity makes every weight NaN after one step (or freezes it),
    so such a value is a mistake, not a setting. Called before anything is created."""
    for name, value in values.items():
        if value is not None and not (_is_real(value) and math.isfinite(value)):
            raise ValueError(f"Argument `{name}` must be a finite number. Received: "
                             f"{name}={value!r}")


_SCHEDULE_NOT_SETTABLE = (
    "This optimizer was created with a `LearningRateSchedule` object as its "
    "`learning_rate` constructor argument, hence its learning rate is not "
    "settable. If you need the learning rate to be settable, you should "
    "instantiate the optimizer with a float `learning_rate` argument."
)


def _warn_lr_alias(stacklevel: int) -> None:
    warnings.warn(
        "`lr` is the Keras 2 name of `learning_rate`; Keras 3 rejects it.",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def _on(value: float | None) -> float:
    """A clip setting as the kernels take it: Keras ignores None, 0 and negative values."""
    return float(value) if value is not None and value > 0 else 0.0


class Optimizer:
    """Base class of the optimizers (Keras 3's ``keras.optimizers.Optimizer``).

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        A float (an int is accepted too, a superset of Keras 3), a schedule evaluated at
        ``iterations``, or a callable taking no argument, called once per step.
    weight_decay : float, optional
        Decoupled weight decay: ``w -= w * weight_decay * lr`` before each step.
    clipnorm, clipvalue, global_clipnorm : float, optional
        Gradient clipping: per-tensor L2 norm, per-element value, or the norm of all gradients
        together. At most one may be set.
    use_ema, ema_momentum, ema_overwrite_frequency : optional
        Accepted and validated as Keras does; fastnn does not keep a moving average of the
        weights, so ``use_ema=True`` warns and is ignored.
    loss_scale_factor : float, optional
        ``apply`` divides the gradients by it (``scale_loss`` multiplies a loss by it).
    gradient_accumulation_steps : int, optional
        Validated (>= 2) but not implemented: warns and is ignored.
    name : str, optional
        Defaults to the snake-cased class name, numbered from the second instance.
    **kwargs
        Keras 2 arguments: ``lr`` (an alias of ``learning_rate``) and ``decay`` (time-based
        decay, ``lr / (1 + decay * iterations)``, applied as Keras 2 did; Keras 3 ignores it
        with a warning). Both warn with a DeprecationWarning. Anything else is a ValueError.
    """

    kind: OptimizerKind

    def __init__(
        self,
        learning_rate: LearningRate,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ):
        learning_rate = self._legacy_learning_rate(learning_rate, kwargs)
        decay = kwargs.pop("decay", None)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        check_finite(weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                     global_clipnorm=global_clipnorm, ema_momentum=ema_momentum,
                     loss_scale_factor=loss_scale_factor)
        checked_learning_rate = self._checked_learning_rate(learning_rate)
        if decay is not None:
            if not _is_real(decay) or not decay >= 0 or not math.isfinite(decay):
                raise ValueError(f"Argument `decay` must be a float >= 0. Received: {decay!r}")
            warnings.warn(
                "Argument `decay` is a Keras 2 argument: fastnn applies Keras 2's time-based "
                "decay lr / (1 + decay * iterations), which Keras 3 ignores. Use "
                "optimizers.schedules.InverseTimeDecay(learning_rate, 1, decay) instead.",
                DeprecationWarning,
                stacklevel=3,
            )
        if gradient_accumulation_steps and not gradient_accumulation_steps >= 2:
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps}"
            )
        if use_ema:
            if not 0 <= ema_momentum <= 1:
                raise ValueError(
                    f"`ema_momentum` must be in the range [0, 1]. Received: {ema_momentum}"
                )
            if ema_overwrite_frequency and (
                not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
            ):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                    f"ema_overwrite_frequency={ema_overwrite_frequency}"
                )
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}"
            )
        ignored = {"gradient_accumulation_steps": gradient_accumulation_steps}
        for what in [k for k, v in ignored.items() if v]:
            warnings.warn(f"fastnn does not implement `{what}`; it is ignored.", stacklevel=3)
        self.name = name if name is not None else _auto_name(type(self).__name__)
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.use_ema = use_ema
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = loss_scale_factor
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.decay = decay
        self._learning_rate = checked_learning_rate
        self._iterations = 0
        self._variables: list[np.ndarray] = []
        self._index: dict[int, int] = {}
        self._slots: list[tuple[np.ndarray, ...]] = []
        self._flat_slots: tuple[np.ndarray, ...] | None = None
        self._flat_key: tuple[int, np.dtype] | None = None
        self._flat_params: np.ndarray | None = None
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None
        # use_ema: the moving average of each trainable variable, in the order of
        # _ema_owners (the variables, held to notice a model whose variables changed).
        self._ema_owners: list = []
        self._model_variables_moving_average: list[np.ndarray] = []
        self.built = False

    # ---- construction helpers ----------------------------------------------------------

    def _legacy_learning_rate(self, learning_rate: Any, kwargs: dict[str, Any]) -> Any:
        """Keras 2's ``lr=``: an alias of ``learning_rate`` (Keras 3 rejects it)."""
        if "lr" not in kwargs:
            return learning_rate
        lr = kwargs.pop("lr")
        default = inspect.signature(type(self)).parameters["learning_rate"].default
        if learning_rate is not default and learning_rate != default:
            raise ValueError(
                "Pass either `learning_rate` or its Keras 2 alias `lr`, not both. Received: "
                f"learning_rate={learning_rate!r}, lr={lr!r}"
            )
        _warn_lr_alias(stacklevel=4)  # the caller of the subclass's __init__
        return lr

    @staticmethod
    def _checked_learning_rate(value: Any) -> Any:
        value = _plain(value)
        if isinstance(value, LearningRateSchedule) or callable(value):
            return value
        if _is_real(value):
            check_finite(learning_rate=value)
            return float(value)
        raise ValueError(
            "Argument `learning_rate` should be float, or an instance of "
            "LearningRateSchedule, or a callable (that takes in the current iteration value "
            f"and returns the corresponding learning rate value). Received instead: "
            f"learning_rate={value!r}"
        )

    # ---- learning rate and step count --------------------------------------------------

    @property
    def iterations(self) -> OptimizerVariable:
        """Steps applied so far, as Keras 3's int64 variable (``int()``, ``.numpy()``,
        ``.assign()``, arithmetic); assigning a number sets it too."""
        return OptimizerVariable("iteration", "int64", lambda: self._iterations,
                                 self._set_iterations)

    @iterations.setter
    def iterations(self, value: Any) -> None:
        self._set_iterations(value)

    def _set_iterations(self, value: Any) -> None:
        value = _plain(value)
        if not isinstance(value, numbers.Integral) and not (
            _is_real(value) and float(value).is_integer()
        ):
            raise ValueError(f"`iterations` must be an integer. Received: {value!r}")
        if value < 0:
            raise ValueError(f"`iterations` must be >= 0. Received: {value!r}")
        self._iterations = int(value)

    @property
    def learning_rate(self) -> OptimizerVariable:
        """The learning rate of the next step, as Keras 3's float32 variable: ``.numpy()``,
        ``.assign(v)``, ``float()``, arithmetic and comparisons. For a float learning rate it is
        settable (``.assign`` or ``optimizer.learning_rate = v``; callbacks do this; it takes
        effect from the next step); for a schedule or a callable it is the value evaluated
        now, read-only, as in Keras. Keras 2's ``decay`` is not included, as in Keras 2.
        Assigning a new schedule or callable replaces the old learning rate."""
        if isinstance(self._learning_rate, LearningRateSchedule) or callable(self._learning_rate):
            return OptimizerVariable("learning_rate", "float32", self._current_learning_rate,
                                     None, _SCHEDULE_NOT_SETTABLE)
        return OptimizerVariable("learning_rate", "float32", self._current_learning_rate,
                                 self._set_learning_rate)

    def _current_learning_rate(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self._iterations))
        return float(lr()) if callable(lr) else lr

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        self._set_learning_rate(value)

    def _set_learning_rate(self, value: Any) -> None:
        value = _plain(value)
        if not (isinstance(value, LearningRateSchedule) or callable(value)) and isinstance(
            self._learning_rate, LearningRateSchedule
        ):
            raise TypeError(_SCHEDULE_NOT_SETTABLE)
        self._learning_rate = self._checked_learning_rate(value)

    @property
    def lr(self) -> OptimizerVariable:
        """Keras 2's name of :attr:`learning_rate` (DeprecationWarning; Keras 3 has none)."""
        _warn_lr_alias(stacklevel=2)
        return self.learning_rate

    @lr.setter
    def lr(self, value: LearningRate) -> None:
        _warn_lr_alias(stacklevel=2)
        self.learning_rate = value

    def learning_rates(self, start_iteration: int, n_steps: int) -> np.ndarray:
        """The learning rates of the steps ``start_iteration``, ..., ``start_iteration +
        n_steps - 1`` (iteration counts before each step), as float64 of shape (n_steps,).

        A built-in schedule is evaluated in one vectorized call; a user's schedule that
        overrides ``__call__`` and a callable learning rate are called once per step, in
        order. Keras 2's ``decay`` divides step i's rate by ``1 + decay * i``.
        """
        if n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {n_steps}")
        start_iteration = int(start_iteration)
        steps = np.arange(start_iteration, start_iteration + n_steps, dtype=np.int64)
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            if type(lr).__call__ is LearningRateSchedule.__call__:
                rates = np.broadcast_to(np.asarray(lr(steps), dtype=np.float64), steps.shape)
            else:
                rates = np.array([float(lr(int(s))) for s in steps], dtype=np.float64)
        elif callable(lr):
            rates = np.array([float(lr()) for _ in steps], dtype=np.float64)
        else:
            rates = np.full(n_steps, lr, dtype=np.float64)
        if self.decay:
            rates = rates / (1.0 + self.decay * steps)
        bad = np.flatnonzero(~np.isfinite(rates))
        if bad.size:
            raise ValueError(f"The learning rate of step {int(steps[bad[0]])} is "
                             f"{rates[bad[0]]}: the learning rate (schedule) of optimizer "
                             f"'{self.name}' must give finite numbers.")
        return np.array(rates, dtype=np.float64)

    # ---- engine interface --------------------------------------------------------------

    @property
    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        """The slot names, grouped as Keras creates them: within a group the slots of one
        variable are consecutive in ``optimizer.variables``, groups follow each other."""
        raise NotImplementedError

    @property
    def slot_names(self) -> tuple[str, ...]:
        """Every slot, in Keras's order (the groups of :attr:`slot_groups` concatenated)."""
        return tuple(name for group in self.slot_groups for name in group)

    def _slot_initial_value(self, name: str) -> float:
        return 0.0

    def _hyperparameters(self) -> dict[str, Any]:
        """The rule's fields of :class:`EngineSpec`."""
        raise NotImplementedError

    def engine_spec(self) -> EngineSpec:
        """The rule, its hyperparameters and its slot names, as plain values."""
        return EngineSpec(
            kind=self.kind,
            slot_names=self.slot_names,
            weight_decay=float(self.weight_decay) if self.weight_decay is not None else 0.0,
            clipnorm=_on(self.clipnorm),
            global_clipnorm=_on(self.global_clipnorm),
            clipvalue=_on(self.clipvalue),
            **self._hyperparameters(),
        )

    def slots_for(self, n_params: int, dtype: Any) -> tuple[np.ndarray, ...]:
        """The flat slot buffers for a parameter buffer of ``n_params`` elements.

        One C-contiguous array of shape (n_params,) per name of :attr:`slot_names`, in that
        order, filled with its initial value (zeros; Adagrad's ``initial_accumulator_value``).
        The optimizer keeps them: a second call with the same size and dtype returns the same
        arrays (state carries over between ``fit`` calls), and Python-level steps on views
        into a parameter buffer of that size update them too.
        """
        key = (int(n_params), np.dtype(dtype))
        if self._flat_key != key:
            self._flat_slots = tuple(
                np.full(key[0], self._slot_initial_value(name), dtype=key[1])
                for name in self.slot_names
            )
            self._flat_key = key
            self._flat_params = None
        return self._flat_slots

    @property
    def flat_slots(self) -> tuple[np.ndarray, ...] | None:
        """The buffers of the last :meth:`slots_for`, or None."""
        return self._flat_slots

    # ---- weight decay exclusions -------------------------------------------------------

    def exclude_from_weight_decay(
        self, var_list: Iterable[Any] | None = None, var_names: Iterable[str] | None = None
    ) -> None:
        """Skip weight decay for the variables in ``var_list`` (by identity) and for those
        whose ``name`` contains one of ``var_names`` (a regular-expression search)."""
        self._exclude_ids = {id(v) for v in var_list or ()}
        names = sorted(set(var_names or ()))
        self._exclude_pattern = re.compile("|".join(names)) if names else None

    def use_weight_decay(self, variable: Any, name: str | None = None) -> bool:
        """Whether weight decay applies to ``variable`` (``name`` defaults to its ``name``
        attribute, if any); the engine asks this once per variable."""
        if id(variable) in self._exclude_ids:
            return False
        name = name if name is not None else getattr(variable, "name", None)
        return not (
            self._exclude_pattern is not None
            and name is not None
            and self._exclude_pattern.search(name)
        )

    # ---- Python-level stepping ---------------------------------------------------------

    def build(self, variables: Sequence[np.ndarray]) -> None:
        """Create the slots of ``variables`` (those not seen before), in order."""
        for v in variables:
            if id(v) not in self._index:
                self._index[id(v)] = len(self._variables)
                self._variables.append(v)
                self._slots.append(self._new_slots(v))
        self.built = True

    def _new_slots(self, v: np.ndarray) -> tuple[np.ndarray, ...]:
        """Views of the flat slots when ``v`` is a contiguous view into the 1-D parameter
        buffer they belong to (the first such buffer of their size and dtype claims them),
        else arrays of its own."""
        base = v.base
        if (
            isinstance(base, np.ndarray)
            and base.ndim == 1
            and base.dtype == v.dtype
            and base.flags.c_contiguous
            and v.flags.c_contiguous
            and self._flat_key in (None, (base.size, base.dtype))
            and (self._flat_params is None or self._flat_params is base)
        ):
            flat = self.slots_for(base.size, base.dtype)
            self._flat_params = base
            start = (v.ctypes.data - base.ctypes.data) // v.itemsize
            return tuple(s[start : start + v.size].reshape(v.shape) for s in flat)
        return tuple(
            np.full(v.shape, self._slot_initial_value(name), dtype=v.dtype)
            for name in self.slot_names
        )

    def _slots_of(self, variable: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.slot_names, self._slots[self._index[id(variable)]]))

    @staticmethod
    def _checked_variable(v: Any) -> np.ndarray:
        if not isinstance(v, np.ndarray) or v.dtype not in (np.float32, np.float64):
            raise TypeError(
                "Variables must be NumPy arrays of float32 or float64, updated in place; "
                f"got {type(v).__name__}{' of ' + str(v.dtype) if hasattr(v, 'dtype') else ''}."
            )
        if not v.flags.writeable:
            raise ValueError("Variables are updated in place and must be writeable.")
        return v

    @staticmethod
    def _checked_gradient(g: Any, v: np.ndarray) -> np.ndarray:
        g = np.ascontiguousarray(g, dtype=v.dtype)
        if g.shape != v.shape:
            raise ValueError(f"Gradient of shape {g.shape} for a variable of shape {v.shape}.")
        return g.reshape(-1)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[Any, np.ndarray]]) -> int:
        """Apply ``(gradient, variable)`` pairs, see :meth:`apply`; returns ``iterations``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self._iterations

    def apply(
        self, grads: Sequence[Any], trainable_variables: Sequence[np.ndarray] | None = None
    ) -> None:
        """One optimizer step: update ``trainable_variables`` in place from ``grads``.

        Parameters
        ----------
        grads : list of array-like or None
            One gradient per variable, same shape; None gradients are skipped with a warning
            (all None is a ValueError).
        trainable_variables : list of ndarray, optional
            float32 or float64 arrays, writeable; slots are created on first use. Omitted:
            the variables of the first call or of :meth:`build`.

        Everything is checked before anything changes.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first."
                )
            trainable_variables = self._variables
        variables = [self._checked_variable(v) for v in trainable_variables]
        if len(grads) != len(variables):
            raise ValueError(f"Got {len(grads)} gradients for {len(variables)} variables.")
        pairs = [
            (self._checked_gradient(g, v), v) for g, v in zip(grads, variables) if g is not None
        ]
        if not pairs:
            raise ValueError("No gradients provided for any variable.")
        if len(pairs) < len(grads):
            missing = [i for i, g in enumerate(grads) if g is None]
            warnings.warn(
                f"Gradients do not exist for variables {missing}.", UserWarning, stacklevel=2
            )
        self.build(variables)
        n_threads = effective_n_threads()
        scales = self._gradient_scales([g for g, _ in pairs], n_threads)
        clip_value = _on(self.clipvalue) or np.inf
        lr = float(self.learning_rates(self._iterations, 1)[0])
        t = self._iterations + 1
        decay = float(self.weight_decay) if self.weight_decay is not None else 0.0
        self._begin_step()
        for (g, v), scale in zip(pairs, scales):
            if v.size == 0:
                continue
            w = v.reshape(-1) if v.flags.c_contiguous else np.ascontiguousarray(v).reshape(-1)
            slots = {k: s.reshape(-1) for k, s in self._slots_of(v).items()}
            wd = decay if self.use_weight_decay(v) else 0.0
            self._update(w, g, slots, lr, t, wd, scale, clip_value, n_threads)
            if not v.flags.c_contiguous:
                v[...] = w.reshape(v.shape)
        self._end_step()
        self._iterations += 1

    def _gradient_scales(self, grads: list[np.ndarray], n_threads: int) -> list[float]:
        """Each gradient's multiplier: 1 / loss_scale_factor times the clipnorm or
        global_clipnorm factor of the unscaled gradients."""
        inv = 1.0 if self.loss_scale_factor is None else 1.0 / self.loss_scale_factor
        clipnorm, global_clipnorm = _on(self.clipnorm), _on(self.global_clipnorm)
        if clipnorm:
            norms = [inv * _reductions.l2_norm(g, n_threads) if g.size else 0.0 for g in grads]
            return [inv * clipnorm / max(n, clipnorm) for n in norms]
        if global_clipnorm:
            total = sum(_reductions.sum_squares(g, n_threads) for g in grads if g.size)
            norm = inv * float(np.sqrt(total))
            if not np.isfinite(norm):
                factor = np.nan
            else:
                factor = global_clipnorm * min(
                    1.0 / norm if norm else np.inf, 1.0 / global_clipnorm
                )
            return [inv * factor] * len(grads)
        return [inv] * len(grads)

    def _begin_step(self) -> None:
        """Hook before a step's kernel calls (Nadam)."""

    def _end_step(self) -> None:
        """Hook after a step's kernel calls (Nadam)."""

    def _update(
        self,
        w: np.ndarray,
        g: np.ndarray,
        slots: dict[str, np.ndarray],
        lr: float,
        t: int,
        weight_decay: float,
        grad_scale: float,
        clip_value: float,
        n_threads: int,
    ) -> None:
        """One kernel call on flat, contiguous w, g and slots."""
        raise NotImplementedError

    def scale_loss(self, loss: Any) -> Any:
        """``loss * loss_scale_factor`` when the factor is set, else ``loss``."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    # ---- use_ema: a moving average of the trainable weights ------------------------------

    def update_ema(self, variables: Sequence[Any], iterations_before: int) -> None:
        """After one optimizer step (the step count before it given): each average becomes
        ``m * average + (1 - m) * variable`` (the variable itself at the first step, as
        Keras's momentum is 0 while ``iterations`` is 0); every
        ``ema_overwrite_frequency`` steps the variables take their averages.

        fit calls it per step in NumPy (fit then steps batch by batch: one engine call and
        one pass over the weights per batch)."""
        if not self.use_ema:
            return
        if [id(v) for v in self._ema_owners] != [id(v) for v in variables]:
            self._ema_owners = list(variables)
            self._model_variables_moving_average = [np.array(v.value) for v in variables]
        for var, average in zip(variables, self._model_variables_moving_average):
            value = var.value
            m = value.dtype.type(self.ema_momentum if iterations_before != 0 else 0.0)
            average[...] = m * average + (value.dtype.type(1) - m) * value
        if self.ema_overwrite_frequency and (
                iterations_before + 1) % self.ema_overwrite_frequency == 0:
            self.finalize_variable_values(variables)

    def finalize_variable_values(self, var_list: Sequence[Any]) -> None:
        """With use_ema, the variables take their moving averages (fit does this at its
        end, as Keras's)."""
        if not self.use_ema or not self._model_variables_moving_average:
            return
        if len(var_list) != len(self._model_variables_moving_average):
            raise ValueError(
                f"The length of model variables ({len(var_list)}) to override does not match "
                "the length of model variables stored in the optimizer "
                f"({len(self._model_variables_moving_average)}). Please check if the "
                "optimizer was called on your model.")
        for var, average in zip(var_list, self._model_variables_moving_average):
            var.assign(average)

    # ---- Keras's optimizer.variables ---------------------------------------------------

    def _extra_variables(self) -> list[np.ndarray]:
        """State Keras stores after the slots (Nadam's u_product)."""
        return []

    def _set_extra_variables(self, values: list[np.ndarray]) -> None:
        """Inverse of :meth:`_extra_variables`."""

    @property
    def variables(self) -> list[np.ndarray]:
        """Keras's ``optimizer.variables`` for the built variables: the iteration count
        (int64), the learning rate (float32, only when it is a float), the slots in Keras's
        order (views: writing them changes the state), then Nadam's u_product."""
        out = [np.array(self._iterations, dtype=np.int64)]
        if not (
            isinstance(self._learning_rate, LearningRateSchedule) or callable(self._learning_rate)
        ):
            out.append(np.array(self._learning_rate, dtype=np.float32))
        names = self.slot_names
        for group in self.slot_groups:
            for slots in self._slots:
                out.extend(slots[names.index(name)] for name in group)
        return out + (self._extra_variables() if self.built else [])

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Load values in the order of :attr:`variables` (e.g. from a Keras file)."""
        current = self.variables
        if len(weights) != len(current):
            raise ValueError(f"Expected {len(current)} optimizer weights, got {len(weights)}.")
        for target, value in zip(current, weights):
            if np.shape(value) != target.shape:
                raise ValueError(
                    f"Optimizer weight of shape {np.shape(value)} for one of shape {target.shape}."
                )
        self._iterations = int(np.asarray(weights[0]))
        n_head = 1
        if not isinstance(self._learning_rate, LearningRateSchedule) and not callable(
            self._learning_rate
        ):
            self._learning_rate = float(np.asarray(weights[1]))
            n_head = 2
        n_extra = len(self._extra_variables()) if self.built else 0
        for target, value in zip(current[n_head : len(current) - n_extra], weights[n_head:]):
            target[...] = value
        if n_extra:
            self._set_extra_variables(list(weights[len(current) - n_extra :]))

    # ---- configuration -----------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (a schedule serialized; ``decay`` only when set)."""
        lr = self._learning_rate
        config = {
            "name": self.name,
            "learning_rate": schedules.serialize(lr)
            if isinstance(lr, LearningRateSchedule)
            else lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Rebuild an optimizer (without its state) from :meth:`get_config`'s output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)
