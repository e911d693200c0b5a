"""The engine: whole epochs of training, and inference, in one call without the GIL.

Design note
-----------
fastnn/_plan.py turns a model's layers into a flat list of ops (two small arrays, `ops_i` and
`ops_f`, one row per op, columns named by the I_* / F_* constants) and gives every weight an
offset in one of two flat buffers: `params` (trainable; `grads` and every optimizer slot share
its layout) and `state` (non-trainable, e.g. BatchNormalization's moving statistics). The
Engine copies the ops into C structs once and sizes a workspace for its batch capacity, so a
batch allocates nothing.

A training batch: gather the rows of x, y and sample weights named by the epoch's order; run
the ops forward, keeping each op's output (and the pre-activation where the activation's
derivative or a fused loss needs it); compute the loss values and their gradient (on the
logits for softmax/sigmoid + cross-entropy, as Keras's TensorFlow backend does); run the ops
backward into `grads` (dW = inputᵀ·dZ, db = column sums of dZ, d input = dZ·Wᵀ); add the
regularizers' gradients; clip; apply the optimizer's fused update per variable; copy the
training-mode outputs out for the epoch's metrics. `train_epoch` runs every batch this way
and takes the GIL for a moment every few milliseconds to look for Ctrl-C.

Workspace layout: offsets are per row (op.out, op.g, op.z, op.aux), and a batch of `rows` rows
puts op k's output at ws + op.out * rows, so one layout serves every batch size up to the
capacity and each buffer is a C-contiguous (rows, width) matrix.

Threads: each kernel call opens its own parallel region or calls BLAS outside any region of
ours, so OpenMP and BLAS never oversubscribe the cores. The loops written here (BatchNorm,
LayerNorm, PReLU, penalties) either split disjoint rows or run serially in a fixed order, so
results do not depend on the thread count.
"""

from cython cimport floating
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs, sqrt
from libc.stdint cimport int64_t, uint16_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np
cimport numpy as cnp

cnp.import_array()

from fastnn._kernels._activations cimport (
    FNN_ACT_LINEAR, act_backward, act_forward, fnn_act_params,
)
from fastnn._kernels._gemm cimport gemm
from fastnn._kernels._losses cimport (
    FNN_LOSS_HINGE, FNN_LOSS_SQUARED_HINGE, fnn_loss_spec, loss_rows, loss_spec,
    sparse_loss_rows,
)
from fastnn._kernels._openmp cimport threads_for
from fastnn._kernels._optimizers cimport (
    adadelta_update_nogil, adagrad_update_nogil, adam_update_nogil, adamax_update_nogil,
    lion_update_nogil, nadam_update_nogil, rmsprop_update_nogil, sgd_update_nogil,
)
from fastnn._kernels._reductions cimport column_sums_nogil, sum_squares_nogil
from fastnn._kernels._rng cimport dropout_rows, gaussian_dropout_rows, gaussian_noise_rows


cdef enum:
    OP_DENSE, OP_ACTIVATION, OP_DROPOUT, OP_GAUSSIAN_NOISE, OP_GAUSSIAN_DROPOUT,
    OP_BATCH_NORM, OP_LAYER_NORM, OP_PRELU

cdef enum:                      # columns of ops_i
    I_KIND, I_N_IN, I_N_OUT, I_ACT, I_W, I_B, I_STATE, I_SEED, I_FLAGS, N_I

cdef enum:                    # columns of ops_f
    F_SLOPE, F_MAX_VALUE, F_THRESHOLD, F_ALPHA, F_RATE, F_EPSILON, F_MOMENTUM,
    F_ACT_L1, F_ACT_L2, N_F

cdef enum:                     # bits of ops_i[:, I_FLAGS]
    FLAG_BATCH_STATS = 1              # BatchNormalization uses batch statistics in training

cdef enum:
    OPT_SGD, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD, OPT_ADADELTA, OPT_ADAMAX, OPT_NADAM, OPT_LION

cdef enum:                      # entries of the optimizer's hyperparameter array
    H_BETA_1, H_BETA_2, H_EPSILON, H_RHO, H_MOMENTUM, H_NESTEROV, H_CENTERED, H_AMSGRAD,
    H_WEIGHT_DECAY, H_CLIPNORM, H_GLOBAL_CLIPNORM, H_CLIPVALUE, N_H

# The same numbers for fastnn/_plan.py and fastnn/optimizers.
OPS = {"dense": OP_DENSE, "activation": OP_ACTIVATION, "dropout": OP_DROPOUT,
       "gaussian_noise": OP_GAUSSIAN_NOISE, "gaussian_dropout": OP_GAUSSIAN_DROPOUT,
       "batch_norm": OP_BATCH_NORM, "layer_norm": OP_LAYER_NORM, "prelu": OP_PRELU}
OP_INT_COLUMNS = {"kind": I_KIND, "n_in": I_N_IN, "n_out": I_N_OUT, "act": I_ACT, "w": I_W,
                  "b": I_B, "state": I_STATE, "seed": I_SEED, "flags": I_FLAGS}
OP_FLOAT_COLUMNS = {"negative_slope": F_SLOPE, "max_value": F_MAX_VALUE,
                    "threshold": F_THRESHOLD, "alpha": F_ALPHA, "rate": F_RATE,
                    "epsilon": F_EPSILON, "momentum": F_MOMENTUM, "act_l1": F_ACT_L1,
                    "act_l2": F_ACT_L2}
N_OP_INT, N_OP_FLOAT = N_I, N_F
FLAGS = {"batch_stats": FLAG_BATCH_STATS}
OPTIMIZERS = {"sgd": OPT_SGD, "adam": OPT_ADAM, "rmsprop": OPT_RMSPROP, "adagrad": OPT_ADAGRAD,
              "adadelta": OPT_ADADELTA, "adamax": OPT_ADAMAX, "nadam": OPT_NADAM,
              "lion": OPT_LION}
HYPER = {"beta_1": H_BETA_1, "beta_2": H_BETA_2, "epsilon": H_EPSILON, "rho": H_RHO,
         "momentum": H_MOMENTUM, "nesterov": H_NESTEROV, "centered": H_CENTERED,
         "amsgrad": H_AMSGRAD, "weight_decay": H_WEIGHT_DECAY, "clipnorm": H_CLIPNORM,
         "global_clipnorm": H_GLOBAL_CLIPNORM, "clipvalue": H_CLIPVALUE}
N_HYPER = N_H

# How often train_epoch looks for Ctrl-C, in seconds.
cdef double SIGNAL_CHECK_SECONDS = 0.005


