/* Keras 3's optimizer update rules for one parameter, one body for float and double
 * (shared/reference/keras.md section 5.2).
 *
 * Included twice by optimizers.h with T (the element type) and SUF(name) (appends _f32 / _f64)
 * defined; <tgmath.h> makes sqrt/fabs pick the float or double routine from T. Each rule takes
 * the parameter w after weight decay and the gradient g after clipping, updates its slots
 * through pointers and returns the new w. Arithmetic stays in T and follows Keras's operation
 * order, so float32 rounds the way Keras's float32 variables do; scalars that depend only on
 * the step (bias corrections) arrive precomputed. Optional features are int flags: the chunk
 * kernels pass constants, so each variant inlines into its own branch-free loop.
 */

/* The gradient a rule sees: g * scale (clipnorm / global_clipnorm folded in), then clipped to
 * [-clip, clip] (clipvalue). scale = 1 and clip = inf leave g bit for bit, NaN included. */
static inline T SUF(fnn_opt_grad)(T g, T scale, T clip)
{
    g *= scale;
    g = g > clip ? clip : g;
    return g < -clip ? -clip : g;
}

/* Decoupled weight decay w - w * (weight_decay * lr), applied before the rule as Keras does;
 * wd_lr = 0 leaves w untouched (an inf w too, where w * 0 would be NaN). */
static inline T SUF(fnn_opt_decay)(T w, T wd_lr) { return wd_lr != 0 ? w - w * wd_lr : w; }

/* sign(x) that keeps 0 as 0 and NaN as NaN (tf.sign's convention). */
static inline T SUF(fnn_opt_sign)(T x) { return x > 0 ? (T)1 : (x < 0 ? (T)-1 : x); }

/* SGD without momentum. */
static inline T SUF(fnn_rule_sgd)(T w, T g, T lr) { return w - g * lr; }

/* SGD with momentum mu: m = mu*m - lr*g; w += m, or with Nesterov w += mu*m - lr*g (new m). */
static inline T SUF(fnn_rule_sgd_momentum)(T w, T g, T *m, T lr, T mu, int nesterov)
{
    const T mi = -g * lr + *m * mu;
    *m = mi;
    return nesterov ? w + (-g * lr + mi * mu) : w + mi;
}

/* Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); amsgrad: vhat = max(vhat, v) replaces v;
 * w -= alpha*m / (sqrt(v) + eps), alpha = lr sqrt(1 - b2^t) / (1 - b1^t) (eps not corrected). */
static inline T SUF(fnn_rule_adam)(T w, T g, T *m, T *v, T *vhat, T alpha, T one_m_b1,
                                   T one_m_b2, T eps, int amsgrad)
{
    const T mi = *m + (g - *m) * one_m_b1;
    T vi = *v + (g * g - *v) * one_m_b2;
    *m = mi;
    *v = vi;
    if (amsgrad) {
        vi = *vhat > vi ? *vhat : vi;
        *vhat = vi;
    }
    return w - (mi * alpha) / (sqrt(vi) + eps);
}

/* RMSprop: v = rho v + (1 - rho) g^2; centered: a = rho a + (1 - rho) g and the denominator is
 * v - a^2 + eps, else v + eps (eps inside the sqrt); inc = lr g / sqrt(den); with momentum
 * mom = mu mom + inc and w -= mom, else w -= inc. */
static inline T SUF(fnn_rule_rmsprop)(T w, T g, T *v, T *a, T *mom, T lr, T rho, T one_m_rho,
                                      T mu, T eps, int centered, int momentum)
{
    const T vi = rho * *v + one_m_rho * (g * g);
    *v = vi;
    T den = vi + eps;
    if (centered) {
        const T ai = rho * *a + one_m_rho * g;
        *a = ai;
        den = vi - ai * ai + eps;
    }
    T inc = (lr * g) / sqrt(den);
    if (momentum) {
        inc = mu * *mom + inc;
        *mom = inc;
    }
    return w - inc;
}

/* Adagrad: acc += g^2; w -= lr g / sqrt(acc + eps). */
static inline T SUF(fnn_rule_adagrad)(T w, T g, T *acc, T lr, T eps)
{
    const T ai = *acc + g * g;
    *acc = ai;
    return w - (lr * g) / sqrt(ai + eps);
}

