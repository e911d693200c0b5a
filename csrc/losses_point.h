/* Per-element loss terms and their derivatives, one body for float and double.
 *
 * Included twice by losses.h with T (the element type) and SUF(name) (appends _f32 / _f64)
 * defined; <tgmath.h> makes exp/log/... pick the float or double routine from T. Every
 * function returns the loss term of one element and writes d(term)/d(prediction) to *d.
 * Terms are before the reduction over the last axis (the row kernels apply the 1/c of a mean).
 *
 * Where Keras clips with clip_by_value / maximum, the derivative is the one TF's autodiff gives:
 * zero where the clip is active, passed through at the boundary itself (TF's masks are
 * inclusive), so training matches Keras step for step.
 */

#define FNN_EPS ((T)1e-7)

/* max, min and clip as plain compares (a NaN x gives the bound): fmax/fmin stay library calls
 * unless NaNs are ruled out globally, which this build does not do. */
static inline T SUF(fnn_loss_max)(T a, T b) { return a > b ? a : b; }
static inline T SUF(fnn_loss_min)(T a, T b) { return a < b ? a : b; }
static inline T SUF(fnn_loss_clip)(T x, T lo, T hi) { return SUF(fnn_loss_min)(SUF(fnn_loss_max)(x, lo), hi); }

/* Sign with sign(0) = 0, the subgradient TF uses for |x| at 0. */
static inline T SUF(fnn_loss_sign)(T x) { return (T)((x > 0) - (x < 0)); }

/* sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z), both to full relative precision and without
 * overflow for any finite z; returns exp(-|z|), which log1p turns into softplus(-|z|). */
static inline T SUF(fnn_loss_sigmoid_pair)(T z, T *s, T *s_neg)
{
    T e = exp(-fabs(z));
    T big = 1 / (1 + e), small = e * big;
    *s = z >= 0 ? big : small;
    *s_neg = z >= 0 ? small : big;
    return e;
}

/* mean_squared_error: (p - y)^2. */
static inline T SUF(fnn_pt_mse)(T y, T p, T *d)
{
    T e = p - y;
    *d = 2 * e;
    return e * e;
}

/* mean_absolute_error: |p - y|. */
static inline T SUF(fnn_pt_mae)(T y, T p, T *d)
{
    T e = p - y;
    *d = SUF(fnn_loss_sign)(e);
    return fabs(e);
}

/* mean_absolute_percentage_error: 100 |y - p| / max(|y|, eps). */
static inline T SUF(fnn_pt_mape)(T y, T p, T *d)
{
    T m = SUF(fnn_loss_max)(fabs(y), FNN_EPS);
    T e = p - y;
    *d = 100 * SUF(fnn_loss_sign)(e) / m;
    return 100 * fabs(e) / m;
}

/* mean_squared_logarithmic_error: (log(max(p, eps) + 1) - log(max(y, eps) + 1))^2.
 * log1p is the same quantity as log(x + 1), without the rounding of x + 1. */
static inline T SUF(fnn_pt_msle)(T y, T p, T *d)
{
    T pc = SUF(fnn_loss_max)(p, FNN_EPS);
    T diff = log1p(pc) - log1p(SUF(fnn_loss_max)(y, FNN_EPS));
    *d = p >= FNN_EPS ? 2 * diff / (1 + pc) : 0;
    return diff * diff;
}

/* hinge: max(1 - y p, 0), y already mapped to +-1 by the caller when needed.
 * At the kink TF's maximum passes the gradient through (mask x >= 0). */
static inline T SUF(fnn_pt_hinge)(T y, T p, T *d)
{
    T m = 1 - y * p;
    *d = m >= 0 ? -y : 0;
    return m > 0 ? m : 0;
}

/* squared_hinge: max(1 - y p, 0)^2. */
static inline T SUF(fnn_pt_squared_hinge)(T y, T p, T *d)
{
    T m = 1 - y * p;
    m = m > 0 ? m : 0;
    *d = -2 * y * m;
    return m * m;
}

/* log_cosh: x + softplus(-2x) - log 2 with x = p - y, written as |x| + log1p(exp(-2|x|)) - log 2
 * (the same function, even in x) so exp never overflows. Its derivative tanh(x) comes from the
 * same expm1(-2|x|) = -(1 - exp(-2|x|)), which keeps full precision for small |x|. */
static inline T SUF(fnn_pt_log_cosh)(T y, T p, T *d)
{
    T x = p - y;
    T a = fabs(x);
    T em = expm1(-2 * a);
    T t = -em / (2 + em);
    *d = x < 0 ? -t : t;
    return a + log1p(1 + em) - (T)0.69314718055994530942;
}

