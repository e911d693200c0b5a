"""The fastnn network behind MLPClassifier and MLPRegressor, and how its numbers map onto
scikit-learn's.

scikit-learn's MLP descends, batch by batch, the gradient of S = data + alpha/2 * sum(W**2) /
sum(w), where "data" is the weighted mean (Σ w·l / Σ w) over the batch's samples of the output
loss *summed* over outputs (its output delta is always ``p - y``). fastnn's engine trains on
Keras losses, which are means over outputs, with ``L2BatchMean(l2)`` adding ``l2 * sum(W**2)``
on kernels over the same denominator as the loss; the sklearn face sets the engine's
normalization to "weights", so that denominator is the batch's Σ w as in scikit-learn (rows
without weights). With the loss below and ``l2 = c * alpha / 2`` the engine's objective on
every batch is E = c * S, where c is a constant per loss (table below):

=====================  ===============================  =======
scikit-learn           engine loss and output           c
=====================  ===============================  =======
softmax + log_loss     sparse cross-entropy, softmax    1
logistic + log_loss    binary cross-entropy, sigmoid    1 / n_outputs
identity + squared     mean squared error, linear       2 / n_outputs
exp + poisson          poisson, exponential             1 / n_outputs
=====================  ===============================  =======

The optimizers then see gradients scaled by c, with or without sample weights. SGD divides
its learning rate by c; Adam's step m / (sqrt(v) + eps) is invariant to a constant gradient
scale once eps is scaled too, so the engine's Adam gets ``epsilon * c``; L-BFGS divides the
objective and its gradient by c. All three then take scikit-learn's steps, to rounding.

The loss scikit-learn *reports* is S, except for squared error whose data term it reports as a
mean over outputs (half of the engine's), and Poisson, whose deviance has the extra constant
``y log y - y`` (added as each batch's weighted mean); ``_reported`` converts, taking the
penalty part from the engine's ``penalty_sum``.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy.special import xlogy

from fastnn import Input, Sequential, _thread_policy
from fastnn import optimizers as _optimizers
from fastnn import regularizers as _regularizers
from fastnn._kernels import _engine
from fastnn.layers import Dense

HIDDEN_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh",
                      "relu": "relu"}
_OUTPUTS = {  # out_activation_ -> (fastnn activation, engine loss)
    "softmax": ("softmax", "sparse_categorical_crossentropy"),
    "logistic": ("sigmoid", "binary_crossentropy"),
    "identity": ("linear", "mean_squared_error"),
    "exp": ("exponential", "poisson"),
}
# Rows per inference call of the engine; results do not depend on it.
_INFERENCE_ROWS = 1024


def gradient_scale(out_activation: str, n_outputs: int) -> float:
    """c of the module's table: engine objective / scikit-learn objective (no weights)."""
    if out_activation == "softmax":
        return 1.0
    if out_activation == "identity":
        return 2.0 / n_outputs
    return 1.0 / n_outputs


