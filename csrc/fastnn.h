/* fastnn's C layer: every exported C symbol is declared here once, with one line on what it does.
 *
 * Conventions
 *   - Plain C99, no Python. Functions compute one element, one row or one tile; the Cython layer
 *     (fastnn/_kernels/) owns the loops over rows, the threads and the dtype dispatch.
 *   - Every kernel exists as _f32 and _f64; both are generated from one source (see each .c file).
 *   - Inputs are const pointers; outputs are `out` pointers written and never read unless the
 *     comment says "in place". Nothing here allocates, checks its input or keeps state.
 *   - Point functions (one element) are static inline in activations.h, losses.h, optimizers.h
 *     and rng.h; only the row/tile kernels below are real symbols.
 */
#ifndef FASTNN_H
#define FASTNN_H

#include <stddef.h>
#include <stdint.h>

/* ---- cpu.c ------------------------------------------------------------------------------ */

/* Name of the SIMD variant the run-time dispatcher picks on this CPU. */
const char *fnn_simd_path(void);

/* ---- openmp_helpers.c ------------------------------------------------------------------- */

/* The process-wide cap on fastnn's threads that threadpoolctl sets through fastnn's controller
 * (0: none). One value for every thread of the process, unlike OpenMP's per-thread
 * omp_set_num_threads, so a limit set in one thread reaches the threads it starts. */
int fnn_threadpool_limit_get(void);
void fnn_threadpool_limit_set(int n_threads);

/* ---- shared by the matmul kernels (gemm.c, bf16.c) --------------------------------------- */
/* The size of each of the equal blocks, at most `max` long, that cut `total` (the last may be
 * shorter): no short last block paying a C update for little work. k-blocks cut this way
 * depend on k only, which keeps a product's bits independent of how C is split. */
static inline ptrdiff_t fnn_even_block(ptrdiff_t total, ptrdiff_t max)
{
    const ptrdiff_t blocks = (total + max - 1) / max;
    return (total + blocks - 1) / blocks;
}

/* ---- gemm.c ----------------------------------------------------------------------------- */
/* Register tile of fnn_gemm_*: C is computed in blocks of FNN_GEMM_MR rows by
 * FNN_GEMM_NR_F32 / _F64 columns (the AVX-512 tile; AVX2's is half as wide); callers that
 * split C between threads cut at multiples of these, so that no thread's block ends in a
 * partial tile. The bits do not depend on the split (gemm_impl.h). */
#define FNN_GEMM_MR 6
#define FNN_GEMM_NR_F32 32
#define FNN_GEMM_NR_F64 16
/* The instruction-set path of fnn_gemm_* (gemm.c): the best this CPU runs unless set.
 * fnn_gemm_set_path(path) forces a path (-1: back to the best) and returns it, or -1 (and
 * changes nothing) when this CPU cannot run it. AVX-512 and AVX2 give identical bits. */
enum { FNN_GEMM_PATH_BASELINE, FNN_GEMM_PATH_AVX2, FNN_GEMM_PATH_AVX512 };
int fnn_gemm_path(void);
int fnn_gemm_set_path(int path);
/* Up to this many rows of op(A), a row-major B is read in place instead of being packed. */
#define FNN_GEMM_STREAM_MAX_M 16
/* Products of more than one row block of op(A) pack each k-block of op(B) once, into a
 * buffer of the calling thread's (kept between calls, freed when the thread exits), instead
 * of once per row block. fnn_gemm_set_b_block(0) turns that off and (1) back on; it returns
 * the previous setting. Both ways give the same bits (tests compare them). */
int fnn_gemm_set_b_block(int on);

/* C = alpha*op(A)*op(B) + beta*C, all row-major with leading dimensions; op(A) is m x k (A is
 * stored k x m when trans_a), op(B) is k x n (B is stored n x k when trans_b). Single-threaded,
 * re-entrant (the only workspace is the calling thread's, see fnn_gemm_set_b_block); beta == 0
 * never reads C, alpha == 0 or k == 0 never reads A, B. */
void fnn_gemm_f32(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                  float *c, ptrdiff_t ldc);
void fnn_gemm_f64(int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, double alpha,
                  const double *a, ptrdiff_t lda, const double *b, ptrdiff_t ldb, double beta,
                  double *c, ptrdiff_t ldc);

