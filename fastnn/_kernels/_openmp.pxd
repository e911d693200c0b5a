# The one place that touches OpenMP's C API. Without -fopenmp the shims below make every
# query answer "one thread", and Cython's prange runs serially, so kernels need no #ifdefs.
#
# `threads_for(work, n_threads)` is the serial cut-off the elementwise kernels use: below
# FNN_PARALLEL_MIN_WORK (in element-operations) a parallel region costs more than it saves.
# benchmarks/test_bench_threads.py measures the break-even point (2 x region cost / per-element
# cost of relu); matmul has its own cut-off, measured in _gemm.pyx. Measured on the 2-core AMD
# EPYC (Zen 3) development machine, idle: empty 2-thread region 1.33 us, relu 0.194 ns/element,
# break-even 13,668 elements; rounded up to a power of two.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FNN_OPENMP_ENABLED 1
    #else
    #define FNN_OPENMP_ENABLED 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    #endif
    #define FNN_PARALLEL_MIN_WORK 16384
    """
    const bint FNN_OPENMP_ENABLED
    const Py_ssize_t FNN_PARALLEL_MIN_WORK
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil


cdef inline int threads_for(Py_ssize_t work, int n_threads) noexcept nogil:
    """Threads to use for `work` element-operations: 1 below the cut-off, else n_threads."""
    if n_threads < 1 or work < FNN_PARALLEL_MIN_WORK:
        return 1
    return n_threads


cdef inline Py_ssize_t chunk_of_tiles(Py_ssize_t extent, Py_ssize_t tile,
                                      int threads) noexcept nogil:
    """Length of each thread's share when `extent` items (rows or columns of a product) are
    cut among `threads` in whole tiles of `tile` items (the last share may be shorter):
    the matmul kernels split C this way so that every element's arithmetic ignores the split."""
    cdef Py_ssize_t tiles = (extent + tile - 1) // tile
    return (tiles + threads - 1) // threads * tile
