"""Type stubs for fastnn._kernels._optimizers (see the module's design note).

Every update is in place on w and the slots; the common tail is (weight_decay, grad_scale,
clip_value, n_threads), with 0, 1.0 and inf turning the first three off.
"""

from typing import TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", np.float32, np.float64)
_A: TypeAlias = npt.NDArray[_F]

def sgd_update(
    w: _A,
    g: _A,
    m: _A | None,
    lr: float,
    momentum: float,
    nesterov: bool,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def adam_update(
    w: _A,
    g: _A,
    m: _A,
    v: _A,
    vhat: _A | None,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    t: int,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def rmsprop_update(
    w: _A,
    g: _A,
    v: _A,
    avg_g: _A | None,
    mom: _A | None,
    lr: float,
    rho: float,
    momentum: float,
    epsilon: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def adagrad_update(
    w: _A,
    g: _A,
    acc: _A,
    lr: float,
    epsilon: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def adadelta_update(
    w: _A,
    g: _A,
    acc_g: _A,
    acc_delta: _A,
    lr: float,
    rho: float,
    epsilon: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def adamax_update(
    w: _A,
    g: _A,
    m: _A,
    u: _A,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    t: int,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def nadam_update(
    w: _A,
    g: _A,
    m: _A,
    v: _A,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    t: int,
    u_product: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> float: ...
def lion_update(
    w: _A,
    g: _A,
    m: _A,
    lr: float,
    beta_1: float,
    beta_2: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def ftrl_update(
    w: _A,
    g: _A,
    acc: _A,
    lin: _A,
    lr: float,
    lr_power: float,
    l1: float,
    l2: float,
    l2_shrinkage: float,
    beta: float,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
def lamb_update(
    w: _A,
    g: _A,
    m: _A,
    v: _A,
    lr: float,
    beta_1: float,
    beta_2: float,
    epsilon: float,
    t: int,
    weight_decay: float,
    grad_scale: float,
    clip_value: float,
    n_threads: int,
) -> None: ...