/* ---- bf16.c ----------------------------------------------------------------------------- */
/* The product of mixed_bfloat16: inputs rounded to bfloat16, float32 sums (see bf16.c). */
enum { FNN_BF16_BASELINE = 0, FNN_BF16_AMX = 1 };

/* 1 when this CPU (and build) can run `path`; the baseline always can. */
int fnn_bf16_path_available(int path);
/* out[i] = x[i] rounded to bfloat16 (nearest even; denormals to 0), as a float32. */
void fnn_round_bf16(ptrdiff_t n, const float *x, float *out);
/* C = alpha*op(A)*op(B) + beta*C as fnn_gemm_f32, with A's and B's elements rounded to
 * bfloat16 and tdpbf16ps's arithmetic on either path. Single-threaded, re-entrant; about
 * 170 KB of stack, and a heap block for op(B)'s packed k-block (512 KB for n = 512) when it
 * can have one (else op(B) is packed panel by panel, with the same result). */
void fnn_gemm_bf16(int path, int trans_a, int trans_b, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                   float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                   float beta, float *c, ptrdiff_t ldc);
/* The same with op(B) already packed ("image"): columns [0, n) are panels panel0, ... of an
 * image of image_panels panels, written by fnn_bf16_image_rows for this k. */
void fnn_gemm_bf16_image(int path, int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
                         float alpha, const float *a, ptrdiff_t lda, const uint32_t *image,
                         ptrdiff_t image_panels, ptrdiff_t panel0, float beta, float *c,
                         ptrdiff_t ldc);
/* uint32 elements of the image of a k x n op(B); zero it once, before the first rows. */
ptrdiff_t fnn_bf16_image_size(ptrdiff_t k, ptrdiff_t n);
/* 1 when every even row number starts one of the image's pairs (so rows can be packed in
 * even-sized pieces by several threads). */
int fnn_bf16_image_splits_at_even_rows(ptrdiff_t k);
/* Rows [r0, r1) of the row-major rows x cols w into the image of op(B) = w (fwd, k = rows)
 * and of op(B) = w^T (bwd, or NULL; k = cols): see bf16.c. */
void fnn_bf16_image_rows(uint32_t *fwd, uint32_t *bwd, const float *w, ptrdiff_t rows,
                         ptrdiff_t cols, ptrdiff_t r0, ptrdiff_t r1);
/* Columns of its register tile: threads splitting C by columns cut at multiples of this. */
#define FNN_BF16_NR 32
#define FNN_BF16_MR 32

/* ---- quant.c ---------------------------------------------------------------------------- */
/* int8 Dense as Keras 3's quantize("int8"): per-row input scales at call time, int32 sums. */
enum { FNN_QPATH_BASELINE = 0, FNN_QPATH_VNNI = 1, FNN_QPATH_AMX = 2 };

/* 1 when this CPU (and build) can run `path`; the baseline always can. Asking for AMX asks
 * Linux for the tile state (arch_prctl), once per process. */
int fnn_qpath_available(int path);
/* Bytes of the packed form of a k x n int8 kernel: 16-column panels of [k'/4][16][4], k' = k
 * rounded up to 64, panels allocated in pairs. */
ptrdiff_t fnn_qpack_size(ptrdiff_t k, ptrdiff_t n);
/* Pack the row-major k x n kernel w; colsum128[j] = 128 * sum_k w[k, j] (n values). */
void fnn_qpack(ptrdiff_t k, ptrdiff_t n, const int8_t *w, int8_t *packed, int32_t *colsum128);
/* Keras's AbsMaxQuantizer per row (float32): scale_out[i] = 127 / (max|x_i| + 1e-7), bytes
 * clip(round_half_even(x * scale), -127, 127) + offset (0 or 128), zero-padded up to ldq
 * (>= k rounded up to 4) columns. */
void fnn_quantize_rows(ptrdiff_t rows, ptrdiff_t k, const float *x, ptrdiff_t ldx, int offset,
                       uint8_t *q, ptrdiff_t ldq, float *scale_out);
