"""The engine: whole epochs of training, and inference, in one call without the GIL.

Design note
-----------
fastnn/_plan.py turns a model's graph of layer calls into a list of ops in topological order
(two small arrays, `ops_i` and `ops_f`, one row per op, columns named by the I_* / F_*
constants), says which earlier ops each op reads (`op_inputs`; -1 is the model's input) and
which ops are the model's outputs (`outputs`). Every weight has an offset in one of two flat
buffers: `params` (trainable; `grads` and every optimizer slot share its layout) and `state`
(non-trainable, e.g. BatchNormalization's moving statistics). A chain (`Sequential`) is the
graph whose op k reads op k - 1: there is one engine for every model kind.

A training batch: gather the rows of x, and of each output's targets and sample weights,
named by the epoch's order; run the ops forward, keeping each op's output (and the
pre-activation where the activation's derivative or a fused loss needs it); compute each
output's loss and its gradient (on the logits for softmax/sigmoid + cross-entropy, as Keras's
TensorFlow backend does), scaled by the output's loss weight; run the ops backward into
`grads`; add the regularizers' gradients; clip; apply the optimizer's fused update.

Gradients in a graph: an op's output read by several ops gets the sum of their gradients.
Walking backward, the first op to reach a buffer writes it and the later ones add to it
(`Op.acc` per input, worked out once in `_plan_gradients`); a layer called twice (shared
weights) accumulates its weight gradients the same way (`Op.w_acc`). Ops whose output no
loss depends on are skipped, and ops that neither hold weights nor lead to any are not
differentiated at all.

Workspaces belong to the call: each `predict`/`evaluate`/`train_epoch` takes one from a pool
(or makes one) and gives it back at the end, so threads that predict at once on one model
never share a buffer. Training writes the weights, so it runs alone: `_Access` lets
inference calls run together, makes them wait while a training call runs, and refuses a
second training call instead of interleaving two (fastnn/models/trainer.py holds the same
rule for a whole `fit`).

A batch's loss is Σ w·loss over its rows divided by its row count, as Keras reduces it,
and L2BatchMean penalties are divided by the same count. `set_normalization("weights")`
divides both by the batch's Σw instead: scikit-learn's MLP objective, under which a sample
weight of k is the same as k copies of the row whatever the batch composition.

Per-row workspace layout: offsets are per row (op.out, op.g, op.z, op.aux, op.tmp), and a
batch of `rows` rows puts op k's output at ws + op.out * rows, so one layout serves every
batch size up to the capacity and each buffer is a C-contiguous (rows, width) matrix. The
gathered input sits at offset 0.

Threads: each kernel call opens its own parallel region, so OpenMP and BLAS never
oversubscribe the cores. The loops written here either split disjoint rows or run serially
in a fixed order, so results do not depend on the thread count.

The code is split by job: this file holds the Python-facing classes; _engine_ops.pxi runs
each op kind forward and backward; _engine_loop.pxi holds the batch loop (gather, losses,
penalties, the optimizer step).
"""

import os
import threading

from cython cimport floating
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from libc.math cimport INFINITY, fabs, sqrt
from libc.stdint cimport int64_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np
cimport numpy as cnp

from fastnn._kernels._bf16 import path as _bf16_products_path

cnp.import_array()

from fastnn._kernels._activations cimport (
    FNN_ACT_LINEAR, act_backward, act_forward, fnn_act_params,
)
from fastnn._kernels._bf16 cimport (
    gemm_bf16, image_rows, image_size, image_splits_at_even_rows)
from fastnn._kernels._gemm cimport gemm
from fastnn._kernels._losses cimport (
    FNN_LOSS_HINGE, FNN_LOSS_SQUARED_HINGE, fnn_loss_spec, loss_rows, loss_spec,
    sparse_loss_rows,
)
from fastnn._kernels._openmp cimport threads_for
from fastnn._kernels._quant cimport qdense
from fastnn._kernels._optimizers cimport (
    adadelta_update_nogil, adagrad_update_nogil, adam_update_nogil, adamax_update_nogil,
    ftrl_update_nogil, lamb_update_nogil, lion_update_nogil, nadam_update_nogil,
    rmsprop_update_nogil, sgd_update_nogil,
)
from fastnn._kernels._reductions cimport column_sums_nogil, sum_squares_nogil
from fastnn._kernels._rng cimport (
    dropout_rows, gaussian_dropout_rows, gaussian_noise_rows, uniform_rows,
)


cdef enum:
    OP_DENSE, OP_ACTIVATION, OP_DROPOUT, OP_GAUSSIAN_NOISE, OP_GAUSSIAN_DROPOUT,
    OP_BATCH_NORM, OP_LAYER_NORM, OP_PRELU,
    OP_EMBEDDING,               # rows of a table (w) picked by n_in integer codes per row
    OP_UNIT_NORM,               # each of `groups` blocks of a row scaled to unit L2 norm
    OP_ALPHA_DROPOUT,           # SELU-preserving dropout (Klambauer et al., 2017)
    OP_PYTHON,                  # a Python piece (Lambda, a Layer subclass): Engine._python[k]
    OP_SLICE,                   # columns [col, col + n_out) of the model's input
    OP_ADD, OP_SUBTRACT, OP_MULTIPLY, OP_AVERAGE, OP_MAXIMUM, OP_MINIMUM,   # elementwise
    OP_CONCAT,                  # inputs side by side
    OP_DOT                      # per-row dot product of two inputs (n_out = 1)

cdef enum:                      # columns of ops_i
    I_KIND, I_N_IN, I_N_OUT, I_ACT, I_W, I_B, I_STATE, I_SEED, I_FLAGS, I_COL, I_GROUPS,
    I_VOCAB, N_I

cdef enum:                    # columns of ops_f
    F_SLOPE, F_MAX_VALUE, F_THRESHOLD, F_ALPHA, F_RATE, F_EPSILON, F_MOMENTUM,
    F_ACT_L1, F_ACT_L2, N_F

cdef enum:                     # bits of ops_i[:, I_FLAGS]
    FLAG_BATCH_STATS = 1              # BatchNormalization uses batch statistics in training
    FLAG_NORMALIZE = 2                # Dot: L2-normalize both inputs first
    FLAG_TRAINING = 4                 # called with training=True: training mode in every call
    FLAG_BF16 = 8                     # Dense of a mixed_bfloat16 layer: bfloat16 products

cdef enum:
    OPT_SGD, OPT_ADAM, OPT_RMSPROP, OPT_ADAGRAD, OPT_ADADELTA, OPT_ADAMAX, OPT_NADAM, OPT_LION,
    OPT_FTRL, OPT_LAMB

cdef enum:                      # entries of the optimizer's hyperparameter array
    H_BETA_1, H_BETA_2, H_EPSILON, H_RHO, H_MOMENTUM, H_NESTEROV, H_CENTERED, H_AMSGRAD,
    H_WEIGHT_DECAY, H_CLIPNORM, H_GLOBAL_CLIPNORM, H_CLIPVALUE,
    H_LEARNING_RATE_POWER, H_L1, H_L2, H_L2_SHRINKAGE, H_BETA, N_H

cdef enum:
    MAX_HEADS = 64              # model outputs per engine

