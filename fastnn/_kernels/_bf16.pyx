"""The bfloat16 product of mixed precision (Keras 3's ``mixed_bfloat16``): csrc/bf16.c.

Matmul inputs are rounded to bfloat16 and the products summed in float32, with the arithmetic
of AMX-BF16's ``tdpbf16ps``. Two paths give the same bits: AMX tiles where the CPU and the OS
allow them, and plain float32 code under flush-to-zero elsewhere (slower). `path()` picks the
fastest the CPU has unless FASTNN_FORCE_BASELINE=1, which tests use to run the fallback on
every machine. Threads split C as _gemm.gemm does (columns in whole register tiles when there
are enough, else rows); every element's arithmetic ignores the split, so any thread count gives
the same bits.
"""
import os

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport uint32_t

from fastnn._kernels._openmp cimport chunk_of_tiles, threads_for

cdef extern from "fastnn.h":
    enum:
        FNN_BF16_BASELINE
        FNN_BF16_AMX
        FNN_BF16_NR
        FNN_BF16_MR
    int fnn_bf16_path_available(int path) noexcept nogil
    void fnn_round_bf16(Py_ssize_t n, const float *x, float *out) noexcept nogil
    void fnn_gemm_bf16(int path, int trans_a, int trans_b, Py_ssize_t m, Py_ssize_t n,
                       Py_ssize_t k, float alpha, const float *a, Py_ssize_t lda,
                       const float *b, Py_ssize_t ldb, float beta, float *c,
                       Py_ssize_t ldc) noexcept nogil
    void fnn_gemm_bf16_image(int path, int trans_a, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                             float alpha, const float *a, Py_ssize_t lda,
                             const uint32_t *image, Py_ssize_t image_panels,
                             Py_ssize_t panel0, float beta, float *c,
                             Py_ssize_t ldc) noexcept nogil
    Py_ssize_t fnn_bf16_image_size(Py_ssize_t k, Py_ssize_t n) noexcept nogil
    int fnn_bf16_image_splits_at_even_rows(Py_ssize_t k) noexcept nogil
    void fnn_bf16_image_rows(uint32_t *fwd, uint32_t *bwd, const float *w, Py_ssize_t rows,
                             Py_ssize_t cols, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil

PATHS = {"baseline": FNN_BF16_BASELINE, "amx_bf16": FNN_BF16_AMX}
PATH_NAMES = {FNN_BF16_BASELINE: "baseline (float32 code, bfloat16 rounding)",
              FNN_BF16_AMX: "amx-bf16 (tdpbf16ps)"}

# The same multiply-add count from which _gemm.gemm wakes a second thread.
cdef enum:
    PARALLEL_MIN_MNK = 1 << 18


def available(str name):
    """Whether path `name` ("baseline" or "amx_bf16") runs on this CPU and build."""
    return bool(fnn_bf16_path_available(PATHS[name]))


def path():
    """The path mixed_bfloat16 products take: AMX when the CPU and OS have it, unless
    FASTNN_FORCE_BASELINE=1."""
    if os.environ.get("FASTNN_FORCE_BASELINE", "0") == "1":
        return FNN_BF16_BASELINE
    if fnn_bf16_path_available(FNN_BF16_AMX):
        return FNN_BF16_AMX
    return FNN_BF16_BASELINE


def path_name():
    """What `fastnn info` prints for the bfloat16 products."""
    return PATH_NAMES[path()]


def check_path(int p):
    """Raise unless path p runs here (a path the CPU cannot run would die of SIGILL)."""
    if p not in PATH_NAMES or not fnn_bf16_path_available(p):
        raise ValueError(f"bfloat16 path {p!r} is not available on this CPU; "
                         f"available: {[n for n in PATHS if available(n)]}")


cdef inline void _product(int path, bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                          Py_ssize_t k, float alpha, const float *a, Py_ssize_t lda,
                          const float *b, Py_ssize_t ldb, const uint32_t *image,
                          Py_ssize_t image_panels, Py_ssize_t panel0, float beta, float *c,
                          Py_ssize_t ldc) noexcept nogil:
    if image != NULL:
        fnn_gemm_bf16_image(path, trans_a, m, n, k, alpha, a, lda, image, image_panels, panel0,
                            beta, c, ldc)
    else:
        fnn_gemm_bf16(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef void gemm_bf16(int path, bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                    Py_ssize_t k, float alpha, const float *a, Py_ssize_t lda,
                    const float *b, Py_ssize_t ldb, float beta, float *c, Py_ssize_t ldc,
                    int n_threads, const uint32_t *image) noexcept nogil:
    cdef Py_ssize_t mnk = m * n * k
    cdef int threads = threads_for(mnk, n_threads) if mnk >= PARALLEL_MIN_MNK else 1
    # Each thread rounds and packs its own part of the split operand and all of the other, so
    # split the larger one: columns (B's) when op(B) has at least as many columns as op(A)
    # has rows (the forward and input-gradient products), rows for the tall weight gradients.
    # An image needs no packing: then split rows, so that each thread packs half of op(A)
    # (4% off the mixed_bfloat16 epoch, alternating in one process).
    cdef bint by_columns = (n >= m and n >= 2 * threads * FNN_BF16_NR and image == NULL) \
        or m < 2 * threads * FNN_BF16_MR
    cdef Py_ssize_t tile = FNN_BF16_NR if by_columns else FNN_BF16_MR
    cdef Py_ssize_t extent = n if by_columns else m
    cdef Py_ssize_t chunk = chunk_of_tiles(extent, tile, threads)
    cdef Py_ssize_t n_chunks = (extent + chunk - 1) // chunk
    cdef Py_ssize_t t, lo, size, panels = (n + FNN_BF16_NR - 1) // FNN_BF16_NR
    if n_chunks <= 1:
        _product(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, image, panels, 0,
                 beta, c, ldc)
        return
    for t in prange(n_chunks, schedule="static", num_threads=n_chunks):
        lo = t * chunk
        size = min(chunk, extent - lo)
        if by_columns:   # lo is a whole number of panels
            _product(path, trans_a, trans_b, m, size, k, alpha, a, lda,
                     <const float *> NULL if image != NULL else b + (lo * ldb if trans_b else lo),
                     ldb,
                     image, panels, lo // FNN_BF16_NR, beta, c + lo, ldc)
        else:
            _product(path, trans_a, trans_b, size, n, k, alpha,
                     a + (lo if trans_a else lo * lda), lda, b, ldb, image, panels, 0, beta,
                     c + lo * ldc, ldc)


cdef Py_ssize_t image_size(Py_ssize_t k, Py_ssize_t n) noexcept nogil:
    return fnn_bf16_image_size(k, n)


cdef bint image_splits_at_even_rows(Py_ssize_t k) noexcept nogil:
    return fnn_bf16_image_splits_at_even_rows(k) != 0


cdef void image_rows(uint32_t *fwd, uint32_t *bwd, const float *w, Py_ssize_t rows,
                     Py_ssize_t cols, Py_ssize_t r0, Py_ssize_t r1) noexcept nogil:
    fnn_bf16_image_rows(fwd, bwd, w, rows, cols, r0, r1)


cdef _checked_product(const float[:, ::1] a, const float *b, Py_ssize_t ldb,
                      const uint32_t *image, float[:, ::1] out, bint trans_a, bint trans_b,
                      Py_ssize_t k, double alpha, double beta, int n_threads, int path):
    """The product of the two Python entry points below, once their shapes are checked: op(B)
    from b or from an image."""
    check_path(path)
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1]
    if m == 0 or n == 0:
        return
    with nogil:
        gemm_bf16(path, trans_a, trans_b, m, n, k, <float>alpha,
                  &a[0, 0] if a.shape[0] * a.shape[1] else NULL, a.shape[1], b, ldb,
                  <float>beta, &out[0, 0], n, n_threads, image)


def matmul_bf16(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] out,
                bint trans_a, bint trans_b, double alpha, double beta, int n_threads,
                int path):
    """out = alpha * op(a) @ op(b) + beta * out in bfloat16 products on `path`."""
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    if (a.shape[1] if trans_a else a.shape[0]) != m or \
            (b.shape[1] if trans_b else b.shape[0]) != k or \
            (b.shape[0] if trans_b else b.shape[1]) != n:
        raise ValueError(f"shapes {tuple(a.shape)[:2]}, {tuple(b.shape)[:2]} and "
                         f"{tuple(out.shape)[:2]} do not fit op(a) @ op(b) = out")
    _checked_product(a, &b[0, 0] if b.shape[0] * b.shape[1] else NULL, b.shape[1], NULL, out,
                     trans_a, trans_b, k, alpha, beta, n_threads, path)


def weight_images(w, pieces=1):
    """The images of a rows x cols float32 matrix w: (fwd, bwd), uint32 arrays that
    `matmul_bf16_image` reads as op(B) = w and op(B) = wᵀ; written in `pieces` even-sized
    row ranges, as the optimizer step writes them."""
    cdef const float[:, ::1] src = np.ascontiguousarray(w, dtype=np.float32)
    cdef Py_ssize_t rows = src.shape[0], cols = src.shape[1], r0, r1, p
    if pieces > 1 and not fnn_bf16_image_splits_at_even_rows(rows):
        raise ValueError(f"the image of {rows} rows cannot be written in pieces")
    fwd = np.zeros(fnn_bf16_image_size(rows, cols), np.uint32)
    bwd = np.zeros(fnn_bf16_image_size(cols, rows), np.uint32)
    cdef uint32_t[::1] f = fwd, b = bwd
    if rows == 0 or cols == 0:
        return fwd, bwd
    for p in range(pieces):
        r0 = min(rows, (rows * p // pieces + 1) // 2 * 2)
        r1 = rows if p == pieces - 1 else min(rows, (rows * (p + 1) // pieces + 1) // 2 * 2)
        with nogil:
            fnn_bf16_image_rows(&f[0], &b[0], &src[0, 0], rows, cols, r0, r1)
    return fwd, bwd


def matmul_bf16_image(const float[:, ::1] a, const uint32_t[::1] image, float[:, ::1] out,
                      bint trans_a, double alpha, double beta, int n_threads, int path):
    """out = alpha * op(a) @ B + beta * out, B read from `image` (one of weight_images'
    for a matrix whose op(B) is k x out.shape[1])."""
    cdef Py_ssize_t m = out.shape[0], n = out.shape[1]
    cdef Py_ssize_t k = a.shape[0] if trans_a else a.shape[1]
    if (a.shape[1] if trans_a else a.shape[0]) != m:
        raise ValueError(f"op(a) of shape {tuple(a.shape)[:2]} does not fit out's {m} rows")
    if image.shape[0] != fnn_bf16_image_size(k, n):
        raise ValueError(f"an image of {image.shape[0]} elements is not that of a "
                         f"{k} x {n} op(B)")
    _checked_product(a, NULL, 0, &image[0] if image.shape[0] else NULL, out, trans_a, False, k,
                     alpha, beta, n_threads, path)


def round_bf16(x):
    """x (float32) rounded to bfloat16, returned as float32: what the products read."""
    cdef float[::1] src = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    out = np.empty(src.shape[0], dtype=np.float32)
    cdef float[::1] dst = out
    if src.shape[0]:
        with nogil:
            fnn_round_bf16(src.shape[0], &src[0], &dst[0])
    return out.reshape(np.shape(x))
