# cdef entry points of the optimizer steps for the engine, callable without the GIL. Each is
# one fused in-place pass over n parameters w, their gradient g and slot buffers of length n
# (the flat parameter buffer or any slice of it); a slot passed as NULL turns its feature off.
# Scalars: lr already evaluated from any schedule, t = iterations + 1, weight_decay 0 = off,
# grad_scale / clip_value fold clipnorm-global_clipnorm / clipvalue into the step (1 / inf =
# off). Same bits for any n_threads. See _optimizers.pyx for the design and each rule.
from cython cimport floating


cdef void sgd_update_nogil(floating *w, const floating *g, floating *m, Py_ssize_t n, double lr,
                           double momentum, bint nesterov, double weight_decay,
                           double grad_scale, double clip_value, int n_threads) noexcept nogil
cdef void adam_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                            floating *vhat, Py_ssize_t n, double lr, double beta_1,
                            double beta_2, double epsilon, long t, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil
cdef void rmsprop_update_nogil(floating *w, const floating *g, floating *v, floating *avg_g,
                               floating *mom, Py_ssize_t n, double lr, double rho,
                               double momentum, double epsilon, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil
cdef void adagrad_update_nogil(floating *w, const floating *g, floating *acc, Py_ssize_t n,
                               double lr, double epsilon, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil
cdef void adadelta_update_nogil(floating *w, const floating *g, floating *acc_g,
                                floating *acc_delta, Py_ssize_t n, double lr, double rho,
                                double epsilon, double weight_decay, double grad_scale,
                                double clip_value, int n_threads) noexcept nogil
cdef void adamax_update_nogil(floating *w, const floating *g, floating *m, floating *u,
                              Py_ssize_t n, double lr, double beta_1, double beta_2,
                              double epsilon, long t, double weight_decay, double grad_scale,
                              double clip_value, int n_threads) noexcept nogil
cdef double nadam_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                               Py_ssize_t n, double lr, double beta_1, double beta_2,
                               double epsilon, long t, double u_product, double weight_decay,
                               double grad_scale, double clip_value,
                               int n_threads) noexcept nogil
cdef void lion_update_nogil(floating *w, const floating *g, floating *m, Py_ssize_t n,
                            double lr, double beta_1, double beta_2, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil
cdef void ftrl_update_nogil(floating *w, const floating *g, floating *acc, floating *lin,
                            Py_ssize_t n, double lr, double lr_power, double l1, double l2,
                            double l2_shrinkage, double beta, double weight_decay,
                            double grad_scale, double clip_value, int n_threads) noexcept nogil
cdef void lamb_update_nogil(floating *w, const floating *g, floating *m, floating *v,
                            Py_ssize_t n, double lr, double beta_1, double beta_2,
                            double epsilon, long t, double weight_decay, double grad_scale,
                            double clip_value, int n_threads) noexcept nogil
