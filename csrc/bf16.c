/* The bfloat16 product of mixed precision: C = alpha*op(A)*op(B) + beta*C with float32 A, B
 * and C, where A's and B's elements are rounded to bfloat16 (round to nearest even, as Keras's
 * cast) and the products are summed in float32.
 *
 * The arithmetic is that of AMX-BF16's tdpbf16ps, measured on this project's Sapphire Rapids
 * (0 differences in 51,200 sums of 256 products against the model below; Intel's newer
 * pseudo-code says the same). Along k, elements go in steps of 32 (16 pairs (2q, 2q+1)). For
 * each element of C and each step, two float32 chains start from zero, one over the step's even
 * elements and one over its odd ones (acc_e += A[i,2q]*B[2q,j], acc_o += A[i,2q+1]*B[2q+1,j], q
 * increasing), and then sum += acc_e + acc_o. Every operation rounds to nearest even, reads
 * denormals as zero and flushes denormal results to zero. A product of two bfloat16 values is
 * exact in float32 (8-bit by 8-bit significands), so the fallback path does the same with
 * ordinary float32 code under MXCSR's flush-to-zero and denormals-are-zero bits, set for the
 * call and restored after, and gives the same bits (except when a single product underflows
 * below 2^-126: the baseline build's unfused multiply flushes it, the fused ones keep it). k is
 * cut into blocks that depend on k only, padded with zeros to whole steps; `sum` starts from
 * zero per block and C is updated once per block, as in gemm.c. So the bits depend neither on
 * the path nor on the tile or thread split.
 *
 * Why AMX and not AVX512_BF16's vdpbf16ps: on this CPU a vdpbf16ps retires every ~0.9 ns
 * against ~0.21 ns for a float32 FMA, so its 32 multiply-adds per instruction run at half the
 * FMA's rate (36 against 75 G/s on one core), while tdpbf16ps does 8,192 per instruction
 * (~1,000 G/s). benchmarks/bf16_instruction_rates.c measures the three and checks the model.
 *
 * Rounding happens while packing: op(A)'s rows, MC x KC at a time, become rows of bfloat16
 * (consecutive pairs along k); op(B) becomes KC/2 x NR panels of pairs (one uint32 per pair,
 * the even element in the low half), the layout tdpbf16ps reads. Denormal float32 inputs become
 * zero (what the instruction would read anyway).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fastnn.h"
#include "simd.h"

#if FNN_HAVE_CLONES && defined(__GNUC__) && __GNUC__ >= 11
#include <immintrin.h>
#include "amx.h"
#define FNN_HAVE_AMX_PATH 1
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f")))
#else
#define FNN_HAVE_AMX_PATH 0
#endif

#define MR 32             /* rows of a register tile: two AMX tiles */
#define NR FNN_BF16_NR    /* its columns (32): two AMX tiles */
#define STEP 16           /* pairs per tdpbf16ps (32 elements of k) */
#define KC 512            /* k per block: 16 steps */
#define MC 128            /* rows of op(A) packed per block (128 KB, for L2) */
#define KQ (KC / 2)

/* float32 -> bfloat16 bits, round to nearest even; NaN stays a (quiet) NaN, denormals -> 0.
 * Branch-free, so that the loops below vectorize. */
static inline uint32_t bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const uint32_t nan_or_rounded = (u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x0040u
                                                                      : rounded;
    return (u & 0x7F800000u) == 0 ? (u >> 16) & 0x8000u : nan_or_rounded;
}

FNN_CLONES
void fnn_round_bf16(ptrdiff_t n, const float *x, float *out)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        const uint32_t u = bf16_bits(x[i]) << 16;
        memcpy(out + i, &u, sizeof u);
    }
}

/* n elements x[0], x[stride], ... as bfloat16 bits. */
static inline void to_bf16(uint16_t *restrict dst, const float *restrict x, ptrdiff_t stride,
                           ptrdiff_t n)
{
    if (stride == 1)
        for (ptrdiff_t i = 0; i < n; i++)
            dst[i] = (uint16_t)bf16_bits(x[i]);
    else
        for (ptrdiff_t i = 0; i < n; i++)
            dst[i] = (uint16_t)bf16_bits(x[i * stride]);
}

