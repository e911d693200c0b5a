/* Chunk kernels of rng.c, written once for both dtypes: rng.c includes this file twice with
 * T (float or double) and SUF(name) (name##_f32 or name##_f64) defined.
 *
 * Every kernel covers the elements [e0, e0 + n) of one (seed, step, layer) stream: x, out point
 * at element e0, and e0 may be any value (not a multiple of the block size), so callers can cut
 * the work anywhere and get the same numbers. The random words for a piece of FNN_RNG_PIECE
 * elements go to a stack buffer first: the Philox loop then vectorizes on its own, apart from
 * the loop that applies them, and x may alias out (in place).
 */

FNN_CLONES void SUF(fnn_dropout)(const T *x, T *out, size_t n, uint64_t e0, double rate,
                                 uint64_t seed, uint64_t step, uint16_t layer)
{
    const uint64_t threshold = fnn_dropout_threshold(rate);
    if (threshold > UINT32_MAX) {
        for (size_t i = 0; i < n; i++)
            out[i] = (T)0;
        return;
    }
    const uint32_t thr = (uint32_t)threshold;
    const T scale = (T)(1.0 / (1.0 - rate));
    uint32_t words[FNN_RNG_PIECE + 4];
    while (n > 0) {
        const size_t lane = (size_t)(e0 & 3);
        const size_t m = n < FNN_RNG_PIECE - lane ? n : FNN_RNG_PIECE - lane;
        fnn_philox_blocks(words, (lane + m + 3) / 4, e0 >> 2, seed, step, layer);
        const uint32_t *w = words + lane;
        /* a select, not x * 0: a dropped inf or nan gives 0 */
        for (size_t i = 0; i < m; i++)
            out[i] = w[i] >= thr ? x[i] * scale : (T)0;
        x += m;
        out += m;
        n -= m;
        e0 += m;
    }
}

/* z[0 .. m) = the normals of elements e0 .. e0 + m, m <= FNN_RNG_PIECE; returns z + offset. */
static inline const double *SUF(fnn_normals_piece)(double *z, uint32_t *words, size_t m,
                                                    uint64_t e0, uint64_t seed, uint64_t step,
                                                    uint16_t layer)
{
    const size_t lane = (size_t)(e0 & 1);
    const size_t n_blocks = (lane + m + 1) / 2;
    fnn_philox_blocks(words, n_blocks, e0 >> 1, seed, step, layer);
    fnn_normals_from_blocks(z, words, n_blocks);
    return z + lane;
}

FNN_CLONES void SUF(fnn_gaussian_noise)(const T *x, T *out, size_t n, uint64_t e0, double stddev,
                                        uint64_t seed, uint64_t step, uint16_t layer)
{
    const T s = (T)stddev;
    uint32_t words[2 * FNN_RNG_PIECE + 4];
    double z[FNN_RNG_PIECE + 2];
    while (n > 0) {
        const size_t m = n < FNN_RNG_PIECE ? n : FNN_RNG_PIECE;
        const double *zi = SUF(fnn_normals_piece)(z, words, m, e0, seed, step, layer);
        for (size_t i = 0; i < m; i++)
            out[i] = x[i] + s * (T)zi[i];
        x += m;
        out += m;
        n -= m;
        e0 += m;
    }
}

FNN_CLONES void SUF(fnn_gaussian_dropout)(const T *x, T *out, size_t n, uint64_t e0, double rate,
                                          uint64_t seed, uint64_t step, uint16_t layer)
{
    const T s = (T)sqrt(rate / (1.0 - rate));
    uint32_t words[2 * FNN_RNG_PIECE + 4];
    double z[FNN_RNG_PIECE + 2];
    while (n > 0) {
        const size_t m = n < FNN_RNG_PIECE ? n : FNN_RNG_PIECE;
        const double *zi = SUF(fnn_normals_piece)(z, words, m, e0, seed, step, layer);
        for (size_t i = 0; i < m; i++)
            out[i] = x[i] * ((T)1 + s * (T)zi[i]);
        x += m;
        out += m;
        n -= m;
        e0 += m;
    }
}

FNN_CLONES void SUF(fnn_rng_normal)(T *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                                    uint16_t layer)
{
    uint32_t words[2 * FNN_RNG_PIECE + 4];
    double z[FNN_RNG_PIECE + 2];
    while (n > 0) {
        const size_t m = n < FNN_RNG_PIECE ? n : FNN_RNG_PIECE;
        const double *zi = SUF(fnn_normals_piece)(z, words, m, e0, seed, step, layer);
        for (size_t i = 0; i < m; i++)
            out[i] = (T)zi[i];
        out += m;
        n -= m;
        e0 += m;
    }
}

FNN_CLONES void SUF(fnn_rng_uniform)(T *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step,
                                     uint16_t layer)
{
    uint32_t words[2 * FNN_RNG_PIECE + 4];
    while (n > 0) {
        const size_t lane = (size_t)(e0 & 1);
        const size_t m = n < FNN_RNG_PIECE - lane ? n : FNN_RNG_PIECE - lane;
        fnn_philox_blocks(words, (lane + m + 1) / 2, e0 >> 1, seed, step, layer);
        const uint32_t *w = words + 2 * lane;
        for (size_t i = 0; i < m; i++)
            out[i] = SUF(fnn_u01)(w[2 * i], w[2 * i + 1]);
        out += m;
        n -= m;
        e0 += m;
    }
}