# The same numbers for fastnn/_plan.py and fastnn/optimizers.
OPS = {"dense": OP_DENSE, "activation": OP_ACTIVATION, "dropout": OP_DROPOUT,
       "gaussian_noise": OP_GAUSSIAN_NOISE, "gaussian_dropout": OP_GAUSSIAN_DROPOUT,
       "batch_norm": OP_BATCH_NORM, "layer_norm": OP_LAYER_NORM, "prelu": OP_PRELU,
       "slice": OP_SLICE, "add": OP_ADD, "subtract": OP_SUBTRACT, "multiply": OP_MULTIPLY,
       "average": OP_AVERAGE, "maximum": OP_MAXIMUM, "minimum": OP_MINIMUM,
       "concatenate": OP_CONCAT, "dot": OP_DOT, "python": OP_PYTHON, "embedding": OP_EMBEDDING,
       "unit_norm": OP_UNIT_NORM, "alpha_dropout": OP_ALPHA_DROPOUT}
MERGE_OPS = ("add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
             "dot")
OP_INT_COLUMNS = {"kind": I_KIND, "n_in": I_N_IN, "n_out": I_N_OUT, "act": I_ACT, "w": I_W,
                  "b": I_B, "state": I_STATE, "seed": I_SEED, "flags": I_FLAGS, "col": I_COL,
                  "groups": I_GROUPS, "vocab": I_VOCAB}
OP_FLOAT_COLUMNS = {"negative_slope": F_SLOPE, "max_value": F_MAX_VALUE,
                    "threshold": F_THRESHOLD, "alpha": F_ALPHA, "rate": F_RATE,
                    "epsilon": F_EPSILON, "momentum": F_MOMENTUM, "act_l1": F_ACT_L1,
                    "act_l2": F_ACT_L2}
N_OP_INT, N_OP_FLOAT = N_I, N_F
FLAGS = {"batch_stats": FLAG_BATCH_STATS, "normalize": FLAG_NORMALIZE, "training": FLAG_TRAINING,
         "bf16": FLAG_BF16}
OPTIMIZERS = {"sgd": OPT_SGD, "adam": OPT_ADAM, "rmsprop": OPT_RMSPROP, "adagrad": OPT_ADAGRAD,
              "adadelta": OPT_ADADELTA, "adamax": OPT_ADAMAX, "nadam": OPT_NADAM,
              "lion": OPT_LION, "ftrl": OPT_FTRL, "lamb": OPT_LAMB}
HYPER = {"beta_1": H_BETA_1, "beta_2": H_BETA_2, "epsilon": H_EPSILON, "rho": H_RHO,
         "momentum": H_MOMENTUM, "nesterov": H_NESTEROV, "centered": H_CENTERED,
         "amsgrad": H_AMSGRAD, "weight_decay": H_WEIGHT_DECAY, "clipnorm": H_CLIPNORM,
         "global_clipnorm": H_GLOBAL_CLIPNORM, "clipvalue": H_CLIPVALUE,
         "learning_rate_power": H_LEARNING_RATE_POWER, "l1": H_L1, "l2": H_L2,
         "l2_shrinkage": H_L2_SHRINKAGE, "beta": H_BETA}
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
    Py_ssize_t col               # OP_SLICE: first column of the model input
    Py_ssize_t groups            # OP_DENSE, OP_UNIT_NORM: vectors per row (Dense on rank > 2)
    Py_ssize_t vocab             # OP_EMBEDDING: rows of the table
    Py_ssize_t out, g, z, aux, tmp   # per-row workspace offsets; -1 = none
    Py_ssize_t vec               # offset in the per-batch vector scratch (BatchNorm); -1 = none
    int n_inputs
    int *inp                     # producer op of each input; -1 = the model's input
    int *acc                     # per input: its gradient adds to one an op after it wrote
    bint needs_grad              # the op holds weights or leads to an op that does
    bint live                    # a loss depends on its output (set with the losses)
    bint w_acc                   # its weight gradients add to a later call's (shared layer)
    bint fused                   # an output whose loss works on its logits
    # OP_DENSE of an int8-quantized layer (float32 only): the packed int8 kernel, its column
    # sums x 128 and per-column scales (fastnn/_kernels/_quant.pyx); NULL otherwise.
    const signed char *qw
    const int *qcomp
    const float *qscale
    int qpath
    # OP_DENSE with FLAG_BF16: the path of its bfloat16 products (fastnn/_kernels/_bf16.pyx),
    # and its kernel's variable when that has images (Engine.var_img_fwd), else -1.
    int bpath
    Py_ssize_t img_var


cdef struct Head:
    int op                       # the op whose output this is
    Py_ssize_t width, y_off      # output width; per-row offset of its targets in ybuf
    fnn_loss_spec loss
    bint has_loss, sparse, fused
    bint external                # a Python loss (Engine._external[h]) computes it
    double weight                # the loss weight


cdef struct Batch:
    # Where one batch's targets and weights are, per output (the gathered buffers in
    # training; the caller's arrays, moved to the batch's first row, in evaluation).
    const void *y[MAX_HEADS]             # floating targets or int64 labels
    const void *w[MAX_HEADS]             # floating sample weights or NULL
    double sums[MAX_HEADS]               # Σ over rows of w·loss, per output


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


cdef Py_ssize_t _check_piece(Py_ssize_t first, Py_ssize_t last, Py_ssize_t n,
                             Py_ssize_t batch_rows) except -1:
    """The end of the rows first..last (-1: all of n) an inference call runs; they must start
    at a batch's first row, so that each batch (and its noise stream) is the whole call's."""
    if last == -1:
        last = n
    if not 0 <= first <= last <= n:
        raise ValueError(f"rows {first} to {last} are not within the {n} rows of x")
    if first % batch_rows and first != last:
        raise ValueError(f"a piece must start at a multiple of batch_rows ({batch_rows}); "
                         f"received first={first}")
    return last


cdef class Workspace:
    """The buffers one call writes into: activations and gradients per op, the batch's
    targets and weights, loss values. A call owns its workspace while it runs."""

    cdef object ws, values, vecs, ybuf, lbuf, wbuf
    cdef void *p_ws
    cdef void *p_values
    cdef void *p_vecs
    cdef void *p_y
    cdef int64_t *p_labels
    cdef void *p_w
    cdef Py_ssize_t capacity
    cdef bint abort                   # a Python piece raised: stop the loop, raise error
    cdef object error
    cdef dict pullbacks               # Python ops' backward closures from this forward

    def __cinit__(self):
        self.pullbacks = {}


# Children forked so far, counted in each child: the state of an _Access from before a fork
# belongs to threads the child does not have.
cdef int _forks = 0


def _count_fork():
    global _forks
    _forks += 1


os.register_at_fork(after_in_child=_count_fork)


cdef class _Access:
    """Inference calls run together; a training call (which writes the weights) runs alone:
    it waits for running inference to finish, inference waits for it, and a second training
    call at the same time is refused rather than interleaved.

    After a fork the calls that held it are gone with their threads: the child starts with
    no reader, and if a training call was running, its copy of the weights may be part-way
    through a step, so every later call on this engine in the child is refused."""

    cdef object cond
    cdef int readers
    cdef bint writer
    cdef int forks
    cdef bint torn

    def __cinit__(self):
        self.cond = threading.Condition(threading.Lock())
        self.forks = _forks

    cdef int _check_fork(self) except -1:
        if self.forks != _forks:
            self.forks = _forks
            self.cond = threading.Condition(threading.Lock())   # its lock may be held
            self.readers = 0
            self.torn = self.torn or self.writer
            self.writer = False
        if self.torn:
            raise RuntimeError(
                "This process was forked while another thread was training this model, so "
                "its copy of the weights may be part-way through an optimizer step; fork "
                "before or after training, or load the model from a file in the child.")
        return 0

    # These methods run holding the GIL, and a check-and-count on the C fields below does not
    # release it: so inference takes the Condition only when a training call is running or
    # waiting. Taking it on every call cost predict of one row 5.2 µs instead of 4.2 µs.

    cdef int read_begin(self) except -1:
        self._check_fork()
        if not self.writer:
            self.readers += 1
            return 0
        with self.cond:
            while self.writer:
                self.cond.wait()
            self.readers += 1
        return 0

    cdef void read_end(self):
        self.readers -= 1
        if self.readers == 0 and self.writer:     # a training call waits for the readers
            with self.cond:
                self.cond.notify_all()

    cdef int write_begin(self) except -1:
        self._check_fork()
        with self.cond:
            if self.writer:
                raise RuntimeError(
                    "This model is being trained by another thread; a model trains in one "
                    "thread at a time (predict and evaluate may run in many).")
            self.writer = True
            while self.readers:
                self.cond.wait()
        return 0

    cdef void write_end(self):
        with self.cond:
            self.writer = False
            self.cond.notify_all()