/* Rows [0, mc) of op(A)[., 0..kc) as bfloat16 in row blocks of MR rows: a block holds kq/STEP
 * steps, each MR rows x 32 elements (64 bytes a row), so that every tile tdpbf16ps loads (16
 * rows of one step) is 1 KB of consecutive memory, which the prefetchers stream (rows of the
 * whole k-block, 832 bytes apart, made the tile loads wait on L2). Element (i, kk) sits at
 * (i / MR) * MR * 2 * kq + (kk / 32) * MR * 32 + (i % MR) * 32 + kk % 32, so a row block starts
 * at i * 2 * kq as in a plain row-major block. Zeros past kc and in rows [mc, mc rounded up to
 * MR). op(A)'s rows are A's rows or, when trans_a, its columns: then pairs of A's rows (2q,
 * 2q+1) become one row of uint32 pairs, a step (STEP pairs) at a time into `tmp` (STEP x mc
 * values), and are transposed from there, so that reads stay sequential. */
#define STEP_ELEMS (2 * STEP)
static inline uint16_t *a_step_row(uint16_t *dst, ptrdiff_t i, ptrdiff_t s, ptrdiff_t kq)
{
    return dst + (i / MR) * MR * 2 * kq + s * MR * STEP_ELEMS + (i % MR) * STEP_ELEMS;
}

FNN_CLONES
static void pack_a(uint16_t *restrict dst, const float *restrict a, ptrdiff_t lda, int trans_a,
                   ptrdiff_t mc, ptrdiff_t kc, ptrdiff_t kq, uint32_t *restrict tmp)
{
    const ptrdiff_t steps = kq / STEP, rows = (mc + MR - 1) / MR * MR;
    if (!trans_a) {
        const ptrdiff_t full = kc / STEP_ELEMS;
        for (ptrdiff_t i = 0; i < mc; i++) {
            const float *src = a + i * lda;
            for (ptrdiff_t s = 0; s < full; s++) {
                uint16_t *d = a_step_row(dst, i, s, kq);
                for (ptrdiff_t e = 0; e < STEP_ELEMS; e++)
                    d[e] = (uint16_t)bf16_bits(src[s * STEP_ELEMS + e]);
            }
            for (ptrdiff_t s = full; s < steps; s++) {
                uint16_t *d = a_step_row(dst, i, s, kq);
                for (ptrdiff_t e = 0; e < STEP_ELEMS; e++) {
                    const ptrdiff_t kk = s * STEP_ELEMS + e;
                    d[e] = kk < kc ? (uint16_t)bf16_bits(src[kk]) : 0;
                }
            }
        }
    } else {
        for (ptrdiff_t s = 0; s < steps; s++) {
            const ptrdiff_t q0 = s * STEP;
            for (ptrdiff_t q = 0; q < STEP; q++) {
                const ptrdiff_t p = 2 * (q0 + q);
                const float *even = a + p * lda, *odd = even + lda;
                uint32_t *t = tmp + q * mc;
                if (p + 1 < kc)
                    for (ptrdiff_t i = 0; i < mc; i++)
                        t[i] = bf16_bits(even[i]) | bf16_bits(odd[i]) << 16;
                else if (p < kc)
                    for (ptrdiff_t i = 0; i < mc; i++)
                        t[i] = bf16_bits(even[i]);
                else
                    memset(t, 0, mc * sizeof *t);
            }
            for (ptrdiff_t i = 0; i < mc; i++) {
                uint32_t pair_row[STEP];
                for (ptrdiff_t q = 0; q < STEP; q++)
                    pair_row[q] = tmp[q * mc + i];
                memcpy(a_step_row(dst, i, s, kq), pair_row, sizeof pair_row);
            }
        }
    }
    for (ptrdiff_t i = mc; i < rows; i++)
        for (ptrdiff_t s = 0; s < steps; s++)
            memset(a_step_row(dst, i, s, kq), 0, STEP_ELEMS * sizeof *dst);
}

/* op(B)[0..kc, 0..n) as panels of kq x NR pairs (even element in the low half), panel jp at
 * dst + jp*kq*NR, zeros past n and past kc. op(B)'s rows are B's rows, or, when trans_b, its
 * columns: then each of B's rows is one column of pairs, converted whole. `tmp` holds 2*kq. */