/* c (m x n int32) = q @ w exactly (FNN_QPATH_BASELINE or _VNNI), q quantized with offset 128
 * for VNNI and 0 for the baseline; `a` has (m rounded up to 8) rows of lda >= k rounded up to 4 bytes. */
void fnn_qgemm_s32(int path, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const uint8_t *a,
                   ptrdiff_t lda, const int8_t *packed, const int32_t *colsum128, int32_t *c,
                   ptrdiff_t ldc);
/* Bytes of scratch fnn_qdense_f32 needs for `rows` rows of k inputs. */
ptrdiff_t fnn_qdense_scratch(ptrdiff_t rows, ptrdiff_t k);
/* out (rows x n) = float(quantize(x) @ w) / (kscale[j] * x_scale[i]), Keras's int8 Dense
 * before its bias and activation. Single-threaded, re-entrant; scratch is the caller's. */
void fnn_qdense_f32(int path, ptrdiff_t rows, ptrdiff_t k, ptrdiff_t n, const float *x,
                    ptrdiff_t ldx, const int8_t *packed, const int32_t *colsum128,
                    const float *kscale, float *out, ptrdiff_t ldo, void *scratch);

/* ---- activations.c ---------------------------------------------------------------------- */
/* Activation ids; fastnn._kernels._activations.ACTIVATIONS maps Keras names to them. */
typedef enum {
    FNN_ACT_LINEAR = 0,
    FNN_ACT_RELU,             /* Keras relu(x, negative_slope, max_value, threshold) */
    FNN_ACT_RELU6,
    FNN_ACT_LEAKY_RELU,       /* uses negative_slope */
    FNN_ACT_ELU,              /* uses alpha */
    FNN_ACT_SELU,
    FNN_ACT_SIGMOID,
    FNN_ACT_HARD_SIGMOID,     /* Keras 3: relu6(x + 3) / 6 */
    FNN_ACT_HARD_SILU,
    FNN_ACT_SILU,
    FNN_ACT_GELU,             /* exact (erf) */
    FNN_ACT_GELU_APPROXIMATE, /* tanh approximation */
    FNN_ACT_TANH,
    FNN_ACT_SOFTPLUS,
    FNN_ACT_SOFTSIGN,
    FNN_ACT_EXPONENTIAL,
    FNN_ACT_MISH,
    FNN_ACT_SOFTMAX,          /* row-wise */
    FNN_ACT_LOG_SOFTMAX,      /* row-wise */
    FNN_ACT_COUNT
} fnn_activation;

/* Activation parameters; an activation ignores the fields it does not use. */
typedef struct {
    double negative_slope; /* relu, leaky_relu */
    double max_value;      /* relu; +INFINITY stands for Keras's None */
    double threshold;      /* relu */
    double alpha;          /* elu */
} fnn_act_params;

/* Bits of fnn_act_needs(): which arrays the backward pass of an activation reads. */
enum { FNN_ACT_NEEDS_Z = 1, FNN_ACT_NEEDS_A = 2 };

/* What fnn_act_backward_* reads for `act` with `p`: FNN_ACT_NEEDS_Z (the pre-activation, bias
 * included), FNN_ACT_NEEDS_A (the output), or 0 (linear); the array not needed may be NULL. */
int fnn_act_needs(int act, const fnn_act_params *p);

/* out = f(z + bias) over `rows` rows of `cols` (row-major); bias (cols) may be NULL. In place:
 * out may alias z. zb_out, if not NULL, also receives z + bias (may alias z), for the activations
 * whose backward needs the pre-activation. softmax/log_softmax work row-wise on the max-shifted
 * row, so no exp overflows; every other activation is finite wherever its maths is. */
void fnn_act_forward_f32(int act, const fnn_act_params *p, ptrdiff_t rows, ptrdiff_t cols,
                         const float *z, const float *bias, float *out, float *zb_out);
void fnn_act_forward_f64(int act, const fnn_act_params *p, ptrdiff_t rows, ptrdiff_t cols,
                         const double *z, const double *bias, double *out, double *zb_out);

/* dz = dL/dz from g = dL/da: g * f'(z) elementwise, the row Jacobian product for softmax and
 * log_softmax. Reads z and/or a (z + bias and f(z + bias)) as fnn_act_needs() says. In place:
 * dz may alias g. Kinks take TensorFlow's gradient (relu'(0) = 0, leaky_relu'(0) = slope). */
