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
all_finite are order-free. Small inputs run on the calling thread, outside any OpenMP region
(threads_for).
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdlib cimport free, malloc

cimport numpy as cnp

cnp.import_array()

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


cdef inline bint _finite_chunk(const floating *x, Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    if floating is float:
        return fnn_all_finite_chunk_f32(x + c * CHUNK, _chunk_len(n, c))
    else:
        return fnn_all_finite_chunk_f64(x + c * CHUNK, _chunk_len(n, c))


cdef bint all_finite_nogil(const floating *x, Py_ssize_t n, int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    cdef int bad = 0
    cdef int threads = threads_for(n, n_threads)
    if threads == 1:  # no parallel region: even a one-thread region costs a futex call
        for c in range(_n_chunks(n)):
            if not _finite_chunk(x, n, c):
                return False
        return True
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads):
        bad |= not _finite_chunk(x, n, c)
    return not bad


cdef inline void _scale_chunk(floating *x, Py_ssize_t n, Py_ssize_t c,
                              double factor) noexcept nogil:
    if floating is float:
        fnn_scale_chunk_f32(x + c * CHUNK, _chunk_len(n, c), <float> factor)
    else:
        fnn_scale_chunk_f64(x + c * CHUNK, _chunk_len(n, c), factor)


cdef void scale_nogil(floating *x, Py_ssize_t n, double factor, int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    cdef int threads = threads_for(n, n_threads)
    if threads == 1:
        for c in range(_n_chunks(n)):
            _scale_chunk(x, n, c, factor)
        return
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads):
        _scale_chunk(x, n, c, factor)


cdef inline void _clip_chunk(floating *x, Py_ssize_t n, Py_ssize_t c, double lo,
                             double hi) noexcept nogil:
    if floating is float:
        fnn_clip_chunk_f32(x + c * CHUNK, _chunk_len(n, c), <float> lo, <float> hi)
    else:
        fnn_clip_chunk_f64(x + c * CHUNK, _chunk_len(n, c), lo, hi)


cdef void clip_nogil(floating *x, Py_ssize_t n, double lo, double hi,
                     int n_threads) noexcept nogil:
    cdef Py_ssize_t c
    cdef int threads = threads_for(n, n_threads)
    if threads == 1:
        for c in range(_n_chunks(n)):
            _clip_chunk(x, n, c, lo, hi)
        return
    for c in prange(_n_chunks(n), schedule="static", num_threads=threads):
        _clip_chunk(x, n, c, lo, hi)


cdef inline void _colsum_block(const floating *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                               Py_ssize_t b, floating *out, bint accumulate) noexcept nogil:
    cdef Py_ssize_t j0 = b * FNN_COLSUM_BLOCK
    cdef Py_ssize_t width = min(<Py_ssize_t> FNN_COLSUM_BLOCK, n_cols - j0)
    if floating is float:
        fnn_colsum_block_f32(x + j0, n_rows, n_cols, width, out + j0, accumulate)
    else:
        fnn_colsum_block_f64(x + j0, n_rows, n_cols, width, out + j0, accumulate)


cdef void column_sums_nogil(const floating *x, Py_ssize_t n_rows, Py_ssize_t n_cols,
                            floating *out, bint accumulate, int n_threads) noexcept nogil:
    cdef Py_ssize_t b
    cdef Py_ssize_t n_blocks = (n_cols + FNN_COLSUM_BLOCK - 1) // FNN_COLSUM_BLOCK
    cdef int threads = threads_for(n_rows * n_cols, n_threads) if n_blocks > 1 else 1
    if threads == 1:
        for b in range(n_blocks):
            _colsum_block(x, n_rows, n_cols, b, out, accumulate)
        return
    for b in prange(n_blocks, schedule="static", num_threads=threads):
        _colsum_block(x, n_rows, n_cols, b, out, accumulate)


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


def array_all_finite(cnp.ndarray arr, int n_threads):
    """True when a C-contiguous float32 or float64 array of any shape holds no inf and no NaN.

    The same check as `all_finite` without a fused-type dispatch and a memoryview: ~0.1 µs per
    call instead of ~1 µs, which matters in `predict` on a few rows.
    """
    cdef Py_ssize_t n = cnp.PyArray_SIZE(arr)
    cdef int type_num = cnp.PyArray_TYPE(arr)
    cdef void *data = cnp.PyArray_DATA(arr)
    cdef bint result
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or type_num not in (cnp.NPY_FLOAT32, cnp.NPY_FLOAT64):
        raise ValueError(f"expected a C-contiguous float32 or float64 array, got {arr.dtype}")
    with nogil:
        if type_num == cnp.NPY_FLOAT32:
            result = all_finite_nogil(<const float *> data, n, n_threads)
        else:
            result = all_finite_nogil(<const double *> data, n, n_threads)
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
