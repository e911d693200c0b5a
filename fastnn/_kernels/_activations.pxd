# The activation kernels for other Cython modules (the engine): C declarations from fastnn.h
# and whole-matrix entry points that run without the GIL and split rows over threads.
from cython cimport floating

cdef extern from "fastnn.h":
    ctypedef enum fnn_activation:
        FNN_ACT_LINEAR
        FNN_ACT_RELU
        FNN_ACT_RELU6
        FNN_ACT_LEAKY_RELU
        FNN_ACT_ELU
        FNN_ACT_SELU
        FNN_ACT_SIGMOID
        FNN_ACT_HARD_SIGMOID
        FNN_ACT_HARD_SILU
        FNN_ACT_SILU
        FNN_ACT_GELU
        FNN_ACT_GELU_APPROXIMATE
        FNN_ACT_TANH
        FNN_ACT_SOFTPLUS
        FNN_ACT_SOFTSIGN
        FNN_ACT_EXPONENTIAL
        FNN_ACT_MISH
        FNN_ACT_SOFTMAX
        FNN_ACT_LOG_SOFTMAX
        FNN_ACT_COUNT

    ctypedef struct fnn_act_params:
        double negative_slope
        double max_value
        double threshold
        double alpha

    enum:
        FNN_ACT_NEEDS_Z
        FNN_ACT_NEEDS_A

    int fnn_act_needs(int act, const fnn_act_params *p) noexcept nogil
    void fnn_act_forward_f32(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                             const float *z, const float *bias, float *out,
                             float *zb_out) noexcept nogil
    void fnn_act_forward_f64(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                             const double *z, const double *bias, double *out,
                             double *zb_out) noexcept nogil
    void fnn_act_backward_f32(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                              const float *z, const float *a, const float *g,
                              float *dz) noexcept nogil
    void fnn_act_backward_f64(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                              const double *z, const double *a, const double *g,
                              double *dz) noexcept nogil


# out = f(z + bias) on a C-contiguous (rows, cols) matrix; bias (cols,) may be NULL; out may be
# z; zb_out, if not NULL, receives z + bias (may be z). Call with the GIL released.
cdef void act_forward(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                      const floating *z, const floating *bias, floating *out,
                      floating *zb_out, int n_threads) noexcept nogil

# dz = dL/dz from g = dL/da; reads z and/or a as fnn_act_needs says (the other may be NULL);
# dz may be g. Call with the GIL released.
cdef void act_backward(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                       const floating *z, const floating *a, const floating *g,
                       floating *dz, int n_threads) noexcept nogil
