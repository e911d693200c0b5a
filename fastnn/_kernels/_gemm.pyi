"""Type stubs for fastnn._kernels._gemm (out = alpha * op(a) @ op(b) + beta * out)."""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

_Float: TypeAlias = np.float32 | np.float64

def matmul(
    a: npt.NDArray[_Float],
    b: npt.NDArray[_Float],
    out: npt.NDArray[_Float],
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
    n_threads: int,
) -> None: ...
def matmul_own(
    a: npt.NDArray[_Float],
    b: npt.NDArray[_Float],
    out: npt.NDArray[_Float],
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
    n_threads: int,
) -> None: ...
def matmul_blas(
    a: npt.NDArray[_Float],
    b: npt.NDArray[_Float],
    out: npt.NDArray[_Float],
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
    n_threads: int,
) -> None: ...
