"""`keras.ops` math functions: erf, logsumexp, top_k, rsqrt."""

from __future__ import annotations

import math

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from fastnn.ops._dtypes import as_float, to_array
from fastnn.ops.numpy import argsort, take_along_axis


@primitive
def _erf(x):
    # SciPy's special functions load in ~0.3 s (autograd.scipy, which also loads scipy.stats
    # and scipy.integrate, in ~0.9 s): only a call to erf pays for them.
    from scipy.special import erf as scipy_erf

    return scipy_erf(x)


defvjp(_erf, lambda ans, x: lambda g: g * (2 / math.sqrt(math.pi)) * np.exp(-np.square(x)))


def erf(x):
    return _erf(as_float(x))


def rsqrt(x):
    return 1.0 / anp.sqrt(as_float(x))


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) without overflow: the largest value is taken out first."""
    x = as_float(x)
    # The shift is a constant (its gradient would cancel exactly), and an all -inf slice keeps
    # a zero shift so that the result is -inf, not nan.
    shift = np.max(getval(x), axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0).astype(getval(x).dtype)
    with np.errstate(divide="ignore"):  # an all -inf slice: log(0) = -inf, on purpose
        result = anp.log(anp.sum(anp.exp(x - shift), axis=axis, keepdims=True)) + shift
    if keepdims:
        return result
    return anp.reshape(result, np.sum(getval(x), axis=axis).shape)


def top_k(x, k, sorted=True):
    """The `k` largest values along the last axis and their int32 indices, largest first
    (equal values: lower index first, as TensorFlow)."""
    x = to_array(x)
    if not 0 <= k <= np.shape(getval(x))[-1]:
        raise ValueError(f"k must be in [0, {np.shape(getval(x))[-1]}], received k={k}.")
    indices = argsort(-getval(x), axis=-1)[..., :k]
    return take_along_axis(x, indices, axis=-1), indices
