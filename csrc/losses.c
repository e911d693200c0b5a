/* Row kernels of the losses (see fastnn.h for the contract and losses_point.h for the maths).
 *
 * One source, losses_impl.h, is compiled for float and double. The element terms are inlined
 * point functions from losses.h; the switch on the loss id sits outside the row loop so each
 * loss gets its own tight loop, and every clone (simd.h) is picked at load time.
 */
#include "fastnn.h"
#include "losses.h"
#include "simd.h"

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
