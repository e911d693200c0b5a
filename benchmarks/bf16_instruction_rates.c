/* Why fastnn's bfloat16 products use AMX tiles: the rate of float32 FMA, AVX512_BF16's
 * vdpbf16ps and AMX-BF16's tdpbf16ps on one core, and a check of tdpbf16ps's arithmetic against
 * the model csrc/bf16.c and tests/_reference.bf16_matmul implement.
 *
 *   gcc -O2 -o /tmp/bf16_rates benchmarks/bf16_instruction_rates.c -lm && /tmp/bf16_rates
 *
 * Needs a CPU with AVX512_BF16 and AMX-BF16 (Sapphire Rapids or later) and Linux >= 5.16.
 */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHAINS 16      /* independent accumulators: enough to hide either instruction's latency */
#define STEPS 8        /* tdpbf16ps instructions chained per checked sum (k = 256) */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f"))) static double fma_ns(long iters)
{
    __m512 s[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        s[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(1.0001f), b = _mm512_set1_ps(0.9999f);
    const double t = now();
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++)
            s[c] = _mm512_fmadd_ps(a, b, s[c]);
    }
    const double dt = now() - t;
    float sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += s[i][0];
    return sink == 1.25f ? 0 : dt / (iters * CHAINS) * 1e9;
}

__attribute__((target("avx512f,avx512bf16"))) static double dpbf16_ns(long iters)
{
    __m512 s[CHAINS];
    for (int i = 0; i < CHAINS; i++)
        s[i] = _mm512_set1_ps((float)i);
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3f803f80);
    const double t = now();
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int c = 0; c < CHAINS; c++)
            s[c] = _mm512_dpbf16_ps(s[c], a, a);
    }
    const double dt = now() - t;
    float sink = 0;
    for (int i = 0; i < CHAINS; i++)
        sink += s[i][0];
    return sink == 1.25f ? 0 : dt / (iters * CHAINS) * 1e9;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

static uint16_t a_bf[16][32 * STEPS];    /* 16 rows of A, k = 32 * STEPS */
static uint32_t b_pairs[16 * STEPS][16]; /* B as pairs: row q holds (B[2q, j], B[2q+1, j]) */
static float c_tile[16][16];

__attribute__((target("amx-tile,amx-bf16"))) static void config(void)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

__attribute__((target("amx-tile,amx-bf16"))) static void amx_product(void)
{
    config();
    _tile_zero(0);
    for (int s = 0; s < STEPS; s++) {
        _tile_loadd(4, &a_bf[0][32 * s], sizeof a_bf[0]);
        _tile_loadd(6, &b_pairs[16 * s][0], 64);
        _tile_dpbf16ps(0, 4, 6);
    }
    _tile_stored(0, c_tile, 64);
    _tile_release();
}

__attribute__((target("amx-tile,amx-bf16"))) static double tdpbf16_ns(long iters)
{
    config();
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, &a_bf[0][0], sizeof a_bf[0]);
    _tile_loadd(5, &a_bf[0][0], sizeof a_bf[0]);
    _tile_loadd(6, &b_pairs[0][0], 64);
    _tile_loadd(7, &b_pairs[0][0], 64);
    const double t = now();
    for (long i = 0; i < iters; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    const double dt = now() - t;
    _tile_release();
    return dt / (iters * 4) * 1e9;
}

static uint16_t to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static float from_bf16(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static float random_value(void)
{
    return ((float)rand() / (float)RAND_MAX - 0.5f) * ldexpf(1.0f, rand() % 20 - 10);
}

int main(void)
{
    const double fma = fma_ns(50000000), dp = dpbf16_ns(10000000);
    printf("float32 FMA (zmm):  %.3f ns per instruction, %.1f G multiply-adds/s\n", fma,
           16 / fma);
    printf("vdpbf16ps (zmm):    %.3f ns per instruction, %.1f G multiply-adds/s\n", dp,
           32 / dp);
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0) {
        printf("AMX: not granted by this kernel\n");
        return 0;
    }
    const double amx = tdpbf16_ns(2000000);
    printf("tdpbf16ps:          %.3f ns per instruction, %.1f G multiply-adds/s\n", amx,
           16 * 16 * 32 / amx);

    /* The model: per instruction, one float32 FMA chain from zero over the even elements and
     * one over the odd ones, then sum += even + odd. Count the sums that differ. */
    srand(1);
    long differ = 0, total = 0;
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < 16; i++)
            for (int p = 0; p < 32 * STEPS; p++)
                a_bf[i][p] = to_bf16(random_value());
        for (int q = 0; q < 16 * STEPS; q++)
            for (int j = 0; j < 16; j++)
                b_pairs[q][j] = to_bf16(random_value())
                                | (uint32_t)to_bf16(random_value()) << 16;
        amx_product();
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 16; j++) {
                float sum = 0;
                for (int s = 0; s < STEPS; s++) {
                    float even = 0, odd = 0;
                    for (int q = 16 * s; q < 16 * s + 16; q++) {
                        even = fmaf(from_bf16(a_bf[i][2 * q]), from_bf16(b_pairs[q][j] & 0xFFFF),
                                    even);
                        odd = fmaf(from_bf16(a_bf[i][2 * q + 1]), from_bf16(b_pairs[q][j] >> 16),
                                   odd);
                    }
                    sum = sum + (even + odd);
                }
                differ += sum != c_tile[i][j];
                total++;
            }
    }
    printf("tdpbf16ps against the two-chain model: %ld of %ld sums differ\n", differ, total);
    return 0;
}
