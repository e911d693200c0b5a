/* int8 quantized Dense, as Keras 3's `quantize("int8")` computes it.
 *
 * y[i, j] = float(sum_k q[i, k] * w[k, j]) / (kernel_scale[j] * x_scale[i])
 *
 * where w is the layer's int8 kernel (per-output-column symmetric scales, fixed at quantize
 * time) and q the input row quantized at call time: x_scale[i] = 127 / (max_k |x[i, k]| + 1e-7),
 * q = clip(round_half_even(x * x_scale), -127, 127). Every step is float32 and in Keras's order,
 * so the outputs are Keras's to the bit wherever its matmul is exact (int32 accumulation).
 *
 * Two paths give the same int32 accumulators, hence the same outputs:
 *   - AVX-512 VNNI: `vpdpbusd` multiplies unsigned by signed bytes, so the row is stored as
 *     u = q + 128 and 128 * sum_k w[k, j] (the packed kernel's column sums) is subtracted after;
 *     int32 wraps the same way both ways, and the true sum always fits (|q w| <= 16129).
 *   - baseline: plain C int32 sums of q * w, for CPUs without VNNI (and forced in tests).
 *
 * The kernel is packed once: 16-column panels, each a run of [k/4][16][4] bytes, so that one
 * 64-byte load holds four consecutive k of sixteen columns, the operand `vpdpbusd` wants. The
 * register tile is 8 rows by up to 48 columns (24 zmm accumulators).
 */
#include <string.h>
#include <math.h>

#include "fastnn.h"
#include "simd.h"

#if FNN_HAVE_CLONES
#include <immintrin.h>
#include "amx.h"
#define FNN_HAVE_VNNI_PATH 1
#else
#define FNN_HAVE_VNNI_PATH 0
#endif

#define QMR 8             /* rows of the register tile */
#define QPANEL 16         /* columns per packed panel (one zmm of int32) */
#define QMAXV 3           /* panels per register tile */

static inline ptrdiff_t k_padded(ptrdiff_t k) { return (k + 3) & ~(ptrdiff_t)3; }
/* A panel's depth: k rounded up to 64, the k of one AMX tile (zeros beyond k). */
static inline ptrdiff_t k_panel(ptrdiff_t k) { return (k + 63) & ~(ptrdiff_t)63; }
static inline ptrdiff_t n_panels(ptrdiff_t n) { return (n + QPANEL - 1) / QPANEL; }
/* Panels are allocated in pairs (the AMX kernel reads two at a time; the last may be zeros). */
static inline ptrdiff_t n_panels_alloc(ptrdiff_t n) { return (n_panels(n) + 1) & ~(ptrdiff_t)1; }

ptrdiff_t fnn_qpack_size(ptrdiff_t k, ptrdiff_t n)
{
    return n_panels_alloc(n) * QPANEL * k_panel(k);
}

void fnn_qpack(ptrdiff_t k, ptrdiff_t n, const int8_t *w, int8_t *packed, int32_t *colsum128)
{
    memset(packed, 0, (size_t)fnn_qpack_size(k, n));
    for (ptrdiff_t j = 0; j < n; j++) {
        int8_t *panel = packed + (j / QPANEL) * k_panel(k) * 16 + (j % QPANEL) * 4;
        int32_t s = 0;
        for (ptrdiff_t kk = 0; kk < k; kk++) {
            int8_t v = w[kk * n + j];
            panel[(kk / 4) * 64 + (kk % 4)] = v;
            s += v;
        }
        colsum128[j] = 128 * s;
    }
}

/* Keras's AbsMaxQuantizer on one row, float32 throughout; bytes are q + offset (0 or 128).
 * The clones vectorize it; max, multiply and round-half-even are exact lane-wise, so every
 * clone writes the same bytes. */