cdef class Engine:
    """A compiled model: ops, flat buffers and a pool of workspaces.

    Parameters
    ----------
    ops_i : int64 array of shape (n_ops, N_OP_INT)
    ops_f : float64 array of shape (n_ops, N_OP_FLOAT)
    params, grads : float32 or float64 arrays of shape (n_params,)
    state : array of shape (n_state,), same dtype
    var_off, var_size : int arrays of shape (n_vars,): the trainable variables' segments
    var_l1, var_l2 : float arrays of shape (n_vars,): their regularizers' coefficients
    in_dim : int, the input width (all model inputs side by side)
    capacity : int, initial batch capacity in rows of the first workspace (grows on demand)
    var_l2_rows : float array of shape (n_vars,), optional: L2BatchMean coefficients
    op_inputs : list of lists of int, optional
        The ops each op reads, in order (-1 = the model's input); default: a chain.
    outputs : list of int, optional
        The ops whose outputs the model returns; default: the last op.
    """

    cdef Op *ops
    cdef int n_ops
    cdef int *in_buf
    cdef int *acc_buf
    cdef int *n_consumers
    cdef Head heads[MAX_HEADS]
    cdef readonly int n_heads
    cdef Py_ssize_t n_vars
    cdef Py_ssize_t *var_off
    cdef Py_ssize_t *var_size
    cdef double *var_l1
    cdef double *var_l2
    cdef double *var_l2_rows          # L2BatchMean: coefficient of Σw² / batch rows
    cdef double *var_decay
    cdef char *var_dead               # no loss reaches it: its gradient is zero
    # mixed_bfloat16 kernels (Dense with FLAG_BF16): per variable, its op(B) images for the
    # forward product (w) and the input gradient's (wᵀ, NULL when no op needs it), packed in
    # bfloat16 by the optimizer step right after it updates each piece of rows, while they are
    # in cache, so that the products do not convert the float32 weights again (_bf16.pyx);
    # NULL for other variables. Valid only inside a training call, once images_ready is set.
    cdef uint32_t **var_img_fwd
    cdef uint32_t **var_img_bwd
    cdef Py_ssize_t *var_img_rows     # the kernel's rows (inputs); its columns: var_size / rows
    cdef list _images                 # the arrays behind them
    cdef bint images_ready
    # False: the products convert the float32 weights on every call instead (the same bits;
    # tests compare the two). Read at the first training call.
    cdef public bint bf16_images
    cdef readonly object dtype
    cdef readonly Py_ssize_t in_dim, out_dim
    cdef readonly tuple out_dims
    cdef Py_ssize_t ws_per_row, vec_len, y_per_row
    cdef bint f32
    cdef readonly object params, grads, state
    cdef void *p_params
    cdef void *p_grads
    cdef void *p_state
    cdef list _pool
    cdef _Access _access
    cdef int opt_kind
    cdef double hyper[N_H]
    cdef list slots
    cdef void *p_slot[3]
    cdef readonly bint has_optimizer
    cdef public double nadam_u_product
    cdef readonly long long steps_taken    # optimizer steps applied since construction
    cdef list _external               # per output: its Python loss, or None
    cdef int n_external
    cdef list _python                 # per op: its Python piece (OP_PYTHON), or None
    cdef list _quant                  # per op: the int8 arrays its Op points into, or None
    cdef list _python_weights         # per op: [(offset, size), ...] of its piece's weights
    cdef list _penalties              # [(offset, size, fn)]: weights' Python regularizers
    cdef int n_penalties
    cdef bint by_weight                    # batches are normalized by Σw, not by rows
    # Σ over the last train_epoch's (or loss_and_gradients') batches of rows × the batch's
    # regularization penalty (the part of loss_sum that is not the outputs' losses).
    cdef readonly double penalty_sum

    def __cinit__(self):
        self.ops = NULL
        self.in_buf = self.acc_buf = self.n_consumers = NULL
        self.var_off = self.var_size = NULL
        self.var_l1 = self.var_l2 = self.var_decay = self.var_l2_rows = NULL
        self.var_dead = NULL

    def __dealloc__(self):
        free(self.ops)
        free(self.in_buf)
        free(self.acc_buf)
        free(self.n_consumers)
        free(self.var_off)
        free(self.var_size)
        free(self.var_l1)
        free(self.var_l2)
        free(self.var_decay)
        free(self.var_l2_rows)
        free(self.var_dead)
        free(self.var_img_fwd)
        free(self.var_img_bwd)
        free(self.var_img_rows)

    def __init__(self, ops_i, ops_f, params, grads, state, var_off, var_size, var_l1, var_l2,
                 Py_ssize_t in_dim, Py_ssize_t capacity=32, var_l2_rows=None, op_inputs=None,
                 outputs=None, python_ops=None, python_penalties=None):
        cdef int64_t[:, ::1] oi = np.ascontiguousarray(ops_i, dtype=np.int64).reshape(-1, N_I)
        cdef double[:, ::1] of = np.ascontiguousarray(ops_f, dtype=np.float64).reshape(-1, N_F)
        cdef Py_ssize_t k, i, off = in_dim, vec = 0, n_links = 0, tmp_width
        cdef int s, p
        cdef Op *op
        if params.dtype not in (np.float32, np.float64):
            raise ValueError(f"params must be float32 or float64, got {params.dtype}")
        for name, a in (("grads", grads), ("state", state)):
            if a.dtype != params.dtype or a.ndim != 1 or not a.flags.c_contiguous:
                raise ValueError(f"{name} must be a flat C-contiguous {params.dtype} array")
        if grads.shape != params.shape or oi.shape[0] != of.shape[0] or oi.shape[0] < 1:
            raise ValueError("inconsistent engine plan")
        n_ops = oi.shape[0]
        if op_inputs is None:
            op_inputs = [[k - 1] for k in range(n_ops)]
        op_inputs = [[int(p) for p in row] for row in op_inputs]
        if len(op_inputs) != n_ops:
            raise ValueError("op_inputs needs one list per op")
        outputs = [n_ops - 1] if outputs is None else [int(o) for o in outputs]
        if not 1 <= len(outputs) <= MAX_HEADS or len(set(outputs)) != len(outputs) \
                or any(not 0 <= o < n_ops for o in outputs):
            raise ValueError(f"outputs must name 1 to {MAX_HEADS} distinct ops")
        for k, row in enumerate(op_inputs):
            if not row or any(not -1 <= p < k for p in row):
                raise ValueError(f"op {k} must read the model input or earlier ops")
            n_links += len(row)
        self.dtype = params.dtype
        self.f32 = params.dtype == np.float32
        self.params, self.grads, self.state = params, grads, state
        self.p_params, self.p_grads, self.p_state = _data(params), _data(grads), _data(state)
        self.n_ops = n_ops
        self.in_dim = in_dim
        self.ops = <Op *> malloc(self.n_ops * sizeof(Op))
        self.in_buf = <int *> malloc(n_links * sizeof(int))
        self.acc_buf = <int *> malloc(n_links * sizeof(int))
        self.n_consumers = <int *> malloc(self.n_ops * sizeof(int))
        self.n_vars = len(var_off)
        self.var_off = <Py_ssize_t *> malloc(max(1, self.n_vars) * sizeof(Py_ssize_t))
        self.var_size = <Py_ssize_t *> malloc(max(1, self.n_vars) * sizeof(Py_ssize_t))
        self.var_l1 = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_l2 = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_decay = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_l2_rows = <double *> malloc(max(1, self.n_vars) * sizeof(double))
        self.var_dead = <char *> malloc(max(1, self.n_vars) * sizeof(char))
        self.var_img_fwd = <uint32_t **> malloc(max(1, self.n_vars) * sizeof(uint32_t *))
        self.var_img_bwd = <uint32_t **> malloc(max(1, self.n_vars) * sizeof(uint32_t *))
        self.var_img_rows = <Py_ssize_t *> malloc(max(1, self.n_vars) * sizeof(Py_ssize_t))
        if not (self.ops and self.in_buf and self.acc_buf and self.n_consumers
                and self.var_off and self.var_size and self.var_l1 and self.var_l2
                and self.var_decay and self.var_l2_rows and self.var_dead
                and self.var_img_fwd and self.var_img_bwd and self.var_img_rows):
            raise MemoryError()
        self._images = None
        self.images_ready = False
        self.bf16_images = True
        for i in range(self.n_vars):
            self.var_off[i], self.var_size[i] = var_off[i], var_size[i]
            self.var_l1[i], self.var_l2[i] = var_l1[i], var_l2[i]
            self.var_decay[i] = 1.0
            self.var_dead[i] = 0
            self.var_img_fwd[i] = self.var_img_bwd[i] = NULL
            self.var_img_rows[i] = 0
            self.var_l2_rows[i] = var_l2_rows[i] if var_l2_rows is not None else 0.0
            if var_off[i] < 0 or var_off[i] + var_size[i] > params.shape[0]:
                raise ValueError("a variable lies outside the parameter buffer")
        n_links = 0
        # A Python op's piece has `forward(inputs, training, need_grad) -> (out, pullback)`
        # and `weights`, the (offset, size) segments of params it reads.
        self._python = list(python_ops) if python_ops is not None else [None] * self.n_ops
        if len(self._python) != self.n_ops:
            raise ValueError("python_ops needs one entry per op")
        self._python_weights = [list(getattr(piece, "weights", ())) if piece is not None
                                else [] for piece in self._python]
        self._penalties = list(python_penalties or [])
        self.n_penalties = len(self._penalties)
        for off_size_fn in self._penalties:
            if off_size_fn[0] < 0 or off_size_fn[0] + off_size_fn[1] > params.shape[0]:
                raise ValueError("a regularized weight lies outside the parameter buffer")
        self._quant = [None] * self.n_ops
        # Chosen once per engine (FASTNN_FORCE_BASELINE=1 forces the fallback).
        bf16_path = _bf16_products_path()
        for k in range(self.n_ops):
            self.n_consumers[k] = 0
        for k in range(self.n_ops):
            op = &self.ops[k]
            op.kind = oi[k, I_KIND]
            op.n_in, op.n_out, op.act = oi[k, I_N_IN], oi[k, I_N_OUT], oi[k, I_ACT]
            op.w, op.b, op.s = oi[k, I_W], oi[k, I_B], oi[k, I_STATE]
            op.seed = <uint64_t> oi[k, I_SEED]
            op.qw, op.qcomp, op.qscale, op.qpath = NULL, NULL, NULL, 0
            op.flags = oi[k, I_FLAGS]
            op.bpath = 0
            op.img_var = -1
            if op.flags & FLAG_BF16:
                if op.kind != OP_DENSE or not self.f32:
                    raise ValueError("bfloat16 products run in the Dense ops of float32 "
                                     "models only")
                op.bpath = bf16_path
            op.col = oi[k, I_COL]
            op.groups = oi[k, I_GROUPS] if oi[k, I_GROUPS] > 0 else 1
            op.vocab = oi[k, I_VOCAB]
            op.ap.negative_slope = of[k, F_SLOPE]
            op.ap.max_value = of[k, F_MAX_VALUE]
            op.ap.threshold = of[k, F_THRESHOLD]
            op.ap.alpha = of[k, F_ALPHA]
            op.rate, op.eps, op.momentum = of[k, F_RATE], of[k, F_EPSILON], of[k, F_MOMENTUM]
            op.act_l1, op.act_l2 = of[k, F_ACT_L1], of[k, F_ACT_L2]
            op.n_inputs = len(op_inputs[k])
            op.inp = self.in_buf + n_links
            op.acc = self.acc_buf + n_links
            n_links += op.n_inputs
            tmp_width = 0
            for s in range(op.n_inputs):
                p = op_inputs[k][s]
                op.inp[s] = p
                op.acc[s] = 0
                if p >= 0:
                    self.n_consumers[p] += 1
                tmp_width = max(tmp_width, self._width(p))
            self._check_op(k, op)
            op.out = off
            op.g = off + op.n_out
            off += 2 * op.n_out
            op.z = op.aux = op.vec = op.tmp = -1
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
            elif op.kind == OP_DOT:
                op.aux = off          # each input's inverse norm per row (normalize)
                off += 2
            elif op.kind == OP_UNIT_NORM:
                op.aux = off          # each block's inverse norm (clipped at 1/ε)
                off += op.groups
            elif op.kind == OP_ALPHA_DROPOUT:
                op.aux = off          # the kept mask (1 or 0)
                off += op.n_out
            if op.kind != OP_DENSE:
                op.tmp = off          # an input gradient that must be added, not written
                off += tmp_width
            op.needs_grad = op.kind != OP_SLICE and (op.w >= 0 or op.b >= 0
                                                     or bool(self._python_weights[k]))
            if (op.kind == OP_PYTHON) != (self._python[k] is not None):
                raise ValueError(f"op {k}: a Python op needs its piece, and only it")
            for off_size in self._python_weights[k]:
                if off_size[0] < 0 or off_size[0] + off_size[1] > params.shape[0]:
                    raise ValueError(f"op {k} reads weights outside the parameter buffer")
            for s in range(op.n_inputs):
                if op.inp[s] >= 0 and self.ops[op.inp[s]].needs_grad:
                    op.needs_grad = True
            op.live = op.w_acc = op.fused = False
        self.n_heads = len(outputs)
        self.y_per_row = 0
        for i, o in enumerate(outputs):
            self.heads[i].op = o
            self.heads[i].width = self.ops[o].n_out
            self.heads[i].has_loss = self.heads[i].sparse = self.heads[i].fused = False
            self.heads[i].external = False
            self.heads[i].weight = 1.0
            self.heads[i].y_off = self.y_per_row
            self.y_per_row += self.ops[o].n_out
        self.out_dims = tuple(self.ops[o].n_out for o in outputs)
        self.out_dim = self.out_dims[0]
        self.ws_per_row = off
        self.vec_len = vec
        self.has_optimizer = False
        self.slots = []
        self.p_slot[0] = self.p_slot[1] = self.p_slot[2] = NULL
        self.nadam_u_product = 1.0
        self.steps_taken = 0
        self._external = [None] * self.n_heads
        self.n_external = 0
        self.by_weight = False
        self.penalty_sum = 0.0
        self._access = _Access()
        first = Workspace()
        self._reserve(first, max(1, capacity))
        self._pool = [first]

    cdef Py_ssize_t _width(self, int p):
        return self.in_dim if p < 0 else self.ops[p].n_out

    cdef int _check_op(self, Py_ssize_t k, Op *op) except -1:
        """The widths an op reads and writes agree with its kind (a wrong plan must not
        make a kernel read or write outside a buffer)."""
        cdef int s
        cdef Py_ssize_t total = 0, w0 = self._width(op.inp[0])
        if op.n_out < 1:
            raise ValueError(f"op {k} has no outputs")
        if op.kind == OP_SLICE:
            if op.inp[0] != -1 or op.col < 0 or op.col + op.n_out > self.in_dim \
                    or op.n_inputs != 1:
                raise ValueError(f"op {k} slices outside the model input")
            return 0
        if op.kind == OP_PYTHON:
            return 0          # any widths: the piece's arrays are checked at each call
        if op.kind == OP_CONCAT:
            for s in range(op.n_inputs):
                total += self._width(op.inp[s])
            if total != op.n_out:
                raise ValueError(f"op {k} concatenates {total} columns into {op.n_out}")
            return 0
        for s in range(op.n_inputs):
            if self._width(op.inp[s]) != w0:
                raise ValueError(f"op {k} merges inputs of different widths")
        if op.kind == OP_DOT:
            if op.n_inputs != 2 or op.n_out != 1:
                raise ValueError(f"op {k} (dot) takes two inputs and has one output")
        elif op.kind in (OP_ADD, OP_MULTIPLY, OP_AVERAGE, OP_MAXIMUM, OP_MINIMUM):
            if op.n_inputs < 1 or w0 != op.n_out:
                raise ValueError(f"op {k} must keep its width")
        elif op.kind == OP_SUBTRACT:
            if op.n_inputs != 2 or w0 != op.n_out:
                raise ValueError(f"op {k} (subtract) takes two inputs of its width")
        else:
            if op.n_inputs != 1:
                raise ValueError(f"op {k} takes one input")
            if op.n_in != w0:
                raise ValueError(f"op {k} takes {op.n_in} inputs but receives {w0}")
            if op.kind not in (OP_DENSE, OP_ACTIVATION, OP_EMBEDDING) and op.n_in != op.n_out:
                raise ValueError(f"op {k} must keep its width")
            if op.kind in (OP_DENSE, OP_UNIT_NORM) and (op.n_in % op.groups
                                                        or op.n_out % op.groups):
                raise ValueError(f"op {k}: its widths are not a multiple of its groups")
            if op.kind == OP_EMBEDDING and (op.vocab < 1 or op.n_out % op.n_in or op.w < 0
                                            or op.w + op.vocab * (op.n_out // op.n_in)
                                            > self.params.shape[0]):
                raise ValueError(f"op {k}: an embedding needs a table inside the parameters "
                                 "and a whole number of columns per code")
        return 0

    def set_loss(self, int loss_id, bint sparse, bint fused, double label_smoothing=0.0,
                 double delta=1.0, double gamma=2.0, double alpha=0.25,
                 bint apply_class_balancing=False, bint from_logits=False,
                 bint hinge_binary_labels=False, int head=0, double weight=1.0,
                 double beta=0.5):
        """The loss of output `head`, with its loss weight; `fused` = on its logits."""
        cdef Head *h
        cdef Op *op
        if not 0 <= head < self.n_heads:
            raise ValueError(f"the model has {self.n_heads} outputs; no output {head}")
        h = &self.heads[head]
        op = &self.ops[h.op]
        if fused and (self.n_consumers[h.op] != 0
                      or not ((op.kind == OP_DENSE and op.z >= 0)
                              or op.kind == OP_ACTIVATION)):
            raise ValueError("a fused loss needs an output that is a Dense with an "
                             "activation, or an Activation, read by no other op")
        h.loss = loss_spec(loss_id, label_smoothing, delta, gamma, alpha,
                           apply_class_balancing, from_logits, hinge_binary_labels, beta)
        h.sparse, h.fused, h.has_loss, h.weight = sparse, fused, True, weight
        self._plan_gradients()

    def set_external_loss(self, int head, double weight, loss):
        """Output `head`'s loss is Python code: ``loss(pred, rows, with_grad)`` gets the
        batch's output values (a fresh (n, width) array) and the batch's row numbers in the
        caller's arrays (int64), and returns ``(value, grad)``: the batch's reduced loss and,
        with with_grad, its gradient with respect to pred (else None). The engine weighs
        both by `weight`, as a built-in loss. An exception it raises stops the call before
        the batch's update and is raised by the entry point."""
        cdef Head *h
        if not 0 <= head < self.n_heads:
            raise ValueError(f"the model has {self.n_heads} outputs; no output {head}")
        if not callable(loss):
            raise ValueError("an external loss must be callable")
        h = &self.heads[head]
        if not h.external:
            self.n_external += 1
        h.has_loss, h.external, h.sparse, h.fused, h.weight = True, True, False, False, weight
        self._external[head] = loss
        self._plan_gradients()

    def clear_losses(self):
        """Forget every output's loss (before a new compile sets them again)."""
        cdef int i
        for i in range(self.n_heads):
            self.heads[i].has_loss = False
            self.heads[i].fused = False
            self.heads[i].external = False
            self._external[i] = None
        self.n_external = 0
        self._plan_gradients()

    cdef double _call_external(self, Workspace w, void *ws, Py_ssize_t rows,
                               const int64_t *idx, Py_ssize_t start, Batch *b,
                               bint with_grad) noexcept:
        """Run the Python losses of one batch (the GIL held); see set_external_loss."""
        cdef int h
        cdef Head *head
        cdef Op *op
        cdef double total = 0.0, value
        cdef Py_ssize_t width
        try:
            if idx != NULL:
                row_ids = np.asarray(<int64_t[:rows]> <int64_t *> idx).copy()
            else:
                row_ids = np.arange(start, start + rows, dtype=np.int64)
            for h in range(self.n_heads):
                head = &self.heads[h]
                if not head.external:
                    continue
                op = &self.ops[head.op]
                width = head.width
                if self.f32:
                    pred = np.asarray(<float[:rows, :width]> (<float *> ws + op.out * rows))
                else:
                    pred = np.asarray(<double[:rows, :width]> (<double *> ws + op.out * rows))
                value, grad = self._external[h](pred.copy(), row_ids, with_grad)
                b.sums[h] += value * rows
                total += head.weight * value
                if with_grad:
                    grad = np.ascontiguousarray(grad, dtype=self.dtype) * head.weight
                    if grad.shape != (rows, width):
                        raise ValueError(f"an external loss returned a gradient of shape "
                                         f"{grad.shape} for an output of shape "
                                         f"{(rows, width)}")
                    if self.f32:
                        memcpy(<float *> ws + op.g * rows, <float *> _data(grad),
                               rows * width * sizeof(float))
                    else:
                        memcpy(<double *> ws + op.g * rows, <double *> _data(grad),
                               rows * width * sizeof(double))
        except BaseException as exc:
            w.abort = True       # the call's own workspace: concurrent calls keep theirs
            w.error = exc
        return total

    def set_quantized(self, int k, packed, colsum128, kernel_scale, int path):
        """Make dense op k an int8 one (inference only): its kernel is `packed`
        (_quant.pack), its per-column scales `kernel_scale`, run on quant `path`."""
        if not self.f32:
            raise ValueError("int8 layers run in float32 models only")
        if not 0 <= k < self.n_ops or self.ops[k].kind != OP_DENSE or self.ops[k].w >= 0:
            raise ValueError(f"op {k} is not a dense op without a float kernel")
        arrays = (np.ascontiguousarray(packed, dtype=np.int8),
                  np.ascontiguousarray(colsum128, dtype=np.int32),
                  np.ascontiguousarray(kernel_scale, dtype=np.float32))
        if arrays[1].shape != (self.ops[k].n_out,) or arrays[2].shape != arrays[1].shape:
            raise ValueError("int8 kernel scales do not match the op's outputs")
        from fastnn._kernels._quant import check_path

        check_path(path)      # (a path the CPU or OS cannot run would die of SIGILL)
        self._quant[k] = arrays
        self.ops[k].qw = <const signed char *> _data(arrays[0])
        self.ops[k].qcomp = <const int *> _data(arrays[1])
        self.ops[k].qscale = <const float *> _data(arrays[2])
        self.ops[k].qpath = path

    cdef object _view(self, Workspace w, Py_ssize_t at, Py_ssize_t rows, Py_ssize_t width):
        return w.ws[at * rows:at * rows + rows * width].reshape(rows, width)

    cdef object _input_array(self, Workspace w, Op *op, int s, const void *x, Py_ssize_t rows):
        cdef int p = op.inp[s]
        if p >= 0:
            return self._view(w, self.ops[p].out, rows, self.ops[p].n_out).copy()
        if self.f32:
            return np.asarray(<float[:rows, :self.in_dim]> (<float *> x)).copy()
        return np.asarray(<double[:rows, :self.in_dim]> (<double *> x)).copy()

    cdef void _python_forward(self, Workspace w, int k, const void *x, Py_ssize_t rows,
                              bint training) noexcept:
        """Op k's Python piece on this batch (the GIL held); its pullback is kept in the
        workspace for backward when a loss depends on it."""
        cdef Op *op = &self.ops[k]
        cdef int s
        try:
            inputs = [self._input_array(w, op, s, x, rows) for s in range(op.n_inputs)]
            out, pullback = self._python[k].forward(inputs, training, training and op.live)
            out = np.asarray(out)
            if out.shape != (rows, op.n_out):
                raise ValueError(f"it returned shape {out.shape} for a batch of {rows} rows; "
                                 f"expected {(rows, op.n_out)}")
            self._view(w, op.out, rows, op.n_out)[...] = out
            if pullback is not None:
                w.pullbacks[k] = pullback
        except BaseException as exc:
            w.abort = True
            w.error = exc

    cdef void _python_backward(self, Workspace w, int k, Py_ssize_t rows) noexcept:
        """Op k's gradients from its pullback: into its inputs' gradient buffers (added when
        another op wrote there first) and into its weights' segments of grads."""
        cdef Op *op = &self.ops[k]
        cdef int s, p
        try:
            g = self._view(w, op.g, rows, op.n_out).copy()
            input_grads, weight_grads = w.pullbacks.pop(k)(g)
            for s in range(op.n_inputs):
                p = op.inp[s]
                if p < 0 or not self.ops[p].needs_grad:
                    continue
                dst = self._view(w, self.ops[p].g, rows, self.ops[p].n_out)
                if op.acc[s]:
                    dst += input_grads[s]
                else:
                    dst[...] = input_grads[s]
            for (off, size), gw in zip(self._python_weights[k], weight_grads):
                gw = np.asarray(gw, dtype=self.dtype).reshape(-1)
                if op.w_acc:
                    self.grads[off:off + size] += gw
                else:
                    self.grads[off:off + size] = gw
        except BaseException as exc:
            w.abort = True
            w.error = exc

    cdef double _call_penalties(self, Workspace w, bint with_grad) noexcept:
        """The weights' Python regularizers (the GIL held): their penalties' sum, their
        gradients added to grads."""
        cdef double total = 0.0
        try:
            for off, size, fn in self._penalties:
                value, grad = fn(self.params[off:off + size].copy(), with_grad)
                total += value
                if with_grad:
                    self.grads[off:off + size] += grad
        except BaseException as exc:
            w.abort = True
            w.error = exc
        return total

    cdef int _raise_external(self, Workspace w) except -1:
        """After a call: raise what a Python loss raised (and reset the workspace)."""
        w.pullbacks.clear()
        if w.abort:
            w.abort = False
            error, w.error = w.error, None
            raise error
        return 0

    def set_normalization(self, str by):
        """What a training or evaluation batch's weighted loss Σ w·loss, and its L2BatchMean
        penalties, are divided by: "rows", the batch's row count (Keras's reduction, the
        default), or "weights", the sum of the batch's sample weights (scikit-learn's MLP:
        a weight of k is then exactly k repeated rows; batches without weights still use
        rows). "weights" needs a model with one output."""
        if by not in ("rows", "weights"):
            raise ValueError(f"normalization must be 'rows' or 'weights', got {by!r}")
        if by == "weights" and self.n_heads != 1:
            raise ValueError("normalization by weights needs a model with one output; this "
                             f"one has {self.n_heads}")
        self.by_weight = by == "weights"

    @property
    def normalization(self):
        return "weights" if self.by_weight else "rows"

    @property
    def has_loss(self):
        return any(self.heads[i].has_loss for i in range(self.n_heads))

    @property
    def sparse(self):
        return self.heads[0].sparse

    @property
    def fused(self):
        return self.heads[0].fused

    cdef void _plan_gradients(self):
        """Which ops backward visits, and which writes add instead of assign."""
        cdef int i, k, s, p, v
        cdef Op *op
        written = [False] * self.n_ops
        seen_weights = set()
        for k in range(self.n_ops):
            self.ops[k].fused = False
        for i in range(self.n_heads):
            if self.heads[i].has_loss:
                written[self.heads[i].op] = True     # the loss writes the output's gradient
                self.ops[self.heads[i].op].fused = self.heads[i].fused
        for k in range(self.n_ops - 1, -1, -1):
            op = &self.ops[k]
            op.live = written[k] and op.needs_grad
            op.w_acc = False
            if not op.live:
                continue
            for off in (op.w, op.b):
                if off >= 0:
                    op.w_acc = op.w_acc or off in seen_weights
                    seen_weights.add(off)
            for off, _ in self._python_weights[k]:
                op.w_acc = op.w_acc or off in seen_weights
                seen_weights.add(off)
            for s in range(op.n_inputs):
                p = op.inp[s]
                if p >= 0 and self.ops[p].needs_grad:
                    op.acc[s] = written[p]
                    written[p] = True
        for v in range(self.n_vars):
            self.var_dead[v] = self.var_off[v] not in seen_weights

    def set_optimizer(self, int kind, hyper, list slots, decays=None):
        """The update rule, its hyperparameters (float64 of length N_HYPER) and slot buffers;
        `decays` (n_vars flags, default all true) says which variables get weight decay.

        Slots, each of the parameters' layout, in order: SGD [momentum or None]; Adam [m, v,
        vhat or None]; RMSprop [v, avg_g or None, momentum or None]; Adagrad [acc];
        Adadelta [acc_g, acc_delta]; Adamax [m, u]; Nadam [m, v]; Lion [m]; Ftrl [acc, lin];
        Lamb [m, v].
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

    # ---- workspaces ---------------------------------------------------------------------

    cdef Workspace _acquire(self, Py_ssize_t rows):
        cdef Workspace w
        try:
            w = self._pool.pop()          # atomic under the GIL
        except IndexError:
            w = Workspace()
        try:
            self._reserve(w, rows)
        except BaseException:
            self._pool.append(w)
            raise
        return w

    cdef int _reserve(self, Workspace w, Py_ssize_t rows) except -1:
        """Room for `rows` rows in w. Every buffer is allocated before any is replaced, so
        a MemoryError leaves the workspace as it was."""
        if rows <= w.capacity:
            return 0
        n = int(rows)                     # sizes in Python ints: no C overflow
        try:
            ws = np.zeros(n * self.ws_per_row, dtype=self.dtype)
            values = np.zeros(n, dtype=self.dtype)
            vecs = np.zeros(max(1, self.vec_len), dtype=self.dtype)
            ybuf = np.zeros(max(1, n * self.y_per_row), dtype=self.dtype)
            lbuf = np.zeros(max(1, n * self.n_heads), dtype=np.int64)
            wbuf = np.zeros(max(1, n * self.n_heads), dtype=self.dtype)
        except (MemoryError, ValueError) as e:      # ValueError: more than the address space
            size = n * (self.ws_per_row + 1 + self.y_per_row + 2 * self.n_heads) \
                * self.dtype.itemsize
            raise MemoryError(
                f"the working memory for batches of {n} rows ({size / 2**30:.3g} GiB) could not "
                f"be allocated; use a smaller batch_size") from e
        w.ws, w.values, w.vecs = ws, values, vecs
        w.ybuf, w.lbuf, w.wbuf = ybuf, lbuf, wbuf
        w.p_ws, w.p_values, w.p_vecs = _data(ws), _data(values), _data(vecs)
        w.p_y, w.p_w = _data(ybuf), _data(wbuf)
        w.p_labels = <int64_t *> _data(lbuf)
        w.capacity = rows
        return 0

    cdef void _release(self, Workspace w):
        self._pool.append(w)

    # ---- Python entry points (arguments are checked by fastnn/_plan.py's callers) ----------

    def share_access(self, Engine other):
        """Take `other`'s readers-writer lock: two engines over one parameter buffer (a
        model whose training and inference graphs differ) then exclude each other as one
        engine's calls do."""
        self._access = other._access

    def predict(self, x, out, Py_ssize_t batch_rows, int n_threads, bint training=False,
                long step=0, Py_ssize_t first=0, Py_ssize_t last=-1):
        """out[:] = the model's output for x, batch_rows rows at a time; `out` is an array
        (one output) or a list with one array per output.

        Inference mode unless `training`: then noise layers draw from stream `step` and
        BatchNormalization uses (and updates) batch statistics, as Keras's
        ``layer(x, training=True)``; nothing else changes.

        `first` and `last` (-1: the end) limit the call to those rows of out, computed as the
        whole call computes them (fastnn/_thread_policy.py runs a call in such pieces).
        """
        cdef Py_ssize_t n = self._check_x(x)
        cdef void *pouts[MAX_HEADS]
        cdef int h
        outs = self._per_head(out, "out", False)
        for h in range(self.n_heads):
            self._check_rows(outs[h], n, self.heads[h].width, "out")
            pouts[h] = _data(outs[h])
        batch_rows = max(1, min(batch_rows, n))
        last = _check_piece(first, last, n, batch_rows)
        if first == last:
            return
        cdef void *px = _data(x)
        cdef Workspace w
        self._access.read_begin()
        try:
            w = self._acquire(batch_rows)
            try:
                if self.f32:
                    with nogil:
                        _predict(self, w, <const float *> px, first, last, pouts,
                                 batch_rows, training, step, n_threads)
                else:
                    with nogil:
                        _predict(self, w, <const double *> px, first, last, pouts,
                                 batch_rows, training, step, n_threads)
                self._raise_external(w)
            finally:
                self._release(w)
        finally:
            self._access.read_end()

    def train_epoch(self, x, y, sample_weight, order, Py_ssize_t batch_size, lrs,
                    long first_step, preds, int n_threads, head_sums=None):
        """Train on the rows `order` names, batch_size at a time.

        `y`, `sample_weight` and `preds` are an array (or None) for a one-output model, or a
        list with one entry per output. Returns (loss_sum, rows_done, batches_done,
        interrupt): loss_sum is Σ over batches of (batch loss incl. regularization) × batch
        rows (`penalty_sum` is then its regularization part); lrs[i] is the learning rate of
        batch i; first_step is the optimizer's iterations + 1 at batch 0. preds[h],
        (len(order), width) or None, receives output h's training-mode values in `order`'s
        order; head_sums (float64, one per output), when
        given, gets each output's Σ w·loss added. When Ctrl-C arrives, the batches done so
        far stay applied, the loop stops and interrupt is the KeyboardInterrupt for the
        caller to raise once it has recorded the steps done (None otherwise).
        """
        cdef Py_ssize_t n = self._check_x(x)
        cdef const int64_t[::1] idx = order
        cdef const double[::1] lr = lrs
        cdef Py_ssize_t n_rows = idx.shape[0], n_batches
        cdef Batch targets
        cdef void *ppreds[MAX_HEADS]
        cdef int h
        if not (self.has_loss and self.has_optimizer):
            raise RuntimeError("the engine needs a loss and an optimizer to train")
        self._targets(y, sample_weight, n, &targets)
        pred_list = self._per_head(preds, "preds", True)
        for h in range(self.n_heads):
            if pred_list[h] is not None:
                self._check_rows(pred_list[h], n_rows, self.heads[h].width, "preds")
            ppreds[h] = _data(pred_list[h])
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        n_batches = n_rows // batch_size + (n_rows % batch_size != 0)   # no overflow
        if lr.shape[0] < n_batches:
            raise ValueError(f"lrs has {lr.shape[0]} entries for {n_batches} batches")
        if n_rows and (np.min(order) < 0 or np.max(order) >= n):
            raise ValueError("order names rows outside x")
        if n_rows == 0:
            return 0.0, 0, 0, None
        cdef Workspace w
        self._access.write_begin()
        try:
            self.penalty_sum = 0.0
            self._allocate_images()
            w = self._acquire(max(1, min(batch_size, n_rows)))
            try:
                if self.f32:
                    result = _train_epoch(self, w, <const float *> _data(x), &targets,
                                          &idx[0], n_rows, batch_size, &lr[0], first_step,
                                          ppreds, n_threads)
                else:
                    result = _train_epoch(self, w, <const double *> _data(x), &targets,
                                          &idx[0], n_rows, batch_size, &lr[0], first_step,
                                          ppreds, n_threads)
                self._raise_external(w)    # the batches before the failed one stay applied
            finally:
                self._release(w)
        finally:
            self._access.write_end()
        self._add_sums(&targets, head_sums)
        return result

    cdef int _allocate_images(self) except -1:
        """The bfloat16 images of the mixed_bfloat16 Dense kernels, on the first training call
        (inference never reads them). A kernel gets them when its op(B)'s pairs of rows can
        be packed in even-sized pieces; shared kernels have one pair of images."""
        cdef Py_ssize_t k, v, ni, no
        cdef Op *op
        cdef uint32_t[::1] view
        if self._images is not None:
            return 0
        images = []
        if not self.bf16_images:
            self._images = images
            return 0
        for k in range(self.n_ops):
            op = &self.ops[k]
            if op.kind != OP_DENSE or not op.flags & FLAG_BF16:
                continue
            ni, no = op.n_in // op.groups, op.n_out // op.groups
            for v in range(self.n_vars):
                if self.var_off[v] == op.w and self.var_size[v] == ni * no:
                    break
            else:
                continue
            if not image_splits_at_even_rows(ni) or ni * no == 0:
                continue
            if self.var_img_fwd[v] == NULL:
                view = np.zeros(image_size(ni, no), np.uint32)
                images.append(view.base)
                self.var_img_fwd[v], self.var_img_rows[v] = &view[0], ni
            if self.var_img_bwd[v] == NULL and op.inp[0] >= 0 \
                    and self.ops[op.inp[0]].needs_grad:
                view = np.zeros(image_size(no, ni), np.uint32)
                images.append(view.base)
                self.var_img_bwd[v] = &view[0]
            op.img_var = v
        self._images = images
        return 0

    @property
    def bf16_image_count(self):
        """How many kernels have images (after the first training call)."""
        return sum(self.var_img_fwd[v] != NULL for v in range(self.n_vars))

    def evaluate(self, x, y, sample_weight, Py_ssize_t batch_rows, preds, int n_threads,
                 head_sums=None, long step=0, double loss_sum=0.0, Py_ssize_t first=0,
                 Py_ssize_t last=-1):
        """Inference-mode loss: loss_sum + Σ over batches of (batch loss incl. regularization)
        × rows, added batch by batch. Arguments as in `train_epoch`; `step` seeds the layers
        forced into training mode. head_sums[h] gets output h's Σ w·loss added in the same
        order (head_sums[h] + b1 + b2 ...), and `first`/`last` limit the call to those rows,
        as in `predict`: a call run in pieces that pass loss_sum and head_sums on gives the
        bits of one call."""
        cdef Py_ssize_t n = self._check_x(x)
        cdef double total
        cdef Batch targets
        cdef void *ppreds[MAX_HEADS]
        cdef int h
        if not self.has_loss:
            raise RuntimeError("the engine needs a loss to evaluate")
        self._targets(y, sample_weight, n, &targets)
        pred_list = self._per_head(preds, "preds", True)
        for h in range(self.n_heads):
            if pred_list[h] is not None:
                self._check_rows(pred_list[h], n, self.heads[h].width, "preds")
            ppreds[h] = _data(pred_list[h])
        batch_rows = max(1, min(batch_rows, n))
        last = _check_piece(first, last, n, batch_rows)
        if first == last:
            return loss_sum
        if head_sums is not None:
            for h in range(self.n_heads):
                targets.sums[h] = head_sums[h]
        cdef void *px = _data(x)
        cdef Workspace w
        self._access.read_begin()
        try:
            w = self._acquire(batch_rows)
            try:
                if self.f32:
                    with nogil:
                        total = _evaluate(self, w, <const float *> px, &targets, first,
                                          last, batch_rows, ppreds, step, loss_sum,
                                          n_threads)
                else:
                    with nogil:
                        total = _evaluate(self, w, <const double *> px, &targets, first,
                                          last, batch_rows, ppreds, step, loss_sum,
                                          n_threads)
                self._raise_external(w)
            finally:
                self._release(w)
        finally:
            self._access.read_end()
        if head_sums is not None:
            for h in range(self.n_heads):
                head_sums[h] = targets.sums[h]      # seeded with head_sums above
        return total

    def loss_and_gradients(self, x, y, sample_weight, int n_threads):
        """All of (x, y) as one batch in training mode: returns the loss incl. penalties and
        leaves its gradient in `grads` (the parameters' layout). Nothing is updated.

        This is what full-batch solvers (scikit-learn's lbfgs) need.
        """
        cdef Py_ssize_t n = self._check_x(x)
        cdef Batch targets
        if not self.has_loss:
            raise RuntimeError("the engine needs a loss to compute gradients")
        if n == 0:
            raise ValueError("loss_and_gradients needs at least one row")
        self._targets(y, sample_weight, n, &targets)
        cdef int64_t[::1] order = np.arange(n, dtype=np.int64)
        cdef double loss
        cdef Workspace w
        self._access.write_begin()
        try:
            self.penalty_sum = 0.0
            w = self._acquire(n)
            try:
                if self.f32:
                    _gather(self, w, <const float *> _data(x), &targets, &order[0], n,
                            n_threads)
                    with nogil:
                        loss = _gradient_batch(self, w, <const float *> NULL, &targets,
                                               &order[0], n, n_threads)
                else:
                    _gather(self, w, <const double *> _data(x), &targets, &order[0], n,
                            n_threads)
                    with nogil:
                        loss = _gradient_batch(self, w, <const double *> NULL, &targets,
                                               &order[0], n, n_threads)
                self._raise_external(w)
            finally:
                self._release(w)
        finally:
            self._access.write_end()
        return loss

    def regularization_penalty(self):
        """Σ over variables of l1·Σ|w| + l2·Σw², the amount added to every batch's loss."""
        if self.f32:
            return _penalty(self, <float *> self.p_params, 1)
        return _penalty(self, <double *> self.p_params, 1)

    # The engine trusts its callers for shapes; these checks keep a wrong call from writing
    # outside a buffer, at a cost of a few attribute reads.

    cdef list _per_head(self, value, str name, bint optional):
        """One entry per output: a one-output model takes a bare array (or None)."""
        if isinstance(value, (list, tuple)):
            if len(value) != self.n_heads:
                raise ValueError(f"{name} needs {self.n_heads} entries, one per output")
            return list(value)
        if value is None and optional:
            return [None] * self.n_heads
        if self.n_heads != 1:
            raise ValueError(f"{name} needs a list of {self.n_heads} entries, one per output")
        return [value]

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

    cdef int _targets(self, y, sample_weight, Py_ssize_t n, Batch *t) except -1:
        """Check each output's targets and weights and point `t` at them."""
        cdef int h
        cdef Head *head
        ys = self._per_head(y, "y", True)
        if isinstance(sample_weight, (list, tuple)):
            ws = self._per_head(sample_weight, "sample_weight", True)
        else:
            ws = [sample_weight] * self.n_heads       # one array weighs every output
        for h in range(self.n_heads):
            head = &self.heads[h]
            t.y[h] = t.w[h] = NULL
            t.sums[h] = 0.0
            if not head.has_loss or head.external:     # a Python loss has its own targets
                continue
            a = ys[h]
            if a is None:
                raise ValueError(f"output {h} has a loss but no targets")
            if head.sparse:
                if a.dtype != np.int64 or a.shape != (n,) or not a.flags.c_contiguous:
                    raise ValueError(f"labels must be a C-contiguous int64 array of shape "
                                     f"({n},)")
            elif a.dtype != self.dtype or a.shape != (n, head.width) \
                    or not a.flags.c_contiguous:
                raise ValueError(f"y must be a C-contiguous {self.dtype} array of shape "
                                 f"({n}, {head.width})")
            sw = ws[h]
            if sw is not None and (sw.dtype != self.dtype or sw.shape != (n,)
                                   or not sw.flags.c_contiguous):
                raise ValueError(f"sample_weight must be a C-contiguous {self.dtype} array "
                                 f"of shape ({n},)")
            t.y[h] = _data(a)
            t.w[h] = _data(sw)
        return 0

    cdef void _add_sums(self, Batch *t, head_sums):
        cdef int h
        if head_sums is None:
            return
        for h in range(self.n_heads):
            head_sums[h] += t.sums[h]


include "_engine_loop.pxi"
include "_engine_ops.pxi"