cdef struct Op:
    int kind
    Py_ssize_t n_in, n_out
    int act
    fnn_act_params ap
    Py_ssize_t w, b, s           # offsets in params (or state) and state; -1 = none
    uint64_t seed
    int flags
    double rate, eps, momentum, act_l1, act_l2
    Py_ssize_t out, g, z, aux    # per-row workspace offsets; -1 = none
    Py_ssize_t vec               # offset in the per-batch vector scratch (BatchNorm); -1 = none


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef inline void *_data(object a) except? NULL:
    """Address of a C-contiguous array's first element (NULL for None)."""
    if a is None:
        return NULL
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError("engine buffers must be C-contiguous")
    return cnp.PyArray_DATA(a)


cdef class Engine:
    """A compiled model: ops, flat buffers and a workspace for `capacity` rows per batch.

    Parameters
    ----------
    ops_i : int64 array of shape (n_ops, N_OP_INT)
    ops_f : float64 array of shape (n_ops, N_OP_FLOAT)
    params, grads : float32 or float64 arrays of shape (n_params,)
    state : array of shape (n_state,), same dtype
    var_off, var_size : int arrays of shape (n_vars,): the trainable variables' segments
    var_l1, var_l2 : float arrays of shape (n_vars,): their regularizers' coefficients
    in_dim : int, the input width
    capacity : int, initial batch capacity in rows (grows on demand)
    """

    cdef Op *ops
    cdef int n_ops
    cdef Py_ssize_t n_vars
    cdef Py_ssize_t *var_off
    cdef Py_ssize_t *var_size
    cdef double *var_l1
    cdef double *var_l2
    cdef double *var_l2_rows          # L2BatchMean: coefficient of Σw² / batch rows
    cdef double *var_decay
    cdef readonly object dtype
    cdef readonly Py_ssize_t in_dim, out_dim, capacity
    cdef Py_ssize_t ws_per_row, vec_len
    cdef bint f32
    cdef readonly object params, grads, state
    cdef object workspace, values, vecs, ybuf, lbuf, wbuf
    cdef void *p_params
    cdef void *p_grads
    cdef void *p_state
    cdef void *p_ws
    cdef void *p_values
    cdef void *p_vecs
    cdef void *p_y
    cdef int64_t *p_labels
    cdef void *p_w
    cdef fnn_loss_spec loss
    cdef readonly bint has_loss, sparse, fused
    cdef int opt_kind
    cdef double hyper[N_H]
    cdef list slots
    cdef void *p_slot[3]
    cdef readonly bint has_optimizer
    cdef public double nadam_u_product
    cdef readonly long long steps_taken    # optimizer steps applied since construction

    def __cinit__(self):
        self.ops = NULL
        self.var_off = self.var_size = NULL
        self.var_l1 = self.var_l2 = self.var_decay = self.var_l2_rows = NULL

    def __dealloc__(self):
        free(self.ops)
        free(self.var_off)
        free(self.var_size)
        free(self.var_l1)
        free(self.var_l2)
        free(self.var_decay)
        free(self.var_l2_rows)

    def __init__(self, ops_i, ops_f, params, grads, state, var_off, var_size, var_l1, var_l2,
                 Py_ssize_t in_dim, Py_ssize_t capacity=32, var_l2_rows=None):
        cdef int64_t[:, ::1] oi = np.ascontiguousarray(ops_i, dtype=np.int64).reshape(-1, N_I)
        cdef double[:, ::1] of = np.ascontiguousarray(ops_f, dtype=np.float64).reshape(-1, N_F)
        cdef Py_ssize_t k, i, width = in_dim, off = in_dim, vec = 0
        cdef Op *op
        if params.dtype not in (np.float32, np.float64):
            raise ValueError(f"params must be float32 or float64, got {params.dtype}")
        for name, a in (("grads", grads), ("state", state)):
            if a.dtype != params.dtype or a.ndim != 1 or not a.flags.c_contiguous:
                raise ValueError(f"{name} must be a flat C-contiguous {params.dtype} array")
        if grads.shape != params.shape or oi.shape[0] != of.shape[0] or oi.shape[0] < 1:
            raise ValueError("inconsistent engine plan")
        self.dtype = params.dtype
        self.f32 = params.dtype == np.float32
        self.params, self.grads, self.state = params, grads, state
        self.p_params, self.p_grads, self.p_state = _data(params), _data(grads), _data(state)
        self.n_ops = oi.shape[0]
        self.in_dim = in_dim
        self.ops = <Op *> malloc(self.n_ops * sizeof(Op))
        self.n_vars = len(var_off)
        self.var_off = <Py_ssize_t *> malloc(max(1, self.n_vars) * sizeof(Py_ssize_t))
        self.var_size = <Py_ssize_t *> malloc(max(1, self.n_vars) * sizeof(Py_ssize_t))
        self.var_l1 = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_l2 = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_decay = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_l2_rows = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        if not (self.ops and self.var_off and self.var_size and self.var_l1 and self.var_l2
                and self.var_decay and self.var_l2_rows):
            raise MemoryError()
        for i in range(self.n_vars):
            self.var_off[i], self.var_size[i] = var_off[i], var_size[i]
            self.var_l1[i], self.var_l2[i] = var_l1[i], var_l2[i]
            self.var_decay[i] = 1.0
            self.var_l2_rows[i] = var_l2_rows[i] if var_l2_rows is not None else 0.0
            if var_off[i] < 0 or var_off[i] + var_size[i] > params.shape[0]:
                raise ValueError("a variable lies outside the parameter buffer")
        for k in range(self.n_ops):
            op = &self.ops[k]
            op.kind = oi[k, I_KIND]
            op.n_in, op.n_out, op.act = oi[k, I_N_IN], oi[k, I_N_OUT], oi[k, I_ACT]
            op.w, op.b, op.s = oi[k, I_W], oi[k, I_B], oi[k, I_STATE]
            op.seed = <uint64_t> oi[k, I_SEED]
            op.flags = oi[k, I_FLAGS]
            op.ap.negative_slope = of[k, F_SLOPE]
            op.ap.max_value = of[k, F_MAX_VALUE]
            op.ap.threshold = of[k, F_THRESHOLD]
            op.ap.alpha = of[k, F_ALPHA]
            op.rate, op.eps, op.momentum = of[k, F_RATE], of[k, F_EPSILON], of[k, F_MOMENTUM]
            op.act_l1, op.act_l2 = of[k, F_ACT_L1], of[k, F_ACT_L2]
            if op.n_in != width or op.n_out < 1:
                raise ValueError(f"op {k} takes {op.n_in} inputs but receives {width}")
            if op.kind not in (OP_DENSE, OP_ACTIVATION) and op.n_in != op.n_out:
                raise ValueError(f"op {k} must keep its width")
            width = op.n_out
            op.out = off
            op.g = off + op.n_out
            off += 2 * op.n_out
            op.z = op.aux = op.vec = -1
            if op.kind == OP_DENSE and op.act != FNN_ACT_LINEAR:
                op.z = off            # pre-activation: for the derivative or a fused loss
                off += op.n_out
            elif op.kind == OP_BATCH_NORM:
                op.aux = off          # x-hat
                off += op.n_out
                op.vec = vec          # inverse standard deviations of the batch
                vec += op.n_out
            elif op.kind == OP_LAYER_NORM:
                op.aux = off          # x-hat, then the row's inverse standard deviation
                off += op.n_out + 1
        self.out_dim = width
        self.ws_per_row = off
        self.vec_len = vec
        self.capacity = 0
        self.has_loss = self.has_optimizer = False
        self.slots = []
        self.p_slot[0] = self.p_slot[1] = self.p_slot[2] = NULL
        self.nadam_u_product = 1.0
        self.steps_taken = 0
        self.reserve(max(1, capacity))

    def reserve(self, Py_ssize_t rows):
        """Grow the per-batch buffers to hold `rows` rows (they never shrink)."""
        if rows <= self.capacity:
            return
        self.workspace = np.zeros(rows * self.ws_per_row, dtype=self.dtype)
        self.values = np.zeros(rows, dtype=self.dtype)
        self.vecs = np.zeros(max(1, self.vec_len), dtype=self.dtype)
        self.ybuf = np.zeros(rows * self.out_dim, dtype=self.dtype)
        self.lbuf = np.zeros(rows, dtype=np.int64)
        self.wbuf = np.zeros(rows, dtype=self.dtype)
        self.p_ws, self.p_values, self.p_vecs = (
            _data(self.workspace), _data(self.values), _data(self.vecs))
        self.p_y, self.p_w = _data(self.ybuf), _data(self.wbuf)
        self.p_labels = <int64_t *> _data(self.lbuf)
        self.capacity = rows

    def set_loss(self, int loss_id, bint sparse, bint fused, double label_smoothing=0.0,
                 double delta=1.0, double gamma=2.0, double alpha=0.25,
                 bint apply_class_balancing=False, bint from_logits=False,
                 bint hinge_binary_labels=False):
        """The loss training and evaluation compute; `fused` = on the last op's logits."""
        cdef Op *last = &self.ops[self.n_ops - 1]
        if fused and not ((last.kind == OP_DENSE and last.z >= 0)
                          or (last.kind == OP_ACTIVATION and self.n_ops > 1)):
            raise ValueError("a fused loss needs a Dense with an activation, or an "
                             "Activation after another op, last")
        self.loss = loss_spec(loss_id, label_smoothing, delta, gamma, alpha,
                              apply_class_balancing, from_logits, hinge_binary_labels)
        self.sparse, self.fused, self.has_loss = sparse, fused, True

    def set_optimizer(self, int kind, hyper, list slots, decays=None):
        """The update rule, its hyperparameters (float64 of length N_HYPER) and slot buffers;
        `decays` (n_vars flags, default all true) says which variables get weight decay.

        Slots, each of the parameters' layout, in order: SGD [momentum or None]; Adam [m, v,
        vhat or None]; RMSprop [v, avg_g or None, momentum or None]; Adagrad [acc];
        Adadelta [acc_g, acc_delta]; Adamax [m, u]; Nadam [m, v]; Lion [m].
        """
        cdef Py_ssize_t i
        if len(hyper) != N_H or len(slots) > 3 \
                or (decays is not None and len(decays) != self.n_vars):
            raise ValueError("bad optimizer specification")
        for s in slots:
            if s is not None and (s.dtype != self.dtype or s.shape != self.params.shape
                                  or not s.flags.c_contiguous):
                raise ValueError("optimizer slots must match the parameter buffer")
        for i in range(N_H):
            self.hyper[i] = hyper[i]
        for i in range(self.n_vars):
            self.var_decay[i] = 1.0 if decays is None or decays[i] else 0.0
        self.opt_kind = kind
        self.slots = list(slots)
        for i in range(3):
            self.p_slot[i] = _data(slots[i]) if i < len(slots) else NULL
        self.has_optimizer = True

    # ---- Python entry points (arguments are checked by fastnn/_plan.py's callers) ----------

    def predict(self, x, out, Py_ssize_t batch_rows, int n_threads, bint training=False,
                long step=0):
        """out[:] = the model's output for x, batch_rows rows at a time.

        Inference mode unless `training`: then noise layers draw from stream `step` and
        BatchNormalization uses (and updates) batch statistics, as Keras's
        ``layer(x, training=True)``; nothing else changes.
        """
        cdef Py_ssize_t n = self._check_x(x)
        self._check_rows(out, n, self.out_dim, "out")
        batch_rows = max(1, min(batch_rows, n))
        self.reserve(batch_rows)
        if n == 0:
            return
        cdef void *px = _data(x)
        cdef void *pout = _data(out)
        if self.f32:
            with nogil:
                _predict(self, <const float *> px, n, <float *> pout, batch_rows, training,
                         step, n_threads)
        else:
            with nogil:
                _predict(self, <const double *> px, n, <double *> pout, batch_rows, training,
                         step, n_threads)

    def train_epoch(self, x, y, sample_weight, order, Py_ssize_t batch_size, lrs,
                    long first_step, preds, int n_threads):
        """Train on the rows `order` names, batch_size at a time.

        Returns (loss_sum, rows_done, batches_done, interrupt): loss_sum is Σ over batches of
        (batch loss incl. regularization) × batch rows; lrs[i] is the learning rate of batch
        i; first_step is the optimizer's iterations + 1 at batch 0. preds, (len(order),
        out_dim) or None, receives the training-mode outputs in `order`'s order. When Ctrl-C
        arrives, the batches done so far stay applied, the loop stops and interrupt is the
        KeyboardInterrupt for the caller to raise once it has recorded the steps done (None
        otherwise).
        """
        cdef Py_ssize_t n = self._check_x(x)
        cdef const int64_t[::1] idx = order
        cdef const double[::1] lr = lrs
        cdef Py_ssize_t n_rows = idx.shape[0], n_batches
        if not (self.has_loss and self.has_optimizer):
            raise RuntimeError("the engine needs a loss and an optimizer to train")
        self._check_targets(y, sample_weight, n)
        if preds is not None:
            self._check_rows(preds, n_rows, self.out_dim, "preds")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        n_batches = (n_rows + batch_size - 1) // batch_size
        if lr.shape[0] < n_batches:
            raise ValueError(f"lrs has {lr.shape[0]} entries for {n_batches} batches")
        if n_rows and (np.min(order) < 0 or np.max(order) >= n):
            raise ValueError("order names rows outside x")
        self.reserve(max(1, min(batch_size, n_rows)))
        if n_rows == 0:
            return 0.0, 0, 0, None
        if self.f32:
            return _train_epoch(self, <const float *> _data(x), <const float *> _data(y),
                                <const int64_t *> _data(y), <const float *> _data(sample_weight),
                                &idx[0], n_rows, batch_size, &lr[0], first_step,
                                <float *> _data(preds), n_threads)
        return _train_epoch(self, <const double *> _data(x), <const double *> _data(y),
                            <const int64_t *> _data(y), <const double *> _data(sample_weight),
                            &idx[0], n_rows, batch_size, &lr[0], first_step,
                            <double *> _data(preds), n_threads)

    def evaluate(self, x, y, sample_weight, Py_ssize_t batch_rows, preds, int n_threads):
        """Inference-mode loss: Σ over batches of (batch loss incl. regularization) × rows."""
        cdef Py_ssize_t n = self._check_x(x)
        cdef double total
        if not self.has_loss:
            raise RuntimeError("the engine needs a loss to evaluate")
        self._check_targets(y, sample_weight, n)
        if preds is not None:
            self._check_rows(preds, n, self.out_dim, "preds")
        batch_rows = max(1, min(batch_rows, n))
        self.reserve(batch_rows)
        if n == 0:
            return 0.0
        cdef void *px = _data(x)
        cdef void *py = _data(y)
        cdef void *pw = _data(sample_weight)
        cdef void *pp = _data(preds)
        if self.f32:
            with nogil:
                total = _evaluate(self, <const float *> px, <const float *> py,
                                  <const int64_t *> py, <const float *> pw, n, batch_rows,
                                  <float *> pp, n_threads)
        else:
            with nogil:
                total = _evaluate(self, <const double *> px, <const double *> py,
                                  <const int64_t *> py, <const double *> pw, n, batch_rows,
                                  <double *> pp, n_threads)
        return total

    def loss_and_gradients(self, x, y, sample_weight, int n_threads):
        """All of (x, y) as one batch in training mode: returns the loss incl. penalties and
        leaves its gradient in `grads` (the parameters' layout). Nothing is updated.

        This is what full-batch solvers (scikit-learn's lbfgs) need.
        """
        cdef Py_ssize_t n = self._check_x(x)
        if not self.has_loss:
            raise RuntimeError("the engine needs a loss to compute gradients")
        if n == 0:
            raise ValueError("loss_and_gradients needs at least one row")
        self._check_targets(y, sample_weight, n)
        self.reserve(n)
        cdef int64_t[::1] order = np.arange(n, dtype=np.int64)
        cdef double loss
        cdef bint weighted = sample_weight is not None
        if self.f32:
            _gather(self, <const float *> _data(x), <const float *> _data(y),
                    <const int64_t *> _data(y), <const float *> _data(sample_weight),
                    &order[0], n, n_threads)
            with nogil:
                loss = _gradient_batch(self, <const float *> NULL, n,
                                       weighted, n_threads)
        else:
            _gather(self, <const double *> _data(x), <const double *> _data(y),
                    <const int64_t *> _data(y), <const double *> _data(sample_weight),
                    &order[0], n, n_threads)
            with nogil:
                loss = _gradient_batch(self, <const double *> NULL, n,
                                       weighted, n_threads)
        return loss

    def regularization_penalty(self):
        """Σ over variables of l1·Σ|w| + l2·Σw², the amount added to every batch's loss."""
        if self.f32:
            return _penalty(self, <float *> self.p_params, 1)
        return _penalty(self, <double *> self.p_params, 1)

    # The engine trusts its callers for shapes; these checks keep a wrong call from writing
    # outside a buffer, at a cost of a few attribute reads.

    cdef Py_ssize_t _check_x(self, x) except -1:
        if x.dtype != self.dtype or x.ndim != 2 or x.shape[1] != self.in_dim \
                or not x.flags.c_contiguous:
            raise ValueError(f"x must be a C-contiguous {self.dtype} array of shape "
                             f"(n, {self.in_dim})")
        return x.shape[0]

    cdef int _check_rows(self, a, Py_ssize_t n, Py_ssize_t width, str name) except -1:
        if a.dtype != self.dtype or a.shape != (n, width) or not a.flags.c_contiguous \
                or not a.flags.writeable:
            raise ValueError(f"{name} must be a writeable C-contiguous {self.dtype} array of "
                             f"shape ({n}, {width})")
        return 0

    cdef int _check_targets(self, y, sample_weight, Py_ssize_t n) except -1:
        if self.sparse:
            if y.dtype != np.int64 or y.shape != (n,) or not y.flags.c_contiguous:
                raise ValueError(f"labels must be a C-contiguous int64 array of shape ({n},)")
        elif y.dtype != self.dtype or y.shape != (n, self.out_dim) or not y.flags.c_contiguous:
            raise ValueError(f"y must be a C-contiguous {self.dtype} array of shape "
                             f"({n}, {self.out_dim})")
        if sample_weight is not None and (sample_weight.dtype != self.dtype
                                          or sample_weight.shape != (n,)
                                          or not sample_weight.flags.c_contiguous):
            raise ValueError(f"sample_weight must be a C-contiguous {self.dtype} array of "
                             f"shape ({n},)")
        return 0