FNN_CLONES
void fnn_quantize_rows(ptrdiff_t rows, ptrdiff_t k, const float *x, ptrdiff_t ldx, int offset,
                       uint8_t *q, ptrdiff_t ldq, float *scale_out)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        uint8_t *qi = q + i * ldq;
        float amax = 0.0f;
        for (ptrdiff_t kk = 0; kk < k; kk++) {
            float a = fabsf(xi[kk]);
            amax = a > amax ? a : amax;
        }
        const float scale = 127.0f / (amax + 1e-7f);
        for (ptrdiff_t kk = 0; kk < k; kk++) {
            float r = nearbyintf(xi[kk] * scale);
            r = r < -127.0f ? -127.0f : (r > 127.0f ? 127.0f : r);
            qi[kk] = (uint8_t)((int)r + offset);
        }
        for (ptrdiff_t kk = k; kk < ldq; kk++)
            qi[kk] = 0;   /* the kernel's padding is 0 too: no contribution either way */
        scale_out[i] = scale;
    }
}

/* Where de-scaled outputs go: float(acc) / (kscale[j] * xscale[i]) into out (ldo apart). */
typedef struct { const float *kscale, *xscale; float *out; ptrdiff_t ldo; } deq_ctx;

/* Where a tile's de-scaled outputs go when the tile writes them itself (VNNI path). */
typedef struct {
    const float *kscale, *xscale;   /* at the tile's first column and row */
    float *out;                     /* at the tile's first row and column */
    ptrdiff_t ldo, mr, nc;          /* valid rows and columns of the tile */
} dq_tile;

/* ---- int32 tiles: QMR rows x nv panels into acc[QMR][QMAXV * QPANEL] -------------------- */

static void tile_baseline(int nv, ptrdiff_t k4, const uint8_t *a, ptrdiff_t lda,
                          const int8_t *b, ptrdiff_t panel_stride, int32_t *acc)
{
    for (int r = 0; r < QMR; r++) {
        const int8_t *ar = (const int8_t *)(a + r * lda);
        for (int v = 0; v < nv; v++) {
            const int8_t *bp = b + v * panel_stride;
            int32_t s[QPANEL] = {0};
            for (ptrdiff_t p = 0; p < k4; p++)
                for (int jj = 0; jj < QPANEL; jj++)
                    for (int t = 0; t < 4; t++)
                        s[jj] += (int32_t)ar[4 * p + t] * bp[p * 64 + jj * 4 + t];
            memcpy(acc + r * QMAXV * QPANEL + v * QPANEL, s, sizeof s);
        }
    }
}

#if FNN_HAVE_VNNI_PATH
#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))

/* fnn_quantize_rows for the VNNI path (offset 128), 16 lanes at a time: the same float32
 * steps (max, divide, multiply, round half to even by the default MXCSR mode, clip), so the same
 * bytes as the scalar loop. */
static VNNI_TARGET void quantize_rows_vnni(ptrdiff_t rows, ptrdiff_t k, const float *x,
                                           ptrdiff_t ldx, uint8_t *q, ptrdiff_t ldq,
                                           float *scale_out)
{
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    const __m512i off = _mm512_set1_epi32(128);
    for (ptrdiff_t i = 0; i < rows; i++) {
        const float *xi = x + i * ldx;
        uint8_t *qi = q + i * ldq;
        __m512 vmax = _mm512_setzero_ps();
        ptrdiff_t kk = 0;
        for (; kk + 16 <= k; kk += 16)
            vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(xi + kk)));
        if (kk < k) {
            const __mmask16 m = (__mmask16)((1u << (k - kk)) - 1);
            vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(m, xi + kk)));
        }
        const float amax = _mm512_reduce_max_ps(vmax);
        const float scale = 127.0f / (amax + 1e-7f);
        const __m512 vs = _mm512_set1_ps(scale);
        for (kk = 0; kk < k; kk += 16) {
            const __mmask16 m = k - kk >= 16 ? (__mmask16)0xFFFF
                                             : (__mmask16)((1u << (k - kk)) - 1);
            __m512i r = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xi + kk), vs));
            r = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo), hi), off);
            _mm512_mask_cvtepi32_storeu_epi8(qi + kk, m, r);
        }
        for (kk = k; kk < ldq; kk++)
            qi[kk] = 0;
        scale_out[i] = scale;
    }
}

/* De-scale one tile straight from the accumulators: float(acc) / (kscale * xscale). */
static inline __attribute__((always_inline)) VNNI_TARGET void
store_dequant(__m512i acc, const float *ks, float xs, float *o, ptrdiff_t nc)
{
    const __mmask16 m = nc >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nc) - 1);
    const __m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, ks), _mm512_set1_ps(xs));
    _mm512_mask_storeu_ps(o, m, _mm512_div_ps(_mm512_cvtepi32_ps(acc), s));
}


