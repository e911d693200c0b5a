# cdef entry point of the bfloat16 product (mixed_bfloat16) for the engine: as _gemm.gemm in
# float32, with A's and B's elements rounded to bfloat16 and float32 sums (csrc/bf16.c), on
# `path` (one of PATHS' values, checked by the caller). Call it outside any parallel region.

# With `image` not NULL, op(B) is read from that image (fnn_bf16_image_rows, written for this
# k x n op(B)) instead of from b; the bits are the same.
from libc.stdint cimport uint32_t

cdef void gemm_bf16(int path, bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                    Py_ssize_t k, float alpha, const float *a, Py_ssize_t lda,
                    const float *b, Py_ssize_t ldb, float beta, float *c, Py_ssize_t ldc,
                    int n_threads, const uint32_t *image) noexcept nogil

# The images of a rows x cols weight matrix w: op(B) = w (fwd) and op(B) = wᵀ (bwd, or NULL).
cdef Py_ssize_t image_size(Py_ssize_t k, Py_ssize_t n) noexcept nogil
cdef bint image_splits_at_even_rows(Py_ssize_t k) noexcept nogil
cdef void image_rows(uint32_t *fwd, uint32_t *bwd, const float *w, Py_ssize_t rows,
                     Py_ssize_t cols, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil
