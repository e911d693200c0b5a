"""int8 quantized Dense (Keras 3's ``quantize("int8")``): the C kernel in csrc/quant.c.

Rows are cut into blocks of QROWS (a multiple of the 8-row register tile) handed out to the
threads; each block quantizes its rows into its thread's scratch, multiplies and de-scales.
Every row is computed the same way whatever the split, so any thread count gives the same bits.
Three paths (AMX tiles, AVX-512 VNNI, plain C) give the same int32 sums: `path()` picks the
fastest the CPU has unless FASTNN_FORCE_BASELINE=1, which tests use to run the fallback on
every machine.
"""
import os

import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport int8_t, int32_t, uint8_t
from libc.stdlib cimport free, malloc

from fastnn._kernels._openmp cimport omp_get_thread_num, threads_for

cdef extern from "fastnn.h":
    enum:
        FNN_QPATH_BASELINE
        FNN_QPATH_VNNI
        FNN_QPATH_AMX
    int fnn_qpath_available(int path) noexcept nogil
    Py_ssize_t fnn_qpack_size(Py_ssize_t k, Py_ssize_t n) noexcept nogil
    void fnn_qpack(Py_ssize_t k, Py_ssize_t n, const int8_t *w, int8_t *packed,
                   int32_t *colsum128) noexcept nogil
    void fnn_quantize_rows(Py_ssize_t rows, Py_ssize_t k, const float *x, Py_ssize_t ldx,
                           int offset, uint8_t *q, Py_ssize_t ldq,
                           float *scale_out) noexcept nogil
    void fnn_qgemm_s32(int path, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k, const uint8_t *a,
                       Py_ssize_t lda, const int8_t *packed, const int32_t *colsum128,
                       int32_t *c, Py_ssize_t ldc) noexcept nogil
    Py_ssize_t fnn_qdense_scratch(Py_ssize_t rows, Py_ssize_t k) noexcept nogil
    void fnn_qdense_f32(int path, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t n, const float *x,
                        Py_ssize_t ldx, const int8_t *packed, const int32_t *colsum128,
                        const float *kscale, float *out, Py_ssize_t ldo,
                        void *scratch) noexcept nogil

# Rows per block: 64 rows of 784 bytes stay in L1/L2 while the kernel's panels stream past.
DEF QROWS = 64

PATHS = {"baseline": FNN_QPATH_BASELINE, "vnni": FNN_QPATH_VNNI, "amx": FNN_QPATH_AMX}
PATH_NAMES = {FNN_QPATH_BASELINE: "baseline (plain C int32)",
              FNN_QPATH_VNNI: "avx512-vnni (vpdpbusd)",
              FNN_QPATH_AMX: "amx-int8 (tdpbusd)"}


def available(str name):
    """Whether path `name` ("baseline", "vnni" or "amx") runs on this CPU, build and OS."""
    return bool(fnn_qpath_available(PATHS[name]))


def path():
    """The path int8 layers take: the fastest available (AMX, then VNNI, then plain C)
    unless FASTNN_FORCE_BASELINE=1."""
    if os.environ.get("FASTNN_FORCE_BASELINE", "0") == "1":
        return FNN_QPATH_BASELINE
    for p in (FNN_QPATH_AMX, FNN_QPATH_VNNI):
        if fnn_qpath_available(p):
            return p
    return FNN_QPATH_BASELINE


def check_path(int path):
    """Raise ValueError unless `path` runs here (asking Linux for AMX's state if need be)."""
    if path not in PATH_NAMES or not fnn_qpath_available(path):
        raise ValueError(f"int8 path {PATH_NAMES.get(path, path)} does not run on this CPU")


def path_name():
    return PATH_NAMES[path()]


def pack(const int8_t[:, ::1] w):
    """The packed form of a (k, n) int8 kernel and its column sums times 128."""
    cdef Py_ssize_t k = w.shape[0], n = w.shape[1]
    packed = np.empty(fnn_qpack_size(k, n), dtype=np.int8)
    colsum = np.empty(n, dtype=np.int32)
    cdef int8_t[::1] p = packed
    cdef int32_t[::1] c = colsum
    if k and n:
        fnn_qpack(k, n, &w[0, 0], &p[0], &c[0])
    return packed, colsum


