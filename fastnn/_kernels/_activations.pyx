"""Activations: a fused bias + activation forward pass and its backward pass.

Design note
-----------
Forward computes ``out = f(z + bias)`` on a C-contiguous (rows, cols) matrix in one call, so the
engine applies it straight to the matmul output buffer (``out`` may be ``z``). Backward turns
``g = dL/da`` into ``dz = dL/dz`` and may overwrite ``g``. Which arrays backward reads is given by
``activation_needs``: most activations need only the output ``a`` (relu, sigmoid, tanh, softmax,
...), so the pre-activation can be overwritten; gelu, silu, mish, hard_silu, softsign and relu
with non-default parameters need ``z + bias`` (``zb_out`` keeps it during the forward pass).

Threads: the rows are cut into one contiguous block per thread and each block is one C call
(csrc/activations.c). Every output element, and every softmax row, is computed by the same code
in the same order whatever the block boundaries, so results are bitwise identical for any
thread count. Work below the serial cut-off (``threads_for``) runs on the calling thread,
outside any OpenMP region (libgomp makes a futex call even for a one-thread region).

Nothing here validates: callers pass C-contiguous arrays of matching shapes and dtype.
"""
from cython.parallel cimport prange

from fastnn._kernels._openmp cimport threads_for

ACTIVATIONS = {
    "linear": FNN_ACT_LINEAR,
    "relu": FNN_ACT_RELU,
    "relu6": FNN_ACT_RELU6,
    "leaky_relu": FNN_ACT_LEAKY_RELU,
    "elu": FNN_ACT_ELU,
    "selu": FNN_ACT_SELU,
    "sigmoid": FNN_ACT_SIGMOID,
    "hard_sigmoid": FNN_ACT_HARD_SIGMOID,
    "hard_silu": FNN_ACT_HARD_SILU,
    "hard_swish": FNN_ACT_HARD_SILU,
    "silu": FNN_ACT_SILU,
    "swish": FNN_ACT_SILU,
    "gelu": FNN_ACT_GELU,
    "gelu_approximate": FNN_ACT_GELU_APPROXIMATE,
    "tanh": FNN_ACT_TANH,
    "softplus": FNN_ACT_SOFTPLUS,
    "softsign": FNN_ACT_SOFTSIGN,
    "exponential": FNN_ACT_EXPONENTIAL,
    "mish": FNN_ACT_MISH,
    "softmax": FNN_ACT_SOFTMAX,
    "log_softmax": FNN_ACT_LOG_SOFTMAX,
}
"""Activation name -> id, with Keras 3's aliases swish and hard_swish."""

NEEDS_Z = FNN_ACT_NEEDS_Z
NEEDS_A = FNN_ACT_NEEDS_A


cdef inline fnn_act_params _params(double negative_slope, double max_value, double threshold,
                                   double alpha) noexcept:
    cdef fnn_act_params p
    p.negative_slope = negative_slope
    p.max_value = max_value
    p.threshold = threshold
    p.alpha = alpha
    return p


cdef inline void _forward_rows(int act, const fnn_act_params *p, Py_ssize_t start,
                               Py_ssize_t n, Py_ssize_t cols, const floating *z,
                               const floating *bias, floating *out,
                               floating *zb_out) noexcept nogil:
    """Rows [start, start + n) of act_forward."""
    if floating is float:
        fnn_act_forward_f32(act, p, n, cols, z + start * cols, bias, out + start * cols,
                            NULL if zb_out == NULL else zb_out + start * cols)
    else:
        fnn_act_forward_f64(act, p, n, cols, z + start * cols, bias, out + start * cols,
                            NULL if zb_out == NULL else zb_out + start * cols)