# ---- the epoch --------------------------------------------------------------------------

cdef object _train_epoch(Engine e, const floating *x, const floating *y, const int64_t *labels,
                         const floating *sw, const int64_t *order, Py_ssize_t n,
                         Py_ssize_t batch_size, const double *lrs, long first_step,
                         floating *preds, int n_threads):
    cdef Py_ssize_t start = 0, rows, batch = 0
    cdef double loss_sum = 0.0, last_check
    cdef object interrupt = None
    with nogil:
        last_check = _now()
        while start < n:
            rows = min(batch_size, n - start)
            _gather(e, x, y, labels, sw, order + start, rows, n_threads)
            loss_sum += rows * _train_batch(e, x, rows, sw != NULL, lrs[batch],
                                            first_step + batch, n_threads)
            e.steps_taken += 1
            if preds != NULL:
                memcpy(preds + start * e.out_dim,
                       <floating *> e.p_ws + e.ops[e.n_ops - 1].out * rows,
                       rows * e.out_dim * sizeof(floating))
            start += rows
            batch += 1
            if _now() - last_check > SIGNAL_CHECK_SECONDS:
                last_check = _now()
                with gil:
                    try:
                        PyErr_CheckSignals()
                    except BaseException as exc:   # Ctrl-C: KeyboardInterrupt
                        interrupt = exc
                if interrupt is not None:
                    break
    return loss_sum, start, batch, interrupt


