/* Row kernels of the losses (see fastnn.h for the contract and losses_point.h for the maths).
 *
 * One source, losses_impl.h, is compiled for float and double. The element terms are inlined
 * point functions from losses.h; the switch on the loss id sits outside the row loop so each
 * loss gets its own tight loop, and every clone (simd.h) is picked at load time.
 */
#include "fastnn.h"
#include "losses.h"
#include "simd.h"

/* Dice / Tversky from the sums of fnn_overlap_sums (see fastnn.h), in Keras's order:
 * 1 - 2 I / (sum y + sum p + eps) and 1 - I / (I + alpha FP + beta FN + eps). */
double fnn_overlap_value(const fnn_loss_spec *spec, const double sums[5])
{
    const double eps = 1e-7;
    if (spec->loss == FNN_LOSS_DICE || spec->loss == FNN_LOSS_DICE_BATCH)
        return 1 - 2 * sums[0] / (sums[3] + sums[4] + eps);
    return 1 - sums[0] / (sums[0] + sums[1] * spec->alpha + sums[2] * spec->beta + eps);
}

#define T float
#define SUF(x) x##_f32
#include "losses_impl.h"
#undef T
#undef SUF

#define T double
#define SUF(x) x##_f64
#include "losses_impl.h"
#undef T
#undef SUF
