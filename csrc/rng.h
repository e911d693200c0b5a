/* Counter-based random numbers for dropout, noise layers and initializers.
 *
 * Generator: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as
 * 1, 2, 3", SC'11). A bijection of a 128-bit counter under a 64-bit key: ten rounds of two
 * 32x32->64-bit multiplications, the high halves xored into the other words with the round key,
 * the key bumped by two Weyl constants between rounds. No state: block = philox(counter, key).
 *
 * What is random is a pure function of (seed, step, layer, element index e):
 *   key     = seed (64 bits: low word, high word)
 *   counter = { block bits 0..31, block bits 32..47 | layer << 16, step low, step high }
 * with block = e / 4 (one 32-bit word per element: dropout) or e / 2 (two words, 64 bits, per
 * element: uniforms; or one Box-Muller pair per block: normals). Limits: layer < 2^16 (the type
 * enforces it), e < 2^48 per (seed, step, layer), step any 64-bit value. Use one (seed, step,
 * layer) for one kind of draw: dropout and noise of the same triple share counter blocks.
 *
 * Draws per element (the dtype only decides the final rounding, so float32 and float64 runs of
 * the same seed see the same masks and, up to rounding, the same values):
 *   keep(e)    dropout: word w of block e/4, lane e%4; kept iff w / 2^32 >= rate, i.e.
 *              w >= ceil(rate * 2^32): probability 1 - rate at 2^-32 resolution.
 *   u(e)       64 bits (hi, lo) = words 2(e%2), 2(e%2)+1 of block e/2. float64: top 53 bits
 *              * 2^-53; float32: top 24 bits * 2^-24 (truncated, never rounded up to 1).
 *   z(e)       block e/2 gives U1 (words 0,1) and U2 (words 2,3), 53-bit uniforms;
 *              r = sqrt(-2 log(1 - U1)), t = 2 pi U2; z(2b) = r cos t, z(2b+1) = r sin t,
 *              computed in double and rounded once to the output dtype. 1 - U1 lies in
 *              (0, 1], so r is finite; |z| <= sqrt(106 ln 2) ~ 8.57.
 */
#ifndef FASTNN_RNG_H
#define FASTNN_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Multipliers and Weyl key increments of Philox4x32 (Salmon et al., SC'11, section 5). */
#define FNN_PHILOX_M0 0xD2511F53u
#define FNN_PHILOX_M1 0xCD9E8D57u
#define FNN_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define FNN_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

#define FNN_TWO_PI 6.283185307179586 /* 2 * (double)pi, exactly */

/* out = Philox4x32-10(ctr, key). */
static inline void fnn_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        const uint64_t p0 = (uint64_t)FNN_PHILOX_M0 * x0;
        const uint64_t p1 = (uint64_t)FNN_PHILOX_M1 * x2;
        x0 = (uint32_t)(p1 >> 32) ^ x1 ^ k0;
        x1 = (uint32_t)p1;
        x2 = (uint32_t)(p0 >> 32) ^ x3 ^ k1;
        x3 = (uint32_t)p0;
        k0 += FNN_PHILOX_W0;
        k1 += FNN_PHILOX_W1;
    }
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* words[4j .. 4j+3] = the block for counter block0 + j, j < n_blocks (the layout above). */
static inline void fnn_philox_blocks(uint32_t *words, size_t n_blocks, uint64_t block0,
                                     uint64_t seed, uint64_t step, uint16_t layer)
{
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (size_t j = 0; j < n_blocks; j++) {
        const uint64_t block = block0 + j;
        const uint32_t ctr[4] = {(uint32_t)block,
                                 ((uint32_t)(block >> 32) & 0xFFFFu) | ((uint32_t)layer << 16),
                                 (uint32_t)step, (uint32_t)(step >> 32)};
        fnn_philox4x32_10(ctr, key, words + 4 * j);
    }
}

/* Dropout keeps word w iff w >= this; above UINT32_MAX nothing is kept. rate in [0, 1]. */
static inline uint64_t fnn_dropout_threshold(double rate)
{
    return (uint64_t)ceil(rate * 0x1p32); /* exact: a power-of-two scaling, then ceil */
}

/* Uniform in [0, 1) from the 64 bits hi:lo, 53 bits kept. */
static inline double fnn_u01_f64(uint32_t hi, uint32_t lo)
{
    return (double)((((uint64_t)hi << 32) | lo) >> 11) * 0x1p-53;
}

/* Uniform in [0, 1) from the 64 bits hi:lo, 24 bits kept: the float64 value truncated. */
static inline float fnn_u01_f32(uint32_t hi, uint32_t lo)
{
    (void)lo; /* the top 24 of 64 bits all sit in hi */
    return (float)(hi >> 8) * 0x1p-24f;
}

/* z[2j], z[2j+1] = the Box-Muller pair of block j of words, j < n_blocks. */
static inline void fnn_normals_from_blocks(double *z, const uint32_t *words, size_t n_blocks)
{
    for (size_t j = 0; j < n_blocks; j++) {
        const uint32_t *w = words + 4 * j;
        const double u1 = fnn_u01_f64(w[0], w[1]);
        const double u2 = fnn_u01_f64(w[2], w[3]);
        const double r = sqrt(-2.0 * log(1.0 - u1)); /* 1 - u1 is exact and > 0 */
        const double t = FNN_TWO_PI * u2;
        z[2 * j] = r * cos(t);
        z[2 * j + 1] = r * sin(t);
    }
}

#endif /* FASTNN_RNG_H */