static inline __attribute__((always_inline)) VNNI_TARGET void
tile_vnni_nv(const int nv, ptrdiff_t k4, const uint8_t *a, ptrdiff_t lda, const int8_t *b,
             ptrdiff_t panel_stride, const int32_t *colsum128, int32_t *acc, const dq_tile *dq)
{
    __m512i c[QMR][QMAXV];
    for (int r = 0; r < QMR; r++)
        for (int v = 0; v < nv; v++)
            c[r][v] = _mm512_setzero_si512();
    for (ptrdiff_t p = 0; p < k4; p++) {
        __m512i bv[QMAXV];
        for (int v = 0; v < nv; v++)
            bv[v] = _mm512_loadu_si512((const void *)(b + v * panel_stride + p * 64));
        for (int r = 0; r < QMR; r++) {
            int32_t a4;
            memcpy(&a4, a + r * lda + 4 * p, 4);
            const __m512i av = _mm512_set1_epi32(a4);
            for (int v = 0; v < nv; v++)
                c[r][v] = _mm512_dpbusd_epi32(c[r][v], av, bv[v]);
        }
    }
    for (int v = 0; v < nv; v++) {
        const __m512i comp = _mm512_loadu_si512((const void *)(colsum128 + v * QPANEL));
        for (int r = 0; r < QMR; r++)
            c[r][v] = _mm512_sub_epi32(c[r][v], comp);
    }
    if (dq == NULL) {
        for (int v = 0; v < nv; v++)
            for (int r = 0; r < QMR; r++)
                _mm512_storeu_si512((void *)(acc + r * QMAXV * QPANEL + v * QPANEL), c[r][v]);
        return;
    }
    for (int r = 0; r < QMR && r < dq->mr; r++)
        for (int v = 0; v < nv; v++)
            if (dq->nc > v * QPANEL)
                store_dequant(c[r][v], dq->kscale + v * QPANEL, dq->xscale[r],
                              dq->out + r * dq->ldo + v * QPANEL, dq->nc - v * QPANEL);
}

static VNNI_TARGET void tile_vnni(int nv, ptrdiff_t k4, const uint8_t *a, ptrdiff_t lda,
                                  const int8_t *b, ptrdiff_t panel_stride,
                                  const int32_t *colsum128, int32_t *acc, const dq_tile *dq)
{
    if (nv == 3)
        tile_vnni_nv(3, k4, a, lda, b, panel_stride, colsum128, acc, dq);
    else if (nv == 2)
        tile_vnni_nv(2, k4, a, lda, b, panel_stride, colsum128, acc, dq);
    else
        tile_vnni_nv(1, k4, a, lda, b, panel_stride, colsum128, acc, dq);
}
#endif

#if FNN_HAVE_VNNI_PATH
/* ---- AMX: the same u8 x s8 sums, 16x16 int32 tiles, 64 k per instruction ----------------- */
#define AMX_TARGET __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vnni")))

/* AMX-TILE and AMX-INT8, with Linux's permission. */
static int amx_permitted(void)
{
    return fnn_amx_permitted(25);
}

/* Rows [0, m) (a has them rounded up to 32, zeros beyond) times every panel pair; each 32x32
 * block of sums is de-scaled as the VNNI tiles are (store_dequant). */