cdef void act_forward(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                      const floating *z, const floating *bias, floating *out,
                      floating *zb_out, int n_threads) noexcept nogil:
    cdef int nt = threads_for(rows * cols, n_threads)
    cdef Py_ssize_t block = (rows + nt - 1) // nt
    cdef Py_ssize_t b, start, n
    if nt == 1:  # no parallel region: even a one-thread region costs a futex call
        _forward_rows(act, p, 0, rows, cols, z, bias, out, zb_out)
        return
    for b in prange(nt, schedule="static", num_threads=nt):
        start = b * block
        n = min(block, rows - start)
        if n > 0:
            _forward_rows(act, p, start, n, cols, z, bias, out, zb_out)


cdef inline void _backward_rows(int act, const fnn_act_params *p, Py_ssize_t start,
                                Py_ssize_t n, Py_ssize_t cols, const floating *z,
                                const floating *a, const floating *g,
                                floating *dz) noexcept nogil:
    """Rows [start, start + n) of act_backward."""
    cdef const floating *zb = NULL if z == NULL else z + start * cols
    cdef const floating *ab = NULL if a == NULL else a + start * cols
    if floating is float:
        fnn_act_backward_f32(act, p, n, cols, zb, ab, g + start * cols, dz + start * cols)
    else:
        fnn_act_backward_f64(act, p, n, cols, zb, ab, g + start * cols, dz + start * cols)


cdef void act_backward(int act, const fnn_act_params *p, Py_ssize_t rows, Py_ssize_t cols,
                       const floating *z, const floating *a, const floating *g,
                       floating *dz, int n_threads) noexcept nogil:
    cdef int nt = threads_for(rows * cols, n_threads)
    cdef Py_ssize_t block = (rows + nt - 1) // nt
    cdef Py_ssize_t b, start, n
    if nt == 1:
        _backward_rows(act, p, 0, rows, cols, z, a, g, dz)
        return
    for b in prange(nt, schedule="static", num_threads=nt):
        start = b * block
        n = min(block, rows - start)
        if n > 0:
            _backward_rows(act, p, start, n, cols, z, a, g, dz)


def activation_needs(int act, double negative_slope, double max_value, double threshold,
                     double alpha):
    """Bit set of what `activation_backward` reads: NEEDS_Z (z + bias), NEEDS_A (output)."""
    cdef fnn_act_params p = _params(negative_slope, max_value, threshold, alpha)
    return fnn_act_needs(act, &p)


def activation_forward(int act, const floating[:, ::1] z, const floating[::1] bias,
                       floating[:, ::1] out, floating[:, ::1] zb_out, double negative_slope,
                       double max_value, double threshold, double alpha, int n_threads):
    """out = f(z + bias) row by row; bias and zb_out may be None; out (and zb_out) may be z.

    max_value = inf stands for Keras's None. zb_out, when given, receives z + bias.
    """
    cdef fnn_act_params p = _params(negative_slope, max_value, threshold, alpha)
    cdef Py_ssize_t rows = z.shape[0], cols = z.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef const floating *bias_p = NULL
    cdef floating *zb_p = NULL
    if bias is not None:
        bias_p = &bias[0]
    if zb_out is not None:
        zb_p = &zb_out[0, 0]
    with nogil:
        act_forward(act, &p, rows, cols, &z[0, 0], bias_p, &out[0, 0], zb_p, n_threads)


def activation_backward(int act, const floating[:, ::1] g, const floating[:, ::1] z,
                        const floating[:, ::1] a, floating[:, ::1] dz_out,
                        double negative_slope, double max_value, double threshold,
                        double alpha, int n_threads):
    """dz_out = dL/dz from g = dL/da; z (z + bias) or a (output) may be None when
    activation_needs says it is not read; dz_out may be g."""
    cdef fnn_act_params p = _params(negative_slope, max_value, threshold, alpha)
    cdef Py_ssize_t rows = g.shape[0], cols = g.shape[1]
    if rows == 0 or cols == 0:
        return
    cdef const floating *z_p = NULL
    cdef const floating *a_p = NULL
    if z is not None:
        z_p = &z[0, 0]
    if a is not None:
        a_p = &a[0, 0]
    with nogil:
        act_backward(act, &p, rows, cols, z_p, a_p, &g[0, 0], &dz_out[0, 0], n_threads)
