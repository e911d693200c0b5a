/* Body of gemm.c, included once per element type T and vector width. The includer defines
 * T, NAME(x) (a unique suffix), VEC_BYTES and VECS_PER_ROW (the register tile is
 * FNN_GEMM_MR x VEC_BYTES * VECS_PER_ROW bytes: 64 with AVX2, 128 with AVX-512, the latter
 * being fastnn.h's FNN_GEMM_NR_*, at whose multiples the threads split C),
 * GEMM_KC (depth of one pass over k) and GEMM_MC (rows of op(A) packed per pass: the packed
 * GEMM_MC x GEMM_KC block of A stays in L2 while the kc x NR panels of B stream through L1).
 *
 * Every element of C gets the same arithmetic wherever its tile sits, whichever way B is
 * read and whatever the vector width: per k-block a lane-wise multiply-add chain started
 * from zero, p in increasing order, then one update of C: alpha*acc on the first block when
 * beta == 0, else C + alpha*acc (a general beta scales C beforehand). Packing, tile heights
 * and the one-row path (which keeps the chains in a buffer instead of registers) do not
 * change that arithmetic, nor does the tile's width (hence the vector width), so any split of
 * C between threads and either path (AVX2 or AVX-512) gives identical bits; only GEMM_KC
 * (the k-blocks) must be the same everywhere.
 */
#include <stddef.h>

#define MR FNN_GEMM_MR
#define LANES ((ptrdiff_t)(VEC_BYTES / sizeof(T)))
#define NV VECS_PER_ROW
#define NR (LANES * NV)
#define VEC NAME(gemm_vec)
#define UVEC NAME(gemm_uvec)
#define IVEC NAME(gemm_ivec)
#define ALWAYS_INLINE static inline __attribute__((always_inline))

typedef T VEC __attribute__((vector_size(VEC_BYTES)));
/* Shuffle masks: integers of T's width (__builtin_shuffle wants them). */
typedef TI IVEC __attribute__((vector_size(VEC_BYTES)));
/* The same vector read from any element address (B's and C's rows are not aligned). */
typedef T UVEC __attribute__((vector_size(VEC_BYTES), aligned(sizeof(T))));

/* acc[r][v] = sum_p a[r*a_rs + p*a_cs] * b[p*b_rs + v*LANES ..] for r < rows, v < nv. Called
 * with constant `rows`, `nv` and (for packed A) strides, so that each tile shape gets its own
 * loop without wasted multiply-adds. */
ALWAYS_INLINE void NAME(micro_tile)(ptrdiff_t kc, const T *a, ptrdiff_t a_rs, ptrdiff_t a_cs,
                                    const int rows, const int nv, const T *b, ptrdiff_t b_rs,
                                    VEC acc[MR][2 * NV])
{
    VEC s[MR][2 * NV];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++)
            s[r][v] = (VEC){0};
    for (ptrdiff_t p = 0; p < kc; p++) {
        VEC bv[2 * NV];
        for (int v = 0; v < nv; v++)
            bv[v] = *(const UVEC *)(b + p * b_rs + v * LANES);
        for (int r = 0; r < rows; r++) {
            const T ar = a[r * a_rs + p * a_cs];
            for (int v = 0; v < nv; v++)
                s[r][v] += bv[v] * ar;
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++)
            acc[r][v] = s[r][v];
}

/* micro_tile for a tile of `rows` rows, A either packed (`rows` values per p, contiguous) or
 * read in place with its strides. */
ALWAYS_INLINE void NAME(strided_tile)(ptrdiff_t kc, const T *a, int packed, ptrdiff_t a_rs,
                                      ptrdiff_t a_cs, const int rows, const int nv,
                                      const T *b, ptrdiff_t b_rs, VEC acc[MR][2 * NV])
{
    if (packed)
        NAME(micro_tile)(kc, a, 1, rows, rows, nv, b, b_rs, acc);
    else
        NAME(micro_tile)(kc, a, a_rs, a_cs, rows, nv, b, b_rs, acc);
}

/* The tile for 1 <= mr <= MR rows, dispatched to a constant row count. With `wide`, tiles
 * of up to 3 rows span two panels (2*NR columns): short tiles need the extra independent
 * accumulators to keep the FMA pipes busy. */
