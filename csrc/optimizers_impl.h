/* Chunk kernels of optimizers.c, written once for both dtypes: optimizers.c includes this file
 * twice with T (float or double) and SUF(name) (name##_f32 or name##_f64) defined.
 *
 * Each kernel updates n parameters in place, element by element, so any split of a buffer into
 * chunks gives the same bits. Optional slots are NULL when their feature is off; the test on
 * them sits outside the loops, so every variant is its own branch-free, vectorized loop.
 * Scalars arrive as T: the rule's 1 - beta terms are formed here in T, as Keras forms them from
 * its float32-cast betas, while the step-dependent corrections were computed in double.
 */

FNN_CLONES void SUF(fnn_sgd_chunk)(T *restrict w, const T *restrict g, T *restrict m, size_t n,
                                   T lr, T momentum, int nesterov, T wd_lr, T grad_scale,
                                   T clip_value)
{
    if (m == NULL)
        FNN_OPT_LOOP(SUF(fnn_rule_sgd)(wi, gi, lr))
    else if (nesterov)
        FNN_OPT_LOOP(SUF(fnn_rule_sgd_momentum)(wi, gi, &m[i], lr, momentum, 1))
    else
        FNN_OPT_LOOP(SUF(fnn_rule_sgd_momentum)(wi, gi, &m[i], lr, momentum, 0))
}

FNN_CLONES void SUF(fnn_adam_chunk)(T *restrict w, const T *restrict g, T *restrict m,
                                    T *restrict v, T *restrict vhat, size_t n, T alpha, T beta_1,
                                    T beta_2, T epsilon, T wd_lr, T grad_scale, T clip_value)
{
    const T one_m_b1 = 1 - beta_1, one_m_b2 = 1 - beta_2;
    if (vhat == NULL)
        FNN_OPT_LOOP(SUF(fnn_rule_adam)(wi, gi, &m[i], &v[i], NULL, alpha, one_m_b1, one_m_b2,
                                        epsilon, 0))
    else
        FNN_OPT_LOOP(SUF(fnn_rule_adam)(wi, gi, &m[i], &v[i], &vhat[i], alpha, one_m_b1,
                                        one_m_b2, epsilon, 1))
}

FNN_CLONES void SUF(fnn_rmsprop_chunk)(T *restrict w, const T *restrict g, T *restrict v,
                                       T *restrict a, T *restrict mom, size_t n, T lr, T rho,
                                       T momentum, T epsilon, T wd_lr, T grad_scale, T clip_value)
{
    const T one_m_rho = 1 - rho;
    if (a == NULL && mom == NULL)
        FNN_OPT_LOOP(SUF(fnn_rule_rmsprop)(wi, gi, &v[i], NULL, NULL, lr, rho, one_m_rho,
                                           momentum, epsilon, 0, 0))
    else if (a == NULL)
        FNN_OPT_LOOP(SUF(fnn_rule_rmsprop)(wi, gi, &v[i], NULL, &mom[i], lr, rho, one_m_rho,
                                           momentum, epsilon, 0, 1))
    else if (mom == NULL)
        FNN_OPT_LOOP(SUF(fnn_rule_rmsprop)(wi, gi, &v[i], &a[i], NULL, lr, rho, one_m_rho,
                                           momentum, epsilon, 1, 0))
    else
        FNN_OPT_LOOP(SUF(fnn_rule_rmsprop)(wi, gi, &v[i], &a[i], &mom[i], lr, rho, one_m_rho,
                                           momentum, epsilon, 1, 1))
}

FNN_CLONES void SUF(fnn_adagrad_chunk)(T *restrict w, const T *restrict g, T *restrict acc,
                                       size_t n, T lr, T epsilon, T wd_lr, T grad_scale,
                                       T clip_value)
{
    FNN_OPT_LOOP(SUF(fnn_rule_adagrad)(wi, gi, &acc[i], lr, epsilon))
}

