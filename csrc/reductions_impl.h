/* Chunk kernels of reductions.c, written once for both dtypes: reductions.c includes this file
 * twice with T (float or double) and SUF(name) (name##_f32 or name##_f64) defined.
 *
 * Sums accumulate in double for both dtypes: float32 data then sums with an error far below
 * its own rounding (and its squares never overflow or underflow). The order of every addition
 * is written in the source, so neither the chunking by threads nor the SIMD width changes it
 * (GCC never reorders floating-point sums on its own); only the clone does, as the AVX2 and
 * AVX-512 ones fuse x*x + s into one FMA.
 */

/* Lane j of the sum of squares takes the elements i = j mod FNN_SUMSQ_LANES: independent
 * accumulators the vectorizer keeps in registers, instead of one serial chain of adds. */
FNN_CLONES double SUF(fnn_sumsq_chunk)(const T *x, size_t n)
{
    double lane[FNN_SUMSQ_LANES] = {0};
    size_t i = 0;
    for (; i + FNN_SUMSQ_LANES <= n; i += FNN_SUMSQ_LANES)
        for (size_t j = 0; j < FNN_SUMSQ_LANES; j++) {
            const double xj = x[i + j];
            lane[j] += xj * xj;
        }
    for (size_t j = 0; i < n; i++, j++) {
        const double xj = x[i];
        lane[j] += xj * xj;
    }
    /* pairwise, in a fixed order */
    for (size_t width = FNN_SUMSQ_LANES / 2; width > 0; width /= 2)
        for (size_t j = 0; j < width; j++)
            lane[j] += lane[j + width];
    return lane[0];
}

FNN_CLONES int SUF(fnn_all_finite_chunk)(const T *x, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= !isfinite(x[i]);
    return !bad;
}

FNN_CLONES void SUF(fnn_scale_chunk)(T *x, size_t n, T factor)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= factor;
}

FNN_CLONES void SUF(fnn_clip_chunk)(T *x, size_t n, T lo, T hi)
{
    for (size_t i = 0; i < n; i++) {
        const T xi = x[i] < lo ? lo : x[i];
        x[i] = xi > hi ? hi : xi;
    }
}

/* Row by row, so each row's n_cols values are read contiguously and added to n_cols
 * independent double accumulators (vectorized across columns). */
FNN_CLONES void SUF(fnn_colsum_block)(const T *x, size_t n_rows, size_t ld, size_t n_cols,
                                      T *out, int accumulate)
{
    double acc[FNN_COLSUM_BLOCK] = {0};
    for (size_t r = 0; r < n_rows; r++) {
        const T *row = x + r * ld;
        for (size_t j = 0; j < n_cols; j++)
            acc[j] += row[j];
    }
    if (accumulate)
        for (size_t j = 0; j < n_cols; j++)
            out[j] = (T)((double)out[j] + acc[j]);
    else
        for (size_t j = 0; j < n_cols; j++)
            out[j] = (T)acc[j];
}