/* Adadelta: eg = rho eg + (1 - rho) g^2; d = -sqrt(ed + eps) g / sqrt(eg + eps);
 * ed = rho ed + (1 - rho) d^2; w += lr d. */
static inline T SUF(fnn_rule_adadelta)(T w, T g, T *eg, T *ed, T lr, T rho, T one_m_rho, T eps)
{
    const T egi = rho * *eg + one_m_rho * (g * g);
    *eg = egi;
    const T d = -sqrt(*ed + eps) * g / sqrt(egi + eps);
    *ed = rho * *ed + one_m_rho * (d * d);
    return w + lr * d;
}

/* Adamax: m += (g - m)(1 - b1); u = max(b2 u, |g|); w -= alpha m / (u + eps) with
 * alpha = lr / (1 - b1^t). */
static inline T SUF(fnn_rule_adamax)(T w, T g, T *m, T *u, T alpha, T one_m_b1, T b2, T eps)
{
    const T mi = *m + (g - *m) * one_m_b1;
    const T bu = b2 * *u, ag = fabs(g);
    const T ui = bu > ag ? bu : ag;
    *m = mi;
    *u = ui;
    return w - (mi * alpha) / (ui + eps);
}

/* Nadam: m, v as in Adam; mhat = cm m + cg g with cm = mu_{t+1} / (1 - prod_t mu_{t+1}) and
 * cg = (1 - mu_t) / (1 - prod_t); vhat = v / (1 - b2^t); w -= lr mhat / (sqrt(vhat) + eps). */
static inline T SUF(fnn_rule_nadam)(T w, T g, T *m, T *v, T lr, T one_m_b1, T one_m_b2, T cm,
                                    T cg, T one_m_b2t, T eps)
{
    const T mi = *m + (g - *m) * one_m_b1;
    const T vi = *v + (g * g - *v) * one_m_b2;
    *m = mi;
    *v = vi;
    const T mhat = cm * mi + cg * g;
    return w - (mhat * lr) / (sqrt(vi / one_m_b2t) + eps);
}

/* Lion: w -= lr sign(b1 m + (1 - b1) g); then m = b2 m + (1 - b2) g. */
static inline T SUF(fnn_rule_lion)(T w, T g, T *m, T lr, T b1, T one_m_b1, T b2, T one_m_b2)
{
    const T c = *m * b1 + g * one_m_b1;
    *m = *m * b2 + g * one_m_b2;
    return w - lr * SUF(fnn_opt_sign)(c);
}

/* Ftrl (McMahan et al., 2013), Keras's form with p = learning_rate_power (<= 0):
 * g2 = g + 2 l2_shrinkage w; acc' = acc + g^2; lin += g2 - (acc'^-p - acc^-p) / lr * w;
 * quad = acc'^-p / lr + 2 l2_reg (l2_reg = l2 + beta / (2 lr), precomputed);
 * w = (clip(lin, -l1, l1) - lin) / quad; acc = acc'. */
static inline T SUF(fnn_rule_ftrl)(T w, T g, T *acc, T *lin, T lr, T neg_p, T l1, T l2_reg,
                                   T l2_shrinkage)
{
    const T g2 = g + 2 * l2_shrinkage * w;
    const T new_acc = *acc + g * g;
    const T pw_new = pow(new_acc, neg_p);
    const T li = *lin + (g2 - ((pw_new - pow(*acc, neg_p)) / lr) * w);
    const T quad = pw_new / lr + 2 * l2_reg;
    const T clipped = li > l1 ? l1 : (li < -l1 ? -l1 : li);
    *lin = li;
    *acc = new_acc;
    return (clipped - li) / quad;
}

/* Lamb's moments and its unscaled update (You et al., 2020), Keras's form:
 * m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
 * update = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). The step w -= ratio lr update
 * needs the whole variable's norms first, so the rule is split: this part runs in the first
 * pass, fnn_lamb_apply_chunk recomputes update from the stored m and v in the second. */
static inline T SUF(fnn_lamb_update)(T m, T v, T one_m_b1t, T one_m_b2t, T eps)
{
    return (m / one_m_b1t) / (sqrt(v / one_m_b2t) + eps);
}

static inline void SUF(fnn_rule_lamb_moments)(T g, T *m, T *v, T one_m_b1, T one_m_b2)
{
    *m = *m + (g - *m) * one_m_b1;
    *v = *v + (g * g - *v) * one_m_b2;
}
