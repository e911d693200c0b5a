/* Row kernels of the losses, one body for float and double (included by losses.c with T and
 * SUF defined). Each row is computed on its own, start to end, by the same code whatever rows
 * surround it, so splitting rows across threads never changes a bit. Row sums accumulate in
 * double, in column order.
 */

#define EPS ((T)1e-7)

/* ---- Dice and Tversky: sums, value and closed-form gradient ----------------------------- */

void SUF(fnn_overlap_sums)(size_t n, size_t c, const T *y_true, const T *y_pred, double sums[5])
{
    for (int k = 0; k < 5; k++)
        sums[k] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++) {
            T y = y_true[i * c + j], p = y_pred[i * c + j];
            sums[0] += (double)(y * p);
            sums[1] += (double)((1 - p) * y);
            sums[2] += (double)(p * (1 - y));
            sums[3] += y;
            sums[4] += p;
        }
}

/* With inter = I = sum y p (not named I: <complex.h>, through <tgmath.h>, takes that name).
 * Dice: V = 1 - 2 I / D, D = sum y + sum p + eps; dV/dp = -2 (y D - I) / D^2.
 * Tversky: V = 1 - I / E, E = I + alpha FP + beta FN + eps with FP = sum y (1 - p) and
 * FN = sum p (1 - y); dE/dp = y (1 - alpha) + beta (1 - y), dV/dp = -(y E - I dE/dp) / E^2.
 * Neither gradient depends on p itself: only y and the sums. */
void SUF(fnn_overlap_grad_rows)(const fnn_loss_spec *spec, size_t n, size_t c,
                                const T *y_true, const double sums[5], T factor, T *grad_out)
{
    const double inter = sums[0];
    const int dice = spec->loss == FNN_LOSS_DICE || spec->loss == FNN_LOSS_DICE_BATCH;
    const double a = spec->alpha, b = spec->beta;
    const double den = dice ? sums[3] + sums[4] + (double)EPS
                            : inter + sums[1] * a + sums[2] * b + (double)EPS;
    const double k = factor / (den * den);
    for (size_t i = 0; i < n * c; i++) {
        double y = y_true[i];
        double dden = dice ? 1 : y * (1 - a) + b * (1 - y);
        grad_out[i] = (T)(dice ? -2 * k * (y * den - inter) : -k * (y * den - inter * dden));
    }
}

/* Loops over the rows for a loss that is a mean (MEAN = 1) or a sum (MEAN = 0) of per-element
 * terms. TERM is an expression in y, p and &d (see losses_point.h); YMAP maps y_true first. */
#define ELEMENTWISE_ROWS(MEAN, YMAP, TERM)                                                   \
    for (size_t i = 0; i < n; i++) {                                                         \
        const T *yr = y_true + i * c, *pr = y_pred + i * c;                                  \
        T *gr = grad_out ? grad_out + i * c : NULL;                                          \
        T f = (sample_weight ? sample_weight[i] : 1) * scale / ((MEAN) ? (T)c : 1);          \
        double acc = 0;                                                                      \
        for (size_t j = 0; j < c; j++) {                                                     \
            T y = YMAP(yr[j]), p = pr[j], d;                                                 \
            acc += (TERM);                                                                   \
            if (gr)                                                                          \
                gr[j] = f * d;                                                               \
        }                                                                                    \
        values_out[i] = (T)((MEAN) ? acc / (double)c : acc);                                 \
    }

/* categorical_hinge: max(max_j (1 - y_j) p_j - sum_j y_j p_j + 1, 0). Ties for the max share
 * its gradient equally, as TF's reduce_max gradient does; at the kink the gradient passes. */
static inline T SUF(categorical_hinge_row)(size_t c, const T *y, const T *p, T f, T *g)
{
    double pos = 0;
    T neg = -INFINITY;
    for (size_t j = 0; j < c; j++) {
        pos += (double)y[j] * p[j];
        T v = (1 - y[j]) * p[j];
        neg = v > neg ? v : neg;
    }
    T margin = (T)(neg - pos + 1);
    if (g) {
        size_t ties = 0;
        for (size_t j = 0; j < c; j++)
            ties += (1 - y[j]) * p[j] == neg;
        T share = margin >= 0 ? f / (T)ties : 0, fm = margin >= 0 ? f : 0;
        for (size_t j = 0; j < c; j++)
            g[j] = -fm * y[j] + ((1 - y[j]) * p[j] == neg ? share * (1 - y[j]) : 0);
    }
    return margin > 0 ? margin : 0;
}

