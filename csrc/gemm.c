/* The own GEMM tile kernel: C = alpha*op(A)*op(B) + beta*C, row-major, single-threaded.
 *
 * The register tile is FNN_GEMM_MR rows by 64 bytes of columns (16 floats, 8 doubles): two
 * ymm accumulators per row with AVX2 (12 of the 16 registers), one zmm per row with AVX-512.
 * GCC keeps a 64-byte vector type in memory when the target has no 512-bit registers, so the
 * body (gemm_impl.h) is instantiated twice per type, with 32-byte and 64-byte vectors, and
 * the FNN_CLONES entry takes the wide one only on an AVX-512 CPU (in the other clones that
 * branch is never taken). Both compute the same bits: the arithmetic is lane-wise.
 *
 * B is copied into a zero-padded kc x 64-byte panel on the stack (25 KB for kc = 400: it stays
 * in L1 while every tile of the row block reads it), except when B is row-major and op(A) has
 * few rows: then B's rows are read in place, because copying would cost as much as the
 * arithmetic. When more than one panel of B will read them, op(A)'s rows are copied too, a
 * GEMM_MC x kc block at a time (up to 211 KB, kept in L2), tile by tile in p-major order, so the
 * micro-kernel reads A sequentially whatever its layout (for op(A) = A^T, the weight gradient,
 * reading A in place means one cache line per multiply-add step). A single row of op(A)
 * against a row-major B is a matrix-vector product: B is streamed row by row instead.
 *
 * Block sizes were checked on a Zen 3 (32 KB L1d, 512 KB L2), float32, on the 8 products of a
 * batch-128 step of 784-512-256-10 (interleaved A/B of two builds, 300 rounds): kc = 400
 * (k = 784 in two blocks instead of four) is 2-3% faster than 256 on one thread and 3.5% on
 * two; C is then read and written half as often. float64 keeps kc = 256 (same panel bytes).
 * The stack frame is about 240 KB (panel + A block), well inside the usual 2-8 MB thread
 * stacks.
 */
#include "fastnn.h"
#include "simd.h"

#define T float
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
#define VECS_PER_ROW 1
#define NAME(x) x##_f32_v64
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#undef T
#undef GEMM_KC
#undef GEMM_MC

#define T double
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
#define VECS_PER_ROW 1
#define NAME(x) x##_f64_v64
#include "gemm_impl.h"
#undef VEC_BYTES
#undef VECS_PER_ROW
#undef NAME
#undef T
#undef GEMM_KC
#undef GEMM_MC

/* True on CPUs whose FNN_CLONES variant is the AVX-512 one. */
static inline int wide_vectors(void)
{
#if FNN_HAVE_CLONES
    return __builtin_cpu_supports("x86-64-v4");
#else
    return 0;
#endif
}

#define GEMM_ENTRY(T, SUF)                                                                    \
    FNN_CLONES                                                                                \
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
        } else if (wide_vectors()) {                                                          \
            gemm_##SUF##_v64(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); \
        } else if (alpha == 1) { /* a copy with the scaling folded away */                    \
            gemm_##SUF##_v32(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);     \
        } else {                                                                              \
            gemm_##SUF##_v32(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); \
        }                                                                                     \
    }

GEMM_ENTRY(float, f32)
GEMM_ENTRY(double, f64)

_Static_assert(FNN_GEMM_NR_F32 * sizeof(float) == 64 && FNN_GEMM_NR_F64 * sizeof(double) == 64,
               "fastnn.h's FNN_GEMM_NR_* must match the 64-byte register tile");
