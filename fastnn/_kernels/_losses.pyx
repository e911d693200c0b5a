"""Losses: per-sample values and their gradients with respect to the predictions, in one pass.

Design note. Every loss of Keras 3 (shared/reference/keras.md section 3) plus the fused
softmax / sigmoid cross-entropies computed from logits. One call fills `values_out[i]` with the
per-sample loss (reduced over the last axis the Keras way) and, when asked, `grad_out[i, :]`
with d values_out[i] / d y_pred[i, :] times sample_weight[i] times `scale`; with
scale = 1 / batch_size that is the gradient of Keras's "sum_over_batch_size" loss. Values are
not weighted. The C row kernels (csrc/losses.c) do the arithmetic.

Threads: rows are independent, so the rows are cut into one contiguous block per thread and
each block is one C call (dense labels) or one C call per row (sparse labels, whose label
type varies). Each row is computed by the same code whatever block it falls in, so the result
is bitwise the same for any thread count. Below the serial cut-off (threads_for) no parallel
region is opened.
"""

from cython.parallel cimport prange

from fastnn._kernels._openmp cimport threads_for

LOSS_IDS = {
    "mean_squared_error": FNN_LOSS_MEAN_SQUARED_ERROR,
    "mean_absolute_error": FNN_LOSS_MEAN_ABSOLUTE_ERROR,
    "mean_absolute_percentage_error": FNN_LOSS_MEAN_ABSOLUTE_PERCENTAGE_ERROR,
    "mean_squared_logarithmic_error": FNN_LOSS_MEAN_SQUARED_LOGARITHMIC_ERROR,
    "squared_hinge": FNN_LOSS_SQUARED_HINGE,
    "hinge": FNN_LOSS_HINGE,
    "categorical_hinge": FNN_LOSS_CATEGORICAL_HINGE,
    "log_cosh": FNN_LOSS_LOG_COSH,
    "categorical_crossentropy": FNN_LOSS_CATEGORICAL_CROSSENTROPY,
    "sparse_categorical_crossentropy": FNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
    "binary_crossentropy": FNN_LOSS_BINARY_CROSSENTROPY,
    "kl_divergence": FNN_LOSS_KL_DIVERGENCE,
    "poisson": FNN_LOSS_POISSON,
    "cosine_similarity": FNN_LOSS_COSINE_SIMILARITY,
    "huber": FNN_LOSS_HUBER,
    "binary_focal_crossentropy": FNN_LOSS_BINARY_FOCAL_CROSSENTROPY,
    "softmax_categorical_crossentropy": FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY,
    "softmax_sparse_categorical_crossentropy": FNN_LOSS_SOFTMAX_SPARSE_CATEGORICAL_CROSSENTROPY,
    "sigmoid_binary_crossentropy": FNN_LOSS_SIGMOID_BINARY_CROSSENTROPY,
    "categorical_focal_crossentropy": FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY,
    "softmax_categorical_focal_crossentropy": FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY,
    "dice": FNN_LOSS_DICE,
    "tversky": FNN_LOSS_TVERSKY,
    "dice_batch": FNN_LOSS_DICE_BATCH,
    "tversky_batch": FNN_LOSS_TVERSKY_BATCH,
}


cdef fnn_loss_spec loss_spec(int loss, double label_smoothing, double delta, double gamma,
                             double alpha, bint apply_class_balancing, bint from_logits,
                             bint hinge_binary_labels, double beta) noexcept nogil:
    cdef fnn_loss_spec spec
    spec.beta = beta
    spec.loss = loss
    spec.label_smoothing = label_smoothing
    spec.delta = delta
    spec.gamma = gamma
    spec.alpha = alpha
    spec.apply_class_balancing = apply_class_balancing
    spec.from_logits = from_logits
    spec.hinge_binary_labels = hinge_binary_labels
    return spec


