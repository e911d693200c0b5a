/* Body of the activation point functions for one float type T, names suffixed by SUF().
 * Included by activations.h once per type; not a header of its own (no include guard).
 *
 * Written with <tgmath.h>, so fabs/copysign resolve to the T version; every constant goes
 * through K() so float code never silently computes in double. No libm calls: they would stop
 * GCC from vectorizing the loops these are inlined into.
 */
#define K(v) ((T)(v))

/* ---- exp, expm1, log1p, tanh, erfc without libm ---------------------------------------
 * libm calls keep GCC from vectorizing a loop; these are plain arithmetic, so the activation
 * loops vectorize (4-16 lanes). Accuracy is within a few ulp over the whole range. */

/* 2^k for k in the normal exponent range, written straight into the exponent bits. */
static inline T SUF(fnn_pow2)(int32_t k)
{
    const FNN_UINT bits = (FNN_UINT)(k + FNN_EXP_BIAS) << FNN_MANT;
    T y;
    memcpy(&y, &bits, sizeof y);
    return y;
}

/* e^x = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2] (Cody-Waite), e^r
 * by its Taylor polynomial, and 2^n applied in two halves so that results run from the
 * subnormals to overflow (inf) without either factor leaving the normal range. NaN stays NaN. */
static inline T SUF(fnn_exp)(T x)
{
    const T xc = x < K(FNN_EXP_LO) ? K(FNN_EXP_LO) : (x > K(FNN_EXP_HI) ? K(FNN_EXP_HI) : x);
    const T n = (xc * K(FNN_LOG2E) + K(FNN_SHIFTER)) - K(FNN_SHIFTER);
    const T r = (xc - n * K(FNN_LN2_HI)) - n * K(FNN_LN2_LO);
    T p = K(fnn_inv_factorial[FNN_EXP_DEGREE]);
    FNN_UNROLL
    for (int k = FNN_EXP_DEGREE - 1; k >= 0; --k)
        p = p * r + K(fnn_inv_factorial[k]);
    const int32_t ni = (int32_t)n;
    const int32_t half = ni >> 1;
    const T y = p * SUF(fnn_pow2)(half) * SUF(fnn_pow2)(ni - half);
    return x != x ? x : y;
}

/* e^x - 1: near 0 its own Taylor series (no cancellation), else e^x - 1, whose relative error
 * stays within a few ulp for |x| >= ln2/2. */
static inline T SUF(fnn_expm1)(T x)
{
    T q = K(fnn_inv_factorial[FNN_EXPM1_DEGREE + 1]);
    FNN_UNROLL
    for (int k = FNN_EXPM1_DEGREE; k >= 1; --k)
        q = q * x + K(fnn_inv_factorial[k]);
    return fabs(x) < K(FNN_LN2 / 2) ? x * q : SUF(fnn_exp)(x) - 1;
}

/* log(1 + e) for e in [0, 1] as 2 atanh(s), s = e / (2 + e) in [0, 1/3], by the odd series of
 * atanh: every term is positive, so nothing cancels. */
static inline T SUF(fnn_log1p_unit)(T e)
{
    const T s = e / (2 + e);
    const T s2 = s * s;
    T q = K(1.0 / (2 * FNN_LOG1P_DEGREE + 1));
    FNN_UNROLL
    for (int k = FNN_LOG1P_DEGREE - 1; k >= 0; --k)
        q = q * s2 + K(1.0 / (2 * k + 1));
    return 2 * s * q;
}

/* tanh|x| = e / (e + 2) with e = expm1(2|x|): accurate near 0 as well; beyond |x| = 20 it is 1
 * in both precisions, and the clamp keeps e finite. */
static inline T SUF(fnn_tanh)(T x)
{
    const T ax = fabs(x) < 20 ? fabs(x) : K(20);
    const T e = SUF(fnn_expm1)(2 * ax);
    return copysign(e / (e + 2), x);
}

/* e^(-x^2 / 2) without the error of rounding x^2, which would grow like x^2 ulp in the tail:
 * x = hi + lo with hi's low mantissa bits cleared, so hi^2 is exact and
 * x^2 = hi^2 + lo (x + hi) with the second term small. */