FNN_CLONES void SUF(fnn_adadelta_chunk)(T *restrict w, const T *restrict g, T *restrict eg,
                                        T *restrict ed, size_t n, T lr, T rho, T epsilon,
                                        T wd_lr, T grad_scale, T clip_value)
{
    const T one_m_rho = 1 - rho;
    FNN_OPT_LOOP(SUF(fnn_rule_adadelta)(wi, gi, &eg[i], &ed[i], lr, rho, one_m_rho, epsilon))
}

FNN_CLONES void SUF(fnn_adamax_chunk)(T *restrict w, const T *restrict g, T *restrict m,
                                      T *restrict u, size_t n, T alpha, T beta_1, T beta_2,
                                      T epsilon, T wd_lr, T grad_scale, T clip_value)
{
    const T one_m_b1 = 1 - beta_1;
    FNN_OPT_LOOP(SUF(fnn_rule_adamax)(wi, gi, &m[i], &u[i], alpha, one_m_b1, beta_2, epsilon))
}

FNN_CLONES void SUF(fnn_nadam_chunk)(T *restrict w, const T *restrict g, T *restrict m,
                                     T *restrict v, size_t n, T lr, T beta_1, T beta_2,
                                     T epsilon, T coef_m, T coef_g, T one_m_b2t, T wd_lr,
                                     T grad_scale, T clip_value)
{
    const T one_m_b1 = 1 - beta_1, one_m_b2 = 1 - beta_2;
    FNN_OPT_LOOP(SUF(fnn_rule_nadam)(wi, gi, &m[i], &v[i], lr, one_m_b1, one_m_b2, coef_m,
                                     coef_g, one_m_b2t, epsilon))
}

FNN_CLONES void SUF(fnn_lion_chunk)(T *restrict w, const T *restrict g, T *restrict m, size_t n,
                                    T lr, T beta_1, T beta_2, T wd_lr, T grad_scale,
                                    T clip_value)
{
    const T one_m_b1 = 1 - beta_1, one_m_b2 = 1 - beta_2;
    FNN_OPT_LOOP(SUF(fnn_rule_lion)(wi, gi, &m[i], lr, beta_1, one_m_b1, beta_2, one_m_b2))
}

FNN_CLONES void SUF(fnn_ftrl_chunk)(T *restrict w, const T *restrict g, T *restrict acc,
                                    T *restrict lin, size_t n, T lr, T lr_power, T l1, T l2_reg,
                                    T l2_shrinkage, T wd_lr, T grad_scale, T clip_value)
{
    const T neg_p = -lr_power;
    FNN_OPT_LOOP(SUF(fnn_rule_ftrl)(wi, gi, &acc[i], &lin[i], lr, neg_p, l1, l2_reg,
                                    l2_shrinkage))
}

/* Lamb's first pass: clip g, decay w (stored), update m and v; sums[0] += sum of w'^2 and
 * sums[1] += sum of update^2, accumulated in double in element order. */
FNN_CLONES void SUF(fnn_lamb_moments_chunk)(T *restrict w, const T *restrict g, T *restrict m,
                                            T *restrict v, size_t n, T beta_1, T beta_2,
                                            T epsilon, T one_m_b1t, T one_m_b2t, T wd_lr,
                                            T grad_scale, T clip_value, double *sums)
{
    const unsigned mode = fnn_flush_subnormals(); /* as fnn_opt_step_chunk */
    const T one_m_b1 = 1 - beta_1, one_m_b2 = 1 - beta_2;
    double sw = 0, su = 0;
    for (size_t i = 0; i < n; i++) {
        const T gi = SUF(fnn_opt_grad)(g[i], grad_scale, clip_value);
        const T wi = SUF(fnn_opt_decay)(w[i], wd_lr);
        SUF(fnn_rule_lamb_moments)(gi, &m[i], &v[i], one_m_b1, one_m_b2);
        const T u = SUF(fnn_lamb_update)(m[i], v[i], one_m_b1t, one_m_b2t, epsilon);
        w[i] = wi;
        sw += (double)wi * wi;
        su += (double)u * u;
    }
    sums[0] = sw;
    sums[1] = su;
    fnn_restore_fp_mode(mode);
}