FNN_CLONES
static void pack_b(uint32_t *restrict dst, const float *restrict b, ptrdiff_t ldb, int trans_b,
                   ptrdiff_t kc, ptrdiff_t n, ptrdiff_t kq, uint16_t *restrict tmp)
{
    const ptrdiff_t panels = (n + NR - 1) / NR;
    if (!trans_b) {
        /* Row pair by row pair: B is read sequentially (it is often a weight matrix in L3). */
        for (ptrdiff_t q = 0; q < kq; q++) {
            const ptrdiff_t p = 2 * q;
            for (ptrdiff_t jp = 0; jp < panels; jp++) {
                const ptrdiff_t j0 = jp * NR, nr = n - j0 < NR ? n - j0 : NR;
                uint32_t *d = dst + jp * kq * NR + q * NR;
                const float *even = b + p * ldb + j0, *odd = even + ldb;
                if (p + 1 < kc && nr == NR) {
                    for (ptrdiff_t j = 0; j < NR; j++)
                        d[j] = bf16_bits(even[j]) | bf16_bits(odd[j]) << 16;
                    continue;
                }
                for (ptrdiff_t j = 0; j < NR; j++) {
                    const uint32_t e = p < kc && j < nr ? bf16_bits(even[j]) : 0;
                    const uint32_t o = p + 1 < kc && j < nr ? bf16_bits(odd[j]) : 0;
                    d[j] = e | o << 16;
                }
            }
        }
        return;
    }
    memset(tmp, 0, 2 * kq * sizeof *tmp);
    for (ptrdiff_t jp = 0; jp < panels; jp++) {
        const ptrdiff_t j0 = jp * NR, nr = n - j0 < NR ? n - j0 : NR;
        uint32_t *panel = dst + jp * kq * NR;
        for (ptrdiff_t j = 0; j < NR; j++) {
            if (j < nr)
                to_bf16(tmp, b + (j0 + j) * ldb, 1, kc);
            else
                memset(tmp, 0, kc * sizeof *tmp);
            for (ptrdiff_t q = 0; q < kq; q++)
                panel[q * NR + j] = (uint32_t)tmp[2 * q] | (uint32_t)tmp[2 * q + 1] << 16;
        }
    }
}

/* One MR x NR block of sums over kq pairs (whole steps) in plain float32: acc[r*NR + j]. */
typedef float v16 __attribute__((vector_size(64)));
typedef uint32_t u16x __attribute__((vector_size(64)));

/* FR rows at a time share each step's B vectors (decoded once); the sums stay in memory
 * between steps. */
#define FR 4
FNN_CLONES
static void block_fallback(ptrdiff_t kq, const uint16_t *a, const uint32_t *b, float *acc)
{
    for (int r0 = 0; r0 < MR; r0 += FR) {
        v16 sum[FR][2];
        for (int r = 0; r < FR; r++)
            sum[r][0] = sum[r][1] = (v16){0};
        for (ptrdiff_t q0 = 0; q0 < kq; q0 += STEP) {
            v16 even[FR][2], odd[FR][2];
            for (int r = 0; r < FR; r++)
                even[r][0] = even[r][1] = odd[r][0] = odd[r][1] = (v16){0};
            for (ptrdiff_t q = q0; q < q0 + STEP; q++) {
                v16 be[2], bo[2];
                for (int v = 0; v < 2; v++) {
                    u16x u;
                    memcpy(&u, b + q * NR + v * 16, sizeof u);
                    be[v] = (v16)(u << 16);
                    bo[v] = (v16)(u & 0xFFFF0000u);
                }
                for (int r = 0; r < FR; r++) {
                    const uint16_t *ar = a + (q / STEP) * MR * STEP_ELEMS
                                         + (r0 + r) * STEP_ELEMS + 2 * (q % STEP);
                    const uint32_t ue = (uint32_t)ar[0] << 16;
                    const uint32_t uo = (uint32_t)ar[1] << 16;
                    float ae, ao;
                    memcpy(&ae, &ue, sizeof ae);
                    memcpy(&ao, &uo, sizeof ao);
                    for (int v = 0; v < 2; v++) {
                        even[r][v] += be[v] * ae;
                        odd[r][v] += bo[v] * ao;
                    }
                }
            }
            for (int r = 0; r < FR; r++)
                for (int v = 0; v < 2; v++)
                    sum[r][v] += even[r][v] + odd[r][v];
        }
        for (int r = 0; r < FR; r++) {
            memcpy(acc + (r0 + r) * NR, &sum[r][0], sizeof(v16));
            memcpy(acc + (r0 + r) * NR + 16, &sum[r][1], sizeof(v16));
        }
    }
}