/* The gradient through q = p / sum(p), in place: g holds a_k = d/dq_k and aq is
 * sum_k a_k q_k; afterwards g_j = f (a_j - aq) / sum, d/dp_j scaled by f. */
static inline void SUF(through_renormalisation)(size_t c, T *g, double aq, T f, T sum)
{
    T t = (T)aq, fs = f / sum;
    for (size_t j = 0; j < c; j++)
        g[j] = fs * (g[j] - t);
}

/* categorical_crossentropy on probabilities: q = p / sum(p), clipped to [eps, 1 - eps],
 * -sum y_s log q with y_s = y (1 - ls) + ls / c. The gradient goes through the
 * renormalisation: d/dp_j = (a_j - sum_k a_k q_k) / S with a_k = d/dq_k (0 where clipped).
 * grad_out's row holds a_k between the two passes. */
static inline T SUF(cce_row)(size_t c, const T *y, const T *p, T ls, T f, T *g)
{
    const T lo = EPS, hi = 1 - EPS;
    double s = 0, loss = 0, aq = 0;
    for (size_t j = 0; j < c; j++)
        s += p[j];
    T sum = (T)s;
    for (size_t j = 0; j < c; j++) {
        T ys = y[j] * (1 - ls) + ls / (T)c;
        T q = p[j] / sum;
        T qc = SUF(fnn_loss_clip)(q, lo, hi);
        loss -= ys * log(qc);
        if (g) {
            T a = (q >= lo && q <= hi) ? -ys / qc : 0;
            g[j] = a;
            aq += (double)a * q;
        }
    }
    if (g)
        SUF(through_renormalisation)(c, g, aq, f, sum);
    return (T)loss;
}

/* Softmax of the logits z folded into categorical cross-entropy:
 * sum_j y_s_j (logsumexp(z) - z_j), no clipping, finite for any finite z. The gradient is
 * softmax(z) - y_s, TF's softmax_cross_entropy_with_logits gradient (exact when y_s sums to 1,
 * as one-hot or smoothed one-hot labels do). grad_out's row holds exp(z - max) meanwhile. */
/* The stable softmax denominator of a row of logits: returns sum_j exp(z_j - max) (summed in
 * double) and sets *max; e, if not NULL, receives each exp(z_j - max). */
static inline double SUF(shifted_exp_sum)(size_t c, const T *z, T *max, T *e)
{
    T m = z[0];
    for (size_t j = 1; j < c; j++)
        m = z[j] > m ? z[j] : m;
    double s = 0;
    for (size_t j = 0; j < c; j++) {
        T ej = exp(z[j] - m);
        s += ej;
        if (e)
            e[j] = ej;
    }
    *max = m;
    return s;
}

static inline T SUF(softmax_cce_row)(size_t c, const T *y, const T *z, T ls, T f, T *g)
{
    T m;
    double s = SUF(shifted_exp_sum)(c, z, &m, g);
    T logs = (T)log(s);
    double loss = 0;
    for (size_t j = 0; j < c; j++) {
        T ys = y[j] * (1 - ls) + ls / (T)c;
        loss += ys * (logs - (z[j] - m));
    }
    if (g) {
        T inv = (T)(1 / s);
        for (size_t j = 0; j < c; j++) {
            T ys = y[j] * (1 - ls) + ls / (T)c;
            g[j] = f * (g[j] * inv - ys);
        }
    }
    return (T)loss;
}

/* Euclidean norm without overflow or underflow of the squares (scaled by the largest entry). */
static inline T SUF(l2_norm)(size_t c, const T *x)
{
    T m = 0;
    for (size_t j = 0; j < c; j++)
        m = fabs(x[j]) > m ? fabs(x[j]) : m;
    if (m == 0)
        return 0;
    double s = 0;
    for (size_t j = 0; j < c; j++) {
        T r = x[j] / m;
        s += (double)r * r;
    }
    return (T)(m * sqrt(s));
}

