# The losses' C API and the nogil entry points the engine cimports.

from cython cimport floating
from libc.stdint cimport int32_t, int64_t

cdef extern from "fastnn.h":
    cpdef enum fnn_loss_id:
        FNN_LOSS_MEAN_SQUARED_ERROR
        FNN_LOSS_MEAN_ABSOLUTE_ERROR
        FNN_LOSS_MEAN_ABSOLUTE_PERCENTAGE_ERROR
        FNN_LOSS_MEAN_SQUARED_LOGARITHMIC_ERROR
        FNN_LOSS_SQUARED_HINGE
        FNN_LOSS_HINGE
        FNN_LOSS_CATEGORICAL_HINGE
        FNN_LOSS_LOG_COSH
        FNN_LOSS_CATEGORICAL_CROSSENTROPY
        FNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY
        FNN_LOSS_BINARY_CROSSENTROPY
        FNN_LOSS_KL_DIVERGENCE
        FNN_LOSS_POISSON
        FNN_LOSS_COSINE_SIMILARITY
        FNN_LOSS_HUBER
        FNN_LOSS_BINARY_FOCAL_CROSSENTROPY
        FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY
        FNN_LOSS_SOFTMAX_SPARSE_CATEGORICAL_CROSSENTROPY
        FNN_LOSS_SIGMOID_BINARY_CROSSENTROPY
        FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY
        FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY
        FNN_LOSS_DICE
        FNN_LOSS_TVERSKY
        FNN_LOSS_DICE_BATCH
        FNN_LOSS_TVERSKY_BATCH
        FNN_LOSS_COUNT

    ctypedef struct fnn_loss_spec:
        int loss
        double label_smoothing
        double delta
        double gamma
        double alpha
        int apply_class_balancing
        int from_logits
        int hinge_binary_labels
        double beta

    void fnn_loss_rows_f32(const fnn_loss_spec *spec, size_t n, size_t c, const float *y_true,
                           const float *y_pred, const float *sample_weight, float scale,
                           float *values_out, float *grad_out) noexcept nogil
    void fnn_loss_rows_f64(const fnn_loss_spec *spec, size_t n, size_t c, const double *y_true,
                           const double *y_pred, const double *sample_weight, double scale,
                           double *values_out, double *grad_out) noexcept nogil
    float fnn_sparse_loss_row_f32(const fnn_loss_spec *spec, size_t c, size_t label,
                                  const float *y_pred, float weight,
                                  float *grad_out) noexcept nogil
    void fnn_overlap_sums_f32(size_t n, size_t c, const float *y_true, const float *y_pred,
                              double *sums) noexcept nogil
    void fnn_overlap_sums_f64(size_t n, size_t c, const double *y_true, const double *y_pred,
                              double *sums) noexcept nogil
    double fnn_overlap_value(const fnn_loss_spec *spec, const double *sums) noexcept nogil
    void fnn_overlap_grad_rows_f32(const fnn_loss_spec *spec, size_t n, size_t c,
                                   const float *y_true, const double *sums, float factor,
                                   float *grad_out) noexcept nogil
    void fnn_overlap_grad_rows_f64(const fnn_loss_spec *spec, size_t n, size_t c,
                                   const double *y_true, const double *sums, double factor,
                                   double *grad_out) noexcept nogil
    double fnn_sparse_loss_row_f64(const fnn_loss_spec *spec, size_t c, size_t label,
                                   const double *y_pred, double weight,
                                   double *grad_out) noexcept nogil

# Integer class labels as the caller holds them (floats carry whole numbers).
ctypedef fused label_t:
    int32_t
    int64_t
    float
    double

cdef fnn_loss_spec loss_spec(int loss, double label_smoothing, double delta, double gamma,
                             double alpha, bint apply_class_balancing, bint from_logits,
                             bint hinge_binary_labels, double beta) noexcept nogil

cdef void loss_rows(const fnn_loss_spec *spec, Py_ssize_t n, Py_ssize_t c,
                    const floating *y_true, const floating *y_pred,
                    const floating *sample_weight, double scale, floating *values_out,
                    floating *grad_out, int n_threads) noexcept nogil

cdef void sparse_loss_rows(const fnn_loss_spec *spec, Py_ssize_t n, Py_ssize_t c,
                           const label_t *labels, const floating *y_pred,
                           const floating *sample_weight, double scale,
                           floating *values_out, floating *grad_out,
                           int n_threads) noexcept nogil