static inline T SUF(fnn_exp_neg_half_square)(T x)
{
    FNN_UINT bits;
    memcpy(&bits, &x, sizeof bits);
    bits &= ~(((FNN_UINT)1 << FNN_SPLIT_BITS) - 1);
    T hi;
    memcpy(&hi, &bits, sizeof hi);
    const T lo = x - hi;
    return SUF(fnn_exp)(K(-0.5) * hi * hi) * SUF(fnn_exp)(K(-0.5) * lo * (x + hi));
}

/* The standard normal CDF Phi(x) = erfc(-x / sqrt2) / 2. erfc is taken at y = |x| / sqrt2 only,
 * so the lower tail keeps its relative accuracy and the upper one is 1 - (a small number):
 * erfc(y) = t e^(-y^2) F(t), t = 2 / (2 + y), F by Clenshaw's recurrence on the Chebyshev
 * table in activations.h. It underflows to 0 with e^(-y^2) and never overflows. */
static inline T SUF(fnn_normal_cdf)(T x)
{
    const T ax = fabs(x);
    const T t = 2 / (2 + ax * K(FNN_SQRT1_2));
    const T u = 2 * t - 1;
    T b1 = 0, b2 = 0;
    FNN_UNROLL
    for (int k = FNN_ERFC_DEGREE; k >= 1; --k) {
        const T b0 = K(fnn_erfc_cheb[k]) + 2 * u * b1 - b2;
        b2 = b1;
        b1 = b0;
    }
    const T f = K(fnn_erfc_cheb[0]) + u * b1 - b2;
    const T half_erfc = K(0.5) * t * SUF(fnn_exp_neg_half_square)(ax) * f;
    return x < 0 ? half_erfc : 1 - half_erfc;
}

/* ---- relu family ---------------------------------------------------------------------- */

/* relu'(0) = 0 (TensorFlow's ReluGrad passes g where x > 0 only). */
static inline T SUF(fnn_relu)(T x) { return x > 0 ? x : K(0); }
static inline T SUF(fnn_relu_grad_a)(T a) { return a > 0 ? K(1) : K(0); }

/* relu6'(0) = relu6'(6) = 0 (Relu6Grad: 0 < x < 6). a is in (0, 6) exactly when x is. */
static inline T SUF(fnn_relu6)(T x)
{
    const T y = x > 0 ? x : K(0);
    return y < 6 ? y : K(6);
}
static inline T SUF(fnn_relu6_grad_a)(T a) { return (a > 0 && a < 6) ? K(1) : K(0); }

/* leaky_relu'(0) = slope (LeakyReluGrad passes g only where x > 0). With slope >= 0 the sign of
 * a is the sign of x, so the output is enough; a negative slope needs x. */
static inline T SUF(fnn_leaky_relu)(T x, T slope) { return x > 0 ? x : slope * x; }
static inline T SUF(fnn_leaky_relu_grad_z)(T x, T slope) { return x > 0 ? K(1) : slope; }
static inline T SUF(fnn_leaky_relu_grad_a)(T a, T slope) { return a > 0 ? K(1) : slope; }

/* Keras's relu(x, negative_slope, max_value, threshold) with its parameters resolved once.
 * Keras builds it from pieces whose TensorFlow gradients differ at the kinks: leaky_relu when
 * only the slope is set (gradient slope at 0), relu6 when max_value == 6 and threshold == 0
 * (gradient 0 at 6), else clip(), whose gradient passes at both bounds. */
typedef struct {
    T slope, max_value, threshold;
    int has_max;    /* max_value is not None */
    int relu6_grad; /* Keras takes the relu6 op: threshold == 0 and max_value == 6 */
    int leaky_grad; /* Keras takes the leaky_relu op: slope != 0, no max, threshold == 0 */
} SUF(fnn_relu_args);

static inline T SUF(fnn_relu_keras)(T x, const SUF(fnn_relu_args) *r)
{
    T y = x > r->threshold ? x : K(0);
    if (r->has_max) {
        y = y < 0 ? K(0) : y;
        y = y > r->max_value ? r->max_value : y;
    }
    if (r->slope != 0) {
        const T below = r->threshold - x;
        y -= r->slope * (below > 0 ? below : K(0));
    }
    return y;
}