void fnn_act_backward_f32(int act, const fnn_act_params *p, ptrdiff_t rows, ptrdiff_t cols,
                          const float *z, const float *a, const float *g, float *dz);
void fnn_act_backward_f64(int act, const fnn_act_params *p, ptrdiff_t rows, ptrdiff_t cols,
                          const double *z, const double *a, const double *g, double *dz);

/* ---- losses.c --------------------------------------------------------------------------- */
/* Loss ids: Keras 3's per-sample losses (shared/reference/keras.md section 3) and the fused
 * logits forms, which fold softmax/sigmoid into the cross-entropy and never clip with eps. */
typedef enum fnn_loss_id {
    FNN_LOSS_MEAN_SQUARED_ERROR = 0,
    FNN_LOSS_MEAN_ABSOLUTE_ERROR = 1,
    FNN_LOSS_MEAN_ABSOLUTE_PERCENTAGE_ERROR = 2,
    FNN_LOSS_MEAN_SQUARED_LOGARITHMIC_ERROR = 3,
    FNN_LOSS_SQUARED_HINGE = 4,
    FNN_LOSS_HINGE = 5,
    FNN_LOSS_CATEGORICAL_HINGE = 6,
    FNN_LOSS_LOG_COSH = 7,
    FNN_LOSS_CATEGORICAL_CROSSENTROPY = 8,
    FNN_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY = 9,           /* integer labels only */
    FNN_LOSS_BINARY_CROSSENTROPY = 10,
    FNN_LOSS_KL_DIVERGENCE = 11,
    FNN_LOSS_POISSON = 12,
    FNN_LOSS_COSINE_SIMILARITY = 13,
    FNN_LOSS_HUBER = 14,
    FNN_LOSS_BINARY_FOCAL_CROSSENTROPY = 15,
    FNN_LOSS_SOFTMAX_CATEGORICAL_CROSSENTROPY = 16,         /* y_pred holds logits */
    FNN_LOSS_SOFTMAX_SPARSE_CATEGORICAL_CROSSENTROPY = 17,  /* logits, integer labels only */
    FNN_LOSS_SIGMOID_BINARY_CROSSENTROPY = 18,              /* y_pred holds logits */
    FNN_LOSS_CATEGORICAL_FOCAL_CROSSENTROPY = 19,
    FNN_LOSS_SOFTMAX_CATEGORICAL_FOCAL_CROSSENTROPY = 20,   /* y_pred holds logits */
    FNN_LOSS_DICE = 21,                     /* per row (axis=-1) */
    FNN_LOSS_TVERSKY = 22,                  /* per row (axis=-1) */
    FNN_LOSS_DICE_BATCH = 23,               /* axis=None: one value for the whole batch */
    FNN_LOSS_TVERSKY_BATCH = 24,            /* axis=None: one value for the whole batch */
    FNN_LOSS_COUNT = 25
} fnn_loss_id;

/* A loss and its parameters. label_smoothing: BCE, focal, CCE and their fused forms; delta:
 * huber; gamma, alpha, apply_class_balancing, from_logits: binary focal; gamma, alpha:
 * categorical focal; alpha, beta: Tversky; hinge_binary_labels: hinge and squared_hinge map
 * y -> 2y - 1 (Keras decides it for the whole batch). */
typedef struct {
    int loss;
    double label_smoothing;
    double delta;
    double gamma;
    double alpha;
    int apply_class_balancing;
    int from_logits;
    int hinge_binary_labels;
    double beta;
} fnn_loss_spec;

/* Rows [0, n) of (n, c) y_true / y_pred, any dense-label loss: values_out[i] = per-sample loss,
 * reduced over the row as Keras does. If grad_out is not NULL it gets d values_out[i] / d y_pred
 * (d / d logits for the fused forms) times sample_weight[i] (1 when NULL) times scale. Not the
 * _BATCH ids: their value depends on every row (fnn_overlap_* below). */
void fnn_loss_rows_f32(const fnn_loss_spec *spec, size_t n, size_t c, const float *y_true,
                       const float *y_pred, const float *sample_weight, float scale,
                       float *values_out, float *grad_out);
