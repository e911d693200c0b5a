# cdef entry point of the bfloat16 product (mixed_bfloat16) for the engine: as _gemm.gemm in
# float32, with A's and B's elements rounded to bfloat16 and float32 sums (csrc/bf16.c), on
# `path` (one of PATHS' values, checked by the caller). Call it outside any parallel region.

cdef void gemm_bf16(int path, bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                    Py_ssize_t k, float alpha, const float *a, Py_ssize_t lda,
                    const float *b, Py_ssize_t ldb, float beta, float *c, Py_ssize_t ldc,
                    int n_threads) noexcept nogil
