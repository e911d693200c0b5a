"""Optimizer steps: Keras 3's update rules (shared/reference/keras.md 5.2), fused and in place.

What it computes. One function per optimizer updates a flat parameter buffer w in place from
its gradient g and its slot buffers (same length as w), in one pass: per element it takes the
gradient after clipping, g' = clip(g * grad_scale, -clip_value, clip_value), decays the weight,
w' = w - w * weight_decay * lr (Keras's decoupled decay, before the step, for every optimizer:
AdamW is adam_update with weight_decay > 0), then applies the rule (csrc/optimizers_point.h).
lr is the step's learning rate, already evaluated from any schedule; t = iterations + 1.

Clipping. clipvalue folds in as clip_value; clipnorm and global_clipnorm fold in as
grad_scale = c / max(norm, c) (resp. c * min(1 / global_norm, 1 / c)) computed by the caller
with _reductions.l2_norm. That saves a read and a write of the whole gradient per step. A
per-tensor clipnorm over a flat buffer calls the step once per tensor slice with its own scale
(or scales the slices with _reductions.scale_inplace first). grad_scale = 1 and
clip_value = inf are exact no-ops.

Optional slots. A slot passed as None (NULL in the cdef API) turns its feature off, so the
caller allocates exactly the slots Keras creates: sgd m (momentum != 0), adam vhat (amsgrad),
rmsprop avg_g (centered) and mom (momentum > 0). Adagrad's acc must be filled with
initial_accumulator_value by the caller before the first step.

Nadam's running product. nadam_update takes u_product = prod_{k<t} mu_k (1.0 before the first
step, the value Keras keeps in `_u_product`), computes mu_t = beta_1 (1 - 0.5 * 0.96**t) and
mu_{t+1} from t, and returns the product including step t, u_product * mu_t, for the caller to
keep for step t + 1. A step applied in several calls (tensor slices) passes the same u_product
to each and keeps the return value once.

Precision. Step-dependent scalars (Adam's alpha = lr sqrt(1 - beta_2**t) / (1 - beta_1**t),
Adamax's, Nadam's corrections) are computed once per call, in double, as Keras computes them,
then rounded to the buffer's dtype; the per-element arithmetic stays in the buffer's dtype in
Keras's own operation order.

How it threads. The buffer is cut into CHUNK-element chunks handed out by a static prange;
small buffers run the same chunks in order on the calling thread, outside any OpenMP region
(threads_for). The rules are elementwise, so any split gives the same bits.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport pow, sqrt

from fastnn._kernels._openmp cimport threads_for

cdef extern from "fastnn.h":
    enum:
        FNN_OPT_SGD
        FNN_OPT_ADAM
        FNN_OPT_RMSPROP
        FNN_OPT_ADAGRAD
        FNN_OPT_ADADELTA
        FNN_OPT_ADAMAX
        FNN_OPT_NADAM
        FNN_OPT_LION
        FNN_OPT_FTRL
    ctypedef struct fnn_opt_step:
        int rule, flag
        double lr, a, b, c, d, e, f
        double wd_lr, grad_scale, clip_value
    void fnn_opt_step_chunk_f32(const fnn_opt_step *s, float *w, const float *g, float *s0,
                                float *s1, float *s2, size_t n) noexcept nogil
    void fnn_opt_step_chunk_f64(const fnn_opt_step *s, double *w, const double *g,
                                double *s0, double *s1, double *s2, size_t n) noexcept nogil
    void fnn_lamb_moments_chunk_f32(float *w, const float *g, float *m, float *v, size_t n,
                                    float beta_1, float beta_2, float epsilon, float one_m_b1t,
                                    float one_m_b2t, float wd_lr, float grad_scale,
                                    float clip_value, double *sums) noexcept nogil
    void fnn_lamb_moments_chunk_f64(double *w, const double *g, double *m, double *v,
                                    size_t n, double beta_1, double beta_2, double epsilon,
                                    double one_m_b1t, double one_m_b2t, double wd_lr,
                                    double grad_scale, double clip_value,
                                    double *sums) noexcept nogil
    void fnn_lamb_apply_chunk_f32(float *w, const float *m, const float *v, size_t n,
                                  float ratio_lr, float one_m_b1t, float one_m_b2t,
                                  float epsilon) noexcept nogil
    void fnn_lamb_apply_chunk_f64(double *w, const double *m, const double *v, size_t n,
                                  double ratio_lr, double one_m_b1t, double one_m_b2t,
                                  double epsilon) noexcept nogil


# Elements per prange task: a chunk of Adam's five buffers (80 KB in float32) stays in L2.
# Any value gives the same bits.
cdef enum:
    CHUNK = 4096


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n) noexcept nogil:
    return (n + CHUNK - 1) // CHUNK


cdef inline Py_ssize_t _len(Py_ssize_t n, Py_ssize_t c) noexcept nogil:
    return min(<Py_ssize_t> CHUNK, n - c * CHUNK)


cdef inline floating *_at(floating *p, Py_ssize_t o) noexcept nogil:
    """p + o for an optional slot: NULL stays NULL."""
    return NULL if p == NULL else p + o


cdef inline floating *_opt(floating[::1] a):
    return NULL if a is None else &a[0]


cdef inline void _chunk(const fnn_opt_step *s, floating *w, const floating *g, floating *s0,
                        floating *s1, floating *s2, Py_ssize_t o,
                        Py_ssize_t n) noexcept nogil:
    """Elements [o, o + n) of one step (csrc's dispatcher calls the rule's kernel)."""
    if floating is float:
        fnn_opt_step_chunk_f32(s, w + o, g + o, _at(s0, o), _at(s1, o), _at(s2, o), n)
    else:
        fnn_opt_step_chunk_f64(s, w + o, g + o, _at(s0, o), _at(s1, o), _at(s2, o), n)


cdef void _apply(fnn_opt_step *s, floating *w, const floating *g, floating *s0, floating *s1,
                 floating *s2, Py_ssize_t n, double weight_decay, double grad_scale,
                 double clip_value, int n_threads) noexcept nogil:
    """Run step `s` over the n elements: CHUNK-element tasks over a static prange, or the
    same chunks in order on this thread, outside any OpenMP region, below the cut-off."""
    cdef Py_ssize_t c
    cdef int nt = threads_for(n, n_threads)
    s.wd_lr = weight_decay * s.lr
    s.grad_scale = grad_scale
    s.clip_value = clip_value
    if nt == 1:  # even a one-thread region costs libgomp a futex call
        for c in range(_n_chunks(n)):
            _chunk(s, w, g, s0, s1, s2, c * CHUNK, _len(n, c))
        return
    for c in prange(_n_chunks(n), schedule="static", num_threads=nt):
        _chunk(s, w, g, s0, s1, s2, c * CHUNK, _len(n, c))


cdef void sgd_update_nogil(floating *w, const floating *g, floating *m, Py_ssize_t n, double lr,
                           double momentum, bint nesterov, double weight_decay,
                           double grad_scale, double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.flag = FNN_OPT_SGD, lr, momentum, nesterov
    _apply(&s, w, g, m, <floating *> NULL, <floating *> NULL, n, weight_decay, grad_scale,
           clip_value, n_threads)


cdef void adam_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                            floating *vhat, Py_ssize_t n, double lr, double beta_1,
                            double beta_2, double epsilon, long t, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.b, s.c, s.d = FNN_OPT_ADAM, lr, beta_1, beta_2, epsilon
    s.a = lr * sqrt(1 - pow(beta_2, t)) / (1 - pow(beta_1, t))  # the step size alpha
    _apply(&s, w, g, m, v, vhat, n, weight_decay, grad_scale, clip_value, n_threads)


cdef void rmsprop_update_nogil(floating *w, const floating *g, floating *v, floating *avg_g,
                               floating *mom, Py_ssize_t n, double lr, double rho,
                               double momentum, double epsilon, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.b, s.c = FNN_OPT_RMSPROP, lr, rho, momentum, epsilon
    _apply(&s, w, g, v, avg_g, mom, n, weight_decay, grad_scale, clip_value, n_threads)


cdef void adagrad_update_nogil(floating *w, const floating *g, floating *acc, Py_ssize_t n,
                               double lr, double epsilon, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a = FNN_OPT_ADAGRAD, lr, epsilon
    _apply(&s, w, g, acc, <floating *> NULL, <floating *> NULL, n, weight_decay, grad_scale,
           clip_value, n_threads)


cdef void adadelta_update_nogil(floating *w, const floating *g, floating *acc_g,
                                floating *acc_delta, Py_ssize_t n, double lr, double rho,
                                double epsilon, double weight_decay, double grad_scale,
                                double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.b = FNN_OPT_ADADELTA, lr, rho, epsilon
    _apply(&s, w, g, acc_g, acc_delta, <floating *> NULL, n, weight_decay, grad_scale,
           clip_value, n_threads)


cdef void adamax_update_nogil(floating *w, const floating *g, floating *m, floating *u,
                              Py_ssize_t n, double lr, double beta_1, double beta_2,
                              double epsilon, long t, double weight_decay, double grad_scale,
                              double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.b, s.c, s.d = FNN_OPT_ADAMAX, lr, beta_1, beta_2, epsilon
    s.a = lr / (1 - pow(beta_1, t))  # the step size alpha
    _apply(&s, w, g, m, u, <floating *> NULL, n, weight_decay, grad_scale, clip_value,
           n_threads)


cdef double nadam_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                               Py_ssize_t n, double lr, double beta_1, double beta_2,
                               double epsilon, long t, double u_product, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil:
    cdef double mu_t = beta_1 * (1 - 0.5 * pow(0.96, t))
    cdef double mu_next = beta_1 * (1 - 0.5 * pow(0.96, t + 1))
    cdef double product = u_product * mu_t
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.b, s.c = FNN_OPT_NADAM, lr, beta_1, beta_2, epsilon
    s.d = mu_next / (1 - product * mu_next)  # coefficient of m
    s.e = (1 - mu_t) / (1 - product)         # coefficient of g
    s.f = 1 - pow(beta_2, t)
    _apply(&s, w, g, m, v, <floating *> NULL, n, weight_decay, grad_scale, clip_value,
           n_threads)
    return product


cdef void lion_update_nogil(floating *w, const floating *g, floating *m, Py_ssize_t n,
                            double lr, double beta_1, double beta_2, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.b = FNN_OPT_LION, lr, beta_1, beta_2
    _apply(&s, w, g, m, <floating *> NULL, <floating *> NULL, n, weight_decay, grad_scale,
           clip_value, n_threads)


cdef void ftrl_update_nogil(floating *w, const floating *g, floating *acc, floating *lin,
                            Py_ssize_t n, double lr, double lr_power, double l1, double l2,
                            double l2_shrinkage, double beta, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil:
    cdef fnn_opt_step s
    s.rule, s.lr, s.a, s.b, s.d = FNN_OPT_FTRL, lr, lr_power, l1, l2_shrinkage
    s.c = l2 + beta / (2.0 * lr)  # Keras's l2_reg
    _apply(&s, w, g, acc, lin, <floating *> NULL, n, weight_decay, grad_scale, clip_value,
           n_threads)


cdef inline void _lamb_moments(floating *w, const floating *g, floating *m, floating *v,
                               Py_ssize_t o, Py_ssize_t n, double b1, double b2, double eps,
                               double c1, double c2, double wd_lr, double scale, double clip,
                               double *sums) noexcept nogil:
    if floating is float:
        fnn_lamb_moments_chunk_f32(w + o, g + o, m + o, v + o, n, b1, b2, eps, c1, c2, wd_lr,
                                   scale, clip, sums)
    else:
        fnn_lamb_moments_chunk_f64(w + o, g + o, m + o, v + o, n, b1, b2, eps, c1, c2, wd_lr,
                                   scale, clip, sums)


cdef inline void _lamb_apply(floating *w, const floating *m, const floating *v, Py_ssize_t o,
                             Py_ssize_t n, double ratio_lr, double c1, double c2,
                             double eps) noexcept nogil:
    if floating is float:
        fnn_lamb_apply_chunk_f32(w + o, m + o, v + o, n, ratio_lr, c1, c2, eps)
    else:
        fnn_lamb_apply_chunk_f64(w + o, m + o, v + o, n, ratio_lr, c1, c2, eps)


cdef enum:
    LAMB_BLOCK = 256  # chunks whose sums one pass of Lamb's first loop keeps on the stack


cdef void lamb_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                            Py_ssize_t n, double lr, double beta_1, double beta_2,
                            double epsilon, long t, double weight_decay, double grad_scale,
                            double clip_value, int n_threads) noexcept nogil:
    """One Lamb step of one variable (n elements).

    Its trust ratio |w'| / |update| needs the variable's two norms before any weight moves:
    a first pass updates the moments and sums the squares per chunk, blocks of LAMB_BLOCK
    chunks at a time into a stack array; the chunks' sums are added in chunk order (the same
    bits for any thread count), then a second pass applies the scaled update."""
    cdef Py_ssize_t c, b, nb, n_chunks = _n_chunks(n)
    cdef int nt = threads_for(n, n_threads)
    cdef double c1 = 1 - pow(beta_1, t), c2 = 1 - pow(beta_2, t), wd_lr = weight_decay * lr
    cdef double sw = 0.0, su = 0.0, ratio = 1.0
    cdef double sums[2 * LAMB_BLOCK]
    b = 0
    while b < n_chunks:
        nb = min(<Py_ssize_t> LAMB_BLOCK, n_chunks - b)
        if nt == 1:
            for c in range(b, b + nb):
                _lamb_moments(w, g, m, v, c * CHUNK, _len(n, c), beta_1, beta_2, epsilon,
                              c1, c2, wd_lr, grad_scale, clip_value, &sums[2 * (c - b)])
        else:
            for c in prange(b, b + nb, schedule="static", num_threads=nt):
                _lamb_moments(w, g, m, v, c * CHUNK, _len(n, c), beta_1, beta_2, epsilon,
                              c1, c2, wd_lr, grad_scale, clip_value, &sums[2 * (c - b)])
        for c in range(nb):
            sw += sums[2 * c]
            su += sums[2 * c + 1]
        b += nb
    if sw > 0 and su > 0:  # Keras: ratio 1 unless both norms are positive
        ratio = sqrt(sw) / sqrt(su)
    if nt == 1:
        for c in range(n_chunks):
            _lamb_apply(w, m, v, c * CHUNK, _len(n, c), ratio * lr, c1, c2, epsilon)
    else:
        for c in prange(n_chunks, schedule="static", num_threads=nt):
            _lamb_apply(w, m, v, c * CHUNK, _len(n, c), ratio * lr, c1, c2, epsilon)


def sgd_update(floating[::1] w, const floating[::1] g, floating[::1] m, double lr,
               double momentum, bint nesterov, double weight_decay, double grad_scale,
               double clip_value, int n_threads):
    """SGD step in place; m (momentum buffer) None when momentum == 0."""
    cdef floating *m_p = _opt(m)
    with nogil:
        sgd_update_nogil(&w[0], &g[0], m_p, w.shape[0], lr, momentum, nesterov, weight_decay,
                         grad_scale, clip_value, n_threads)


def adam_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                floating[::1] vhat, double lr, double beta_1, double beta_2, double epsilon,
                long t, double weight_decay, double grad_scale, double clip_value,
                int n_threads):
    """Adam (AdamW with weight_decay > 0) step in place; vhat None unless amsgrad."""
    cdef floating *vhat_p = _opt(vhat)
    with nogil:
        adam_update_nogil(&w[0], &g[0], &m[0], &v[0], vhat_p, w.shape[0], lr, beta_1, beta_2,
                          epsilon, t, weight_decay, grad_scale, clip_value, n_threads)


def rmsprop_update(floating[::1] w, const floating[::1] g, floating[::1] v,
                   floating[::1] avg_g, floating[::1] mom, double lr, double rho,
                   double momentum, double epsilon, double weight_decay, double grad_scale,
                   double clip_value, int n_threads):
    """RMSprop step in place; avg_g None unless centered, mom None when momentum == 0."""
    cdef floating *avg_g_p = _opt(avg_g)
    cdef floating *mom_p = _opt(mom)
    with nogil:
        rmsprop_update_nogil(&w[0], &g[0], &v[0], avg_g_p, mom_p, w.shape[0], lr, rho,
                             momentum, epsilon, weight_decay, grad_scale, clip_value, n_threads)


def adagrad_update(floating[::1] w, const floating[::1] g, floating[::1] acc, double lr,
                   double epsilon, double weight_decay, double grad_scale, double clip_value,
                   int n_threads):
    """Adagrad step in place; acc starts filled with initial_accumulator_value."""
    with nogil:
        adagrad_update_nogil(&w[0], &g[0], &acc[0], w.shape[0], lr, epsilon, weight_decay,
                             grad_scale, clip_value, n_threads)


def adadelta_update(floating[::1] w, const floating[::1] g, floating[::1] acc_g,
                    floating[::1] acc_delta, double lr, double rho, double epsilon,
                    double weight_decay, double grad_scale, double clip_value, int n_threads):
    """Adadelta step in place (acc_g: running mean of g**2, acc_delta: of the updates**2)."""
    with nogil:
        adadelta_update_nogil(&w[0], &g[0], &acc_g[0], &acc_delta[0], w.shape[0], lr, rho,
                              epsilon, weight_decay, grad_scale, clip_value, n_threads)


def adamax_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] u,
                  double lr, double beta_1, double beta_2, double epsilon, long t,
                  double weight_decay, double grad_scale, double clip_value, int n_threads):
    """Adamax step in place (u: the exponentially weighted infinity norm)."""
    with nogil:
        adamax_update_nogil(&w[0], &g[0], &m[0], &u[0], w.shape[0], lr, beta_1, beta_2, epsilon,
                            t, weight_decay, grad_scale, clip_value, n_threads)


def nadam_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                 double lr, double beta_1, double beta_2, double epsilon, long t,
                 double u_product, double weight_decay, double grad_scale, double clip_value,
                 int n_threads):
    """Nadam step in place; u_product = prod of mu_k for k < t (1.0 at t = 1). Returns the
    product through step t, to pass at step t + 1."""
    cdef double product
    with nogil:
        product = nadam_update_nogil(&w[0], &g[0], &m[0], &v[0], w.shape[0], lr, beta_1,
                                     beta_2, epsilon, t, u_product, weight_decay, grad_scale,
                                     clip_value, n_threads)
    return product


def lion_update(floating[::1] w, const floating[::1] g, floating[::1] m, double lr,
                double beta_1, double beta_2, double weight_decay, double grad_scale,
                double clip_value, int n_threads):
    """Lion step in place."""
    with nogil:
        lion_update_nogil(&w[0], &g[0], &m[0], w.shape[0], lr, beta_1, beta_2, weight_decay,
                          grad_scale, clip_value, n_threads)


def ftrl_update(floating[::1] w, const floating[::1] g, floating[::1] acc, floating[::1] lin,
                double lr, double lr_power, double l1, double l2, double l2_shrinkage,
                double beta, double weight_decay, double grad_scale, double clip_value,
                int n_threads):
    """Ftrl step in place; acc starts filled with initial_accumulator_value, lin with 0."""
    with nogil:
        ftrl_update_nogil(&w[0], &g[0], &acc[0], &lin[0], w.shape[0], lr, lr_power, l1, l2,
                          l2_shrinkage, beta, weight_decay, grad_scale, clip_value, n_threads)


def lamb_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                double lr, double beta_1, double beta_2, double epsilon, long t,
                double weight_decay, double grad_scale, double clip_value, int n_threads):
    """Lamb step in place on one whole variable (its trust ratio uses the norms of all of w)."""
    with nogil:
        lamb_update_nogil(&w[0], &g[0], &m[0], &v[0], w.shape[0], lr, beta_1, beta_2, epsilon,
                          t, weight_decay, grad_scale, clip_value, n_threads)