void fnn_loss_rows_f64(const fnn_loss_spec *spec, size_t n, size_t c, const double *y_true,
                       const double *y_pred, const double *sample_weight, double scale,
                       double *values_out, double *grad_out);

/* Dice and Tversky over the whole batch (the _BATCH ids), in two passes. fnn_overlap_sums:
 * the batch's sums (sum y p, sum y (1 - p), sum p (1 - y), sum y, sum p) in double, row after
 * row, whatever the thread count. fnn_overlap_value: the loss from those sums.
 * fnn_overlap_grad_rows: rows [0, n) of the gradient of that one value times `factor`, in
 * closed form per element (rows may be split across threads: each element is independent). */
void fnn_overlap_sums_f32(size_t n, size_t c, const float *y_true, const float *y_pred,
                          double sums[5]);
void fnn_overlap_sums_f64(size_t n, size_t c, const double *y_true, const double *y_pred,
                          double sums[5]);
double fnn_overlap_value(const fnn_loss_spec *spec, const double sums[5]);
void fnn_overlap_grad_rows_f32(const fnn_loss_spec *spec, size_t n, size_t c,
                               const float *y_true, const double sums[5], float factor,
                               float *grad_out);
void fnn_overlap_grad_rows_f64(const fnn_loss_spec *spec, size_t n, size_t c,
                               const double *y_true, const double sums[5], double factor,
                               double *grad_out);

/* One row of c predictions with the integer label `label` (< c): returns the sparse categorical
 * cross-entropy (probabilities, or logits for the SOFTMAX_ id); if grad_out is not NULL writes
 * its gradient times `weight` (sample weight times scale) there. */
float fnn_sparse_loss_row_f32(const fnn_loss_spec *spec, size_t c, size_t label,
                              const float *y_pred, float weight, float *grad_out);
double fnn_sparse_loss_row_f64(const fnn_loss_spec *spec, size_t c, size_t label,
                               const double *y_pred, double weight, double *grad_out);

/* ---- optimizers.c ----------------------------------------------------------------------- */
/* Keras 3's optimizer steps (shared/reference/keras.md 5.2), each one fused in-place pass over
 * n parameters w, their gradient g and slot buffers of the same length. Every kernel first
 * takes g' = clip(g * grad_scale, -clip_value, clip_value) (clipnorm / global_clipnorm as a
 * scale, clipvalue as a clip; 1 and inf turn them off) and w' = w - w * wd_lr (decoupled weight
 * decay, wd_lr = weight_decay * lr, 0 = off), then applies the rule. Step-dependent scalars
 * (bias corrections) are passed in, computed once per step in double. A slot marked "or NULL"
 * turns its feature off. Elementwise: any split into chunks gives the same bits. */

/* SGD: m NULL: w -= lr*g'. Else m = momentum*m - lr*g', then w += m, or with nesterov
 * w += momentum*m - lr*g' (new m). */
void fnn_sgd_chunk_f32(float *w, const float *g, float *m, size_t n, float lr, float momentum, int nesterov, float wd_lr, float grad_scale, float clip_value);
void fnn_sgd_chunk_f64(double *w, const double *g, double *m, size_t n, double lr, double momentum, int nesterov, double wd_lr, double grad_scale, double clip_value);
/* Adam / AdamW: m += (g'-m)(1-beta_1); v += (g'^2-v)(1-beta_2); amsgrad (vhat or NULL):
 * vhat = max(vhat, v) used as v; w -= alpha*m/(sqrt(v)+epsilon), alpha = lr sqrt(1-beta_2^t)/(1-beta_1^t). */
void fnn_adam_chunk_f32(float *w, const float *g, float *m, float *v, float *vhat, size_t n, float alpha, float beta_1, float beta_2, float epsilon, float wd_lr, float grad_scale, float clip_value);
void fnn_adam_chunk_f64(double *w, const double *g, double *m, double *v, double *vhat, size_t n, double alpha, double beta_1, double beta_2, double epsilon, double wd_lr, double grad_scale, double clip_value);
/* RMSprop: v = rho v + (1-rho) g'^2; centered (a or NULL): a = rho a + (1-rho) g', den = v - a^2
 * + eps, else den = v + eps; inc = lr g'/sqrt(den); momentum (mom or NULL): mom = momentum*mom
 * + inc, w -= mom; else w -= inc. */
