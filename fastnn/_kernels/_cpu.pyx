"""What the C layer knows about the CPU: the SIMD variant picked at run time."""

cdef extern from "fastnn.h":
    const char *fnn_simd_path() noexcept nogil


def simd_path():
    """Name of the SIMD code path the kernels run on this CPU."""
    return fnn_simd_path().decode()