def init_weights(layer_units: list[int], activation: str, rng: np.random.RandomState,
                 dtype) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Glorot-uniform kernels and biases, bound sqrt(6 / (fan_in + fan_out)) (sqrt(2 / ...)
    for logistic units), drawn in float64, layer by layer, kernel before bias."""
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in pairwise(layer_units):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
    return coefs, intercepts


def layout(layer_units: list[int]) -> list[tuple[int, tuple[int, ...]]]:
    """(offset, shape) of every weight in the flat buffer: kernel, bias, kernel, bias, ..."""
    out, off = [], 0
    for fan_in, fan_out in pairwise(layer_units):
        out.append((off, (fan_in, fan_out)))
        off += fan_in * fan_out
        out.append((off, (fan_out,)))
        off += fan_out
    return out


def views(params: np.ndarray, layer_units: list[int]) -> tuple[list, list]:
    """coefs_ and intercepts_ as views of the flat buffer ``params``."""
    arrays = [params[off:off + int(np.prod(shape))].reshape(shape)
              for off, shape in layout(layer_units)]
    return arrays[0::2], arrays[1::2]


def packed(coefs: list, intercepts: list, layer_units: list[int], params) -> np.ndarray:
    """``params`` when coefs and intercepts are still its views (the usual case), else a new
    flat buffer holding their current values (after a user assigned new arrays)."""
    arrays = [a for pair in zip(coefs, intercepts) for a in pair]
    if params is not None and len(arrays) == 2 * (len(layer_units) - 1):
        base, size = params.ctypes.data, params.itemsize
        if all(isinstance(a, np.ndarray) and a.dtype == params.dtype and a.shape == shape
               and a.ctypes.data == base + off * size
               for a, (off, shape) in zip(arrays, layout(layer_units))):
            return params
    dtype = params.dtype if params is not None else np.result_type(*arrays)
    return np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays])


class Network:
    """A compiled fastnn Sequential for ``layer_units`` whose flat parameter buffer is
    ``params``, so that the estimator's coefs_/intercepts_ (views of it) are the weights the
    engine trains.

    Parameters
    ----------
    layer_units : list of int
        Input width, hidden widths, output width.
    activation, out_activation : str
        scikit-learn names of the hidden and output activations.
    alpha : float
        scikit-learn's L2 strength.
    optimizer : fastnn optimizer
        Already scaled (see the module's note); its slots carry state between calls.
    dtype : numpy dtype
    """

    def __init__(self, layer_units, activation, out_activation, alpha, optimizer, dtype):
        self.layer_units = list(layer_units)
        self.dtype = np.dtype(dtype)
        n_out = self.layer_units[-1]
        self.c = gradient_scale(out_activation, n_out)
        self.out_activation = out_activation
        self.alpha = float(alpha)
        out_act, loss = _OUTPUTS[out_activation]
        reg = _regularizers.L2BatchMean(self.c * self.alpha / 2) if alpha else None
        dims = self.layer_units[1:]
        layers = [Input((self.layer_units[0],), dtype=self.dtype.name)]
        layers += [Dense(units, activation=HIDDEN_ACTIVATIONS[activation] if i < len(dims) - 1
                         else out_act, kernel_initializer="zeros", kernel_regularizer=reg,
                         dtype=self.dtype.name)
                   for i, units in enumerate(dims)]
        self.model = Sequential(layers)
        self.model.compile(optimizer=optimizer, loss=loss)
        self.plan = self.model._ensure_plan()
        self.plan.engine.set_normalization("weights")
        self.sparse = out_activation == "softmax"
        self.constant = None    # Poisson: each sample's y log y - y, summed over outputs

    @property
    def params(self) -> np.ndarray:
        return self.plan.params

    def load(self, coefs, intercepts) -> None:
        flat = packed(coefs, intercepts, self.layer_units, None)
        self.plan.params[:] = flat

    def targets(self, y: np.ndarray) -> np.ndarray:
        """The engine's targets from scikit-learn's (binarized) y of shape (n, n_outputs)."""
        if self.sparse:
            return np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64)
        return np.ascontiguousarray(y, dtype=self.dtype)

    def prepare(self, x, y, sample_weight):
        """x, targets and weights as the engine takes them, with loss and optimizer set."""
        if self.out_activation == "exp":
            # Poisson deviance's constant, which Keras's poisson loss leaves out.
            self.constant = (xlogy(y, y) - y).sum(axis=1)
        xs, ys, ws, _ = self.model._training_arrays(x, self.targets(y), sample_weight, None)
        return xs, ys[0], ws[0]     # one output

    def train_epoch(self, xs, ys, ws, order, batch_size, lr, n_threads):
        """One pass over ``order``; returns (scikit-learn's epoch loss, interrupt or None).

        ``lr`` is scikit-learn's learning rate (SGD's is divided by c; Adam's eps is already
        scaled, so its lr is used as is). The epoch loss is the mean over batches of each
        batch's S, weighted by the batch's rows, as scikit-learn reports it.
        """
        engine, opt = self.plan.engine, self.model.optimizer
        n_batches = -(-order.shape[0] // batch_size)
        batch_weights(ws, order, batch_size)
        step_lr = lr / self.c if isinstance(opt, _optimizers.SGD) else lr
        total, rows, done, interrupt, penalty = _thread_policy.train_epoch(
            engine, xs, ys, ws, order, batch_size, np.full(n_batches, step_lr),
            opt.iterations + 1, None, n_threads)
        opt.iterations = opt.iterations + done
        loss = self._reported(total, rows, penalty)
        return loss + self._offset(order[:rows], ws, batch_size), interrupt

    def _reported(self, total: float, rows: int, penalty_total: float) -> float:
        """scikit-learn's loss from the engine's Σ_batches rows * E and the penalty part of
        it (see the module's note); Poisson's constant not included."""
        mean, penalty = total / rows, penalty_total / rows
        if self.out_activation == "identity":
            return (mean - penalty) / 2.0 + penalty / self.c
        return mean / self.c

    def _offset(self, order, ws, batch_size) -> float:
        """Poisson: the rows-weighted mean over batches of each batch's weighted mean of
        the deviance's constant (0 for the other losses)."""
        if self.constant is None:
            return 0.0
        const = self.constant[order]
        if ws is None:
            return float(const.mean())
        w = ws[order].astype(np.float64)
        starts = np.arange(0, order.shape[0], batch_size)
        rows = np.diff(np.append(starts, order.shape[0]))
        per_batch = np.add.reduceat(w * const, starts) / batch_weights(ws, order, batch_size)
        return float(np.dot(rows, per_batch) / order.shape[0])

    def loss_and_gradient(self, xs, ys, ws, n_threads):
        """scikit-learn's lbfgs objective at the current params and its gradient (float64)."""
        engine = self.plan.engine
        n = xs.shape[0]
        total = engine.loss_and_gradients(xs, ys, ws, n_threads)
        grad = self.plan.grads.astype(np.float64) / self.c
        loss = self._reported(total * n, n, engine.penalty_sum)
        return loss + self._offset(np.arange(n), ws, n), grad

    def predict(self, x: np.ndarray, n_threads: int) -> np.ndarray:
        return predict(self.plan._ops_i, self.plan._ops_f, self.params, x, n_threads)


def batch_weights(ws, order, batch_size: int):
    """Σw of each batch of ``order`` (None without weights). ZeroDivisionError, as
    scikit-learn's np.average raises, when one is zero: every batch is divided by it."""
    if ws is None:
        return None
    starts = np.arange(0, order.shape[0], batch_size)
    sums = np.add.reduceat(ws[order].astype(np.float64), starts)
    zero = np.flatnonzero(sums == 0)
    if zero.size and sums.shape[0] == 1:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized: the loss is "
                                "divided by the sum of the sample weights.")
    if zero.size:
        first = int(starts[zero[0]])
        last = min(first + batch_size, order.shape[0]) - 1
        raise ZeroDivisionError(
            f"Weights sum to zero, can't be normalized: the sample weights of batch "
            f"{zero[0]} (rows {first} to {last} of this epoch's order) sum to zero, and "
            "each batch's loss is divided by its weight sum. Use a larger batch_size, or "
            "leave out the rows whose weight is zero (the same model).")
    return sums


def inference_ops(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """The plan's op tables: with a flat buffer they are all inference needs."""
    return net.plan._ops_i.copy(), net.plan._ops_f.copy()


def predict(ops_i, ops_f, params: np.ndarray, x: np.ndarray, n_threads: int) -> np.ndarray:
    """The network's outputs for x (C-contiguous, params' dtype), on an engine of its own.

    Every call builds its own small engine (its workspace is the only mutable state), so
    concurrent calls on one estimator never share a buffer. Inference writes no gradient,
    so the gradient buffer the engine requires is params itself; it never trains.
    """
    no_vars = np.zeros(0, dtype=np.int64)
    no_coef = np.zeros(0, dtype=np.float64)
    rows = max(1, min(x.shape[0], _INFERENCE_ROWS))
    engine = _engine.Engine(ops_i, ops_f, params, params, np.zeros(0, dtype=params.dtype),
                            no_vars, no_vars, no_coef, no_coef, x.shape[1], rows)
    out = np.empty((x.shape[0], engine.out_dim), dtype=params.dtype)
    if x.shape[0]:
        # The engine is this call's: the stream of decisions is the network's architecture.
        _thread_policy.predict(engine, x, out, rows, n_threads,
                               key=(ops_i.tobytes(), params.dtype.char, x.shape[1]))
    return out