cdef inline void _dense_block(const fnn_loss_spec *spec, Py_ssize_t lo, Py_ssize_t hi,
                              Py_ssize_t c, const floating *y_true, const floating *y_pred,
                              const floating *sample_weight, double scale,
                              floating *values_out, floating *grad_out) noexcept nogil:
    cdef const floating *sw = sample_weight + lo if sample_weight != NULL else NULL
    cdef floating *g = grad_out + lo * c if grad_out != NULL else NULL
    if floating is float:
        fnn_loss_rows_f32(spec, hi - lo, c, y_true + lo * c, y_pred + lo * c, sw,
                          <float>scale, values_out + lo, g)
    else:
        fnn_loss_rows_f64(spec, hi - lo, c, y_true + lo * c, y_pred + lo * c, sw,
                          scale, values_out + lo, g)


cdef void loss_rows(const fnn_loss_spec *spec, Py_ssize_t n, Py_ssize_t c,
                    const floating *y_true, const floating *y_pred,
                    const floating *sample_weight, double scale, floating *values_out,
                    floating *grad_out, int n_threads) noexcept nogil:
    """Dense-label loss of n rows of width c; sample_weight and grad_out may be NULL."""
    cdef int nt = threads_for(n * c, n_threads)
    cdef Py_ssize_t k
    if spec.loss == FNN_LOSS_DICE_BATCH or spec.loss == FNN_LOSS_TVERSKY_BATCH:
        _whole_batch(spec, n, c, y_true, y_pred, sample_weight, scale, values_out, grad_out,
                     nt)
        return
    if nt == 1:
        _dense_block(spec, 0, n, c, y_true, y_pred, sample_weight, scale, values_out, grad_out)
        return
    for k in prange(nt, schedule="static", num_threads=nt):
        _dense_block(spec, n * k // nt, n * (k + 1) // nt, c, y_true, y_pred, sample_weight,
                     scale, values_out, grad_out)


cdef void _whole_batch(const fnn_loss_spec *spec, Py_ssize_t n, Py_ssize_t c,
                       const floating *y_true, const floating *y_pred,
                       const floating *sample_weight, double scale, floating *values_out,
                       floating *grad_out, int nt) noexcept nogil:
    """Dice / Tversky with axis=None: one value V for the batch, written to every row (the
    engine's weighted mean of the rows is then V times the mean sample weight, as Keras
    broadcasts the weights over the one value), and the gradient scale * sum(w) * dV/dp.
    Pass 1 (the sums) runs on one thread, row after row, so the value and the gradient are
    the same bits for any thread count; pass 2 is independent per element."""
    cdef double sums[5]
    cdef double wsum = 0.0
    cdef floating v
    cdef Py_ssize_t i, k
    if floating is float:
        fnn_overlap_sums_f32(n, c, y_true, y_pred, sums)
    else:
        fnn_overlap_sums_f64(n, c, y_true, y_pred, sums)
    v = <floating> fnn_overlap_value(spec, sums)
    for i in range(n):
        values_out[i] = v
        wsum += sample_weight[i] if sample_weight != NULL else 1.0
    if grad_out == NULL:
        return
    if nt == 1:
        _overlap_grad_block(spec, 0, n, c, y_true, sums, scale * wsum, grad_out)
        return
    for k in prange(nt, schedule="static", num_threads=nt):
        _overlap_grad_block(spec, n * k // nt, n * (k + 1) // nt, c, y_true, sums,
                            scale * wsum, grad_out)


cdef inline void _overlap_grad_block(const fnn_loss_spec *spec, Py_ssize_t lo, Py_ssize_t hi,
                                     Py_ssize_t c, const floating *y_true, const double *sums,
                                     double factor, floating *grad_out) noexcept nogil:
    if floating is float:
        fnn_overlap_grad_rows_f32(spec, hi - lo, c, y_true + lo * c, sums, <float>factor,
                                  grad_out + lo * c)
    else:
        fnn_overlap_grad_rows_f64(spec, hi - lo, c, y_true + lo * c, sums, factor,
                                  grad_out + lo * c)


