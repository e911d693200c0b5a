/* Point functions of the activations: f(x) and f' for one element, static inline, in float
 * (suffix _f32) and double (_f64), both generated from activations_point.h.
 *
 * A derivative is named after what it reads: _grad_z takes the pre-activation x, _grad_a the
 * output a = f(x). Reading a lets the engine overwrite x with a (forward in place) and still run
 * the backward pass; fnn_act_needs() in activations.c says which one each activation uses.
 * Kinks take the gradient TensorFlow's autodiff gives there (documented per function), so
 * training matches Keras where a kink is hit exactly (relu at 0, mostly).
 *
 * exp, expm1, log1p, tanh and the normal CDF are computed here without libm (a libm call stops
 * GCC from vectorizing the loop around it), to within a few ulp; see activations_point.h.
 */
#ifndef FASTNN_ACTIVATIONS_H
#define FASTNN_ACTIVATIONS_H

#include <stdint.h>
#include <string.h>
#include <tgmath.h>

#include "fastnn.h"

/* SELU's constants, to the precision TensorFlow's kernel uses. */
#define FNN_SELU_ALPHA 1.6732632423543772848170429916717
#define FNN_SELU_SCALE 1.0507009873554804934193349852946
#define FNN_SQRT_2_OVER_PI 0.79788456080286535587989211986876
#define FNN_INV_SQRT_2PI 0.39894228040143267793994605993438
#define FNN_SQRT1_2 0.70710678118654752440084436210485
#define FNN_GELU_CUBIC 0.044715
#define FNN_LOG2E 1.4426950408889634073599246810019
#define FNN_LN2 0.69314718055994530941723212145818

/* Polynomial loops have a fixed trip count; unrolled, their loads from the coefficient tables
 * fold into constants and the loops around them vectorize. */
#define FNN_UNROLL _Pragma("GCC unroll 32")

/* 1/k! for the Taylor polynomials of fnn_exp and fnn_expm1. */
static const double fnn_inv_factorial[15] = {
    1.0, 1.0, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320,
    1.0 / 362880, 1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0,
    1.0 / 87178291200.0,
};

/* Chebyshev coefficients (in u = 2t - 1) of F(t) = erfc(y) e^(y^2) / t, t = 2 / (2 + y), for
 * fnn_normal_cdf: F is analytic on t in [0, 1], so the series converges fast (relative error
 * 2e-9 at degree 12, 5e-17 at degree 26). Fitted for fastnn by interpolation at 40 Chebyshev
 * nodes with mpmath at 50 digits. */
static const double fnn_erfc_cheb[27] = {
    0.5770337386164697, 0.3554369212704985, 0.06509515882878653, 0.003671142395836639,
    -0.0011128447433526325, -0.0001607582991537808, 3.278031574173137e-05,
    5.442441645505016e-06, -1.5154665553171482e-06, -1.4297608181169865e-07,
    8.234608827419493e-08, -1.2962846852306563e-09, -4.154721631015199e-09,
    6.347058278362811e-10, 1.4320822712256225e-10, -6.160390105204585e-11,
    2.0612138554721698e-12, 3.5714931488477042e-12, -8.586422843251796e-13,
    -6.14560021379063e-14, 7.418725748596617e-14, -1.2895042755032325e-14,
    -2.358726385710632e-15, 1.5729349381685912e-15, -2.278296623954646e-16,
    -6.312330450756439e-17, 3.591676353181494e-17,
};

/* Per-type constants of fnn_exp: the bits of T, the clamp that keeps 2^n in two normal
 * halves (below LO the result is 0, above HI inf), ln 2 split so n * LN2_HI is exact, the
 * round-to-integer shifter 1.5 * 2^MANT, series degrees giving about one ulp, and the low
 * mantissa bits to clear so that a square of what is left is exact. */
#define T float
#define SUF(name) name##_f32
#define FNN_UINT uint32_t
#define FNN_MANT 23
#define FNN_EXP_BIAS 127
#define FNN_EXP_LO -104.0
#define FNN_EXP_HI 89.0
#define FNN_LN2_HI 0.693145751953125
#define FNN_LN2_LO 1.428606765330187045e-06
#define FNN_SHIFTER 12582912.0
#define FNN_EXP_DEGREE 7
#define FNN_EXPM1_DEGREE 7
#define FNN_LOG1P_DEGREE 7
#define FNN_ERFC_DEGREE 12
#define FNN_SPLIT_BITS 12
#include "activations_point.h"
#undef T
#undef SUF
#undef FNN_UINT
#undef FNN_MANT
#undef FNN_EXP_BIAS
#undef FNN_EXP_LO
#undef FNN_EXP_HI
#undef FNN_LN2_HI
#undef FNN_LN2_LO
#undef FNN_SHIFTER
#undef FNN_EXP_DEGREE
#undef FNN_EXPM1_DEGREE
#undef FNN_LOG1P_DEGREE
#undef FNN_ERFC_DEGREE
#undef FNN_SPLIT_BITS

#define T double
#define SUF(name) name##_f64
#define FNN_UINT uint64_t
#define FNN_MANT 52
#define FNN_EXP_BIAS 1023
#define FNN_EXP_LO -746.0
#define FNN_EXP_HI 710.0
#define FNN_LN2_HI 6.93147180369123816490e-01
#define FNN_LN2_LO 1.90821492927058770002e-10
#define FNN_SHIFTER 6755399441055744.0
#define FNN_EXP_DEGREE 13
#define FNN_EXPM1_DEGREE 12
#define FNN_LOG1P_DEGREE 16
#define FNN_ERFC_DEGREE 26
#define FNN_SPLIT_BITS 27
#include "activations_point.h"
#undef T
#undef SUF
#undef FNN_UINT
#undef FNN_MANT
#undef FNN_EXP_BIAS
#undef FNN_EXP_LO
#undef FNN_EXP_HI
#undef FNN_LN2_HI
#undef FNN_LN2_LO
#undef FNN_SHIFTER
#undef FNN_EXP_DEGREE
#undef FNN_EXPM1_DEGREE
#undef FNN_LOG1P_DEGREE
#undef FNN_ERFC_DEGREE
#undef FNN_SPLIT_BITS

#endif /* FASTNN_ACTIVATIONS_H */
