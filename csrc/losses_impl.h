/* Row kernels of the losses, one body for float and double (included by losses.c with T and
 * SUF defined). Each row is computed on its own, start to end, by the same code whatever rows
 * surround it, so splitting rows across threads never changes a bit. Row sums accumulate in
 * double, in column order.
 */

#define EPS ((T)1e-7)

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
    if (g) {
        T t = (T)aq, fs = f / sum;
        for (size_t j = 0; j < c; j++)
            g[j] = fs * (g[j] - t);
    }
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
            else
                v = SUF(cosine_row)(c, yr, pr, f, gr);
            values_out[i] = v;
        }
        break;
    default: /* the sparse-label ids go through fnn_sparse_loss_row */
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
