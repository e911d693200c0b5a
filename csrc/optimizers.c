/* Chunk kernels of the optimizers (see fastnn.h for the contract and optimizers_point.h for
 * the rules). One source, optimizers_impl.h, is compiled for float and double; every clone
 * (simd.h) is picked at load time.
 */
#include "fastnn.h"
#include "optimizers.h"
#include "simd.h"

/* The loop every kernel runs: clip the gradient, decay the weight, apply one rule (an
 * expression of wi, gi and i) and store the new weight. */
#define FNN_OPT_LOOP(rule)                                                                   \
    for (size_t i = 0; i < n; i++) {                                                         \
        const T gi = SUF(fnn_opt_grad)(g[i], grad_scale, clip_value);                        \
        const T wi = SUF(fnn_opt_decay)(w[i], wd_lr);                                        \
        w[i] = rule;                                                                         \
    }

#define T float
#define SUF(name) name##_f32
#include "optimizers_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "optimizers_impl.h"
#undef T
#undef SUF
