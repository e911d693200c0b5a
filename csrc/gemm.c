/* The own GEMM tile kernel: C = alpha*op(A)*op(B) + beta*C, row-major, single-threaded.
 *
 * The register tile is FNN_GEMM_MR rows by two vectors of columns: two ymm per row with AVX2
 * (6 x 16 floats, 12 of the 16 registers), two zmm per row with AVX-512 (6 x 32 floats, 12
 * of the 32 registers). Two FMA ports with a 4-cycle latency need at least 8 independent
 * accumulators; the earlier AVX-512 tile of one zmm per row had 6 and ran the big products of
 * the MNIST-scale step at 96-109 GFLOP/s on one Sapphire Rapids core, against 120-135 for
 * OpenBLAS; the 6 x 32 tile runs them at 121-137 (single thread, min of 40 interleaved rounds,
 * benchmarks/RESULTS.md). A panel with at most one vector of columns left (the 10 outputs)
 * takes a one-vector tile. GCC keeps a 64-byte vector type in memory when the target has no
 * 512-bit registers, so the body (gemm_impl.h) is instantiated twice per type, with 32-byte
 * and 64-byte vectors; the entry points below pick the AVX-512, AVX2 or baseline wrapper at
 * run time. AVX-512 and AVX2 compute the same bits: the arithmetic is lane-wise and per
 * element, whatever the tile's shape (gemm_impl.h).
 *
 * B is copied into a zero-padded kc x NR panel on the stack (51 KB for kc = 400 and the
 * AVX-512 tile, 25 KB with AVX2), except when B is row-major and op(A) has few rows: then
 * B's rows are read in place, because copying would cost as much as the arithmetic. When
 * op(A) has more than one row block (GEMM_MC rows), each block would copy the same panels
 * again: B's panels are then copied once per k-block, GEMM_NC columns at a time, into a
 * buffer each thread keeps (gemm_scratch). On Sapphire Rapids that made the MNIST model's
 * 1,024-row products 8-28% faster on one thread and 11-18% on two, predict of 10,000 rows
 * 13-21% and 14-18%, and the 784- and 512-row weight gradients 2-7%
 * (benchmarks/gemm_b_block_ab.py, two runs of 40 turns). When
 * op(A) = A^T (the weight gradient) and more than one panel of B will read it, A^T's rows are
 * copied too, a GEMM_MC x kc block at a time (up to 211 KB, kept in L2), tile by tile in
 * p-major order, so the micro-kernel reads them sequentially (in place, each multiply-add step
 * would touch one cache line per row). A row-major A is read in place: a tile's rows are
 * FNN_GEMM_MR sequential streams, and on Sapphire Rapids copying them was 2-11% slower.
 * A single row of op(A) against a row-major B is a matrix-vector product: B is streamed row by
 * row instead.
 *
 * Block sizes. GEMM_KC must be the same on every path (a k-block restarts each element's
 * chain, so it sets the bits). It was chosen on a Zen 3 (32 KB L1d, 512 KB L2), float32, on
 * the 8 products of a batch-128 step of 784-512-256-10 (interleaved A/B of two builds, 300
 * rounds): kc = 400 (k = 784 in two blocks instead of four) was 2-3% faster than 256 on one
 * thread and 3.5% on two; C is then read and written half as often. Rechecked for the 6 x 32
 * AVX-512 tile on Sapphire Rapids (48 KB L1d, 2 MB L2), where the 51 KB panel no longer fits
 * in L1: see benchmarks/RESULTS.md ("The AVX-512 tile"). float64 keeps kc = 256 (same panel
 * bytes). The stack frame is about 270 KB (panel + A block), well inside the usual 2-8 MB
 * thread stacks.
 */
#include "fastnn.h"
#include "simd.h"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* Columns of B packed at a time for products of several row blocks (gemm_impl.h): 512 x
 * GEMM_KC is 800 KB of floats (and 1 MB of doubles at their GEMM_KC), next to the A block in
 * a 2 MB L2. */
#define GEMM_NC 512

/* Whether those products pack B once per k-block (fnn_gemm_set_b_block). */
static int gemm_b_block_on = 1;

int fnn_gemm_set_b_block(int on)
{
    const int previous = gemm_b_block_on;
    gemm_b_block_on = on != 0;
    return previous;
}

/* Each thread's packing buffer: grown on demand, kept between calls (OpenMP's workers and the
 * callers' threads multiply again and again), freed by the key's destructor when the thread
 * exits. */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_made;
static __thread void *scratch;
static __thread size_t scratch_bytes;

static void make_scratch_key(void)
{
    scratch_key_made = pthread_key_create(&scratch_key, free) == 0;
}

/* At least `bytes` of the calling thread's scratch, 64-byte aligned, or NULL when there is no
 * memory for it (the caller then does without). */
static void *gemm_scratch(size_t bytes)
{
    if (bytes <= scratch_bytes)
        return scratch;
    pthread_once(&scratch_once, make_scratch_key);
    void *grown = NULL;
    if (!scratch_key_made || posix_memalign(&grown, 64, bytes) != 0)
        return NULL;
    if (pthread_setspecific(scratch_key, grown) != 0) {
        free(grown);
        return NULL;
    }
    free(scratch);
    scratch = grown;
    scratch_bytes = bytes;
    return grown;
}