void fnn_rmsprop_chunk_f32(float *w, const float *g, float *v, float *a, float *mom, size_t n, float lr, float rho, float momentum, float epsilon, float wd_lr, float grad_scale, float clip_value);
void fnn_rmsprop_chunk_f64(double *w, const double *g, double *v, double *a, double *mom, size_t n, double lr, double rho, double momentum, double epsilon, double wd_lr, double grad_scale, double clip_value);
/* Adagrad: acc += g'^2; w -= lr g'/sqrt(acc + epsilon) (acc starts at initial_accumulator_value). */
void fnn_adagrad_chunk_f32(float *w, const float *g, float *acc, size_t n, float lr, float epsilon, float wd_lr, float grad_scale, float clip_value);
void fnn_adagrad_chunk_f64(double *w, const double *g, double *acc, size_t n, double lr, double epsilon, double wd_lr, double grad_scale, double clip_value);
/* Adadelta: eg = rho eg + (1-rho) g'^2; d = -sqrt(ed+eps) g'/sqrt(eg+eps); ed = rho ed + (1-rho) d^2;
 * w += lr d. */
void fnn_adadelta_chunk_f32(float *w, const float *g, float *eg, float *ed, size_t n, float lr, float rho, float epsilon, float wd_lr, float grad_scale, float clip_value);
void fnn_adadelta_chunk_f64(double *w, const double *g, double *eg, double *ed, size_t n, double lr, double rho, double epsilon, double wd_lr, double grad_scale, double clip_value);
/* Adamax: m += (g'-m)(1-beta_1); u = max(beta_2 u, |g'|); w -= alpha m/(u+epsilon), alpha = lr/(1-beta_1^t). */
void fnn_adamax_chunk_f32(float *w, const float *g, float *m, float *u, size_t n, float alpha, float beta_1, float beta_2, float epsilon, float wd_lr, float grad_scale, float clip_value);
void fnn_adamax_chunk_f64(double *w, const double *g, double *m, double *u, size_t n, double alpha, double beta_1, double beta_2, double epsilon, double wd_lr, double grad_scale, double clip_value);
/* Nadam: m, v as Adam; w -= lr (coef_m m + coef_g g') / (sqrt(v/one_m_b2t) + epsilon), with
 * coef_m = mu_{t+1}/(1 - prod_t mu_{t+1}), coef_g = (1-mu_t)/(1-prod_t), one_m_b2t = 1 - beta_2^t. */
void fnn_nadam_chunk_f32(float *w, const float *g, float *m, float *v, size_t n, float lr, float beta_1, float beta_2, float epsilon, float coef_m, float coef_g, float one_m_b2t, float wd_lr, float grad_scale, float clip_value);
void fnn_nadam_chunk_f64(double *w, const double *g, double *m, double *v, size_t n, double lr, double beta_1, double beta_2, double epsilon, double coef_m, double coef_g, double one_m_b2t, double wd_lr, double grad_scale, double clip_value);
/* Lion: w -= lr sign(beta_1 m + (1-beta_1) g'); then m = beta_2 m + (1-beta_2) g'. */
void fnn_lion_chunk_f32(float *w, const float *g, float *m, size_t n, float lr, float beta_1, float beta_2, float wd_lr, float grad_scale, float clip_value);
void fnn_lion_chunk_f64(double *w, const double *g, double *m, size_t n, double lr, double beta_1, double beta_2, double wd_lr, double grad_scale, double clip_value);

/* Ftrl: g2 = g' + 2 l2_shrinkage w'; acc' = acc + g'^2; lin += g2 - (acc'^-p - acc^-p)/lr w'
 * (p = lr_power <= 0); w = (clip(lin, -l1, l1) - lin) / (acc'^-p/lr + 2 l2_reg), l2_reg =
 * l2 + beta/(2 lr); acc = acc' (acc starts at initial_accumulator_value, lin at 0). */
