"""Matrix multiplication: C = alpha * op(A) @ op(B) + beta * C, float32 and float64.

Two engines, chosen by shape in `gemm`:
  - the own tile kernel (csrc/gemm.c), threaded here by splitting C into disjoint blocks of
    whole register tiles (columns when there are enough, else rows), one prange chunk per
    thread; each element's arithmetic does not depend on the split, so every thread count
    gives the same bits. It wins up to about 128 rows of op(A): there BLAS's packing and
    thread start-up cost more than the arithmetic, and our few-row path reads B in place.
  - BLAS (SciPy's OpenBLAS through cython_blas) for the rest. BLAS threads itself and is never
    called inside one of our parallel regions, so the two pools never run at once.
Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so BLAS gets B first.
"""
from cython cimport floating
from cython.parallel cimport prange
from scipy.linalg.cython_blas cimport dgemm, sgemm

from fastnn._kernels._openmp cimport threads_for

cdef extern from "fastnn.h":
    enum:
        FNN_GEMM_MR
        FNN_GEMM_NR_F32
        FNN_GEMM_NR_F64
    void fnn_gemm_f32(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      float alpha, const float *a, Py_ssize_t lda, const float *b,
                      Py_ssize_t ldb, float beta, float *c, Py_ssize_t ldc) noexcept nogil
    void fnn_gemm_f64(int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      double alpha, const double *a, Py_ssize_t lda, const double *b,
                      Py_ssize_t ldb, double beta, double *c, Py_ssize_t ldc) noexcept nogil

# Rows of op(A) up to which the own kernel beats SciPy's OpenBLAS 0.3.30 (Haswell kernels) on
# this Zen 3: single-thread CPU time, float32, OPENBLAS_NUM_THREADS=1, min of 9 interleaved
# rounds on a loaded 2-core machine (own/BLAS time): m <= 16: 0.2-0.56 for NN, TN, NT on
# k x n = 784x512, 512x256; m = 128: 0.87-0.96 (NN, NT: 784x512, 512x784, 256x512),
# 1.02-1.14 for TN with k = 128; m = 1000: 1.03-1.17. Method: _gemm.matmul_own(..., 1) against
# _gemm.matmul_blas timed with time.thread_time() (CPU time, robust to the machine's other
# load), OPENBLAS_NUM_THREADS=1. Wall-clock 2-thread ratios were too noisy to use (load 5-7).
cdef enum:
    OWN_MAX_M = 128


cdef inline void _own_block(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                            Py_ssize_t k, floating alpha, const floating *a, Py_ssize_t lda,
                            const floating *b, Py_ssize_t ldb, floating beta,
                            floating *c, Py_ssize_t ldc) noexcept nogil:
    if floating is float:
        fnn_gemm_f32(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    else:
        fnn_gemm_f64(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef void gemm_own(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                   floating alpha, const floating *a, Py_ssize_t lda,
                   const floating *b, Py_ssize_t ldb, floating beta,
                   floating *c, Py_ssize_t ldc, int n_threads) noexcept nogil:
    cdef Py_ssize_t nr = FNN_GEMM_NR_F32 if floating is float else FNN_GEMM_NR_F64
    cdef int threads = threads_for(m * n * k, n_threads)
    cdef bint by_columns = n >= 2 * threads * nr or m < 2 * threads * FNN_GEMM_MR
    cdef Py_ssize_t tile = nr if by_columns else FNN_GEMM_MR
    cdef Py_ssize_t extent = n if by_columns else m
    cdef Py_ssize_t tiles = (extent + tile - 1) // tile
    cdef Py_ssize_t chunk = (tiles + threads - 1) // threads * tile
    cdef Py_ssize_t n_chunks = (extent + chunk - 1) // chunk
    cdef Py_ssize_t t, lo, size
    if n_chunks <= 1:
        _own_block(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(n_chunks, schedule="static", num_threads=n_chunks):
        lo = t * chunk
        size = min(chunk, extent - lo)
        if by_columns:
            _own_block(trans_a, trans_b, m, size, k, alpha, a, lda,
                       b + (lo * ldb if trans_b else lo), ldb, beta, c + lo, ldc)
        else:
            _own_block(trans_a, trans_b, size, n, k, alpha,
                       a + (lo if trans_a else lo * lda), lda, b, ldb, beta,
                       c + lo * ldc, ldc)


cdef void gemm_blas(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                    floating alpha, const floating *a, Py_ssize_t lda,
                    const floating *b, Py_ssize_t ldb, floating beta,
                    floating *c, Py_ssize_t ldc) noexcept nogil:
    if m <= 0 or n <= 0:
        return
    cdef char op_a = b'T' if trans_a else b'N'
    cdef char op_b = b'T' if trans_b else b'N'
    # Fortran wants every leading dimension >= 1, even for empty operands.
    cdef int fm = <int>m, fn = <int>n, fk = <int>k
    cdef int flda = <int>max(lda, 1), fldb = <int>max(ldb, 1), fldc = <int>max(ldc, 1)
    if floating is float:
        sgemm(&op_b, &op_a, &fn, &fm, &fk, &alpha, <float *>b, &fldb, <float *>a, &flda,
              &beta, c, &fldc)
    else:
        dgemm(&op_b, &op_a, &fn, &fm, &fk, &alpha, <double *>b, &fldb, <double *>a, &flda,
              &beta, c, &fldc)


cdef void gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               floating alpha, const floating *a, Py_ssize_t lda,
               const floating *b, Py_ssize_t ldb, floating beta,
               floating *c, Py_ssize_t ldc, int n_threads) noexcept nogil:
    if m <= OWN_MAX_M:
        gemm_own(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads)
    else:
        gemm_blas(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
           bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """out = alpha * op(a) @ op(b) + beta * out, by the engine `gemm` picks for the shape."""
    with nogil:
        gemm(trans_a, trans_b, out.shape[0], out.shape[1],
             a.shape[0] if trans_a else a.shape[1], <floating>alpha, &a[0, 0], a.shape[1],
             &b[0, 0], b.shape[1], <floating>beta, &out[0, 0], out.shape[1], n_threads)


def matmul_own(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
               bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """Like `matmul`, always on the own tile kernel."""
    with nogil:
        gemm_own(trans_a, trans_b, out.shape[0], out.shape[1],
                 a.shape[0] if trans_a else a.shape[1], <floating>alpha, &a[0, 0], a.shape[1],
                 &b[0, 0], b.shape[1], <floating>beta, &out[0, 0], out.shape[1], n_threads)


def matmul_blas(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
                bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """Like `matmul`, always on BLAS (which picks its own thread count; n_threads unused)."""
    with nogil:
        gemm_blas(trans_a, trans_b, out.shape[0], out.shape[1],
                  a.shape[0] if trans_a else a.shape[1], <floating>alpha, &a[0, 0],
                  a.shape[1], &b[0, 0], b.shape[1], <floating>beta, &out[0, 0], out.shape[1])