/* cosine_similarity: -sum y^ p^ with x^ = x / max(|x|, eps). Where |p| >= eps the gradient is
 * -(y^ + loss p^) / |p|; below eps the divisor is the constant eps and it is -y^ / eps. */
static inline T SUF(cosine_row)(size_t c, const T *y, const T *p, T f, T *g)
{
    T dy = SUF(fnn_loss_max)(SUF(l2_norm)(c, y), EPS), np = SUF(l2_norm)(c, p), dp = SUF(fnn_loss_max)(np, EPS);
    double dot = 0;
    for (size_t j = 0; j < c; j++)
        dot += (double)(y[j] / dy) * (p[j] / dp);
    T loss = (T)-dot;
    if (g) {
        T fd = f / dp, lp = np >= EPS ? loss : 0;
        for (size_t j = 0; j < c; j++)
            g[j] = -fd * (y[j] / dy + lp * (p[j] / dp));
    }
    return loss;
}

/* categorical_focal_crossentropy on probabilities: q = p / sum(p) clipped to [eps, 1 - eps],
 * sum_j alpha (1 - q_j)^gamma (-y_s_j log q_j) with y_s the smoothed labels (as cce_row).
 * d/dq_j = alpha ((1 - q)^gamma (-y_s / q) - gamma (1 - q)^(gamma - 1) (-y_s log q)), 0 where
 * q is clipped; 1 - q >= eps there, so (1 - q)^(gamma - 1) = (1 - q)^gamma / (1 - q) costs no
 * second pow. The renormalisation's gradient is cce_row's. */
static inline T SUF(focal_term)(T ys, T q, T gamma, T alpha, T *a)
{
    const T lo = EPS, hi = 1 - EPS;
    T qc = SUF(fnn_loss_clip)(q, lo, hi);
    T om = 1 - qc, pw = pow(om, gamma), ce = -ys * log(qc);
    if (a)
        *a = (q >= lo && q <= hi) ? alpha * (pw * (-ys / qc) - gamma * (pw / om) * ce) : 0;
    return pw * alpha * ce;
}

static inline T SUF(cfce_row)(size_t c, const T *y, const T *p, T ls, T gamma, T alpha, T f,
                              T *g)
{
    double s = 0, loss = 0, aq = 0;
    for (size_t j = 0; j < c; j++)
        s += p[j];
    T sum = (T)s;
    for (size_t j = 0; j < c; j++) {
        T ys = y[j] * (1 - ls) + ls / (T)c, q = p[j] / sum, a = 0;
        loss += SUF(focal_term)(ys, q, gamma, alpha, g ? &a : NULL);
        if (g) {
            g[j] = a;
            aq += (double)a * q;
        }
    }
    if (g)
        SUF(through_renormalisation)(c, g, aq, f, sum);
    return (T)loss;
}

/* categorical_focal_crossentropy on logits, as Keras computes it: q = softmax(z), then the
 * probability form above on q (its renormalisation and clipping included), then the softmax's
 * backward d/dz_i = q_i (g_i - sum_k g_k q_k). Unlike cce, Keras keeps the clipping here, so
 * this is the same function as softmax followed by cfce_row, not a logsumexp form. q_j is
 * recomputed from exp(z_j - max) / s where needed rather than stored (g is the only row
 * buffer); the same expression gives the same bits each time. */
static inline T SUF(softmax_cfce_row)(size_t c, const T *y, const T *z, T ls, T gamma, T alpha,
                                      T f, T *g)
{
    T m;
    T inv = (T)(1 / SUF(shifted_exp_sum)(c, z, &m, NULL));
#define SOFTMAX_Q(j) ((T)exp(z[j] - m) * inv)
    double s = 0, loss = 0, aq = 0;
    for (size_t j = 0; j < c; j++)
        s += SOFTMAX_Q(j);
    T sum = (T)s;
    for (size_t j = 0; j < c; j++) {
        T ys = y[j] * (1 - ls) + ls / (T)c, o = SOFTMAX_Q(j) / sum, a = 0;
        loss += SUF(focal_term)(ys, o, gamma, alpha, g ? &a : NULL);
        if (g) {
            g[j] = a;
            aq += (double)a * o;
        }
    }
    if (g) {
        T t = (T)aq;
        double qg = 0;
        for (size_t j = 0; j < c; j++) {
            g[j] = (g[j] - t) / sum;           /* d/dq_j */
            qg += (double)g[j] * SOFTMAX_Q(j);
        }
        T u = (T)qg;
        for (size_t j = 0; j < c; j++)
            g[j] = f * SOFTMAX_Q(j) * (g[j] - u);
    }
#undef SOFTMAX_Q
    return (T)loss;
}

