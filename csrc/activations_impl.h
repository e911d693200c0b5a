/* Body of the activation row kernels for one float type T, names suffixed by SUF().
 * Included by activations.c once per type; not a header of its own (no include guard).
 *
 * Elementwise activations run one flat loop over a whole block when there is no bias (the
 * block of rows is contiguous), else one loop per row after adding the bias into that row, so
 * the row is still in L1 when the activation reads it back. Both go through one call site of
 * map_forward: GCC if-converts (and so vectorizes) the inlined loops there, and did not at a
 * second, top-level call site. softmax and log_softmax reduce in
 * double, in index order: the result does not depend on how rows are split over threads.
 */

/* out[j] = EXPR(x) with x = src[j], j < n; src and out may be the same array. */
#define FNN_MAP(n, src, out, EXPR)                                                              \
    do {                                                                                        \
        for (ptrdiff_t j_ = 0; j_ < (n); ++j_) {                                                \
            const T x = (src)[j_];                                                              \
            (out)[j_] = (EXPR);                                                                 \
        }                                                                                       \
    } while (0)

/* Parameters converted to T once per call. */
typedef struct {
    SUF(fnn_relu_args) relu;
    int relu_plain;
    T negative_slope, alpha;
} SUF(act_args);

static inline SUF(act_args) SUF(act_args_from)(const fnn_act_params *p)
{
    SUF(act_args) r;
    r.relu.slope = (T)p->negative_slope;
    r.relu.max_value = (T)p->max_value;
    r.relu.threshold = (T)p->threshold;
    r.relu.has_max = relu_has_max(p);
    r.relu.relu6_grad = r.relu.has_max && p->max_value == 6 && p->threshold == 0;
    r.relu.leaky_grad = p->negative_slope != 0 && !r.relu.has_max && p->threshold == 0;
    r.relu_plain = relu_is_plain(p);
    r.negative_slope = (T)p->negative_slope;
    r.alpha = (T)p->alpha;
    return r;
}

/* out = f(src) for an elementwise activation over n values. */
FNN_ALWAYS_INLINE void SUF(map_forward)(int act, const SUF(act_args) *r, ptrdiff_t n,
                                        const T *src, T *out)
{
    switch (act) {
    case FNN_ACT_LINEAR:
        if (out != src)
            memmove(out, src, (size_t)n * sizeof(T));
        break;
    case FNN_ACT_RELU:
        if (r->relu_plain)
            FNN_MAP(n, src, out, SUF(fnn_relu)(x));
        else
            FNN_MAP(n, src, out, SUF(fnn_relu_keras)(x, &r->relu));
        break;
    case FNN_ACT_RELU6: FNN_MAP(n, src, out, SUF(fnn_relu6)(x)); break;
    case FNN_ACT_LEAKY_RELU: FNN_MAP(n, src, out, SUF(fnn_leaky_relu)(x, r->negative_slope)); break;
    case FNN_ACT_ELU: FNN_MAP(n, src, out, SUF(fnn_elu)(x, r->alpha)); break;
    case FNN_ACT_SELU: FNN_MAP(n, src, out, SUF(fnn_selu)(x)); break;
    case FNN_ACT_SIGMOID: FNN_MAP(n, src, out, SUF(fnn_sigmoid)(x)); break;
    case FNN_ACT_HARD_SIGMOID: FNN_MAP(n, src, out, SUF(fnn_hard_sigmoid)(x)); break;
    case FNN_ACT_HARD_SILU: FNN_MAP(n, src, out, SUF(fnn_hard_silu)(x)); break;
    case FNN_ACT_SILU: FNN_MAP(n, src, out, SUF(fnn_silu)(x)); break;
    case FNN_ACT_GELU: FNN_MAP(n, src, out, SUF(fnn_gelu)(x)); break;
    case FNN_ACT_GELU_APPROXIMATE: FNN_MAP(n, src, out, SUF(fnn_gelu_approximate)(x)); break;
    case FNN_ACT_TANH: FNN_MAP(n, src, out, SUF(fnn_tanh)(x)); break;
    case FNN_ACT_SOFTPLUS: FNN_MAP(n, src, out, SUF(fnn_softplus)(x)); break;
    case FNN_ACT_SOFTSIGN: FNN_MAP(n, src, out, SUF(fnn_softsign)(x)); break;
    case FNN_ACT_EXPONENTIAL: FNN_MAP(n, src, out, SUF(fnn_exponential)(x)); break;
    case FNN_ACT_MISH: FNN_MAP(n, src, out, SUF(fnn_mish)(x)); break;
    default: break;
    }
}