ALWAYS_INLINE void NAME(any_tile)(ptrdiff_t kc, const T *a, int packed, ptrdiff_t a_rs,
                                  ptrdiff_t a_cs, ptrdiff_t mr, int wide, const T *b,
                                  ptrdiff_t b_rs, ptrdiff_t nr, VEC acc[MR][2 * NV])
{
    _Static_assert(MR == 6, "one case per tile height");
    if (NV == 2 && !wide && nr <= LANES) {
        /* A panel with at most one vector of columns (the 10 outputs of a classifier): half
         * the multiply-adds of the full-width tile. */
        switch (mr) {
        case 6: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 6, 1, b, b_rs, acc); break;
        case 5: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 5, 1, b, b_rs, acc); break;
        case 4: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 4, 1, b, b_rs, acc); break;
        case 3: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 3, 1, b, b_rs, acc); break;
        case 2: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 2, 1, b, b_rs, acc); break;
        default: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 1, 1, b, b_rs, acc); break;
        }
        return;
    }
    switch (mr) {
    case 6: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 6, NV, b, b_rs, acc); break;
    case 5: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 5, NV, b, b_rs, acc); break;
    case 4: NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 4, NV, b, b_rs, acc); break;
    case 3:
        if (wide)
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 3, 2 * NV, b, b_rs, acc);
        else
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 3, NV, b, b_rs, acc);
        break;
    case 2:
        if (wide)
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 2, 2 * NV, b, b_rs, acc);
        else
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 2, NV, b, b_rs, acc);
        break;
    default:
        if (wide)
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 1, 2 * NV, b, b_rs, acc);
        else
            NAME(strided_tile)(kc, a, packed, a_rs, a_cs, 1, NV, b, b_rs, acc);
        break;
    }
}

/* Height of the next tile when `left` rows remain. A remainder of 1 or 2 rows is merged
 * with the last full tile and the two split evenly (8 -> 4 + 4, 7 -> 4 + 3): a 1- or 2-row
 * tile has too few independent accumulators to keep the FMA pipes busy. */
ALWAYS_INLINE ptrdiff_t NAME(tile_rows)(ptrdiff_t left)
{
    if (left > MR && left < MR + 3)
        return left - left / 2;
    return left < MR ? left : MR;
}

/* One vector of C after this k-block, for beta_eff 0 (the old value is never read) or 1.
 * The empty asm makes the rounded product a value of its own: otherwise GCC fuses it into
 * the addition at some call sites and not at others, and the bits would depend on which
 * path (hence which thread split) wrote the tile. */
ALWAYS_INLINE void NAME(update)(VEC *c, const VEC *acc, T alpha, T beta_eff)
{
    VEC product = *acc;
    if (alpha != 1) { /* 1 * acc == acc exactly: the usual case skips the barrier */
        product *= alpha;
        __asm__("" : "+m"(product));
    }
    *c = beta_eff == 0 ? product : *c + product;
}

/* Write an mr x nr tile (nr <= 2*NR) into C; short rows go through a padded copy so that
 * they take the same vector arithmetic as full ones. */
ALWAYS_INLINE void NAME(store_tile)(T *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t nr,
                                    VEC acc[MR][2 * NV], T alpha, T beta_eff)
{
    for (ptrdiff_t r = 0; r < mr; r++) {
        for (int v = 0; v < 2 * NV; v++) {
            T *cv = c + r * ldc + v * LANES;
            const ptrdiff_t n_here = nr - v * LANES;
            if (n_here >= LANES) {
                VEC x = *(const UVEC *)cv;
                NAME(update)(&x, &acc[r][v], alpha, beta_eff);
                *(UVEC *)cv = x;
            } else if (n_here > 0) {
                VEC x = {0};
                for (ptrdiff_t j = 0; j < n_here; j++)
                    x[j] = cv[j];
                NAME(update)(&x, &acc[r][v], alpha, beta_eff);
                for (ptrdiff_t j = 0; j < n_here; j++)
                    cv[j] = x[j];
            }
        }
    }
}

/* Ask for a tile's rows of C before its k-loop, so that the update after it finds them in L1
 * (C is read and written once per k-block; from L2 the loads stall the end of every tile).
 * `cols` elements from c, plus the line a misaligned row spills into. */