def quantize_rows(const float[:, ::1] x, int offset=0):
    """(q, scale): Keras's per-row AbsMax quantization; q is int8 (offset 0) or uint8 (128)."""
    cdef Py_ssize_t m = x.shape[0], k = x.shape[1], kp = (k + 3) // 4 * 4
    q = np.zeros((m, kp), dtype=np.uint8)
    scale = np.empty(m, dtype=np.float32)
    cdef uint8_t[:, ::1] qv = q
    cdef float[::1] sv = scale
    if m and k:
        fnn_quantize_rows(m, k, &x[0, 0], k, offset, &qv[0, 0], kp, &sv[0])
    q = q[:, :k]
    return (q.view(np.int8) if offset == 0 else q), scale


def qgemm_s32(const int8_t[:, ::1] q, const int8_t[::1] packed, const int32_t[::1] colsum,
              Py_ssize_t n, int path):
    """The exact int32 product q @ w (w given packed) on `path` (baseline or vnni); q is the
    signed int8 rows."""
    cdef Py_ssize_t m = q.shape[0], k = q.shape[1], kp = (k + 3) // 4 * 4
    if path not in (FNN_QPATH_BASELINE, FNN_QPATH_VNNI) or not fnn_qpath_available(path):
        raise ValueError(f"int8 path {path} cannot compute raw int32 products here")
    a = np.zeros(((m + 7) // 8 * 8, kp), dtype=np.uint8)
    a[:m, :k] = np.asarray(q).view(np.uint8) ^ (0x80 if path == FNN_QPATH_VNNI else 0)
    out = np.zeros((m, n), dtype=np.int32)
    cdef uint8_t[:, ::1] av = a
    cdef int32_t[:, ::1] ov = out
    if m and n:
        fnn_qgemm_s32(path, m, n, k, &av[0, 0], kp, &packed[0], &colsum[0], &ov[0, 0], n)
    return out


cdef int qdense(int path, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t n, const float *x,
                const signed char *packed, const int *colsum128, const float *kscale,
                float *out, int n_threads) noexcept nogil:
    """out (rows x n) = the int8 Dense's de-scaled product (no bias or activation); returns
    -1 (out untouched) when the threads' scratch cannot be allocated, else 0."""
    cdef Py_ssize_t n_blocks = (rows + QROWS - 1) // QROWS
    cdef int threads = threads_for(rows * n * k // 8, n_threads)
    if threads > n_blocks:
        threads = <int> n_blocks
    cdef Py_ssize_t per = fnn_qdense_scratch(QROWS, k)
    cdef char *scratch = <char *> malloc(per * threads)
    cdef Py_ssize_t b, lo
    if scratch == NULL:
        return -1
    if threads <= 1:
        for b in range(n_blocks):
            lo = b * QROWS
            fnn_qdense_f32(path, min(QROWS, rows - lo), k, n, x + lo * k, k,
                           <const int8_t *> packed, <const int32_t *> colsum128, kscale,
                           out + lo * n, n, scratch)
    else:
        for b in prange(n_blocks, schedule="static", num_threads=threads):
            lo = b * QROWS
            fnn_qdense_f32(path, min(QROWS, rows - lo), k, n, x + lo * k, k,
                           <const int8_t *> packed, <const int32_t *> colsum128, kscale,
                           out + lo * n, n, scratch + per * omp_get_thread_num())
    free(scratch)
    return 0


def dense(const float[:, ::1] x, const int8_t[::1] packed, const int32_t[::1] colsum,
          const float[::1] kscale, int path, int n_threads=1):
    """The int8 Dense's output before bias and activation, for tests and direct calls."""
    cdef Py_ssize_t rows = x.shape[0], k = x.shape[1], n = kscale.shape[0]
    out = np.empty((rows, n), dtype=np.float32)
    cdef float[:, ::1] ov = out
    cdef int status
    check_path(path)
    if rows and n:
        with nogil:
            status = qdense(path, rows, k, n, &x[0, 0], <const signed char *> &packed[0],
                            <const int *> &colsum[0], &kscale[0], &ov[0, 0], n_threads)
        if status != 0:
            raise MemoryError(f"int8 Dense: cannot allocate the scratch for {k} inputs")
    return out
