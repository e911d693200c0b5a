"""Keras 3's ``keras.quantizers`` pieces that int8 Dense uses, on NumPy arrays.

``abs_max_quantize`` is Keras's symmetric absmax scheme: along ``axis``,
``scale = value_range[1] / (max |x| + epsilon)`` and ``q = clip(round(x * scale), *value_range)``,
every step in the input's float dtype and ``round`` half to even, so fastnn's int8 weights are
the ones Keras computes from the same float kernel.
"""

from __future__ import annotations

import numpy as np

EPSILON = 1e-7


def abs_max_quantize(inputs, axis=-1, value_range=(-127, 127), dtype="int8",
                     epsilon=EPSILON) -> tuple[np.ndarray, np.ndarray]:
    """``(quantized, scale)`` of ``inputs`` with one scale per slice along ``axis``.

    Parameters
    ----------
    inputs : array of floats
    axis : int or tuple of int
        The axes reduced to find each scale's absolute maximum (kept, of size 1).
    value_range : (int, int)
        The quantized values' bounds; Keras's int8 default is symmetric (-127, 127).
    dtype : str
        The quantized array's dtype.
    epsilon : float
        Added to the absolute maximum so an all-zero slice gets a finite scale.

    Examples
    --------
    >>> q, s = abs_max_quantize(np.array([[0.5, -1.0]], dtype="float32"))
    >>> q.tolist(), s.dtype.name
    ([[63, -127]], 'float32')
    """
    x = np.asarray(inputs)
    if x.dtype.kind != "f":
        raise ValueError(f"abs_max_quantize takes floating inputs; received dtype {x.dtype}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("abs_max_quantize received non-finite values (NaN or inf).")
    amax = np.max(np.abs(x), axis=axis, keepdims=True)
    # (NumPy 2 keeps Python scalars weak: every step stays in x's dtype, as Keras's does.)
    scale = np.divide(x.dtype.type(value_range[1]), amax + x.dtype.type(epsilon))
    q = np.clip(np.round(x * scale), value_range[0], value_range[1])
    return q.astype(dtype), scale.astype(x.dtype)