ALWAYS_INLINE void NAME(prefetch_c)(const T *c, ptrdiff_t ldc, ptrdiff_t mr, ptrdiff_t cols)
{
    for (ptrdiff_t r = 0; r < mr; r++) {
        const char *row = (const char *)(c + r * ldc);
        for (ptrdiff_t byte = 0; byte < cols * (ptrdiff_t)sizeof(T) + 63; byte += 64)
            __builtin_prefetch(row + byte, 1);
    }
}

/* 0, 1, 2, ...: the lane numbers the shuffle masks are computed from. Read through a constant
 * array, the masks below fold into constants (built lane by lane, GCC assembles them at run
 * time). */
static const TI NAME(lane_numbers)[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Transpose a LANES x LANES block held in r[0..LANES) (r[i][l] -> r[l][i]) in log2(LANES)
 * stages: stage w swaps the off-diagonal w x w blocks of each 2w x 2w block, pairing row i
 * with row i + w; each step is one two-source shuffle (vpermt2ps and friends). */
ALWAYS_INLINE void NAME(transpose_block)(VEC r[LANES])
{
    _Static_assert(VEC_BYTES / sizeof(T) <= 16, "lane_numbers covers 16 lanes");
    IVEC lane;
    __builtin_memcpy(&lane, NAME(lane_numbers), sizeof lane);
#pragma GCC unroll 4
    for (int stage = 0; (1 << stage) < LANES; stage++) {
        const TI w = (TI)1 << stage;
        const IVEC upper = (lane & w) != 0;     /* all ones in lanes l with l & w */
        const IVEC lo = lane + (upper & (TI)(LANES - w));        /* x[l], else y[l - w] */
        const IVEC hi = lane + (upper & (TI)LANES) + (~upper & w); /* x[l + w], else y[l] */
#pragma GCC unroll 16
        for (ptrdiff_t i = 0; i < LANES; i++) {
            if (i & w)
                continue;
            const VEC x = r[i], y = r[i + w];
            r[i] = __builtin_shuffle(x, y, lo);
            r[i + w] = __builtin_shuffle(x, y, hi);
        }
    }
}

/* The panel's columns [j0, j0 + LANES) over p in [0, kc) from B's rows j0.. (op(B) = B^T):
 * LANES x LANES blocks read as vectors along B's rows and transposed in registers (an
 * element-by-element copy of B^T cost a third of the input-gradient product), the last
 * kc % LANES values of each row one by one. */
ALWAYS_INLINE void NAME(pack_bt_lanes)(T *restrict panel, const T *restrict b, ptrdiff_t ldb,
                                       ptrdiff_t kc)
{
    ptrdiff_t p = 0;
    for (; p + LANES <= kc; p += LANES) {
        VEC r[LANES];
#pragma GCC unroll 16
        for (ptrdiff_t i = 0; i < LANES; i++)
            r[i] = *(const UVEC *)(b + i * ldb + p);
        NAME(transpose_block)(r);
#pragma GCC unroll 16
        for (ptrdiff_t i = 0; i < LANES; i++)
            *(VEC *)(panel + (p + i) * NR) = r[i];
    }
    for (; p < kc; p++)
        for (ptrdiff_t i = 0; i < LANES; i++)
            panel[p * NR + i] = b[i * ldb + p];
}

/* Copy op(B)[0..kc, 0..nr) into a kc x NR panel, zero beyond nr up to the whole vectors the
 * tile reads (any_tile reads one vector of a panel with nr <= LANES). */
ALWAYS_INLINE void NAME(pack_b)(T *restrict panel, const T *restrict b, ptrdiff_t ldb,
                                int trans_b, ptrdiff_t kc, ptrdiff_t nr)
{
    const ptrdiff_t cols = (nr + LANES - 1) / LANES * LANES;
    if (!trans_b && nr == NR) {
        for (ptrdiff_t p = 0; p < kc; p++) {
            /* B's rows are far apart (often in L3): ask early. Past the end is harmless. */
            __builtin_prefetch(b + (p + 8) * ldb);
            for (int v = 0; v < NV; v++)
                *(VEC *)(panel + p * NR + v * LANES) = *(const UVEC *)(b + p * ldb + v * LANES);
        }
    } else if (!trans_b) {
        for (ptrdiff_t p = 0; p < kc; p++)
            for (ptrdiff_t j = 0; j < cols; j++)
                panel[p * NR + j] = j < nr ? b[p * ldb + j] : 0;
    } else {
        const ptrdiff_t whole = nr / LANES * LANES;
        for (ptrdiff_t j = 0; j < whole; j += LANES)
            NAME(pack_bt_lanes)(panel + j, b + j * ldb, ldb, kc);
        for (ptrdiff_t j = nr; j < cols; j++)
            for (ptrdiff_t p = 0; p < kc; p++)
                panel[p * NR + j] = 0;
        for (ptrdiff_t j = whole; j < nr; j++)
            for (ptrdiff_t p = 0; p < kc; p++)
                panel[p * NR + j] = b[j * ldb + p];
    }
}

/* Copy `rows` rows of op(A) over kc into dst, p-major (dst[p*rows + r]), so the micro
 * kernel reads A sequentially whatever its layout. */
ALWAYS_INLINE void NAME(pack_rows)(T *restrict dst, const T *restrict a, ptrdiff_t a_rs,
                                   ptrdiff_t a_cs, const int rows, ptrdiff_t kc)
{
    for (ptrdiff_t p = 0; p < kc; p++)
        for (int r = 0; r < rows; r++)
            dst[p * rows + r] = a[r * a_rs + p * a_cs];
}

/* Pack the tiles of rows [0, mc) of op(A)'s k-block, in the order and heights tile_rows
 * gives; the tile starting at row i lands at dst + i*kc. */
ALWAYS_INLINE void NAME(pack_a)(T *restrict dst, const T *restrict a, ptrdiff_t a_rs,
                                ptrdiff_t a_cs, ptrdiff_t mc, ptrdiff_t kc)
{
    for (ptrdiff_t ir = 0; ir < mc;) {
        const ptrdiff_t mr = NAME(tile_rows)(mc - ir);
        T *d = dst + ir * kc;
        const T *s = a + ir * a_rs;
        switch (mr) {
        case 6: NAME(pack_rows)(d, s, a_rs, a_cs, 6, kc); break;
        case 5: NAME(pack_rows)(d, s, a_rs, a_cs, 5, kc); break;
        case 4: NAME(pack_rows)(d, s, a_rs, a_cs, 4, kc); break;
        case 3: NAME(pack_rows)(d, s, a_rs, a_cs, 3, kc); break;
        case 2: NAME(pack_rows)(d, s, a_rs, a_cs, 2, kc); break;
        default: NAME(pack_rows)(d, s, a_rs, a_cs, 1, kc); break;
        }
        ir += mr;
    }
}

/* C[0, 0..w) for one row of op(A) (w a multiple of NR): B's rows are streamed in order, four
 * at a time, into a buffer of lane-wise chains, as a matrix-vector product wants: every B
 * element is used once, so reading B sequentially matters more than register blocking. */
ALWAYS_INLINE void NAME(row_times_b)(ptrdiff_t kc, const T *a, ptrdiff_t a_cs, const T *b,
                                     ptrdiff_t ldb, ptrdiff_t w, VEC *restrict acc, T *c,
                                     T alpha, T beta_eff)
{
    const ptrdiff_t nv = w / LANES;
    for (ptrdiff_t v = 0; v < nv; v++)
        acc[v] = (VEC){0};
    ptrdiff_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        const T a0 = a[p * a_cs], a1 = a[(p + 1) * a_cs];
        const T a2 = a[(p + 2) * a_cs], a3 = a[(p + 3) * a_cs];
        const T *b0 = b + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        for (ptrdiff_t v = 0; v < nv; v++) {
            VEC x = acc[v];
            x += *(const UVEC *)(b0 + v * LANES) * a0;
            x += *(const UVEC *)(b1 + v * LANES) * a1;
            x += *(const UVEC *)(b2 + v * LANES) * a2;
            x += *(const UVEC *)(b3 + v * LANES) * a3;
            acc[v] = x;
        }
    }
    for (; p < kc; p++) {
        const T ap = a[p * a_cs];
        const T *bp = b + p * ldb;
        for (ptrdiff_t v = 0; v < nv; v++)
            acc[v] += *(const UVEC *)(bp + v * LANES) * ap;
    }
    for (ptrdiff_t v = 0; v < nv; v++) {
        VEC x = *(const UVEC *)(c + v * LANES);
        NAME(update)(&x, &acc[v], alpha, beta_eff);
        *(UVEC *)(c + v * LANES) = x;
    }
}