static AMX_TARGET void qgemm_amx(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a,
                                 ptrdiff_t lda, const int8_t *packed,
                                 const int32_t *colsum128, const deq_ctx *d)
{
    fnn_amx_config cfg;
    fnn_amx_config_full(&cfg);
    _tile_loadconfig(&cfg);
    int32_t c[32 * 32] __attribute__((aligned(64)));
    const ptrdiff_t kp = k_panel(k), panel_stride = kp * 16, np = n_panels(n);
    for (ptrdiff_t p = 0; p < np; p += 2) {
        const int8_t *b0 = packed + p * panel_stride, *b1 = b0 + panel_stride;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += 32) {
            const uint8_t *a0 = a + i0 * lda, *a1 = a0 + 16 * lda;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (ptrdiff_t kb = 0; kb < kp; kb += 64) {
                _tile_loadd(4, a0 + kb, lda);
                _tile_loadd(5, a1 + kb, lda);
                _tile_loadd(6, b0 + kb * 16, 64);
                _tile_loadd(7, b1 + kb * 16, 64);
                _tile_dpbusd(0, 4, 6);
                _tile_dpbusd(1, 4, 7);
                _tile_dpbusd(2, 5, 6);
                _tile_dpbusd(3, 5, 7);
            }
            _tile_stored(0, c, 128);
            _tile_stored(1, c + 16, 128);
            _tile_stored(2, c + 16 * 32, 128);
            _tile_stored(3, c + 16 * 32 + 16, 128);
            const ptrdiff_t mr = m - i0 < 32 ? m - i0 : 32;
            for (int h = 0; h < 2; h++) {
                const ptrdiff_t j0 = (p + h) * QPANEL;
                if (j0 >= n)
                    break;
                const ptrdiff_t nc = n - j0 < QPANEL ? n - j0 : QPANEL;
                const __mmask16 mask = nc >= 16 ? (__mmask16)0xFFFF
                                                : (__mmask16)((1u << nc) - 1);
                const __m512i comp = _mm512_maskz_loadu_epi32(mask, colsum128 + j0);
                for (ptrdiff_t r = 0; r < mr; r++) {
                    const __m512i acc = _mm512_sub_epi32(
                        _mm512_load_si512((const void *)(c + r * 32 + h * 16)), comp);
                    store_dequant(acc, d->kscale + j0, d->xscale[i0 + r],
                                  d->out + (i0 + r) * d->ldo + j0, nc);
                }
            }
        }
    }
    _tile_release();
}
#endif

int fnn_qpath_available(int path)
{
    if (path == FNN_QPATH_BASELINE)
        return 1;
#if FNN_HAVE_VNNI_PATH
    __builtin_cpu_init();
    const int vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
                     && __builtin_cpu_supports("avx512vnni");
    if (path == FNN_QPATH_VNNI)
        return vnni;
    if (path == FNN_QPATH_AMX)
        return vnni && amx_permitted();
#endif
    return 0;
}

/* Rows [0, m) of the int32 product, padded rows of `a` (m rounded up to QMR) included; each
 * finished tile goes to `emit`, or, on the VNNI path when `fused` is given, is de-scaled into
 * fused->out by the tile itself (the same arithmetic as emit_dequant, lane-wise). */
typedef void (*tile_sink)(void *ctx, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t mr, ptrdiff_t nc,
                          const int32_t *acc);

static void qgemm_tiles(int path, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a,
                        ptrdiff_t lda, const int8_t *packed, const int32_t *colsum128,
                        tile_sink emit, void *ctx, const deq_ctx *fused)
{
    const ptrdiff_t k4 = k_padded(k) / 4, panel_stride = k_panel(k) * 16, np = n_panels(n);
    int32_t acc[QMR * QMAXV * QPANEL];
    for (ptrdiff_t p0 = 0; p0 < np; p0 += QMAXV) {
        const int nv = (int)(np - p0 < QMAXV ? np - p0 : QMAXV);
        const int8_t *b = packed + p0 * panel_stride;
        const ptrdiff_t j0 = p0 * QPANEL;
        const ptrdiff_t nc = n - j0 < nv * QPANEL ? n - j0 : nv * QPANEL;
        for (ptrdiff_t i0 = 0; i0 < m; i0 += QMR) {
            const ptrdiff_t mr = m - i0 < QMR ? m - i0 : QMR;
#if FNN_HAVE_VNNI_PATH
            if (path == FNN_QPATH_VNNI) {
                if (fused) {
                    dq_tile dq = {fused->kscale + j0, fused->xscale + i0,
                                  fused->out + i0 * fused->ldo + j0, fused->ldo, mr, nc};
                    tile_vnni(nv, k4, a + i0 * lda, lda, b, panel_stride, colsum128 + j0, acc,
                              &dq);
                    continue;
                }
                tile_vnni(nv, k4, a + i0 * lda, lda, b, panel_stride, colsum128 + j0, acc,
                          NULL);
            } else
#endif
                tile_baseline(nv, k4, a + i0 * lda, lda, b, panel_stride, acc);
            emit(ctx, i0, j0, mr, nc, acc);
        }
    }
}