/* Lamb's second pass: w -= ratio_lr * update, update recomputed from m and v. */
FNN_CLONES void SUF(fnn_lamb_apply_chunk)(T *restrict w, const T *restrict m,
                                          const T *restrict v, size_t n, T ratio_lr,
                                          T one_m_b1t, T one_m_b2t, T epsilon)
{
    const unsigned mode = fnn_flush_subnormals();
    for (size_t i = 0; i < n; i++)
        w[i] = w[i] - ratio_lr * SUF(fnn_lamb_update)(m[i], v[i], one_m_b1t, one_m_b2t,
                                                      epsilon);
    fnn_restore_fp_mode(mode);
}

/* One rule's kernel on n elements. */
static void SUF(opt_rule_chunk)(const fnn_opt_step *s, T *w, const T *g, T *s0, T *s1, T *s2,
                                size_t n)
{
    switch (s->rule) {
    case FNN_OPT_SGD:
        SUF(fnn_sgd_chunk)(w, g, s0, n, s->lr, s->a, s->flag, s->wd_lr, s->grad_scale,
                           s->clip_value);
        break;
    case FNN_OPT_ADAM:
        SUF(fnn_adam_chunk)(w, g, s0, s1, s2, n, s->a, s->b, s->c, s->d, s->wd_lr,
                            s->grad_scale, s->clip_value);
        break;
    case FNN_OPT_RMSPROP:
        SUF(fnn_rmsprop_chunk)(w, g, s0, s1, s2, n, s->lr, s->a, s->b, s->c, s->wd_lr,
                               s->grad_scale, s->clip_value);
        break;
    case FNN_OPT_ADAGRAD:
        SUF(fnn_adagrad_chunk)(w, g, s0, n, s->lr, s->a, s->wd_lr, s->grad_scale, s->clip_value);
        break;
    case FNN_OPT_ADADELTA:
        SUF(fnn_adadelta_chunk)(w, g, s0, s1, n, s->lr, s->a, s->b, s->wd_lr, s->grad_scale,
                                s->clip_value);
        break;
    case FNN_OPT_ADAMAX:
        SUF(fnn_adamax_chunk)(w, g, s0, s1, n, s->a, s->b, s->c, s->d, s->wd_lr, s->grad_scale,
                              s->clip_value);
        break;
    case FNN_OPT_NADAM:
        SUF(fnn_nadam_chunk)(w, g, s0, s1, n, s->lr, s->a, s->b, s->c, s->d, s->e, s->f,
                             s->wd_lr, s->grad_scale, s->clip_value);
        break;
    case FNN_OPT_FTRL:
        SUF(fnn_ftrl_chunk)(w, g, s0, s1, n, s->lr, s->a, s->b, s->c, s->d, s->wd_lr,
                            s->grad_scale, s->clip_value);
        break;
    default: /* FNN_OPT_LION */
        SUF(fnn_lion_chunk)(w, g, s0, n, s->lr, s->a, s->b, s->wd_lr, s->grad_scale,
                            s->clip_value);
        break;
    }
}

/* fnn_opt_step: one rule's kernel on n elements, its scalars rounded to T (fastnn.h), with
 * subnormals flushed to zero (optimizers.c says why). */
void SUF(fnn_opt_step_chunk)(const fnn_opt_step *s, T *w, const T *g, T *s0, T *s1, T *s2,
                             size_t n)
{
    const unsigned mode = fnn_flush_subnormals();
    SUF(opt_rule_chunk)(s, w, g, s0, s1, s2, n);
    fnn_restore_fp_mode(mode);
}