/* huber: 0.5 e^2 where |e| <= delta, delta |e| - 0.5 delta^2 elsewhere, e = p - y. */
static inline T SUF(fnn_pt_huber)(T y, T p, T delta, T *d)
{
    T e = p - y;
    T a = fabs(e);
    if (a <= delta) {
        *d = e;
        return (T)0.5 * e * e;
    }
    *d = delta * SUF(fnn_loss_sign)(e);
    return delta * a - (T)0.5 * delta * delta;
}

/* kl_divergence: y log(y / p) with y and p clipped to [eps, 1]; no gradient where p is clipped. */
static inline T SUF(fnn_pt_kld)(T y, T p, T *d)
{
    T yc = SUF(fnn_loss_clip)(y, FNN_EPS, 1);
    T pc = SUF(fnn_loss_clip)(p, FNN_EPS, 1);
    *d = (p >= FNN_EPS && p <= 1) ? -yc / pc : 0;
    return yc * log(yc / pc);
}

/* poisson: p - y log(p + eps). */
static inline T SUF(fnn_pt_poisson)(T y, T p, T *d)
{
    T q = p + FNN_EPS;
    *d = 1 - y / q;
    return p - y * log(q);
}

/* binary_crossentropy on probabilities: p clipped to [eps, 1 - eps], y already smoothed;
 * no gradient where p is clipped. */
static inline T SUF(fnn_pt_bce)(T y, T p, T *d)
{
    const T lo = FNN_EPS, hi = 1 - FNN_EPS;
    T pc = SUF(fnn_loss_clip)(p, lo, hi);
    *d = (p >= lo && p <= hi) ? (pc - y) / (pc * (1 - pc)) : 0;
    return -(y * log(pc) + (1 - y) * log(1 - pc));
}

/* binary_crossentropy on a logit z (sigmoid folded in, no clipping):
 * max(z, 0) - z y + log1p(exp(-|z|)), derivative sigmoid(z) - y; finite for any finite z. */
static inline T SUF(fnn_pt_sigmoid_bce)(T y, T z, T *d)
{
    T s, s_neg;
    T e = SUF(fnn_loss_sigmoid_pair)(z, &s, &s_neg);
    *d = s - y;
    return SUF(fnn_loss_max)(z, 0) - z * y + log1p(e);
}

/* d/dq of q^gamma: written so gamma = 0 gives 0 rather than 0 * inf at q = 0. */
static inline T SUF(fnn_focal_dpow)(T q, T gamma)
{
    return gamma == 0 ? 0 : gamma * pow(q, gamma - 1);
}

/* Class-balancing weight of binary focal cross-entropy: alpha for class 1, 1 - alpha for 0. */
static inline T SUF(fnn_focal_balance)(T y, T alpha, int balance)
{
    return balance ? y * alpha + (1 - y) * (1 - alpha) : 1;
}

/* binary_focal_crossentropy on probabilities: w (1 - p_t)^gamma bce(y, p), with
 * 1 - p_t = y (1 - p) + (1 - y) p on the unclipped p (as Keras) and bce clipped as above. */
static inline T SUF(fnn_pt_focal)(T y, T p, T gamma, T alpha, int balance, T *d)
{
    T dbce;
    T bce = SUF(fnn_pt_bce)(y, p, &dbce);
    T q = y * (1 - p) + (1 - y) * p;
    T f = pow(q, gamma);
    T w = SUF(fnn_focal_balance)(y, alpha, balance);
    *d = w * (SUF(fnn_focal_dpow)(q, gamma) * (1 - 2 * y) * bce + f * dbce);
    return w * f * bce;
}

/* binary_focal_crossentropy on a logit z: p = sigmoid(z) and the bce term from the logit
 * without clipping (what Keras's TF backend computes, since its sigmoid keeps the logits);
 * the derivative is with respect to z. 1 - p is sigmoid(-z), exact for large z. */
static inline T SUF(fnn_pt_focal_logits)(T y, T z, T gamma, T alpha, int balance, T *d)
{
    T p, pm;
    T e = SUF(fnn_loss_sigmoid_pair)(z, &p, &pm);
    T bce = SUF(fnn_loss_max)(z, 0) - z * y + log1p(e), dbce = p - y;
    T q = y * pm + (1 - y) * p;
    T f = pow(q, gamma);
    T w = SUF(fnn_focal_balance)(y, alpha, balance);
    *d = w * (SUF(fnn_focal_dpow)(q, gamma) * (1 - 2 * y) * p * pm * bce + f * dbce);
    return w * f * bce;
}

#undef FNN_EPS