/* C[ic.., jc..jc + nr) for rows [0, mc) of op(A)'s block a_i0 (packed into a_block when
 * `packed`) against one panel of B (bp, rows b_rs apart), tile by tile. */
ALWAYS_INLINE void NAME(panel_tiles)(ptrdiff_t kc, const T *a_i0, int packed, const T *a_block,
                                     ptrdiff_t a_rs, ptrdiff_t a_cs, ptrdiff_t mc, const T *bp,
                                     ptrdiff_t b_rs, ptrdiff_t nr, T *c, ptrdiff_t ldc, T alpha,
                                     T beta_eff, VEC acc[MR][2 * NV])
{
    for (ptrdiff_t ir = 0; ir < mc;) {
        const ptrdiff_t mr = NAME(tile_rows)(mc - ir);
        const T *a_i = packed ? a_block + ir * kc : a_i0 + ir * a_rs;
        NAME(prefetch_c)(c + ir * ldc, ldc, mr, nr);
        NAME(any_tile)(kc, a_i, packed, a_rs, a_cs, mr, 0, bp, b_rs, nr, acc);
        NAME(store_tile)(c + ir * ldc, ldc, mr, nr, acc, alpha, beta_eff);
        ir += mr;
    }
}

/* The whole product for k >= 1 and alpha != 0 (the entry point handles the rest). */
ALWAYS_INLINE void NAME(gemm)(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                              T alpha, const T *a, ptrdiff_t lda, const T *b, ptrdiff_t ldb,
                              T beta, T *c, ptrdiff_t ldc)
{
    const ptrdiff_t a_rs = trans_a ? 1 : lda, a_cs = trans_a ? lda : 1;
    const int stream_b = !trans_b && m <= FNN_GEMM_STREAM_MAX_M;
    /* One row of op(A) against a row-major B: B streamed row by row up to the last whole
     * panel; the rest of the columns take the tile path. */
    const ptrdiff_t n_rowwise = m == 1 && !trans_b ? n / NR * NR : 0;
    /* A^T is copied when more than one panel of B will read it: read in place, each step of a
     * tile would touch a cache line per row. A row-major A is read in place: a tile's rows are
     * MR sequential streams, and copying them cost more than it saved (128 x 784 and 128 x 512
     * times the MNIST weights: 2-11% faster uncopied, 1 and 2 threads). */
    const int packed = n - n_rowwise > NR && trans_a;
    T panel[GEMM_KC * NR] __attribute__((aligned(64)));
    T a_block[GEMM_MC * GEMM_KC] __attribute__((aligned(64)));
    VEC acc[MR][2 * NV];

    if (beta != 0 && beta != 1) {
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++)
                c[i * ldc + j] *= beta;
        beta = 1;
    }
    /* Equal k-blocks of at most GEMM_KC, and equal row blocks of at most GEMM_MC rounded up
     * to whole tiles. */
    const ptrdiff_t kc_even = fnn_even_block(k, GEMM_KC);
    const ptrdiff_t mc_even = (fnn_even_block(m, GEMM_MC) + MR - 1) / MR * MR;
    /* With more than one row block, every block would pack the same panels of B again: they
     * are packed once per k-block instead, GEMM_NC columns at a time, into the thread's
     * scratch (NULL: no memory, the panels are packed per row block as below). */
    const ptrdiff_t nc_max = n < GEMM_NC ? (n + NR - 1) / NR * NR : GEMM_NC;
    T *b_block = m > mc_even && gemm_b_block_on
                     ? (T *)gemm_scratch((size_t)kc_even * (size_t)nc_max * sizeof(T))
                     : NULL;
    for (ptrdiff_t pc = 0; pc < k; pc += kc_even) {
        const ptrdiff_t kc = k - pc < kc_even ? k - pc : kc_even;
        const T beta_eff = pc == 0 ? beta : 1;
        const T *a_k = a + pc * a_cs;
        if (b_block) {
            for (ptrdiff_t jb = 0; jb < n; jb += GEMM_NC) {
                const ptrdiff_t nb = n - jb < GEMM_NC ? n - jb : GEMM_NC;
                for (ptrdiff_t j = 0; j < nb; j += NR)
                    NAME(pack_b)(b_block + j * kc,
                                 trans_b ? b + (jb + j) * ldb + pc : b + pc * ldb + jb + j,
                                 ldb, trans_b, kc, nb - j < NR ? nb - j : NR);
                for (ptrdiff_t ic = 0; ic < m; ic += mc_even) {
                    const ptrdiff_t mc = m - ic < mc_even ? m - ic : mc_even;
                    const T *a_i0 = a_k + ic * a_rs;
                    if (packed)
                        NAME(pack_a)(a_block, a_i0, a_rs, a_cs, mc, kc);
                    for (ptrdiff_t j = 0; j < nb; j += NR)
                        NAME(panel_tiles)(kc, a_i0, packed, a_block, a_rs, a_cs, mc,
                                          b_block + j * kc, NR, nb - j < NR ? nb - j : NR,
                                          c + ic * ldc + jb + j, ldc, alpha, beta_eff, acc);
                }
            }
            continue;
        }
        /* The chains of up to half a panel's worth of columns live in `panel` (stays in L1). */
        const ptrdiff_t row_chunk = GEMM_KC * NR / 2;
        for (ptrdiff_t jc = 0; jc < n_rowwise; jc += row_chunk) {
            const ptrdiff_t w = n_rowwise - jc < row_chunk ? n_rowwise - jc : row_chunk;
            NAME(row_times_b)(kc, a_k, a_cs, b + pc * ldb + jc, ldb, w, (VEC *)panel, c + jc,
                              alpha, beta_eff);
        }
        for (ptrdiff_t ic = 0; ic < m; ic += mc_even) {
            const ptrdiff_t mc = m - ic < mc_even ? m - ic : mc_even;
            const T *a_i0 = a_k + ic * a_rs;
            if (packed)
                NAME(pack_a)(a_block, a_i0, a_rs, a_cs, mc, kc);
            for (ptrdiff_t jc = n_rowwise; jc < n;) {
                const T *b_k = trans_b ? b + jc * ldb + pc : b + pc * ldb + jc;
                if (stream_b && n - jc >= 2 * NR) {
                    /* Two panels read in place: full-height tiles take them one at a time,
                     * short ones both at once. */
                    for (ptrdiff_t ir = 0; ir < mc;) {
                        const ptrdiff_t mr = NAME(tile_rows)(mc - ir);
                        const T *a_i = packed ? a_block + ir * kc : a_i0 + ir * a_rs;
                        T *c_i = c + (ic + ir) * ldc + jc;
                        NAME(prefetch_c)(c_i, ldc, mr, 2 * NR);
                        if (mr <= 3) {
                            NAME(any_tile)(kc, a_i, packed, a_rs, a_cs, mr, 1, b_k, ldb, 2 * NR, acc);
                            NAME(store_tile)(c_i, ldc, mr, 2 * NR, acc, alpha, beta_eff);
                        } else {
                            for (ptrdiff_t half = 0; half < 2 * NR; half += NR) {
                                NAME(any_tile)(kc, a_i, packed, a_rs, a_cs, mr, 0, b_k + half,
                                               ldb, NR, acc);
                                NAME(store_tile)(c_i + half, ldc, mr, NR, acc, alpha, beta_eff);
                            }
                        }
                        ir += mr;
                    }
                    jc += 2 * NR;
                    continue;
                }
                const ptrdiff_t nr = n - jc < NR ? n - jc : NR;
                const T *bp = panel;
                ptrdiff_t b_rs = NR;
                if (stream_b && nr == NR) {
                    bp = b_k;
                    b_rs = ldb;
                } else {
                    NAME(pack_b)(panel, b_k, ldb, trans_b, kc, nr);
                }
                NAME(panel_tiles)(kc, a_i0, packed, a_block, a_rs, a_cs, mc, bp, b_rs, nr,
                                  c + ic * ldc + jc, ldc, alpha, beta_eff, acc);
                jc += NR;
            }
        }
    }
}

#undef MR
#undef LANES
#undef NV
#undef NR
#undef VEC
#undef UVEC
#undef IVEC
#undef ALWAYS_INLINE
