# cdef entry points of the matmul kernels for the engine. All compute
# C = alpha * op(A) @ op(B) + beta * C on row-major buffers with leading dimensions
# (op(A) is m x k, stored k x m when trans_a; op(B) is k x n, stored n x k when trans_b).
# gemm is the own kernel (gemm_own), threaded above a size cut-off; it and gemm_blas must be
# called outside any OpenMP parallel region. Inside one, call fnn_gemm_f32/_f64 (fastnn.h) on
# a block of C.
from cython cimport floating


cdef void gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
               floating alpha, const floating *a, Py_ssize_t lda,
               const floating *b, Py_ssize_t ldb, floating beta,
               floating *c, Py_ssize_t ldc, int n_threads) noexcept nogil

cdef void gemm_own(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                   floating alpha, const floating *a, Py_ssize_t lda,
                   const floating *b, Py_ssize_t ldb, floating beta,
                   floating *c, Py_ssize_t ldc, int n_threads) noexcept nogil

cdef void gemm_blas(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                    floating alpha, const floating *a, Py_ssize_t lda,
                    const floating *b, Py_ssize_t ldb, floating beta,
                    floating *c, Py_ssize_t ldc) noexcept nogil