typedef struct { int32_t *c; ptrdiff_t ldc; } s32_ctx;

static void emit_s32(void *ctx, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t mr, ptrdiff_t nc,
                     const int32_t *acc)
{
    s32_ctx *s = ctx;
    for (ptrdiff_t r = 0; r < mr; r++)
        memcpy(s->c + (i0 + r) * s->ldc + j0, acc + r * QMAXV * QPANEL, nc * sizeof(int32_t));
}

void fnn_qgemm_s32(int path, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a,
                   ptrdiff_t lda, const int8_t *packed, const int32_t *colsum128, int32_t *c,
                   ptrdiff_t ldc)
{
    s32_ctx s = {c, ldc};
    qgemm_tiles(path, m, n, k, a, lda, packed, colsum128, emit_s32, &s, NULL);
}

/* Keras's de-scaling: float(acc) / (kernel_scale * inputs_scale), both roundings float32. */
static void emit_dequant(void *ctx, ptrdiff_t i0, ptrdiff_t j0, ptrdiff_t mr, ptrdiff_t nc,
                         const int32_t *acc)
{
    deq_ctx *d = ctx;
    for (ptrdiff_t r = 0; r < mr; r++) {
        const float xs = d->xscale[i0 + r];
        const int32_t *ar = acc + r * QMAXV * QPANEL;
        float *o = d->out + (i0 + r) * d->ldo + j0;
        const float *ks = d->kscale + j0;
        for (ptrdiff_t j = 0; j < nc; j++)
            o[j] = (float)ar[j] / (ks[j] * xs);
    }
}

/* Rows of a block's scratch: a multiple of the AMX kernel's 32 (and of QMR). */
static inline ptrdiff_t rows_padded(ptrdiff_t rows) { return (rows + 31) & ~(ptrdiff_t)31; }

ptrdiff_t fnn_qdense_scratch(ptrdiff_t rows, ptrdiff_t k)
{
    const ptrdiff_t mp = rows_padded(rows);
    return mp * k_panel(k) + mp * (ptrdiff_t)sizeof(float) + 64;
}

void fnn_qdense_f32(int path, ptrdiff_t rows, ptrdiff_t k, ptrdiff_t n, const float *x,
                    ptrdiff_t ldx, const int8_t *packed, const int32_t *colsum128,
                    const float *kscale, float *out, ptrdiff_t ldo, void *scratch)
{
    /* A few rows fill too little of a 16-row tile: VNNI's 8-row tiles (same bits) waste less. */
    if (path == FNN_QPATH_AMX && rows < 16)
        path = FNN_QPATH_VNNI;
    const ptrdiff_t mp = rows_padded(rows);
    const ptrdiff_t kp = path == FNN_QPATH_AMX ? k_panel(k) : k_padded(k);
    uint8_t *a = scratch;
    float *xscale = (float *)(((uintptr_t)(a + mp * kp) + 63) & ~(uintptr_t)63);
    deq_ctx d = {kscale, xscale, out, ldo};
    /* The tile's padding rows are computed and dropped: give them defined bytes. */
    memset(a + rows * kp, 0, (size_t)((mp - rows) * kp));
#if FNN_HAVE_VNNI_PATH
    if (path == FNN_QPATH_AMX) {
        quantize_rows_vnni(rows, k, x, ldx, a, kp, xscale);
        qgemm_amx(rows, n, k, a, kp, packed, colsum128, &d);
        return;
    }
    if (path == FNN_QPATH_VNNI) {
        quantize_rows_vnni(rows, k, x, ldx, a, kp, xscale);
        qgemm_tiles(path, rows, n, k, a, kp, packed, colsum128, emit_dequant, &d, &d);
        return;
    }
#endif
    fnn_quantize_rows(rows, k, x, ldx, 0, a, kp, xscale);
    qgemm_tiles(path, rows, n, k, a, kp, packed, colsum128, emit_dequant, &d, NULL);
}