cdef extern from *:
    """
    /* Ask for the n bytes at p (read soon, keep in all cache levels). */
    static inline void fnn_prefetch_bytes(const void *p, size_t n) {
        for (size_t off = 0; off < n; off += 64)
            __builtin_prefetch((const char *)p + off, 0, 3);
    }
    """
    void fnn_prefetch_bytes(const void *p, size_t n) noexcept nogil


cdef enum:
    # Rows of x requested ahead of the one being copied. Shuffled rows are scattered over
    # the whole array (188 MB for MNIST): each one starts with a miss to memory, and the
    # copy of one row alone leaves the memory system idle most of the time.
    GATHER_AHEAD = 4


cdef inline void _gather_rows(Engine e, const floating *x, const floating *y,
                              const int64_t *labels, const floating *sw, const int64_t *idx,
                              Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i, r, d = e.in_dim, c = e.out_dim
    cdef floating *xb = <floating *> e.p_ws
    cdef floating *yb = <floating *> e.p_y
    cdef floating *wb = <floating *> e.p_w
    for i in range(lo, min(hi, lo + GATHER_AHEAD)):
        fnn_prefetch_bytes(x + idx[i] * d, d * sizeof(floating))
    for i in range(lo, hi):
        if i + GATHER_AHEAD < hi:
            fnn_prefetch_bytes(x + idx[i + GATHER_AHEAD] * d, d * sizeof(floating))
        r = idx[i]
        memcpy(xb + i * d, x + r * d, d * sizeof(floating))
        if e.sparse:
            e.p_labels[i] = labels[r]
        else:
            memcpy(yb + i * c, y + r * c, c * sizeof(floating))
        if sw != NULL:
            wb[i] = sw[r]


cdef void _gather(Engine e, const floating *x, const floating *y, const int64_t *labels,
                  const floating *sw, const int64_t *idx, Py_ssize_t rows,
                  int n_threads) noexcept nogil:
    """Copy the batch's rows of x, y (or labels) and weights into the batch buffers; two
    threads keep twice as many of the rows' misses to memory in flight."""
    cdef int nt = threads_for(rows * e.in_dim, n_threads)
    cdef Py_ssize_t t
    if nt == 1:
        _gather_rows(e, x, y, labels, sw, idx, 0, rows)
        return
    for t in prange(nt, schedule="static", num_threads=nt):
        _gather_rows(e, x, y, labels, sw, idx, rows * t // nt, rows * (t + 1) // nt)


cdef double _train_batch(Engine e, const floating *like, Py_ssize_t rows, bint weighted,
                         double lr, long t, int n_threads) noexcept nogil:
    """One optimizer step on the gathered batch; returns its loss incl. penalties."""
    cdef floating *ws = <floating *> e.p_ws
    cdef floating *params = <floating *> e.p_params
    cdef double loss = _forward(e, ws, ws, rows, True, t, n_threads)
    loss += _loss(e, ws, rows, <const floating *> e.p_y, e.p_labels,
                  <const floating *> e.p_w if weighted else NULL, True, n_threads)
    _backward(e, ws, rows, t, n_threads)
    loss += _penalty(e, params, rows)
    _regularization_grads(e, params, <floating *> e.p_grads, rows)
    _update(e, params, <floating *> e.p_grads, lr, t, n_threads)
    return loss


cdef double _gradient_batch(Engine e, const floating *like, Py_ssize_t rows, bint weighted,
                            int n_threads) noexcept nogil:
    """Loss incl. penalties of the gathered batch, with its gradient left in e.grads."""
    cdef floating *ws = <floating *> e.p_ws
    cdef floating *params = <floating *> e.p_params
    cdef double loss = _forward(e, ws, ws, rows, True, 0, n_threads)
    loss += _loss(e, ws, rows, <const floating *> e.p_y, e.p_labels,
                  <const floating *> e.p_w if weighted else NULL, True, n_threads)
    _backward(e, ws, rows, 0, n_threads)
    loss += _penalty(e, params, rows)
    _regularization_grads(e, params, <floating *> e.p_grads, rows)
    return loss


# ---- inference --------------------------------------------------------------------------

cdef void _predict(Engine e, const floating *x, Py_ssize_t n, floating *out,
                   Py_ssize_t batch_rows, bint training, long step,
                   int n_threads) noexcept nogil:
    cdef Py_ssize_t start = 0, rows
    cdef floating *ws = <floating *> e.p_ws
    while start < n:
        rows = min(batch_rows, n - start)
        _forward(e, ws, x + start * e.in_dim, rows, training, step, n_threads)
        memcpy(out + start * e.out_dim, ws + e.ops[e.n_ops - 1].out * rows,
               rows * e.out_dim * sizeof(floating))
        start += rows


cdef double _evaluate(Engine e, const floating *x, const floating *y, const int64_t *labels,
                      const floating *sw, Py_ssize_t n, Py_ssize_t batch_rows, floating *preds,
                      int n_threads) noexcept nogil:
    cdef Py_ssize_t start = 0, rows
    cdef floating *ws = <floating *> e.p_ws
    cdef double total = 0.0, batch_loss
    cdef double penalty
    while start < n:
        rows = min(batch_rows, n - start)
        penalty = _penalty(e, <floating *> e.p_params, rows)
        batch_loss = _forward(e, ws, x + start * e.in_dim, rows, False, 0, n_threads)
        batch_loss += _loss(e, ws, rows, y + start * e.out_dim if y != NULL else NULL,
                            labels + start if e.sparse else NULL,
                            sw + start if sw != NULL else NULL, False, n_threads)
        total += rows * (batch_loss + penalty)
        if preds != NULL:
            memcpy(preds + start * e.out_dim, ws + e.ops[e.n_ops - 1].out * rows,
                   rows * e.out_dim * sizeof(floating))
        start += rows
    return total


# ---- forward ----------------------------------------------------------------------------

cdef double _forward(Engine e, floating *ws, const floating *x, Py_ssize_t rows, bint training,
                     long step, int n_threads) noexcept nogil:
    """Run every op on `rows` rows of x; returns the activity regularizers' penalties."""
    cdef int k
    cdef Op *op
    cdef const floating *inp = x
    cdef floating *out
    cdef floating *z
    cdef floating *params = <floating *> e.p_params
    cdef double penalty = 0.0
    for k in range(e.n_ops):
        op = &e.ops[k]
        out = ws + op.out * rows
        if op.kind == OP_DENSE:
            z = ws + op.z * rows if op.z >= 0 else out
            gemm(False, False, rows, op.n_out, op.n_in, <floating> 1.0, inp, op.n_in,
                 params + op.w, op.n_out, <floating> 0.0, z, op.n_out, n_threads)
            # z += b in place (kept for backward and fused losses), then out = f(z).
            act_forward(op.act, &op.ap, rows, op.n_out, z, params + op.b if op.b >= 0 else NULL,
                        out, z if op.z >= 0 else NULL, n_threads)
        elif op.kind == OP_ACTIVATION:
            act_forward(op.act, &op.ap, rows, op.n_out, inp, NULL, out, NULL, n_threads)
        elif op.kind == OP_DROPOUT and training:
            dropout_rows(inp, out, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k, 0,
                         n_threads)
        elif op.kind == OP_GAUSSIAN_NOISE and training:
            gaussian_noise_rows(inp, out, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k,
                                0, n_threads)
        elif op.kind == OP_GAUSSIAN_DROPOUT and training:
            gaussian_dropout_rows(inp, out, rows, op.n_out, op.rate, op.seed, step,
                                  <uint16_t> k, 0, n_threads)
        elif op.kind == OP_BATCH_NORM:
            _batch_norm_forward(e, op, inp, out, ws + op.aux * rows, rows,
                                training and (op.flags & FLAG_BATCH_STATS) != 0)
        elif op.kind == OP_LAYER_NORM:
            _layer_norm_forward(e, op, inp, out, ws + op.aux * rows, rows, n_threads)
        elif op.kind == OP_PRELU:
            _prelu_forward(e, op, inp, out, rows)
        else:   # noise and dropout at inference: identity
            memcpy(out, inp, rows * op.n_out * sizeof(floating))
        if op.act_l1 != 0 or op.act_l2 != 0:   # Keras adds it in inference too
            penalty += _activity_penalty(op, out, rows)
        inp = out
    return penalty


cdef inline floating *_weights(Engine e, Op *op, Py_ssize_t off,
                               const floating *like) noexcept nogil:
    """An op's weight at `off` in params (NULL when absent). Frozen weights live in params
    too; they are simply not among the variables the optimizer updates."""
    if off < 0:
        return NULL
    return <floating *> e.p_params + off


cdef void _batch_norm_forward(Engine e, Op *op, const floating *x, floating *y, floating *xhat,
                              Py_ssize_t rows, bint batch_stats) noexcept nogil:
    """y = γ·(x − μ)/sqrt(σ² + ε) + β per column, with the batch's or the moving statistics."""
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, x)
    cdef floating *beta = _weights(e, op, op.b, x)
    cdef floating *mean = <floating *> e.p_state + op.s
    cdef floating *var = mean + n
    cdef floating *inv = <floating *> e.p_vecs + op.vec
    cdef double m, v, d
    for j in range(n):
        if batch_stats:
            m = 0.0
            for i in range(rows):
                m += x[i * n + j]
            m /= rows
            v = 0.0
            for i in range(rows):
                d = x[i * n + j] - m
                v += d * d
            v /= rows                                   # biased, as Keras
            mean[j] = <floating> (mean[j] * op.momentum + m * (1.0 - op.momentum))
            var[j] = <floating> (var[j] * op.momentum + v * (1.0 - op.momentum))
        else:
            m, v = mean[j], var[j]
        inv[j] = <floating> (1.0 / sqrt(v + op.eps))
        for i in range(rows):
            xhat[i * n + j] = <floating> ((x[i * n + j] - m) * inv[j])
            y[i * n + j] = xhat[i * n + j] * (gamma[j] if gamma != NULL else 1) \
                + (beta[j] if beta != NULL else 0)


cdef inline void _layer_norm_row(const floating *x, floating *y, floating *aux,
                                 const floating *gamma, const floating *beta, Py_ssize_t n,
                                 double eps) noexcept nogil:
    """One row of _layer_norm_forward; aux holds the row's x-hat and then its 1/std."""
    cdef Py_ssize_t j
    cdef double m = 0.0, v = 0.0, d, inv
    for j in range(n):
        m = m + x[j]
    m = m / n
    for j in range(n):
        d = x[j] - m
        v = v + d * d
    inv = 1.0 / sqrt(v / n + eps)
    aux[n] = <floating> inv
    for j in range(n):
        aux[j] = <floating> ((x[j] - m) * inv)
        y[j] = aux[j] * (gamma[j] if gamma != NULL else 1) + (beta[j] if beta != NULL else 0)


cdef void _layer_norm_forward(Engine e, Op *op, const floating *x, floating *y, floating *aux,
                              Py_ssize_t rows, int n_threads) noexcept nogil:
    """Per row: y = γ·(x − mean)/sqrt(var + ε) + β; aux keeps x-hat and 1/std per row."""
    cdef Py_ssize_t i, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, x)
    cdef floating *beta = _weights(e, op, op.b, x)
    cdef int threads = threads_for(rows * n, n_threads)
    if threads == 1:  # no parallel region: even a one-thread region costs a futex call
        for i in range(rows):
            _layer_norm_row(x + i * n, y + i * n, aux + i * (n + 1), gamma, beta, n, op.eps)
        return
    for i in prange(rows, schedule="static", num_threads=threads):
        _layer_norm_row(x + i * n, y + i * n, aux + i * (n + 1), gamma, beta, n, op.eps)


