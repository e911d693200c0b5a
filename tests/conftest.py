"""Shared fixtures: dtypes, thread counts and the input layouts every kernel test runs on."""

import numpy as np
import pytest

DTYPES = [np.float32, np.float64]
THREADS = [1, 2]


@pytest.fixture(params=DTYPES, ids=["f32", "f64"])
def dtype(request):
    return request.param


@pytest.fixture(params=THREADS, ids=["t1", "t2"])
def n_threads(request):
    return request.param


def tolerance(dtype):
    """rtol/atol for comparing a kernel in `dtype` with the float64 reference."""
    return {"rtol": 2e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def as_layout(a, layout):
    """`a` as the layout under test, converted the way the Python layer will convert it.

    "c": C-contiguous. "strided": a non-contiguous view (every other column of a wider
    array), copied to C order. "fortran": Fortran-ordered, copied to C order. "readonly":
    C-contiguous with the write flag off (kernels take const memoryviews).
    """
    if layout == "c":
        return np.ascontiguousarray(a)
    if layout == "strided":
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype) if a.ndim else a
        wide[..., ::2] = a
        view = wide[..., ::2]
        assert not view.flags.c_contiguous or a.shape[-1] == 1
        return np.ascontiguousarray(view)
    if layout == "fortran":
        f = np.asfortranarray(a)
        return np.ascontiguousarray(f)
    if layout == "readonly":
        r = np.ascontiguousarray(a).copy()
        r.flags.writeable = False
        return r
    raise ValueError(layout)


LAYOUTS = ["c", "strided", "fortran", "readonly"]


@pytest.fixture(scope="session")
def tf_keras():
    """TensorFlow's Keras 3, the reference for parity tests.

    Skips when TensorFlow is not installed, except in CI (CI=true), where the test extra installs
    it and a missing TensorFlow must fail rather than silently skip every parity test.
    """
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("TensorFlow is required for the Keras parity tests in CI")
        pytest.skip("TensorFlow is not installed")
    return tf.keras
