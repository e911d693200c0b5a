/* Point functions of the optimizers: one parameter's update rule, for float (_f32) and double
 * (_f64), generated from the single body in optimizers_point.h. The chunk kernels in
 * optimizers.c apply them; nothing here is exported.
 */
#ifndef FASTNN_OPTIMIZERS_H
#define FASTNN_OPTIMIZERS_H

#include <tgmath.h>

#define T float
#define SUF(name) name##_f32
#include "optimizers_point.h"
#undef T
#undef SUF

#define T double
#define SUF(name) name##_f64
#include "optimizers_point.h"
#undef T
#undef SUF

#endif /* FASTNN_OPTIMIZERS_H */