static inline T SUF(fnn_relu_keras_grad_z)(T x, const SUF(fnn_relu_args) *r)
{
    if (r->leaky_grad)
        return x > 0 ? K(1) : r->slope;
    T d = x > r->threshold ? K(1) : K(0);
    if (r->has_max) {
        const int inside = r->relu6_grad ? x < r->max_value : (x >= 0 && x <= r->max_value);
        d = inside ? d : K(0);
    }
    if (r->slope != 0 && x < r->threshold)
        d = r->slope;
    return d;
}

/* ---- exponential family --------------------------------------------------------------- */

/* elu'(0) = alpha: TensorFlow's EluGrad gives 1 at 0 and Keras scales the x <= 0 branch by
 * alpha. From the output (alpha >= 0): a > 0 iff x > 0, and alpha * e^x = a + alpha. */
static inline T SUF(fnn_elu)(T x, T alpha)
{
    return x > 0 ? x : alpha * SUF(fnn_expm1)(x > 0 ? K(0) : x);
}
static inline T SUF(fnn_elu_grad_z)(T x, T alpha)
{
    return x > 0 ? K(1) : alpha * SUF(fnn_exp)(x > 0 ? K(0) : x);
}
static inline T SUF(fnn_elu_grad_a)(T a, T alpha) { return a > 0 ? K(1) : a + alpha; }

/* selu'(0) = scale, as TensorFlow's SeluGrad (which reads the output: a < 0 iff x < 0). */
static inline T SUF(fnn_selu)(T x)
{
    return x > 0 ? K(FNN_SELU_SCALE) * x
                 : K(FNN_SELU_SCALE * FNN_SELU_ALPHA) * SUF(fnn_expm1)(x > 0 ? K(0) : x);
}
static inline T SUF(fnn_selu_grad_a)(T a)
{
    return a < 0 ? a + K(FNN_SELU_SCALE * FNN_SELU_ALPHA) : K(FNN_SELU_SCALE);
}

/* exp of -|x| only, so nothing overflows; sigmoid(x) = num / (1 + e) with num = 1 or e. */
static inline T SUF(fnn_sigmoid)(T x)
{
    const T e = SUF(fnn_exp)(-fabs(x));
    return (x >= 0 ? K(1) : e) / (1 + e);
}
static inline T SUF(fnn_sigmoid_grad_a)(T a) { return a * (1 - a); }

static inline T SUF(fnn_tanh_grad_a)(T a) { return 1 - a * a; }

/* softplus = max(x, 0) + log1p(e^-|x|); its derivative sigmoid(x) = 1 - e^-a, well
 * conditioned in a for every a >= 0. */
static inline T SUF(fnn_softplus)(T x)
{
    return (x > 0 ? x : K(0)) + SUF(fnn_log1p_unit)(SUF(fnn_exp)(-fabs(x)));
}
static inline T SUF(fnn_softplus_grad_a)(T a) { return -SUF(fnn_expm1)(-a); }

static inline T SUF(fnn_exponential)(T x) { return SUF(fnn_exp)(x); }

/* silu' = s(x) (1 + x s(-x)), with s(-x) formed directly rather than as 1 - s(x). */
static inline T SUF(fnn_silu)(T x) { return x * SUF(fnn_sigmoid)(x); }
static inline T SUF(fnn_silu_grad_z)(T x)
{
    const T e = SUF(fnn_exp)(-fabs(x));
    const T d = 1 + e;
    const T s = (x >= 0 ? K(1) : e) / d;
    const T s_neg = (x >= 0 ? e : K(1)) / d;
    return s * (1 + x * s_neg);
}

/* mish = x tanh(softplus(x)). With E = e^x, tanh(softplus(x)) = n / (n + q) where
 * n = E^2 + 2E, q = 2; scaled by e^-2x for x >= 0: n = 1 + 2e, q = 2e^2 (e = e^-|x|). Then
 * 1 - t^2 = q (2n + q) / (n + q)^2 with no cancellation on either side. */
