/* Row kernels of the activations (see fastnn.h): a fused bias + activation forward pass and
 * its backward pass, each over a contiguous block of rows. The float and double versions come
 * from one body, activations_impl.h, included twice; the maths per element is activations.h.
 */
#include <math.h>
#include <string.h>

#include "activations.h"
#include "fastnn.h"
#include "simd.h"

#define FNN_ALWAYS_INLINE static inline __attribute__((always_inline))

static int relu_has_max(const fnn_act_params *p) { return !isinf(p->max_value); }

/* relu with Keras's default parameters: max(x, 0), whose output alone gives the gradient. */
static int relu_is_plain(const fnn_act_params *p)
{
    return p->negative_slope == 0 && !relu_has_max(p) && p->threshold == 0;
}

int fnn_act_needs(int act, const fnn_act_params *p)
{
    switch (act) {
    case FNN_ACT_LINEAR:
        return 0;
    case FNN_ACT_RELU:
        return relu_is_plain(p) ? FNN_ACT_NEEDS_A : FNN_ACT_NEEDS_Z;
    case FNN_ACT_LEAKY_RELU:
        return p->negative_slope >= 0 ? FNN_ACT_NEEDS_A : FNN_ACT_NEEDS_Z;
    case FNN_ACT_ELU:
        return p->alpha >= 0 ? FNN_ACT_NEEDS_A : FNN_ACT_NEEDS_Z;
    case FNN_ACT_HARD_SILU:
    case FNN_ACT_SILU:
    case FNN_ACT_GELU:
    case FNN_ACT_GELU_APPROXIMATE:
    case FNN_ACT_SOFTSIGN:
    case FNN_ACT_MISH:
        return FNN_ACT_NEEDS_Z;
    default:
        return FNN_ACT_NEEDS_A;
    }
}

#define T float
#define SUF(name) name##_f32
#include "activations_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "activations_impl.h"
#undef T
#undef SUF
