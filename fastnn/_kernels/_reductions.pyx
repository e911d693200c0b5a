"""Reductions: sums of squares / L2 norms, finiteness checks, in-place scale and clip of flat
buffers, and column sums of row-major matrices.

What it computes. sum_squares and l2_norm serve clipnorm (one tensor's slice of the flat
gradient buffer) and global_clipnorm (the whole buffer); scale and clip apply the clipping in
place when it is not folded into the optimizer step (see _optimizers.pyx); all_finite checks a
buffer for inf and NaN; column_sums gives a bias gradient db = sum over rows of dY, written or
accumulated.

Precision. Every sum accumulates in double, for float32 and float64 data alike. For float32
that makes a sum exact to far below float32's own rounding, and its squares can neither
overflow nor underflow; for float64 the squares are all positive, so the relative error of a
sum of squares is bounded by the length of its longest chain of additions (16 lanes per chunk,
then the chunks in order: about (CHUNK / 16 + n / CHUNK) * 2^-53). Compensated (Kahan)
summation would cost a dependent chain of four operations per element for accuracy no caller
needs; double accumulation is as cheap as float's at memory speed. A float64 sum of squares
overflows to inf above about 1e154, as Keras's own norm does.

How it threads, and why the bits never depend on it. A flat buffer is cut into CHUNK-element
chunks, a constant, never derived from the thread count. A static prange gives each thread
whole chunks; each chunk's partial sum goes to its own slot of a scratch array and the slots
are added in chunk order afterwards; one thread walks the same chunks and adds them in the
same order, so both give the same bits. column_sums splits the columns into blocks of
FNN_COLSUM_BLOCK: the outputs are disjoint and each column is summed over all rows in row
order whichever thread owns it. The elementwise passes (scale, clip) and the boolean
all_finite are order-free. Small inputs run on one thread (threads_for).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc

from fastnn._kernels._openmp cimport threads_for

cdef extern from "fastnn.h":
    enum: FNN_COLSUM_BLOCK
    double fnn_sumsq_chunk_f32(const float *x, size_t n) noexcept nogil
    double fnn_sumsq_chunk_f64(const double *x, size_t n) noexcept nogil
    int fnn_all_finite_chunk_f32(const float *x, size_t n) noexcept nogil
    int fnn_all_finite_chunk_f64(const double *x, size_t n) noexcept nogil
    void fnn_scale_chunk_f32(float *x, size_t n, float factor) noexcept nogil
    void fnn_scale_chunk_f64(double *x, size_t n, double factor) noexcept nogil
    void fnn_clip_chunk_f32(float *x, size_t n, float lo, float hi) noexcept nogil
    void fnn_clip_chunk_f64(double *x, size_t n, double lo, double hi) noexcept nogil
    void fnn_colsum_block_f32(const float *x, size_t n_rows, size_t ld, size_t n_cols,
                              float *out, int accumulate) noexcept nogil
    void fnn_colsum_block_f64(const double *x, size_t n_rows, size_t ld, size_t n_cols,
                              double *out, int accumulate) noexcept nogil

# Elements per chunk. It fixes the order of the additions, so changing it changes the bits of
# every sum of squares; 4096 float64s (32 KB) fit L1, and 8 chunks reach the parallel cut-off.
cdef enum:
    CHUNK = 4096


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n) noexcept nogil:
    return (n + CHUNK - 1) // CHUNK


cdef inline Py_ssize_t _chunk_len(Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    return min(<Py_ssize_t> CHUNK, n - c * CHUNK)


cdef inline double _sumsq_chunk(const floating *x, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    if floating is float:
        return fnn_sumsq_chunk_f32(x + c * CHUNK, _chunk_len(n, c))
    else:
        return fnn_sumsq_chunk_f64(x + c * CHUNK, _chunk_len(n, c))


cdef double sum_squares_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil:
    cdef Py_ssize_t c, n_chunks = _n_chunks(n)
    cdef int threads = threads_for(n, n_threads)
    cdef double total = 0
    cdef double *partial = NULL
    if threads > 1:
        partial = <double *> malloc(n_chunks * sizeof(double))
    if partial == NULL:  # one thread, or no scratch: the same chunks, added in the same order
        for c in range(n_chunks):
            total += _sumsq_chunk(x, n, c)
        return total
    for c in prange(n_chunks, schedule="static", num_threads=threads):
        partial[c] = _sumsq_chunk(x, n, c)
    for c in range(n_chunks):
        total += partial[c]
    free(partial)
    return total


cdef double l2_norm_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil:
    return sqrt(sum_squares_nogil(x, n, n_threads))


cdef bint all_finite_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    cdef int bad = 0
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads_for(n, n_threads)):
        if floating is float:
            bad |= not fnn_all_finite_chunk_f32(x + c * CHUNK, _chunk_len(n, c))
        else:
            bad |= not fnn_all_finite_chunk_f64(x + c * CHUNK, _chunk_len(n, c))
    return not bad


cdef void scale_nogil(floating *x, Py_ssize_t n, double factor, int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads_for(n, n_threads)):
        if floating is float:
            fnn_scale_chunk_f32(x + c * CHUNK, _chunk_len(n, c), <float> factor)
        else:
            fnn_scale_chunk_f64(x + c * CHUNK, _chunk_len(n, c), factor)


cdef void clip_nogil(floating *x, Py_ssize_t n, double lo, double hi,
                     int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads_for(n, n_threads)):
        if floating is float:
            fnn_clip_chunk_f32(x + c * CHUNK, _chunk_len(n, c), <float> lo, <float> hi)
        else:
            fnn_clip_chunk_f64(x + c * CHUNK, _chunk_len(n, c), lo, hi)


cdef void column_sums_nogil(const floating *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                            floating *out, bint accumulate, int n_threads) noexcept nogil:
    cdef Py_ssize_t b, j0
    cdef Py_ssize_t n_blocks = (n_cols + FNN_COLSUM_BLOCK - 1) // FNN_COLSUM_BLOCK
    cdef int threads = threads_for(n_rows * n_cols, n_threads) if n_blocks > 1 else 1
    for b in prange(n_blocks, schedule="static", num_threads=threads):
        j0 = b * FNN_COLSUM_BLOCK
        if floating is float:
            fnn_colsum_block_f32(x + j0, n_rows, n_cols, min(<Py_ssize_t> FNN_COLSUM_BLOCK,
                                 n_cols - j0), out + j0, accumulate)
        else:
            fnn_colsum_block_f64(x + j0, n_rows, n_cols, min(<Py_ssize_t> FNN_COLSUM_BLOCK,
                                 n_cols - j0), out + j0, accumulate)


def sum_squares(const floating[::1] x, int n_threads):
    """Sum of x**2 over a flat buffer, as a Python float (accumulated in double)."""
    cdef double result
    with nogil:
        result = sum_squares_nogil(&x[0], x.shape[0], n_threads)
    return result


def l2_norm(const floating[::1] x, int n_threads):
    """sqrt(sum(x**2)) of a flat buffer, as a Python float."""
    cdef double result
    with nogil:
        result = l2_norm_nogil(&x[0], x.shape[0], n_threads)
    return result


def all_finite(const floating[::1] x, int n_threads):
    """True when x holds no inf and no NaN."""
    cdef bint result
    with nogil:
        result = all_finite_nogil(&x[0], x.shape[0], n_threads)
    return result


def scale_inplace(floating[::1] x, double factor, int n_threads):
    """x *= factor, in place (factor rounded to x's dtype first)."""
    with nogil:
        scale_nogil(&x[0], x.shape[0], factor, n_threads)


def clip_inplace(floating[::1] x, double lo, double hi, int n_threads):
    """x = clip(x, lo, hi), in place (lo <= hi; NaN stays NaN)."""
    with nogil:
        clip_nogil(&x[0], x.shape[0], lo, hi, n_threads)


def column_sums(const floating[:, ::1] x, floating[::1] out, bint accumulate, int n_threads):
    """out = x.sum(axis=0) (accumulate=False) or out += x.sum(axis=0), summed in double."""
    with nogil:
        column_sums_nogil(&x[0, 0], x.shape[0], x.shape[1], &out[0], accumulate, n_threads)