FNN_ALWAYS_INLINE T SUF(row_max)(ptrdiff_t n, const T *x)
{
    T m = x[0];
    for (ptrdiff_t j = 1; j < n; ++j)
        m = x[j] > m ? x[j] : m;
    return m;
}

/* Subtracting the row max keeps every exp in (0, 1]. The exps are one vectorized loop, their
 * sum a separate loop in double, in index order. */
FNN_ALWAYS_INLINE void SUF(softmax_row)(ptrdiff_t n, const T *x, T *out)
{
    const T m = SUF(row_max)(n, x);
    for (ptrdiff_t j = 0; j < n; ++j)
        out[j] = SUF(fnn_exp)(x[j] - m);
    double s = 0;
    for (ptrdiff_t j = 0; j < n; ++j)
        s += out[j];
    for (ptrdiff_t j = 0; j < n; ++j)
        out[j] = (T)(out[j] / s);
}

/* x - max - log(sum exp(x - max)), the subtraction done in double. out may be x, so the exps
 * go through a small buffer, one block at a time. */
FNN_ALWAYS_INLINE void SUF(log_softmax_row)(ptrdiff_t n, const T *x, T *out)
{
    enum { BLOCK = 256 };
    T e[BLOCK];
    const T m = SUF(row_max)(n, x);
    double s = 0;
    for (ptrdiff_t j0 = 0; j0 < n; j0 += BLOCK) {
        const ptrdiff_t nb = n - j0 < BLOCK ? n - j0 : BLOCK;
        for (ptrdiff_t j = 0; j < nb; ++j)
            e[j] = SUF(fnn_exp)(x[j0 + j] - m);
        for (ptrdiff_t j = 0; j < nb; ++j)
            s += e[j];
    }
    const double log_s = log(s);
    for (ptrdiff_t j = 0; j < n; ++j)
        out[j] = (T)(((double)x[j] - m) - log_s);
}

FNN_CLONES void SUF(fnn_act_forward)(int act, const fnn_act_params *p, ptrdiff_t rows,
                                     ptrdiff_t cols, const T *z, const T *bias, T *out,
                                     T *zb_out)
{
    const SUF(act_args) r = SUF(act_args_from)(p);
    const int rowwise = act == FNN_ACT_SOFTMAX || act == FNN_ACT_LOG_SOFTMAX;
    /* Without a bias an elementwise activation sees the block as one long row. */
    const int flat = !bias && !rowwise;
    const ptrdiff_t n_rows = flat ? 1 : rows, n_cols = flat ? rows * cols : cols;
    T *shifted = zb_out ? zb_out : out; /* where z + bias lands before f reads it */
    for (ptrdiff_t i = 0; i < n_rows; ++i) {
        const T *x = z + i * n_cols;
        T *o = out + i * n_cols;
        if (bias) {
            T *sh = shifted + i * n_cols;
            for (ptrdiff_t j = 0; j < n_cols; ++j)
                sh[j] = x[j] + bias[j];
            x = sh;
        } else if (zb_out && zb_out != z) {
            memmove(zb_out + i * n_cols, x, (size_t)n_cols * sizeof(T));
        }
        if (act == FNN_ACT_SOFTMAX)
            SUF(softmax_row)(n_cols, x, o);
        else if (act == FNN_ACT_LOG_SOFTMAX)
            SUF(log_softmax_row)(n_cols, x, o);
        else
            SUF(map_forward)(act, &r, n_cols, x, o);
    }
}

/* dz = g * EXPR(x) with x = src[j]; dz and g may be the same array. */
#define FNN_MAP_G(src, EXPR) FNN_MAP(n, src, dz, g[j_] * (EXPR))

