# Counter-based random kernels, callable without the GIL from the engine. Each covers an
# (n, c) row-major block whose first row is row `row0` of the (seed, step, layer) stream:
# element (i, j) has index (row0 + i) * c + j. See _rng.pyx for the design.
from cython cimport floating
from libc.stdint cimport uint16_t, uint64_t

cdef void dropout_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                       double rate, uint64_t seed, uint64_t step, uint16_t layer,
                       uint64_t row0, int n_threads) noexcept nogil
cdef void gaussian_noise_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                              double stddev, uint64_t seed, uint64_t step, uint16_t layer,
                              uint64_t row0, int n_threads) noexcept nogil
cdef void gaussian_dropout_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                                double rate, uint64_t seed, uint64_t step, uint16_t layer,
                                uint64_t row0, int n_threads) noexcept nogil
cdef void uniform_rows(floating *out, Py_ssize_t n, Py_ssize_t c, uint64_t seed, uint64_t step,
                       uint16_t layer, uint64_t row0, int n_threads) noexcept nogil
cdef void normal_rows(floating *out, Py_ssize_t n, Py_ssize_t c, uint64_t seed, uint64_t step,
                      uint16_t layer, uint64_t row0, int n_threads) noexcept nogil
