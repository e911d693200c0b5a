"""fastnn itself: the Keras face (Sequential), the scikit-learn face and the bare kernels."""

from __future__ import annotations

import numpy as np

import fastnn
from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, keras_api
from fastnn._bench.peers import sklearn as sklearn_peer
from fastnn._kernels import _activations, _gemm, _losses, _optimizers
from fastnn._kernels._openmp_helpers import effective_n_threads


def missing() -> str | None:
    return None


def sklearn_fit(sizes):
    from fastnn.sklearn import MLPClassifier

    return sklearn_peer.sklearn_epoch(MLPClassifier, sizes, "fastnn MLPClassifier")


def predict_10k_int8(sizes):
    """predict_10k after ``model.quantize("int8")`` (Keras 3's int8 Dense)."""
    x, n_in, layers, weights = w.predict_setup(sizes.predict_rows, "mnist")
    L = fastnn.layers
    model = fastnn.Sequential([fastnn.Input((n_in,))]
                              + [L.Dense(units, activation=act) for units, act in layers])
    model.set_weights([a for pair in weights for a in pair])
    model.quantize("int8")
    w.check_reduced(model.predict(x, verbose=0), w.reference_forward(x, weights, layers),
                 "fastnn int8 predict")
    return Case(lambda: model.predict(x, verbose=0), x.nbytes)


# ---- the kernels alone ------------------------------------------------------------------

def matmul(sizes):
    n_threads = effective_n_threads()
    calls = []
    for form, a, b, out in w.matmul_operands():
        a_op, b_op = (a.T if form[0] == "T" else a), (b.T if form[1] == "T" else b)
        args = (a, b, out, form[0] == "T", form[1] == "T", 1.0, 0.0, n_threads)
        _gemm.matmul(*args)
        with w.quiet_blas():
            want = a_op.astype(np.float64) @ b_op
        w.check_close(out, want, f"fastnn matmul {form}", 1e-3)
        calls.append(args)

    def run():
        for args in calls:
            _gemm.matmul(*args)
    return Case(run)


def activation(sizes):
    z, bias = w.activation_operands()
    out = np.empty_like(z)
    args = (_activations.ACTIVATIONS["relu"], z, bias, out, None, 0.0, np.inf, 0.0, 0.0,
            effective_n_threads())
    _activations.activation_forward(*args)
    w.check_close(out, np.maximum(z.astype(np.float64) + bias, 0), "fastnn relu", 1e-6)
    return Case(lambda: _activations.activation_forward(*args))


def loss(sizes):
    logits, labels = w.loss_operands()
    values, grad = np.empty(len(labels), np.float32), np.empty_like(logits)
    args = (_losses.LOSS_IDS["softmax_sparse_categorical_crossentropy"], labels, logits, None,
            1.0 / len(labels), values, grad, effective_n_threads())
    _losses.sparse_loss_forward_backward(*args)
    want_values, want_grad = w.reference_loss(logits, labels)
    w.check_close(values, want_values, "fastnn loss values", 1e-5)
    w.check_close(grad, want_grad, "fastnn loss gradient", 1e-5)
    return Case(lambda: _losses.sparse_loss_forward_backward(*args))


def optimizer(sizes):
    weights, grad, m, v = w.optimizer_operands()
    want = w.reference_adam(weights, grad, m, v, 1)
    n_threads = effective_n_threads()
    _optimizers.adam_update(weights, grad, m, v, None, 1e-3, 0.9, 0.999, 1e-7, 1, 0.0, 1.0,
                            np.inf, n_threads)
    w.check_close(weights, want, "fastnn Adam update", 1e-6)
    return Case(lambda: _optimizers.adam_update(weights, grad, m, v, None, 1e-3, 0.9, 0.999,
                                                1e-7, 2, 0.0, 1.0, np.inf, n_threads))


CASES = {
    **keras_api.cases(lambda: fastnn, "fastnn"),
    "sklearn_fit": sklearn_fit,
    "predict_10k_int8": predict_10k_int8,
    "matmul": matmul,
    "activation": activation,
    "loss": loss,
    "optimizer": optimizer,
}
