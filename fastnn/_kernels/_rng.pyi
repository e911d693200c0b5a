"""Counter-based random kernels: dropout, Gaussian noise, Gaussian dropout, uniform/normal fills.

Element (i, j) of an (n, c) array is element (row0 + i) * c + j of the stream (seed, step, layer);
every value depends only on that index. seed, step: 0 <= v < 2**64; layer: 0 <= v < 2**16.
"""

from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

Floats: TypeAlias = NDArray[np.float32] | NDArray[np.float64]

def dropout(
    x: Floats, out: Floats, rate: float, seed: int, step: int, layer: int, row0: int,
    n_threads: int,
) -> None: ...
def gaussian_noise(
    x: Floats, out: Floats, stddev: float, seed: int, step: int, layer: int, row0: int,
    n_threads: int,
) -> None: ...
def gaussian_dropout(
    x: Floats, out: Floats, rate: float, seed: int, step: int, layer: int, row0: int,
    n_threads: int,
) -> None: ...
def uniform(out: Floats, seed: int, step: int, layer: int, row0: int, n_threads: int) -> None: ...
def normal(out: Floats, seed: int, step: int, layer: int, row0: int, n_threads: int) -> None: ...
def philox4x32_10(
    counters: NDArray[np.uint32], key: NDArray[np.uint32], out: NDArray[np.uint32]
) -> None: ...
