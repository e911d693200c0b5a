"""Counter-based random numbers: dropout, Gaussian noise, Gaussian dropout, uniform and normal
fills.

What it computes. Every random number is a pure function of (seed, step, layer, element index):
Philox4x32-10 keyed by the 64-bit seed, its counter built from (step, layer, element block)
(layout and conversions in csrc/rng.h). An (n, c) row-major array is a run of elements of one
(seed, step, layer) stream; its element (i, j) has index (row0 + i) * c + j, where row0 is the
global index of the array's first row. So the engine picks the stream per epoch (step = epoch,
or any counter it owns) and passes a batch's offset in the epoch's order as row0: a row then
gets the same mask or noise however the epoch is cut into batches, and the numbers never depend
on the thread count.

Backward passes recompute instead of storing masks. Dropout's backward is the forward applied to
the upstream gradient (dx = g * mask / (1 - rate)), and Gaussian dropout's is too
(dx = g * factor): call the same function with g as x. Regenerating costs one Philox block per
four elements (per two for normals), while a stored mask would need a buffer in the plan's
workspace per noise layer, a write in the forward and a read in the backward, and would make
the kernel stateful; recomputation keeps C free of state and the plan smaller.

How it threads. The flat element range is cut into fixed CHUNK-element tasks spread over a static
prange; each task calls one C chunk kernel with its first element's index. Since every value
depends only on its index, any split (and any thread count) gives the same bits. Small arrays
run on one thread (threads_for), weighted by a per-kind cost so the cut-off is in element-ops.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint16_t, uint32_t, uint64_t

from fastnn._kernels._openmp cimport threads_for

cdef extern from "fastnn.h":
    void fnn_dropout_f32(const float *x, float *out, size_t n, uint64_t e0, double rate,
                         uint64_t seed, uint64_t step, uint16_t layer) noexcept nogil
    void fnn_dropout_f64(const double *x, double *out, size_t n, uint64_t e0, double rate,
                         uint64_t seed, uint64_t step, uint16_t layer) noexcept nogil
    void fnn_gaussian_noise_f32(const float *x, float *out, size_t n, uint64_t e0,
                                double stddev, uint64_t seed, uint64_t step,
                                uint16_t layer) noexcept nogil
    void fnn_gaussian_noise_f64(const double *x, double *out, size_t n, uint64_t e0,
                                double stddev, uint64_t seed, uint64_t step,
                                uint16_t layer) noexcept nogil
    void fnn_gaussian_dropout_f32(const float *x, float *out, size_t n, uint64_t e0,
                                  double rate, uint64_t seed, uint64_t step,
                                  uint16_t layer) noexcept nogil
    void fnn_gaussian_dropout_f64(const double *x, double *out, size_t n, uint64_t e0,
                                  double rate, uint64_t seed, uint64_t step,
                                  uint16_t layer) noexcept nogil
    void fnn_rng_normal_f32(float *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                            uint16_t layer) noexcept nogil
    void fnn_rng_normal_f64(double *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                            uint16_t layer) noexcept nogil
    void fnn_rng_uniform_f32(float *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                             uint16_t layer) noexcept nogil
    void fnn_rng_uniform_f64(double *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                             uint16_t layer) noexcept nogil

cdef extern from "rng.h":
    void fnn_philox4x32_10(const uint32_t *ctr, const uint32_t *key,
                           uint32_t *out) noexcept nogil

# Elements per task. Any value gives the same numbers; this one amortizes a task's start-up
# (the first, possibly unaligned, Philox block) and still splits 1000 x 13 into several tasks.
cdef enum:
    CHUNK = 4096

cdef enum Kind:
    DROPOUT
    GAUSSIAN_NOISE
    GAUSSIAN_DROPOUT
    UNIFORM
    NORMAL

# Cost of one element in element-ops, for the serial cut-off: single-thread CPU time per element
# over numpy.multiply's (about 3 ns dropout, 5 ns uniform, 25 ns normals vs 0.25 ns; see the
# report of the RNG kernels). Normals pay for a log and a sincos per pair.
cdef Py_ssize_t[5] COST = [12, 100, 100, 20, 100]


cdef inline void _chunk(Kind kind, const floating *x, floating *out, size_t n, uint64_t e0,
                        double param, uint64_t seed, uint64_t step,
                        uint16_t layer) noexcept nogil:
    if floating is float:
        if kind == DROPOUT:
            fnn_dropout_f32(x, out, n, e0, param, seed, step, layer)
        elif kind == GAUSSIAN_NOISE:
            fnn_gaussian_noise_f32(x, out, n, e0, param, seed, step, layer)
        elif kind == GAUSSIAN_DROPOUT:
            fnn_gaussian_dropout_f32(x, out, n, e0, param, seed, step, layer)
        elif kind == UNIFORM:
            fnn_rng_uniform_f32(out, n, e0, seed, step, layer)
        else:
            fnn_rng_normal_f32(out, n, e0, seed, step, layer)
    else:
        if kind == DROPOUT:
            fnn_dropout_f64(x, out, n, e0, param, seed, step, layer)
        elif kind == GAUSSIAN_NOISE:
            fnn_gaussian_noise_f64(x, out, n, e0, param, seed, step, layer)
        elif kind == GAUSSIAN_DROPOUT:
            fnn_gaussian_dropout_f64(x, out, n, e0, param, seed, step, layer)
        elif kind == UNIFORM:
            fnn_rng_uniform_f64(out, n, e0, seed, step, layer)
        else:
            fnn_rng_normal_f64(out, n, e0, seed, step, layer)


cdef void _run(Kind kind, const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
               double param, uint64_t seed, uint64_t step, uint16_t layer, uint64_t row0,
               int n_threads) noexcept nogil:
    """The (n, c) block as CHUNK-element tasks; x is ignored by the fills (pass out)."""
    cdef Py_ssize_t size = n * c
    cdef Py_ssize_t n_chunks = (size + CHUNK - 1) // CHUNK
    cdef uint64_t e0 = row0 * <uint64_t>c
    cdef Py_ssize_t k, start
    cdef int threads = threads_for(size * COST[<int>kind], n_threads)
    if threads == 1:  # no parallel region: even a one-thread region costs a futex call
        for k in range(n_chunks):
            start = k * CHUNK
            _chunk(kind, x + start, out + start, <size_t>min(CHUNK, size - start),
                   e0 + <uint64_t>start, param, seed, step, layer)
        return
    for k in prange(n_chunks, schedule="static", num_threads=threads):
        start = k * CHUNK
        _chunk(kind, x + start, out + start, <size_t>min(CHUNK, size - start),
               e0 + <uint64_t>start, param, seed, step, layer)


cdef void dropout_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                       double rate, uint64_t seed, uint64_t step, uint16_t layer,
                       uint64_t row0, int n_threads) noexcept nogil:
    _run(DROPOUT, x, out, n, c, rate, seed, step, layer, row0, n_threads)


cdef void gaussian_noise_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                              double stddev, uint64_t seed, uint64_t step, uint16_t layer,
                              uint64_t row0, int n_threads) noexcept nogil:
    _run(GAUSSIAN_NOISE, x, out, n, c, stddev, seed, step, layer, row0, n_threads)


cdef void gaussian_dropout_rows(const floating *x, floating *out, Py_ssize_t n, Py_ssize_t c,
                                double rate, uint64_t seed, uint64_t step, uint16_t layer,
                                uint64_t row0, int n_threads) noexcept nogil:
    _run(GAUSSIAN_DROPOUT, x, out, n, c, rate, seed, step, layer, row0, n_threads)


cdef void uniform_rows(floating *out, Py_ssize_t n, Py_ssize_t c, uint64_t seed, uint64_t step,
                       uint16_t layer, uint64_t row0, int n_threads) noexcept nogil:
    _run(UNIFORM, out, out, n, c, 0.0, seed, step, layer, row0, n_threads)


cdef void normal_rows(floating *out, Py_ssize_t n, Py_ssize_t c, uint64_t seed, uint64_t step,
                      uint16_t layer, uint64_t row0, int n_threads) noexcept nogil:
    _run(NORMAL, out, out, n, c, 0.0, seed, step, layer, row0, n_threads)


# ---- Python-visible wrappers (tests, benchmarks); x may be out (in place) ------------------

def dropout(const floating[:, ::1] x, floating[:, ::1] out, double rate, uint64_t seed,
            uint64_t step, uint16_t layer, uint64_t row0, int n_threads):
    """out = x * mask / (1 - rate), mask kept with probability 1 - rate (rate 1: zeros).

    Also the backward: dropout(g, dx, ...) with the forward's arguments gives g * mask / (1 - rate).
    """
    if out.shape[0] and out.shape[1]:
        dropout_rows(&x[0, 0], &out[0, 0], x.shape[0], x.shape[1], rate, seed, step, layer,
                     row0, n_threads)


def gaussian_noise(const floating[:, ::1] x, floating[:, ::1] out, double stddev, uint64_t seed,
                   uint64_t step, uint16_t layer, uint64_t row0, int n_threads):
    """out = x + stddev * z, z standard normal. The backward is the identity."""
    if out.shape[0] and out.shape[1]:
        gaussian_noise_rows(&x[0, 0], &out[0, 0], x.shape[0], x.shape[1], stddev, seed, step,
                            layer, row0, n_threads)


def gaussian_dropout(const floating[:, ::1] x, floating[:, ::1] out, double rate, uint64_t seed,
                     uint64_t step, uint16_t layer, uint64_t row0, int n_threads):
    """out = x * (1 + sqrt(rate / (1 - rate)) * z), z standard normal, rate in [0, 1).

    Also the backward: gaussian_dropout(g, dx, ...) with the forward's arguments.
    """
    if out.shape[0] and out.shape[1]:
        gaussian_dropout_rows(&x[0, 0], &out[0, 0], x.shape[0], x.shape[1], rate, seed, step,
                              layer, row0, n_threads)


def uniform(floating[:, ::1] out, uint64_t seed, uint64_t step, uint16_t layer, uint64_t row0,
            int n_threads):
    """out = uniforms in [0, 1) (never 1)."""
    if out.shape[0] and out.shape[1]:
        uniform_rows(&out[0, 0], out.shape[0], out.shape[1], seed, step, layer, row0, n_threads)


def normal(floating[:, ::1] out, uint64_t seed, uint64_t step, uint16_t layer, uint64_t row0,
           int n_threads):
    """out = standard normals."""
    if out.shape[0] and out.shape[1]:
        normal_rows(&out[0, 0], out.shape[0], out.shape[1], seed, step, layer, row0, n_threads)


def philox4x32_10(const uint32_t[:, ::1] counters, const uint32_t[::1] key,
                  uint32_t[:, ::1] out):
    """out[i] = Philox4x32-10(counters[i], key): the raw generator, for known-answer tests."""
    cdef Py_ssize_t i
    for i in range(counters.shape[0]):
        fnn_philox4x32_10(&counters[i, 0], &key[0], &out[i, 0])
