"""Type stubs for fastnn._kernels._bf16 (the bfloat16 products of mixed precision)."""

import numpy as np
import numpy.typing as npt

PATHS: dict[str, int]
PATH_NAMES: dict[int, str]

def available(name: str) -> bool: ...
def path() -> int: ...
def path_name() -> str: ...
def check_path(p: int) -> None: ...
def matmul_bf16(
    a: npt.NDArray[np.float32],
    b: npt.NDArray[np.float32],
    out: npt.NDArray[np.float32],
    trans_a: bool,
    trans_b: bool,
    alpha: float,
    beta: float,
    n_threads: int,
    path: int,
) -> None: ...
def round_bf16(x: npt.ArrayLike) -> npt.NDArray[np.float32]: ...
