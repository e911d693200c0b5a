/* Chunk kernels of the counter-based RNG (see rng.h for the generator and the counter layout).
 * The float32 and float64 versions come from one source, rng_impl.h, included once per dtype.
 */
#include "fastnn.h"
#include "rng.h"
#include "simd.h"

/* Elements per stack-buffered piece; a multiple of 4 so only a call's first piece is unaligned
 * to Philox blocks. 1024 keeps the buffers (at most 16 KB) in L1. */
#define FNN_RNG_PIECE 1024

#define T float
#define SUF(name) name##_f32
#include "rng_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "rng_impl.h"
#undef T
#undef SUF