void fnn_ftrl_chunk_f32(float *w, const float *g, float *acc, float *lin, size_t n, float lr, float lr_power, float l1, float l2_reg, float l2_shrinkage, float wd_lr, float grad_scale, float clip_value);
void fnn_ftrl_chunk_f64(double *w, const double *g, double *acc, double *lin, size_t n, double lr, double lr_power, double l1, double l2_reg, double l2_shrinkage, double wd_lr, double grad_scale, double clip_value);
/* Lamb, in two passes over a variable (its trust ratio needs the whole variable's norms).
 * Moments pass: w' stored, m += (g'-m)(1-beta_1), v += (g'^2-v)(1-beta_2); sums[0] = sum w'^2,
 * sums[1] = sum u^2 (in double, element order) with u = (m/one_m_b1t)/(sqrt(v/one_m_b2t)+eps).
 * Apply pass: w -= ratio_lr u (ratio_lr = lr |w'|/|u|, or lr when either norm is 0). */
void fnn_lamb_moments_chunk_f32(float *w, const float *g, float *m, float *v, size_t n, float beta_1, float beta_2, float epsilon, float one_m_b1t, float one_m_b2t, float wd_lr, float grad_scale, float clip_value, double *sums);
void fnn_lamb_moments_chunk_f64(double *w, const double *g, double *m, double *v, size_t n, double beta_1, double beta_2, double epsilon, double one_m_b1t, double one_m_b2t, double wd_lr, double grad_scale, double clip_value, double *sums);
void fnn_lamb_apply_chunk_f32(float *w, const float *m, const float *v, size_t n, float ratio_lr, float one_m_b1t, float one_m_b2t, float epsilon);
void fnn_lamb_apply_chunk_f64(double *w, const double *m, const double *v, size_t n, double ratio_lr, double one_m_b1t, double one_m_b2t, double epsilon);

/* One step of any of the rules above, as data: the Cython layer fills it once per step and
 * hands CHUNK-sized pieces of the buffers to fnn_opt_step_chunk_*, which calls the rule's
 * kernel with the scalars rounded to the buffers' type. The rules take different scalars, so
 * a..f are positional, in the kernel's order; s0..s2 are the slot buffers in the kernel's order:
 *   SGD       a = momentum, flag = nesterov                         s0 = m (or NULL)
 *   ADAM      a = alpha, b = beta_1, c = beta_2, d = epsilon         s0 = m, s1 = v, s2 = vhat
 *   RMSPROP   a = rho, b = momentum, c = epsilon                     s0 = v, s1 = a, s2 = mom
 *   ADAGRAD   a = epsilon                                            s0 = acc
 *   ADADELTA  a = rho, b = epsilon                                   s0 = eg, s1 = ed
 *   ADAMAX    a = alpha, b = beta_1, c = beta_2, d = epsilon         s0 = m, s1 = u
 *   NADAM     a = beta_1, b = beta_2, c = epsilon, d = coef_m, e = coef_g, f = one_m_b2t
 *                                                                    s0 = m, s1 = v
 *   LION      a = beta_1, b = beta_2                                 s0 = m
 *   FTRL      a = lr_power, b = l1, c = l2_reg, d = l2_shrinkage     s0 = acc, s1 = lin
 * (Lamb is not a one-pass rule: the Cython layer calls its two kernels itself.) */
enum { FNN_OPT_SGD, FNN_OPT_ADAM, FNN_OPT_RMSPROP, FNN_OPT_ADAGRAD, FNN_OPT_ADADELTA,
       FNN_OPT_ADAMAX, FNN_OPT_NADAM, FNN_OPT_LION, FNN_OPT_FTRL };
typedef struct {
    int rule, flag;
    double lr, a, b, c, d, e, f;
    double wd_lr, grad_scale, clip_value;
} fnn_opt_step;
void fnn_opt_step_chunk_f32(const fnn_opt_step *s, float *w, const float *g, float *s0,
                            float *s1, float *s2, size_t n);
void fnn_opt_step_chunk_f64(const fnn_opt_step *s, double *w, const double *g, double *s0,
                            double *s1, double *s2, size_t n);

/* ---- reductions.c ----------------------------------------------------------------------- */
/* Reductions and in-place passes over flat buffers (gradient clipping, finiteness checks) and
 * column sums (bias gradients). Sums accumulate in double for both dtypes, in an order fixed by
 * the data's length only; callers that split a buffer between threads cut it at a fixed chunk
 * size and add the chunks' results in order, so every thread count gives the same bits. */