/* Dice and Tversky: the sums both read (see fnn_overlap_sums), added row after row. */
static inline void SUF(overlap_accumulate)(size_t c, const T *y, const T *p, double s[5])
{
    for (size_t j = 0; j < c; j++) {
        s[0] += (double)(y[j] * p[j]);
        s[1] += (double)((1 - p[j]) * y[j]);
        s[2] += (double)(p[j] * (1 - y[j]));
        s[3] += y[j];
        s[4] += p[j];
    }
}

/* Dice / Tversky over one row (axis=-1): value, and f times its gradient into g. */
static inline T SUF(overlap_row)(const fnn_loss_spec *spec, size_t c, const T *y, const T *p,
                                 T f, T *g)
{
    double s[5] = {0, 0, 0, 0, 0};
    SUF(overlap_accumulate)(c, y, p, s);
    if (g)
        SUF(fnn_overlap_grad_rows)(spec, 1, c, y, s, f, g);
    return (T)fnn_overlap_value(spec, s);
}

void FNN_CLONES SUF(fnn_loss_rows)(const fnn_loss_spec *spec, size_t n, size_t c, const T *y_true,
                                   const T *y_pred, const T *sample_weight, T scale,
                                   T *values_out, T *grad_out)
{
    const T ls = (T)spec->label_smoothing, delta = (T)spec->delta;
    const T gamma = (T)spec->gamma, alpha = (T)spec->alpha;
    const int balance = spec->apply_class_balancing;
#define SAME(y) (y)
#define SMOOTH_HALF(y) ((y) * (1 - ls) + (T)0.5 * ls)
#define PLUS_MINUS(y) (2 * (y) - 1)
    switch ((fnn_loss_id)spec->loss) {
    case FNN_LOSS_MEAN_SQUARED_ERROR:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_mse)(y, p, &d));
        break;
    case FNN_LOSS_MEAN_ABSOLUTE_ERROR:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_mae)(y, p, &d));
        break;
    case FNN_LOSS_MEAN_ABSOLUTE_PERCENTAGE_ERROR:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_mape)(y, p, &d));
        break;
    case FNN_LOSS_MEAN_SQUARED_LOGARITHMIC_ERROR:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_msle)(y, p, &d));
        break;
    case FNN_LOSS_SQUARED_HINGE:
        if (spec->hinge_binary_labels)
            ELEMENTWISE_ROWS(1, PLUS_MINUS, SUF(fnn_pt_squared_hinge)(y, p, &d))
        else
            ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_squared_hinge)(y, p, &d))
        break;
    case FNN_LOSS_HINGE:
        if (spec->hinge_binary_labels)
            ELEMENTWISE_ROWS(1, PLUS_MINUS, SUF(fnn_pt_hinge)(y, p, &d))
        else
            ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_hinge)(y, p, &d))
        break;
    case FNN_LOSS_LOG_COSH:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_log_cosh)(y, p, &d));
        break;
    case FNN_LOSS_HUBER:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_huber)(y, p, delta, &d));
        break;
    case FNN_LOSS_KL_DIVERGENCE:
        ELEMENTWISE_ROWS(0, SAME, SUF(fnn_pt_kld)(y, p, &d));
        break;
    case FNN_LOSS_POISSON:
        ELEMENTWISE_ROWS(1, SAME, SUF(fnn_pt_poisson)(y, p, &d));
        break;
    case FNN_LOSS_BINARY_CROSSENTROPY:
        ELEMENTWISE_ROWS(1, SMOOTH_HALF, SUF(fnn_pt_bce)(y, p, &d));
        break;
    case FNN_LOSS_SIGMOID_BINARY_CROSSENTROPY:
        ELEMENTWISE_ROWS(1, SMOOTH_HALF, SUF(fnn_pt_sigmoid_bce)(y, p, &d));
        break;
    case FNN_LOSS_BINARY_FOCAL_CROSSENTROPY:
        if (spec->from_logits)
            ELEMENTWISE_ROWS(1, SMOOTH_HALF,
                             SUF(fnn_pt_focal_logits)(y, p, gamma, alpha, balance, &d))
        else
            ELEMENTWISE_ROWS(1, SMOOTH_HALF, SUF(fnn_pt_focal)(y, p, gamma, alpha, balance, &d))
        break;
    case FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY:
    case FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY:
    case FNN_LOSS_DICE:
    case FNN_LOSS_TVERSKY:
    case FNN_LOSS_CATEGORICAL_HINGE:
    case FNN_LOSS_CATEGORICAL_CROSSENTROPY:
    case FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY:
    case FNN_LOSS_COSINE_SIMILARITY:
        for (size_t i = 0; i < n; i++) {
            const T *yr = y_true + i * c, *pr = y_pred + i * c;
            T *gr = grad_out ? grad_out + i * c : NULL;
            T f = (sample_weight ? sample_weight[i] : 1) * scale;
            T v;
            if (spec->loss == FNN_LOSS_CATEGORICAL_HINGE)
                v = SUF(categorical_hinge_row)(c, yr, pr, f, gr);
            else if (spec->loss == FNN_LOSS_CATEGORICAL_CROSSENTROPY)
                v = SUF(cce_row)(c, yr, pr, ls, f, gr);
            else if (spec->loss == FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY)
                v = SUF(softmax_cce_row)(c, yr, pr, ls, f, gr);
            else if (spec->loss == FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY)
                v = SUF(cfce_row)(c, yr, pr, ls, gamma, alpha, f, gr);
            else if (spec->loss == FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY)
                v = SUF(softmax_cfce_row)(c, yr, pr, ls, gamma, alpha, f, gr);
            else if (spec->loss == FNN_LOSS_DICE || spec->loss == FNN_LOSS_TVERSKY)
                v = SUF(overlap_row)(spec, c, yr, pr, f, gr);
            else
                v = SUF(cosine_row)(c, yr, pr, f, gr);
            values_out[i] = v;
        }
        break;
    default: /* sparse-label ids: fnn_sparse_loss_row; whole-batch ids: fnn_overlap_* */
        break;
    }
