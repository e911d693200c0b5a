"""Type stubs for fastnn._kernels._activations (see the module's design note)."""

from typing import TypeVar

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", np.float32, np.float64)

ACTIVATIONS: dict[str, int]
NEEDS_Z: int
NEEDS_A: int

def activation_needs(
    act: int, negative_slope: float, max_value: float, threshold: float, alpha: float
) -> int: ...
def activation_forward(
    act: int,
    z: npt.NDArray[_F],
    bias: npt.NDArray[_F] | None,
    out: npt.NDArray[_F],
    zb_out: npt.NDArray[_F] | None,
    negative_slope: float,
    max_value: float,
    threshold: float,
    alpha: float,
    n_threads: int,
) -> None: ...
def activation_backward(
    act: int,
    g: npt.NDArray[_F],
    z: npt.NDArray[_F] | None,
    a: npt.NDArray[_F] | None,
    dz_out: npt.NDArray[_F],
    negative_slope: float,
    max_value: float,
    threshold: float,
    alpha: float,
    n_threads: int,
) -> None: ...