/* Columns per fnn_colsum_block_* call: its double accumulators live on the stack. */
#define FNN_COLSUM_BLOCK 64

/* Sum of x[i]^2 over one chunk, in double (16 interleaved lanes, combined pairwise). */
double fnn_sumsq_chunk_f32(const float *x, size_t n);
double fnn_sumsq_chunk_f64(const double *x, size_t n);
/* 1 when every x[i] is finite (no inf, no NaN), else 0. */
int fnn_all_finite_chunk_f32(const float *x, size_t n);
int fnn_all_finite_chunk_f64(const double *x, size_t n);
/* In place: x[i] *= factor. */
void fnn_scale_chunk_f32(float *x, size_t n, float factor);
void fnn_scale_chunk_f64(double *x, size_t n, double factor);
/* In place: x[i] = min(max(x[i], lo), hi), lo <= hi; NaN stays NaN. */
void fnn_clip_chunk_f32(float *x, size_t n, float lo, float hi);
void fnn_clip_chunk_f64(double *x, size_t n, double lo, double hi);
/* out[j] = (or, if accumulate, out[j] +) sum over r < n_rows of x[r*ld + j], j < n_cols <=
 * FNN_COLSUM_BLOCK: each column summed in double over the rows in order, rounded once. */
void fnn_colsum_block_f32(const float *x, size_t n_rows, size_t ld, size_t n_cols, float *out, int accumulate);
void fnn_colsum_block_f64(const double *x, size_t n_rows, size_t ld, size_t n_cols, double *out, int accumulate);

/* ---- rng.c ------------------------------------------------------------------------------ */
/* Counter-based RNG (rng.h: Philox4x32-10, counter layout, conversions). Each kernel covers
 * the elements [e0, e0 + n) of the stream (seed, step, layer); x and out point at element e0.
 * Every value depends only on (seed, step, layer, element index), never on how calls split the
 * work. layer < 2^16, e0 + n <= 2^48. In place (out == x) allowed. */

/* Inverted dropout: out = w(e) / 2^32 >= rate ? x * (1 / (1 - rate)) : 0, rate in [0, 1] (1 gives
 * zeros; a dropped inf/nan gives 0). Also the backward: pass g as x for dx = g * mask / (1-rate). */
void fnn_dropout_f32(const float *x, float *out, size_t n, uint64_t e0, double rate, uint64_t seed, uint64_t step, uint16_t layer);
void fnn_dropout_f64(const double *x, double *out, size_t n, uint64_t e0, double rate, uint64_t seed, uint64_t step, uint16_t layer);
/* Gaussian noise: out = x + stddev * z(e), z standard normal (Box-Muller in double). */
void fnn_gaussian_noise_f32(const float *x, float *out, size_t n, uint64_t e0, double stddev, uint64_t seed, uint64_t step, uint16_t layer);
void fnn_gaussian_noise_f64(const double *x, double *out, size_t n, uint64_t e0, double stddev, uint64_t seed, uint64_t step, uint16_t layer);
/* Gaussian dropout: out = x * (1 + sqrt(rate / (1 - rate)) * z(e)), rate in [0, 1). Also the
 * backward: pass g as x. */
void fnn_gaussian_dropout_f32(const float *x, float *out, size_t n, uint64_t e0, double rate, uint64_t seed, uint64_t step, uint16_t layer);
void fnn_gaussian_dropout_f64(const double *x, double *out, size_t n, uint64_t e0, double rate, uint64_t seed, uint64_t step, uint16_t layer);
/* out = z(e): standard normals, the float32 ones the float64 ones rounded. */
void fnn_rng_normal_f32(float *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step, uint16_t layer);
void fnn_rng_normal_f64(double *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step, uint16_t layer);
/* out = u(e): uniforms in [0, 1), never 1; the float32 ones the float64 ones truncated. */
void fnn_rng_uniform_f32(float *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step, uint16_t layer);
void fnn_rng_uniform_f64(double *out, size_t n, uint64_t e0, uint64_t seed, uint64_t step, uint16_t layer);

#endif /* FASTNN_H */