static inline T SUF(fnn_mish)(T x)
{
    const T e = SUF(fnn_exp)(-fabs(x));
    const T n = x >= 0 ? 1 + 2 * e : e * (e + 2);
    const T q = x >= 0 ? 2 * e * e : K(2);
    return x * (n / (n + q));
}
static inline T SUF(fnn_mish_grad_z)(T x)
{
    const T e = SUF(fnn_exp)(-fabs(x));
    const T n = x >= 0 ? 1 + 2 * e : e * (e + 2);
    const T q = x >= 0 ? 2 * e * e : K(2);
    const T d = n + q;
    const T one_minus_t2 = q * (2 * n + q) / (d * d);
    const T s = (x >= 0 ? K(1) : e) / (1 + e);
    return n / d + x * one_minus_t2 * s;
}

/* ---- gelu ----------------------------------------------------------------------------- */

/* 0.5 x (1 + erf(x / sqrt2)) = x Phi(x), Phi accurate in the lower tail (no 1 + erf(...)
 * cancellation for x << 0). */
static inline T SUF(fnn_gelu)(T x) { return x * SUF(fnn_normal_cdf)(x); }
static inline T SUF(fnn_gelu_grad_z)(T x)
{
    const T density = K(FNN_INV_SQRT_2PI) * SUF(fnn_exp_neg_half_square)(x);
    return SUF(fnn_normal_cdf)(x) + x * density;
}

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): no cancellation for
 * x << 0, and an infinite u (x^3 overflowing) still gives x or -0. */
static inline T SUF(fnn_gelu_approximate)(T x)
{
    const T u = K(FNN_SQRT_2_OVER_PI) * (x + K(FNN_GELU_CUBIC) * x * x * x);
    return x * SUF(fnn_sigmoid)(2 * u);
}
/* Beyond |x| = 30, sigmoid(2u) is exactly 0 or 1 in both precisions and the second term is
 * exactly 0, so clamping x there changes nothing and keeps x^2 and x^3 from overflowing. */
static inline T SUF(fnn_gelu_approximate_grad_z)(T x)
{
    const T xc = x > 30 ? K(30) : (x < -30 ? K(-30) : x);
    const T u2 = 2 * K(FNN_SQRT_2_OVER_PI) * (xc + K(FNN_GELU_CUBIC) * xc * xc * xc);
    const T e = SUF(fnn_exp)(-fabs(u2));
    const T s = (u2 >= 0 ? K(1) : e) / (1 + e);
    const T s_neg = (u2 >= 0 ? e : K(1)) / (1 + e);
    const T du2 = 2 * K(FNN_SQRT_2_OVER_PI) * (1 + K(3 * FNN_GELU_CUBIC) * xc * xc);
    return s + xc * du2 * s * s_neg;
}

/* ---- piecewise rational --------------------------------------------------------------- */

/* Keras 3: relu6(x + 3) / 6. Gradient 1/6 strictly inside (-3, 3), 0 at and beyond the kinks
 * (TensorFlow's relu6 gradient); a is in (0, 1) exactly there. */
static inline T SUF(fnn_hard_sigmoid)(T x) { return SUF(fnn_relu6)(x + 3) / 6; }
static inline T SUF(fnn_hard_sigmoid_grad_a)(T a) { return (a > 0 && a < 1) ? K(1) / 6 : K(0); }

/* x * hard_sigmoid(x); derivative hard_sigmoid(x) + x hard_sigmoid'(x), the product rule
 * TensorFlow applies (so 0 at -3 and 1 at 3). */
static inline T SUF(fnn_hard_silu)(T x) { return x * SUF(fnn_hard_sigmoid)(x); }
static inline T SUF(fnn_hard_silu_grad_z)(T x)
{
    const T y = x + 3;
    return SUF(fnn_relu6)(y) / 6 + ((y > 0 && y < 6) ? x / 6 : K(0));
}

static inline T SUF(fnn_softsign)(T x) { return x / (1 + fabs(x)); }
static inline T SUF(fnn_softsign_grad_z)(T x)
{
    const T d = 1 + fabs(x);
    return 1 / (d * d);
}

#undef K