#undef SAME
#undef SMOOTH_HALF
#undef PLUS_MINUS
}

/* Sparse categorical cross-entropy of one row. On probabilities Keras clips p to [eps, 1 - eps]
 * and feeds log(p) to a softmax cross-entropy, which renormalises: log(sum pc) - log(pc_t); the
 * gradient is (pc_j / sum pc - [j == t]) / pc_j where p_j is not clipped, else 0. On logits it
 * is logsumexp(z) - z_t with gradient softmax(z) - onehot(t), finite for any finite z. */
T FNN_CLONES SUF(fnn_sparse_loss_row)(const fnn_loss_spec *spec, size_t c, size_t label,
                                      const T *y_pred, T weight, T *grad_out)
{
    if (spec->loss == FNN_LOSS_SOFTMAX_SPARSE_CATEGORICAL_CROSSENTROPY) {
        const T *z = y_pred;
        T m;
        double s = SUF(shifted_exp_sum)(c, z, &m, grad_out);
        if (grad_out) {
            T inv = (T)(1 / s);
            for (size_t j = 0; j < c; j++)
                grad_out[j] = weight * (grad_out[j] * inv - (j == label));
        }
        return (T)log(s) - (z[label] - m);
    }
    const T lo = EPS, hi = 1 - EPS;
    double s = 0;
    for (size_t j = 0; j < c; j++)
        s += SUF(fnn_loss_clip)(y_pred[j], lo, hi);
    T sum = (T)s;
    if (grad_out) {
        for (size_t j = 0; j < c; j++) {
            T p = y_pred[j], pc = SUF(fnn_loss_clip)(p, lo, hi);
            grad_out[j] = (p >= lo && p <= hi) ? weight * (pc / sum - (j == label)) / pc : 0;
        }
    }
    return (T)(log(s) - (double)log(SUF(fnn_loss_clip)(y_pred[label], lo, hi)));
}

#undef EPS
#undef ELEMENTWISE_ROWS
