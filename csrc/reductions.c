/* Chunk kernels of the reductions (see fastnn.h for the contract). One source,
 * reductions_impl.h, is compiled for float and double; every clone (simd.h) is picked at load
 * time.
 */
#include <math.h>

#include "fastnn.h"
#include "simd.h"

/* Accumulators of fnn_sumsq_chunk_*: a power of two (the lanes are combined pairwise), and
 * 16 doubles fill two AVX-512 or four AVX2 registers. Changing it changes the bits. */
#define FNN_SUMSQ_LANES 16

#define T float
#define SUF(name) name##_f32
#include "reductions_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "reductions_impl.h"
#undef T
#undef SUF