#if FNN_HAVE_AMX_PATH
/* The same block on AMX: tiles 0-3 hold the 2 x 2 sums, 4-5 A's rows, 6-7 B's columns. The
 * tile configuration is loaded by the caller. The sums go to acc (row stride ld_acc floats):
 * the caller's buffer, or C itself when they are C's new values. */
static AMX_TARGET void block_amx(ptrdiff_t kq, const uint16_t *a, const uint32_t *b,
                                 float *acc, ptrdiff_t ld_acc)
{
    const ptrdiff_t a_stride = STEP_ELEMS * sizeof(uint16_t), b_stride = NR * sizeof(uint32_t);
    const uint16_t *a1 = a + 16 * STEP_ELEMS;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (ptrdiff_t q = 0; q < kq; q += STEP) {
        _tile_loadd(4, a + q * MR * 2, a_stride);
        _tile_loadd(5, a1 + q * MR * 2, a_stride);
        _tile_loadd(6, b + q * NR, b_stride);
        _tile_loadd(7, b + q * NR + 16, b_stride);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    const ptrdiff_t c_stride = ld_acc * sizeof(float);
    _tile_stored(0, acc, c_stride);
    _tile_stored(1, acc + 16, c_stride);
    _tile_stored(2, acc + 16 * ld_acc, c_stride);
    _tile_stored(3, acc + 16 * ld_acc + 16, c_stride);
}

static AMX_TARGET void amx_begin(void)
{
    fnn_amx_config cfg;
    fnn_amx_config_full(&cfg);
    _tile_loadconfig(&cfg);
}

static AMX_TARGET void amx_end(void)
{
    _tile_release();
}
#endif

int fnn_bf16_path_available(int path)
{
    if (path == FNN_BF16_BASELINE)
        return 1;
#if FNN_HAVE_AMX_PATH
    if (path == FNN_BF16_AMX)
        return fnn_amx_permitted(22);
#endif
    return 0;
}

/* c[0..mr, 0..nr) from a block's sums: alpha*acc on the first k-block when beta_eff == 0,
 * else c + alpha*acc. The empty asm keeps the rounded product a value of its own, so that no
 * clone fuses it into the addition. */
FNN_CLONES
static void store_block(float *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr, const float *acc,
                        float alpha, float beta_eff)
{
    for (ptrdiff_t r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        const float *ar = acc + r * NR;
        if (alpha == 1 && beta_eff == 0 && nr == NR) {
            for (ptrdiff_t j = 0; j < NR; j++)      /* (a memcpy call costs more) */
                cr[j] = ar[j];
        } else if (alpha == 1 && beta_eff == 0) {
            for (ptrdiff_t j = 0; j < nr; j++)
                cr[j] = ar[j];
        } else if (alpha == 1) {
            for (ptrdiff_t j = 0; j < nr; j++)
                cr[j] += ar[j];
        } else {
            for (ptrdiff_t j = 0; j < nr; j++) {
                float product = ar[j] * alpha;
                __asm__("" : "+m"(product));
                cr[j] = beta_eff == 0 ? product : cr[j] + product;
            }
        }
    }
}

/* The product for k >= 1 and alpha != 0. op(B) comes from b, packed here, or, when `image` is
 * not NULL, already packed: columns [0, n) are panels panel0, panel0 + 1, ... of an image of
 * image_panels panels per k-block (fnn_bf16_image_rows). */
static void gemm_bf16(int path, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                     float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                     const uint32_t *image, ptrdiff_t image_panels, ptrdiff_t panel0,
                     float beta, float *c, ptrdiff_t ldc)
{
    uint16_t a_block[MC * KC] __attribute__((aligned(64)));
    uint16_t tmp[KC];
    uint32_t pairs_tmp[STEP * MC];
    float acc[MR * NR] __attribute__((aligned(64)));
    /* B's k-block is packed once for all row blocks (up to KQ x n pairs: 512 KB for n = 512).
     * Without the memory for it, each panel is packed where it is used, into `one_panel`. */
    const ptrdiff_t panels = (n + NR - 1) / NR;
    uint32_t *b_pack = image == NULL ? malloc((size_t)panels * KQ * NR * sizeof *b_pack) : NULL;
    uint32_t one_panel[KQ * NR] __attribute__((aligned(64)));

    if (beta != 0 && beta != 1) {
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
        beta = 1;
    }
    /* Equal k-blocks of at most KC (they depend on k only), each padded to whole steps. */
    const ptrdiff_t kc_even = fnn_even_block(k, KC);
    const ptrdiff_t kq_even = ((kc_even + 1) / 2 + STEP - 1) / STEP * STEP;
    for (ptrdiff_t pc = 0; pc < k; pc += kc_even) {
        const ptrdiff_t kc = k - pc < kc_even ? k - pc : kc_even;
        const ptrdiff_t kq = ((kc + 1) / 2 + STEP - 1) / STEP * STEP;
        const float beta_eff = pc == 0 ? beta : 1;
        const float *b_k = b + (trans_b ? pc : pc * ldb);
        const uint32_t *image_k = image == NULL ? NULL
            : image + ((pc / kc_even) * image_panels + panel0) * kq_even * NR;
        if (b_pack != NULL)
            pack_b(b_pack, b_k, ldb, trans_b, kc, n, kq, tmp);
        for (ptrdiff_t ic = 0; ic < m; ic += MC) {
            const ptrdiff_t mc = m - ic < MC ? m - ic : MC;
            pack_a(a_block, a + (trans_a ? pc * lda + ic : ic * lda + pc), lda, trans_a, mc, kc,
                   kq, pairs_tmp);
            for (ptrdiff_t jp = 0; jp < panels; jp++) {
                const ptrdiff_t jc = jp * NR, nr = n - jc < NR ? n - jc : NR;
                const uint32_t *panel = image_k != NULL ? image_k + jp * kq_even * NR
                                                         : b_pack + jp * kq * NR;
                if (image_k == NULL && b_pack == NULL) {
                    pack_b(one_panel, b_k + (trans_b ? jc * ldb : jc), ldb, trans_b, kc, nr, kq,
                           tmp);
                    panel = one_panel;
                }
                for (ptrdiff_t ir = 0; ir < mc; ir += MR) {
                    const ptrdiff_t mr = mc - ir < MR ? mc - ir : MR;
                    const uint16_t *a_i = a_block + ir * 2 * kq;
                    float *c_i = c + (ic + ir) * ldc + jc;
#if FNN_HAVE_AMX_PATH
                    if (path == FNN_BF16_AMX) {
                        /* A whole block that C takes as it is: the tiles go straight to C. */
                        if (mr == MR && nr == NR && alpha == 1 && beta_eff == 0) {
                            block_amx(kq, a_i, panel, c_i, ldc);
                            continue;
                        }
                        block_amx(kq, a_i, panel, acc, NR);
                    } else
#endif
                        block_fallback(kq, a_i, panel, acc);
                    store_block(c_i, ldc, mr, nr, acc, alpha, beta_eff);
                }
            }
        }
    }
    free(b_pack);
}

static void gemm_bf16_call(int path, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n,
                           ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda,
                           const float *b, ptrdiff_t ldb, const uint32_t *image,
                           ptrdiff_t image_panels, ptrdiff_t panel0, float beta, float *c,
                           ptrdiff_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0) {
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
#if defined(__x86_64__)
    /* Flush-to-zero (bit 15) and denormals-are-zero (bit 6): tdpbf16ps's rules, for this
     * thread and this call only. */
    const unsigned int saved = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(saved | 0x8040u);
#endif
#if FNN_HAVE_AMX_PATH
    if (path == FNN_BF16_AMX)
        amx_begin();
#endif
    gemm_bf16(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, image, image_panels,
              panel0, beta, c, ldc);
#if FNN_HAVE_AMX_PATH
    if (path == FNN_BF16_AMX)
        amx_end();
#endif
#if defined(__x86_64__)
    __builtin_ia32_ldmxcsr(saved);
#endif
}

void fnn_gemm_bf16(int path, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                   float beta, float *c, ptrdiff_t ldc)
{
    gemm_bf16_call(path, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, NULL, 0, 0, beta, c,
                   ldc);
}

void fnn_gemm_bf16_image(int path, int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         float alpha, const float *a, ptrdiff_t lda, const uint32_t *image,
                         ptrdiff_t image_panels, ptrdiff_t panel0, float beta, float *c,
                         ptrdiff_t ldc)
{
    gemm_bf16_call(path, trans_a, 0, m, n, k, alpha, a, lda, NULL, 0, image, image_panels,
                   panel0, beta, c, ldc);
}

/* ---- images: a weight matrix's op(B), packed once per optimizer step -------------------- */

/* An image holds op(B)'s k-blocks (fnn_even_block(k, KC) rows each, the last maybe fewer) one
 * after another, each as the panels gemm_bf16 packs, every panel kq_even pairs long (the pairs
 * of the first block, rounded up to whole steps): the last block's panels end in zeros that
 * the product never reads. */
static ptrdiff_t image_kq(ptrdiff_t kc)
{
    return ((kc + 1) / 2 + STEP - 1) / STEP * STEP;
}

ptrdiff_t fnn_bf16_image_size(ptrdiff_t k, ptrdiff_t n)
{
    if (k <= 0 || n <= 0)
        return 0;
    const ptrdiff_t kc_even = fnn_even_block(k, KC), blocks = (k + kc_even - 1) / kc_even;
    return blocks * (n + NR - 1) / NR * image_kq(kc_even) * NR;
}

int fnn_bf16_image_splits_at_even_rows(ptrdiff_t k)
{
    const ptrdiff_t kc_even = fnn_even_block(k, KC);
    return kc_even % 2 == 0 || kc_even >= k;
}

/* Rows [r0, r1) of the row-major rows x cols matrix w into the images of op(B) = w (`fwd`:
 * k = rows, n = cols) and of op(B) = w^T (`bwd`, or NULL: k = cols, n = rows). A pair of
 * fwd's rows is written from both of its rows, so r0 must start a pair and r1 end one:
 * [0, rows) always does; even r0 and r1 (or rows) do when
 * fnn_bf16_image_splits_at_even_rows(rows). The images' padding (pairs past a block's rows, columns past n) is never
 * written: the caller zeroes each image once. */
FNN_CLONES
void fnn_bf16_image_rows(uint32_t *fwd, uint32_t *bwd, const float *w, ptrdiff_t rows,
                         ptrdiff_t cols, ptrdiff_t r0, ptrdiff_t r1)
{
    const ptrdiff_t kc_f = fnn_even_block(rows, KC), kq_f = image_kq(kc_f);
    const ptrdiff_t panels_f = (cols + NR - 1) / NR;
    for (ptrdiff_t r = r0; r < r1; r += 2) {     /* r - pc stays even: pairs start there */
        const ptrdiff_t pc = r / kc_f * kc_f, kc = rows - pc < kc_f ? rows - pc : kc_f;
        const ptrdiff_t q = (r - pc) / 2;
        uint32_t *block = fwd + (pc / kc_f) * panels_f * kq_f * NR;
        const float *even = w + r * cols, *odd = even + cols;
        if (r + 1 < pc + kc) {
            for (ptrdiff_t jp = 0; jp < panels_f; jp++) {
                uint32_t *d = block + jp * kq_f * NR + q * NR;
                const ptrdiff_t j0 = jp * NR, nr = cols - j0 < NR ? cols - j0 : NR;
                for (ptrdiff_t j = 0; j < nr; j++)
                    d[j] = bf16_bits(even[j0 + j]) | bf16_bits(odd[j0 + j]) << 16;
            }
        } else {                                /* a block's odd last row: zero partner */
            for (ptrdiff_t jp = 0; jp < panels_f; jp++) {
                uint32_t *d = block + jp * kq_f * NR + q * NR;
                const ptrdiff_t j0 = jp * NR, nr = cols - j0 < NR ? cols - j0 : NR;
                for (ptrdiff_t j = 0; j < nr; j++)
                    d[j] = bf16_bits(even[j0 + j]);
            }
            r--;                                /* the next block starts at r + 1 */
        }
    }
    if (bwd == NULL)
        return;
    /* op(B) = w^T: row j of w is column j of op(B), its pairs along w's columns. */
    const ptrdiff_t kc_b = fnn_even_block(cols, KC), kq_b = image_kq(kc_b);
    const ptrdiff_t panels_b = (rows + NR - 1) / NR;
    uint16_t row_bits[2 * KC];
    for (ptrdiff_t j = r0; j < r1; j++) {
        const ptrdiff_t jp = j / NR, lane = j % NR;
        for (ptrdiff_t pc = 0; pc < cols; pc += kc_b) {
            const ptrdiff_t kc = cols - pc < kc_b ? cols - pc : kc_b;
            to_bf16(row_bits, w + j * cols + pc, 1, kc);
            row_bits[kc] = 0;                   /* the odd tail's partner */
            uint32_t *d = bwd + ((pc / kc_b) * panels_b + jp) * kq_b * NR + lane;
            for (ptrdiff_t q = 0; q < (kc + 1) / 2; q++) {
                uint32_t pair;
                memcpy(&pair, row_bits + 2 * q, sizeof pair);
                d[q * NR] = pair;
            }
        }
    }
}