FNN_CLONES void SUF(fnn_act_backward)(int act, const fnn_act_params *p, ptrdiff_t rows,
                                      ptrdiff_t cols, const T *z, const T *a, const T *g, T *dz)
{
    const SUF(act_args) r = SUF(act_args_from)(p);
    const ptrdiff_t n = rows * cols;
    switch (act) {
    case FNN_ACT_LINEAR:
        if (dz != g)
            memmove(dz, g, (size_t)n * sizeof(T));
        break;
    case FNN_ACT_RELU:
        if (r.relu_plain)
            FNN_MAP_G(a, SUF(fnn_relu_grad_a)(x));
        else
            FNN_MAP_G(z, SUF(fnn_relu_keras_grad_z)(x, &r.relu));
        break;
    case FNN_ACT_RELU6: FNN_MAP_G(a, SUF(fnn_relu6_grad_a)(x)); break;
    case FNN_ACT_LEAKY_RELU:
        if (r.negative_slope >= 0)
            FNN_MAP_G(a, SUF(fnn_leaky_relu_grad_a)(x, r.negative_slope));
        else
            FNN_MAP_G(z, SUF(fnn_leaky_relu_grad_z)(x, r.negative_slope));
        break;
    case FNN_ACT_ELU:
        if (r.alpha >= 0)
            FNN_MAP_G(a, SUF(fnn_elu_grad_a)(x, r.alpha));
        else
            FNN_MAP_G(z, SUF(fnn_elu_grad_z)(x, r.alpha));
        break;
    case FNN_ACT_SELU: FNN_MAP_G(a, SUF(fnn_selu_grad_a)(x)); break;
    case FNN_ACT_SIGMOID: FNN_MAP_G(a, SUF(fnn_sigmoid_grad_a)(x)); break;
    case FNN_ACT_HARD_SIGMOID: FNN_MAP_G(a, SUF(fnn_hard_sigmoid_grad_a)(x)); break;
    case FNN_ACT_HARD_SILU: FNN_MAP_G(z, SUF(fnn_hard_silu_grad_z)(x)); break;
    case FNN_ACT_SILU: FNN_MAP_G(z, SUF(fnn_silu_grad_z)(x)); break;
    case FNN_ACT_GELU: FNN_MAP_G(z, SUF(fnn_gelu_grad_z)(x)); break;
    case FNN_ACT_GELU_APPROXIMATE: FNN_MAP_G(z, SUF(fnn_gelu_approximate_grad_z)(x)); break;
    case FNN_ACT_TANH: FNN_MAP_G(a, SUF(fnn_tanh_grad_a)(x)); break;
    case FNN_ACT_SOFTPLUS: FNN_MAP_G(a, SUF(fnn_softplus_grad_a)(x)); break;
    case FNN_ACT_SOFTSIGN: FNN_MAP_G(z, SUF(fnn_softsign_grad_z)(x)); break;
    case FNN_ACT_EXPONENTIAL: FNN_MAP_G(a, x); break;
    case FNN_ACT_MISH: FNN_MAP_G(z, SUF(fnn_mish_grad_z)(x)); break;
    case FNN_ACT_SOFTMAX: /* dz = a (g - sum_j g_j a_j) */
        for (ptrdiff_t i = 0; i < rows; ++i) {
            const T *ai = a + i * cols, *gi = g + i * cols;
            T *di = dz + i * cols;
            double dot = 0;
            for (ptrdiff_t j = 0; j < cols; ++j)
                dot += (double)gi[j] * ai[j];
            for (ptrdiff_t j = 0; j < cols; ++j)
                di[j] = (T)(ai[j] * (gi[j] - dot));
        }
        break;
    case FNN_ACT_LOG_SOFTMAX: /* dz = g - softmax(z) sum_j g_j, softmax(z) = exp(a) */
        for (ptrdiff_t i = 0; i < rows; ++i) {
            const T *ai = a + i * cols, *gi = g + i * cols;
            T *di = dz + i * cols;
            double sum = 0;
            for (ptrdiff_t j = 0; j < cols; ++j)
                sum += gi[j];
            for (ptrdiff_t j = 0; j < cols; ++j)
                di[j] = (T)(gi[j] - SUF(fnn_exp)(ai[j]) * sum);
        }
        break;
    default: break;
    }
}

#undef FNN_MAP_G
#undef FNN_MAP
