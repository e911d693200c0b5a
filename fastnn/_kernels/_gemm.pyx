"""Matrix multiplication: C = alpha * op(A) @ op(B) + beta * C, float32 and float64.

`gemm` (what the engine calls) always runs the own tile kernel (csrc/gemm.c), threaded here
by splitting C into disjoint blocks of whole register tiles (columns when there are enough,
else rows), one prange chunk per thread; each element's arithmetic does not depend on the
split, so every thread count gives the same bits. Single-threaded it is within a few % of
OpenBLAS on the MLP's batch-128 shapes and faster for <= 16 rows; BLAS is not used because
OpenBLAS's pthreads keep spinning after each call and then fight our OpenMP threads for the
cores. `gemm_blas` (SciPy's OpenBLAS through cython_blas) stays for comparison and tests.
Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so BLAS gets B first.
SciPy's BLAS is looked up on the first `gemm_blas` call, not at import: importing
scipy.linalg costs ~0.3 s, more than the rest of `import fastnn`.
"""
from cpython.pycapsule cimport PyCapsule_GetName, PyCapsule_GetPointer
from cython cimport floating
from cython.parallel cimport prange

from fastnn._kernels._openmp cimport chunk_of_tiles, threads_for

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

# Multiply-adds (m*n*k) from which a second thread pays for waking it: at 2^17 the parallel
# region's start-up still eats the gain, at 2^18 it is ~20% faster. Wall time, own kernel,
# float32, min of 60 interleaved rounds at load ~3 on 2 Zen 3 cores, 2-thread speedup:
# 32x32x32 0.75 (slower), 32x64x64 0.98, 64x64x64 1.23, 32x128x128 1.21, 128x128x128 1.24,
# 128x256x128 1.67, 128x512x256 1.76. The general FNN_PARALLEL_MIN_WORK (32768) counts
# element-operations of much cheaper kernels.
cdef enum:
    GEMM_PARALLEL_MIN_MNK = 1 << 18


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
    cdef Py_ssize_t mnk = m * n * k
    cdef int threads = threads_for(mnk, n_threads) if mnk >= GEMM_PARALLEL_MIN_MNK else 1
    # Column blocks each pack all of op(A); for op(A) = A^T (the weight gradient, copied
    # element by element) that doubles the dearest copy, so tall A^T is split by rows.
    cdef bint by_columns = ((n >= 2 * threads * nr and not (trans_a and m >= n))
                            or m < 2 * threads * FNN_GEMM_MR)
    cdef Py_ssize_t tile = nr if by_columns else FNN_GEMM_MR
    cdef Py_ssize_t extent = n if by_columns else m
    cdef Py_ssize_t chunk = chunk_of_tiles(extent, tile, threads)
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


ctypedef void (*sgemm_t)(
    char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
    float *b, int *ldb, float *beta, float *c, int *ldc) noexcept nogil
ctypedef void (*dgemm_t)(
    char *transa, char *transb, int *m, int *n, int *k, double *alpha, double *a, int *lda,
    double *b, int *ldb, double *beta, double *c, int *ldc) noexcept nogil

cdef sgemm_t _sgemm = NULL
cdef dgemm_t _dgemm = NULL


cdef int _load_blas() except -1:
    """Point _sgemm/_dgemm at scipy.linalg.cython_blas's (the capsules its cimport reads)."""
    global _sgemm, _dgemm
    from scipy.linalg import cython_blas

    capsules = cython_blas.__pyx_capi__
    _dgemm = <dgemm_t>PyCapsule_GetPointer(capsules["dgemm"],
                                           PyCapsule_GetName(capsules["dgemm"]))
    _sgemm = <sgemm_t>PyCapsule_GetPointer(capsules["sgemm"],
                                           PyCapsule_GetName(capsules["sgemm"]))
    return 0


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
    if _sgemm == NULL:
        with gil:
            _load_blas()
    if floating is float:
        _sgemm(&op_b, &op_a, &fn, &fm, &fk, &alpha, <float *>b, &fldb, <float *>a, &flda,
               &beta, c, &fldc)
    else:
        _dgemm(&op_b, &op_a, &fn, &fm, &fk, &alpha, <double *>b, &fldb, <double *>a, &flda,
               &beta, c, &fldc)


cdef void gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               floating alpha, const floating *a, Py_ssize_t lda,
               const floating *b, Py_ssize_t ldb, floating beta,
               floating *c, Py_ssize_t ldc, int n_threads) noexcept nogil:
    gemm_own(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n_threads)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] out,
           bint trans_a, bint trans_b, double alpha, double beta, int n_threads):
    """out = alpha * op(a) @ op(b) + beta * out, through `gemm` (the engine's entry point)."""
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


# ---- the instruction-set path (csrc/gemm.c) ---------------------------------------------
# FASTNN_GEMM_PATH=avx2 (or baseline), read once at import, runs the GEMM on that path even
# when the CPU has a better one, so that an AVX-512 machine also tests the AVX2 code that
# AVX2-only machines run; `set_path` does the same at run time (tests).

cdef extern from "fastnn.h":
    enum:
        FNN_GEMM_PATH_BASELINE
        FNN_GEMM_PATH_AVX2
        FNN_GEMM_PATH_AVX512
    int fnn_gemm_path() noexcept nogil
    int fnn_gemm_set_path(int path) noexcept nogil
    int fnn_gemm_set_b_block(int on) noexcept nogil

GEMM_PATHS = {"baseline": FNN_GEMM_PATH_BASELINE, "avx2": FNN_GEMM_PATH_AVX2,
              "avx512": FNN_GEMM_PATH_AVX512}


def path():
    """The path the GEMM runs: "avx512", "avx2" (both give the same bits) or "baseline"."""
    return {v: k for k, v in GEMM_PATHS.items()}[fnn_gemm_path()]


def set_path(name):
    """Run the GEMM on path `name` ("avx512", "avx2" or "baseline"; None: the best this CPU
    runs) from the next call on. ValueError for an unknown name or one this CPU cannot run.
    Not meant for use while other threads multiply."""
    if name is None:
        fnn_gemm_set_path(-1)
        return
    if name not in GEMM_PATHS:
        raise ValueError(f"unknown GEMM path {name!r}; expected one of {sorted(GEMM_PATHS)}")
    cdef int previous = fnn_gemm_path()
    if fnn_gemm_set_path(GEMM_PATHS[name]) < 0:
        best = {v: k for k, v in GEMM_PATHS.items()}[fnn_gemm_set_path(-1)]
        fnn_gemm_set_path(previous)
        raise ValueError(f"GEMM path {name!r} does not run on this CPU (its best: {best!r})")


def set_b_block(bint on):
    """Whether products of more than one 132-row block of op(A) pack each k-block of B once
    (True, the default) or once per row block, as single-block products do (False); returns
    the previous setting. Both give the same bits; tests run both. Not meant for use while
    other threads multiply."""
    return bool(fnn_gemm_set_b_block(on))


def _path_from_environment():
    import os

    name = os.environ.get("FASTNN_GEMM_PATH", "")
    if name:
        try:
            set_path(name)
        except ValueError as error:
            raise ValueError(f"FASTNN_GEMM_PATH: {error}") from None


_path_from_environment()