cdef void _prelu_forward(Engine e, Op *op, const floating *x, floating *y,
                         Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *alpha = _weights(e, op, op.w, x)
    for i in range(rows):
        for j in range(n):
            y[i * n + j] = x[i * n + j] if x[i * n + j] > 0 else alpha[j] * x[i * n + j]


cdef double _activity_penalty(Op *op, const floating *a, Py_ssize_t rows) noexcept nogil:
    """Keras adds an activity regularizer's penalty divided by the batch size."""
    cdef Py_ssize_t i
    cdef double s1 = 0.0, s2 = 0.0
    for i in range(rows * op.n_out):
        s1 += fabs(a[i])
        s2 += a[i] * a[i]
    return (op.act_l1 * s1 + op.act_l2 * s2) / rows


# ---- loss -------------------------------------------------------------------------------

cdef double _loss(Engine e, floating *ws, Py_ssize_t rows, const floating *y,
                  const int64_t *labels, const floating *sw, bint with_grad,
                  int n_threads) noexcept nogil:
    """Batch loss Σ w·l / rows. With with_grad, its gradient goes to the last op's output
    gradient or, for a fused loss, to the logits' gradient buffer."""
    cdef Op *last = &e.ops[e.n_ops - 1]
    cdef const floating *pred = ws + last.out * rows
    cdef floating *grad = ws + last.g * rows
    cdef floating *values = <floating *> e.p_values
    cdef Py_ssize_t i
    cdef double total = 0.0
    cdef fnn_loss_spec spec = e.loss
    if y != NULL and (spec.loss == FNN_LOSS_HINGE or spec.loss == FNN_LOSS_SQUARED_HINGE):
        # Keras maps labels in {0, 1} to {-1, 1}, deciding per batch.
        spec.hinge_binary_labels = _all_zero_one(y, rows * e.out_dim)
    if e.fused:
        if last.kind == OP_DENSE:
            pred = ws + last.z * rows
        else:   # Activation op: its input is the logits and its own backward is skipped
            pred = ws + e.ops[e.n_ops - 2].out * rows
            grad = ws + e.ops[e.n_ops - 2].g * rows
    if not with_grad:
        grad = NULL
    if e.sparse:
        sparse_loss_rows(&spec, rows, e.out_dim, labels, pred, sw, 1.0 / rows, values, grad,
                         n_threads)
    else:
        loss_rows(&spec, rows, e.out_dim, y, pred, sw, 1.0 / rows, values, grad, n_threads)
    for i in range(rows):
        total += values[i] * (sw[i] if sw != NULL else 1.0)
    return total / rows


cdef bint _all_zero_one(const floating *y, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if y[i] != 0 and y[i] != 1:
            return False
    return True


# ---- backward ---------------------------------------------------------------------------

cdef void _backward(Engine e, floating *ws, Py_ssize_t rows, long step,
                    int n_threads) noexcept nogil:
    """From the loss gradient at the output to every parameter's gradient in e.grads."""
    cdef int k
    cdef Op *op
    cdef floating *params = <floating *> e.p_params
    cdef floating *grads = <floating *> e.p_grads
    cdef floating *g
    cdef floating *gin
    cdef const floating *inp
    cdef const floating *out
    cdef bint fused_here
    for k in range(e.n_ops - 1, -1, -1):
        op = &e.ops[k]
        g = ws + op.g * rows
        out = ws + op.out * rows
        inp = ws + e.ops[k - 1].out * rows if k > 0 else ws
        gin = ws + e.ops[k - 1].g * rows if k > 0 else NULL
        fused_here = e.fused and k == e.n_ops - 1
        if op.act_l1 != 0 or op.act_l2 != 0:
            _activity_grad(op, out, g, rows)
        if op.kind == OP_DENSE:
            if not fused_here and op.act != FNN_ACT_LINEAR:
                act_backward(op.act, &op.ap, rows, op.n_out,
                             ws + op.z * rows if op.z >= 0 else NULL, out, g, g, n_threads)
            gemm(True, False, op.n_in, op.n_out, rows, <floating> 1.0, inp, op.n_in,
                 g, op.n_out, <floating> 0.0, grads + op.w, op.n_out, n_threads)
            if op.b >= 0:
                column_sums_nogil(g, rows, op.n_out, grads + op.b, False, n_threads)
            if gin != NULL:
                gemm(False, True, rows, op.n_in, op.n_out, <floating> 1.0, g, op.n_out,
                     params + op.w, op.n_out, <floating> 0.0, gin, op.n_in, n_threads)
        elif gin == NULL and op.kind != OP_BATCH_NORM and op.kind != OP_LAYER_NORM \
                and op.kind != OP_PRELU:
            continue    # nothing below needs this gradient and the op has no weights
        elif op.kind == OP_ACTIVATION:
            if not fused_here:   # fused: the loss wrote d/dlogits into gin already
                act_backward(op.act, &op.ap, rows, op.n_out, inp, out, g, gin, n_threads)
        elif op.kind == OP_DROPOUT:
            dropout_rows(g, gin, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k, 0,
                         n_threads)
        elif op.kind == OP_GAUSSIAN_NOISE:
            memcpy(gin, g, rows * op.n_out * sizeof(floating))
        elif op.kind == OP_GAUSSIAN_DROPOUT:
            gaussian_dropout_rows(g, gin, rows, op.n_out, op.rate, op.seed, step, <uint16_t> k,
                                  0, n_threads)
        elif op.kind == OP_BATCH_NORM:
            _batch_norm_backward(e, op, g, ws + op.aux * rows, gin, rows)
        elif op.kind == OP_LAYER_NORM:
            _layer_norm_backward(e, op, g, ws + op.aux * rows, gin, rows)
        elif op.kind == OP_PRELU:
            _prelu_backward(e, op, inp, g, gin, rows)


cdef void _activity_grad(Op *op, const floating *a, floating *g, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i
    cdef double s
    for i in range(rows * op.n_out):
        s = 1.0 if a[i] > 0 else (-1.0 if a[i] < 0 else 0.0)
        g[i] += <floating> ((op.act_l1 * s + 2.0 * op.act_l2 * a[i]) / rows)


cdef void _batch_norm_backward(Engine e, Op *op, const floating *g, const floating *xhat,
                               floating *gin, Py_ssize_t rows) noexcept nogil:
    """dγ = Σ g·x̂, dβ = Σ g; dx through the batch statistics when they were used."""
    cdef Py_ssize_t i, j, n = op.n_out
    cdef bint batch_stats = (op.flags & FLAG_BATCH_STATS) != 0
    cdef floating *gamma = _weights(e, op, op.w, g)
    cdef floating *dgamma = <floating *> e.p_grads + op.w if op.w >= 0 else NULL
    cdef floating *dbeta = <floating *> e.p_grads + op.b if op.b >= 0 else NULL
    cdef const floating *inv = <floating *> e.p_vecs + op.vec
    cdef double sg, sgx, gam
    for j in range(n):
        sg = 0.0
        sgx = 0.0
        for i in range(rows):
            sg += g[i * n + j]
            sgx += g[i * n + j] * xhat[i * n + j]
        if dgamma != NULL:
            dgamma[j] = <floating> sgx
        if dbeta != NULL:
            dbeta[j] = <floating> sg
        if gin == NULL:
            continue
        gam = gamma[j] if gamma != NULL else 1.0
        for i in range(rows):
            if batch_stats:
                gin[i * n + j] = <floating> (gam * inv[j] / rows
                                             * (rows * g[i * n + j] - sg - xhat[i * n + j] * sgx))
            else:
                gin[i * n + j] = <floating> (gam * inv[j] * g[i * n + j])


cdef void _layer_norm_backward(Engine e, Op *op, const floating *g, const floating *aux,
                               floating *gin, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *gamma = _weights(e, op, op.w, g)
    cdef floating *dgamma = <floating *> e.p_grads + op.w if op.w >= 0 else NULL
    cdef floating *dbeta = <floating *> e.p_grads + op.b if op.b >= 0 else NULL
    cdef double s1, s2, dxh
    if dgamma != NULL:
        for j in range(n):
            dgamma[j] = 0
    if dbeta != NULL:
        for j in range(n):
            dbeta[j] = 0
    for i in range(rows):
        s1 = 0.0
        s2 = 0.0
        for j in range(n):
            if dgamma != NULL:
                dgamma[j] += g[i * n + j] * aux[i * (n + 1) + j]
            if dbeta != NULL:
                dbeta[j] += g[i * n + j]
            dxh = g[i * n + j] * (gamma[j] if gamma != NULL else 1.0)
            s1 += dxh
            s2 += dxh * aux[i * (n + 1) + j]
        if gin == NULL:
            continue
        for j in range(n):
            dxh = g[i * n + j] * (gamma[j] if gamma != NULL else 1.0)
            gin[i * n + j] = <floating> (aux[i * (n + 1) + n] / n
                                         * (n * dxh - s1 - aux[i * (n + 1) + j] * s2))


cdef void _prelu_backward(Engine e, Op *op, const floating *x, const floating *g,
                          floating *gin, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i, j, n = op.n_out
    cdef floating *alpha = _weights(e, op, op.w, x)
    cdef floating *dalpha = <floating *> e.p_grads + op.w
    for j in range(n):
        dalpha[j] = 0
    for i in range(rows):
        for j in range(n):
            if x[i * n + j] < 0:
                dalpha[j] += g[i * n + j] * x[i * n + j]
                if gin != NULL:
                    gin[i * n + j] = alpha[j] * g[i * n + j]
            elif gin != NULL:
                gin[i * n + j] = g[i * n + j] if x[i * n + j] > 0 else 0


# ---- regularization and the optimizer step ----------------------------------------------

cdef double _penalty(Engine e, const floating *params, Py_ssize_t rows) noexcept nogil:
    """The regularizers' penalty for a batch of `rows` rows."""
    cdef Py_ssize_t v, i
    cdef double total = 0.0, s
    for v in range(e.n_vars):
        if e.var_l2_rows[v] != 0:
            total += e.var_l2_rows[v] / rows * sum_squares_nogil(params + e.var_off[v],
                                                                 e.var_size[v], 1)
        if e.var_l1[v] != 0:
            s = 0.0
            for i in range(e.var_off[v], e.var_off[v] + e.var_size[v]):
                s += fabs(params[i])
            total += e.var_l1[v] * s
        if e.var_l2[v] != 0:
            total += e.var_l2[v] * sum_squares_nogil(params + e.var_off[v], e.var_size[v], 1)
    return total


cdef void _regularization_grads(Engine e, const floating *params, floating *grads,
                                Py_ssize_t rows) noexcept nogil:
    """grads += l1·sign(w) + 2·l2·w (the gradient of the penalty; sign(0) = 0)."""
    cdef Py_ssize_t v, i
    cdef double l1, l2, w
    for v in range(e.n_vars):
        l1, l2 = e.var_l1[v], e.var_l2[v] + e.var_l2_rows[v] / rows
        if l1 == 0 and l2 == 0:
            continue
        for i in range(e.var_off[v], e.var_off[v] + e.var_size[v]):
            w = params[i]
            grads[i] += <floating> (l1 * (1.0 if w > 0 else (-1.0 if w < 0 else 0.0))
                                    + 2.0 * l2 * w)


cdef void _update(Engine e, floating *w, floating *g, double lr, long t,
                  int n_threads) noexcept nogil:
    """Clip (clipnorm per variable, global_clipnorm, clipvalue), then each variable's step."""
    cdef Py_ssize_t v, off, n
    cdef double *h = e.hyper
    cdef double scale, global_scale = 1.0, norm, total = 0.0, decay
    cdef double clip_value = h[H_CLIPVALUE] if h[H_CLIPVALUE] > 0 else INFINITY
    cdef double product = e.nadam_u_product
    cdef floating *s0 = <floating *> e.p_slot[0]
    cdef floating *s1 = <floating *> e.p_slot[1]
    cdef floating *s2 = <floating *> e.p_slot[2]
    if h[H_GLOBAL_CLIPNORM] > 0:
        for v in range(e.n_vars):
            total += sum_squares_nogil(g + e.var_off[v], e.var_size[v], n_threads)
        norm = sqrt(total)
        global_scale = h[H_GLOBAL_CLIPNORM] / max(norm, h[H_GLOBAL_CLIPNORM])
    for v in range(e.n_vars):
        off, n = e.var_off[v], e.var_size[v]
        scale = global_scale
        decay = h[H_WEIGHT_DECAY] * e.var_decay[v]
        if h[H_CLIPNORM] > 0:
            norm = sqrt(sum_squares_nogil(g + off, n, n_threads))
            scale = h[H_CLIPNORM] / max(norm, h[H_CLIPNORM])
        if e.opt_kind == OPT_SGD:
            sgd_update_nogil(w + off, g + off, s0 + off if s0 != NULL else NULL, n, lr,
                             h[H_MOMENTUM], h[H_NESTEROV] != 0, decay, scale,
                             clip_value, n_threads)
        elif e.opt_kind == OPT_ADAM:
            adam_update_nogil(w + off, g + off, s0 + off, s1 + off,
                              s2 + off if s2 != NULL else NULL, n, lr, h[H_BETA_1],
                              h[H_BETA_2], h[H_EPSILON], t, decay, scale,
                              clip_value, n_threads)
        elif e.opt_kind == OPT_RMSPROP:
            rmsprop_update_nogil(w + off, g + off, s0 + off, s1 + off if s1 != NULL else NULL,
                                 s2 + off if s2 != NULL else NULL, n, lr, h[H_RHO],
                                 h[H_MOMENTUM], h[H_EPSILON], decay, scale,
                                 clip_value, n_threads)
        elif e.opt_kind == OPT_ADAGRAD:
            adagrad_update_nogil(w + off, g + off, s0 + off, n, lr, h[H_EPSILON],
                                 decay, scale, clip_value, n_threads)
        elif e.opt_kind == OPT_ADADELTA:
            adadelta_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr, h[H_RHO],
                                  h[H_EPSILON], decay, scale, clip_value, n_threads)
        elif e.opt_kind == OPT_ADAMAX:
            adamax_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr, h[H_BETA_1],
                                h[H_BETA_2], h[H_EPSILON], t, decay, scale,
                                clip_value, n_threads)
        elif e.opt_kind == OPT_NADAM:
            product = nadam_update_nogil(w + off, g + off, s0 + off, s1 + off, n, lr,
                                         h[H_BETA_1], h[H_BETA_2], h[H_EPSILON], t,
                                         e.nadam_u_product, decay, scale,
                                         clip_value, n_threads)
        elif e.opt_kind == OPT_LION:
            lion_update_nogil(w + off, g + off, s0 + off, n, lr, h[H_BETA_1], h[H_BETA_2],
                              decay, scale, clip_value, n_threads)
    e.nadam_u_product = product
