# cdef entry points of the reductions for the engine, callable without the GIL. Buffers are
# flat and contiguous (column_sums: an (n_rows, n_cols) row-major matrix). Every result is the
# same bits for any n_threads; see _reductions.pyx for the design.
from cython cimport floating


cdef double sum_squares_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil
cdef double l2_norm_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil
cdef bint all_finite_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil
cdef void scale_nogil(floating *x, Py_ssize_t n, double factor, int n_threads) noexcept nogil
cdef void clip_nogil(floating *x, Py_ssize_t n, double lo, double hi,
                     int n_threads) noexcept nogil
cdef void column_sums_nogil(const floating *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                            floating *out, bint accumulate, int n_threads) noexcept nogil
