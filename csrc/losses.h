/* Point functions of the losses: one element's loss term and its derivative together, for
 * float (_f32) and double (_f64), generated from the single body in losses_point.h.
 * The row kernels in losses.c combine them; nothing here is exported.
 */
#ifndef FASTNN_LOSSES_H
#define FASTNN_LOSSES_H

#include <tgmath.h>

#define T float
#define SUF(name) name##_f32
#include "losses_point.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "losses_point.h"
#undef T
#undef SUF

#endif /* FASTNN_LOSSES_H */