#define T float
#define TI int32_t
#define GEMM_KC 400
#define GEMM_MC 132
#define VEC_BYTES 32
#define VECS_PER_ROW 2
#define NAME(x) x##_f32_v32
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#define VEC_BYTES 64
#define VECS_PER_ROW 2
#define NAME(x) x##_f32_v64
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#undef T
#undef TI
#undef GEMM_KC
#undef GEMM_MC

#define T double
#define TI int64_t
#define GEMM_KC 256
#define GEMM_MC 66
#define VEC_BYTES 32
#define VECS_PER_ROW 2
#define NAME(x) x##_f64_v32
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#define VEC_BYTES 64
#define VECS_PER_ROW 2
#define NAME(x) x##_f64_v64
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#undef T
#undef TI
#undef GEMM_KC
#undef GEMM_MC

/* The entry points dispatch by hand instead of through FNN_CLONES, so that a path can be
 * forced (fnn_gemm_set_path): tests run the AVX2 path on AVX-512 machines and check that both
 * give the same bits. Each path is a wrapper compiled for its instruction set, into which the
 * always-inline body is instantiated. Only the baseline path (x86-64 without FMA: a separate
 * multiply and add) rounds differently. */
#if FNN_HAVE_CLONES
#define TARGET_V4 __attribute__((target("arch=x86-64-v4")))
#define TARGET_V3 __attribute__((target("arch=x86-64-v3")))
#else
#define TARGET_V4
#define TARGET_V3
#endif

#define GEMM_PATHS(T, SUF)                                                                    \
    TARGET_V4 static void gemm_##SUF##_avx512(int ta, int tb, ptrdiff_t m, ptrdiff_t n,        \
                                              ptrdiff_t k, T alpha, const T *a, ptrdiff_t lda, \
                                              const T *b, ptrdiff_t ldb, T beta, T *c,          \
                                              ptrdiff_t ldc)                                    \
    {                                                                                         \
        gemm_##SUF##_v64(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);               \
    }                                                                                         \
    TARGET_V3 static void gemm_##SUF##_avx2(int ta, int tb, ptrdiff_t m, ptrdiff_t n,          \
                                            ptrdiff_t k, T alpha, const T *a, ptrdiff_t lda,   \
                                            const T *b, ptrdiff_t ldb, T beta, T *c,            \
                                            ptrdiff_t ldc)                                      \
    {                                                                                         \
        if (alpha == 1) /* a copy with the scaling folded away */                             \
            gemm_##SUF##_v32(ta, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);               \
        else                                                                                  \
            gemm_##SUF##_v32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);           \
    }                                                                                         \
    static void gemm_##SUF##_baseline(int ta, int tb, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,   \
                                      T alpha, const T *a, ptrdiff_t lda, const T *b,          \
                                      ptrdiff_t ldb, T beta, T *c, ptrdiff_t ldc)              \
    {                                                                                         \
        gemm_##SUF##_v32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);               \
    }

GEMM_PATHS(float, f32)
GEMM_PATHS(double, f64)

/* The best path this CPU runs, or -1 before the first call (set once; races are benign:
 * every thread computes the same value). */
static int gemm_path = -1;

static int best_path(void)
{
#if FNN_HAVE_CLONES
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4"))
        return FNN_GEMM_PATH_AVX512;
    if (__builtin_cpu_supports("x86-64-v3"))
        return FNN_GEMM_PATH_AVX2;
#endif
    return FNN_GEMM_PATH_BASELINE;
}

int fnn_gemm_path(void)
{
    if (gemm_path < 0)
        gemm_path = best_path();
    return gemm_path;
}

int fnn_gemm_set_path(int path)
{
    const int best = best_path();
    if (path < 0)
        path = best;
    /* The paths are ordered: a CPU runs its best one and every one below it. */
    if (path > best)
        return -1;
    gemm_path = path;
    return path;
}

#define GEMM_ENTRY(T, SUF)                                                                    \
    void fnn_gemm_##SUF(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,      \
                        T alpha, const T *a, ptrdiff_t lda, const T *b, ptrdiff_t ldb, T beta, \
                        T *c, ptrdiff_t ldc)                                                  \
    {                                                                                         \
        if (m <= 0 || n <= 0)                                                                 \
            return;                                                                           \
        if (k <= 0 || alpha == 0) {                                                           \
            for (ptrdiff_t i = 0; i < m; i++)                                                 \
                for (ptrdiff_t j = 0; j < n; j++)                                             \
                    c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];                   \
            return;                                                                           \
        }                                                                                     \
        switch (fnn_gemm_path()) {                                                            \
        case FNN_GEMM_PATH_AVX512:                                                            \
            gemm_##SUF##_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); \
            break;                                                                            \
        case FNN_GEMM_PATH_AVX2:                                                              \
            gemm_##SUF##_avx2(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); \
            break;                                                                            \
        default:                                                                              \
            gemm_##SUF##_baseline(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,  \
                                  ldc);                                                       \
        }                                                                                     \
    }

GEMM_ENTRY(float, f32)
GEMM_ENTRY(double, f64)

_Static_assert(FNN_GEMM_NR_F32 * sizeof(float) == 128 && FNN_GEMM_NR_F64 * sizeof(double) == 128,
               "fastnn.h's FNN_GEMM_NR_* must match the widest (AVX-512) register tile");