cdef inline void _sparse_row(const fnn_loss_spec *spec, Py_ssize_t i, Py_ssize_t c,
                             const label_t *labels, const floating *y_pred,
                             const floating *sample_weight, double scale,
                             floating *values_out, floating *grad_out) noexcept nogil:
    cdef floating w = <floating>scale
    if sample_weight != NULL:
        w = sample_weight[i] * w
    cdef floating *g = grad_out + i * c if grad_out != NULL else NULL
    if floating is float:
        values_out[i] = fnn_sparse_loss_row_f32(spec, c, <size_t>labels[i], y_pred + i * c, w, g)
    else:
        values_out[i] = fnn_sparse_loss_row_f64(spec, c, <size_t>labels[i], y_pred + i * c, w, g)


cdef void sparse_loss_rows(const fnn_loss_spec *spec, Py_ssize_t n, Py_ssize_t c,
                           const label_t *labels, const floating *y_pred,
                           const floating *sample_weight, double scale,
                           floating *values_out, floating *grad_out,
                           int n_threads) noexcept nogil:
    """Sparse-label loss of n rows of width c; labels are in [0, c) (the caller checked)."""
    cdef int nt = threads_for(n * c, n_threads)
    cdef Py_ssize_t i
    if nt == 1:  # no parallel region: even a one-thread region costs a futex call
        for i in range(n):
            _sparse_row(spec, i, c, labels, y_pred, sample_weight, scale, values_out, grad_out)
        return
    for i in prange(n, schedule="static", num_threads=nt):
        _sparse_row(spec, i, c, labels, y_pred, sample_weight, scale, values_out, grad_out)


def loss_forward_backward(int loss, const floating[:, ::1] y_true,
                          const floating[:, ::1] y_pred, const floating[::1] sample_weight,
                          double scale, floating[::1] values_out, floating[:, ::1] grad_out,
                          double label_smoothing=0.0, double delta=1.0, double gamma=2.0,
                          double alpha=0.25, bint apply_class_balancing=False,
                          bint from_logits=False, bint hinge_binary_labels=False,
                          int n_threads=1, double beta=0.5):
    """Per-sample loss of dense labels into values_out and, unless grad_out is None, its
    gradient times sample_weight (None: 1) times scale into grad_out. `loss` is a LOSS_IDS
    value other than the two sparse ones (beta: Tversky's)."""
    cdef fnn_loss_spec spec = loss_spec(loss, label_smoothing, delta, gamma, alpha,
                                        apply_class_balancing, from_logits,
                                        hinge_binary_labels, beta)
    cdef Py_ssize_t n = y_pred.shape[0], c = y_pred.shape[1]
    if n == 0 or c == 0:
        return
    cdef const floating *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *g = &grad_out[0, 0] if grad_out is not None else NULL
    with nogil:
        loss_rows(&spec, n, c, &y_true[0, 0], &y_pred[0, 0], sw, scale, &values_out[0], g,
                  n_threads)


def sparse_loss_forward_backward(int loss, const label_t[::1] labels,
                                 const floating[:, ::1] y_pred,
                                 const floating[::1] sample_weight, double scale,
                                 floating[::1] values_out, floating[:, ::1] grad_out,
                                 int n_threads=1):
    """Sparse categorical cross-entropy (`loss` = sparse_categorical_crossentropy or its
    softmax_ logits form) of integer labels, as loss_forward_backward."""
    cdef fnn_loss_spec spec = loss_spec(loss, 0.0, 1.0, 2.0, 0.25, False, False, False, 0.5)
    cdef Py_ssize_t n = y_pred.shape[0], c = y_pred.shape[1]
    if n == 0 or c == 0:
        return
    cdef const floating *sw = &sample_weight[0] if sample_weight is not None else NULL
    cdef floating *g = &grad_out[0, 0] if grad_out is not None else NULL
    with nogil:
        sparse_loss_rows(&spec, n, c, &labels[0], &y_pred[0, 0], sw, scale, &values_out[0], g,
                         n_threads)
