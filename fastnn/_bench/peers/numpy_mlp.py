"""A plain-NumPy float32 MLP (forward, backward, Adam), the baseline of what NumPy's BLAS gives
without a framework; also NumPy's side of the kernel workloads."""

from __future__ import annotations

import numpy as np

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, predict_cases


def missing() -> str | None:
    return None


class MLP:
    """Dense layers, relu hidden and softmax output, sparse cross-entropy, Keras's Adam."""

    def __init__(self, weights, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.params = [p.copy() for pair in weights for p in pair]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.t = 0

    def forward(self, x):
        activations = [x]
        n_layers = len(self.params) // 2
        for i in range(n_layers):
            z = activations[-1] @ self.params[2 * i]
            z += self.params[2 * i + 1]
            if i < n_layers - 1:
                np.maximum(z, 0, out=z)
            else:
                z -= z.max(axis=1, keepdims=True)
                np.exp(z, out=z)
                z /= z.sum(axis=1, keepdims=True)
            activations.append(z)
        return activations

    def train_batch(self, x, labels):
        activations = self.forward(x)
        probs, rows = activations[-1], np.arange(len(labels))
        loss = -np.log(np.clip(probs[rows, labels], 1e-7, 1.0)).mean()
        delta = probs
        delta[rows, labels] -= 1
        delta /= len(labels)
        grads = [None] * len(self.params)
        for i in reversed(range(len(self.params) // 2)):
            grads[2 * i] = activations[i].T @ delta
            grads[2 * i + 1] = delta.sum(axis=0)
            if i:
                delta = delta @ self.params[2 * i].T
                delta *= activations[i] > 0
        self.adam(grads)
        return loss

    def adam(self, grads):
        self.t += 1
        step = self.lr * np.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m += (1 - self.beta_1) * (g - m)
            v += (1 - self.beta_2) * (g * g - v)
            p -= step * m / (np.sqrt(v) + self.epsilon)

    def fit_epoch(self, x, labels, batch_size, rng):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            total += self.train_batch(x[batch], labels[batch]) * len(batch)
        return total / len(x)


def tutorial_fit(sizes):
    x, y = w.tutorial_data(sizes.tutorial_samples)
    weights = w.initial_weights(1, w.TUTORIAL_LAYERS)

    def run():
        model, rng = MLP(weights, 1e-4), np.random.default_rng(0)
        return [model.fit_epoch(x, y, 10, rng) for _ in range(sizes.tutorial_epochs)]

    losses = run()
    w.check_loss_falls(losses[0], losses[-1], "NumPy MLP tutorial fit")
    return Case(run, x.nbytes + y.nbytes)


def mnist_epoch(sizes):
    x, y = w.mnist_data(sizes.mnist_samples)
    model, rng = MLP(w.initial_weights(784, w.MNIST_LAYERS), 1e-3), np.random.default_rng(0)
    first, second = model.fit_epoch(x, y, 128, rng), model.fit_epoch(x, y, 128, rng)
    w.check_loss_falls(first, second, "NumPy MLP MNIST-scale epoch")
    return Case(lambda: model.fit_epoch(x, y, 128, rng), x.nbytes + y.nbytes)


def _predict(rows, which):
    x, _n_in, layers, weights = w.predict_setup(rows, which)
    model = MLP(weights, 1e-3)
    w.check_close(model.forward(x)[-1], w.reference_forward(x, weights, layers),
                  "NumPy MLP predict")
    return Case(lambda: model.forward(x)[-1], x.nbytes)


# ---- NumPy's side of the kernel workloads (same operands as fastnn's) -------------------

def matmul(sizes):
    products = []
    for form, a, b, out in w.matmul_operands():
        a_op, b_op = (a.T if form[0] == "T" else a), (b.T if form[1] == "T" else b)
        np.matmul(a_op, b_op, out=out)
        w.check_close(out, a_op.astype(np.float64) @ b_op, f"NumPy matmul {form}", 1e-3)
        products.append((a_op, b_op, out))

    def run():
        for a_op, b_op, out in products:
            np.matmul(a_op, b_op, out=out)
    return Case(run)


def activation(sizes):
    z, bias = w.activation_operands()
    out = np.empty_like(z)

    def run():
        np.add(z, bias, out=out)
        np.maximum(out, 0, out=out)
    run()
    w.check_close(out, np.maximum(z.astype(np.float64) + bias, 0), "NumPy relu", 1e-6)
    return Case(run)


def loss(sizes):
    logits, labels = w.loss_operands()
    rows = np.arange(len(labels))

    def run():
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        values = np.log(total[:, 0]) - z[rows, labels]
        grad = e / total
        grad[rows, labels] -= 1
        grad /= len(labels)
        return values, grad
    values, grad = run()
    want_values, want_grad = w.reference_loss(logits, labels)
    w.check_close(values, want_values, "NumPy loss values", 1e-5)
    w.check_close(grad, want_grad, "NumPy loss gradient", 1e-5)
    return Case(run)


def optimizer(sizes):
    weights, grad, m, v = w.optimizer_operands()
    want = w.reference_adam(weights, grad, m, v, 1)
    model = MLP([], 1e-3)
    model.params, model.m, model.v = [weights], [m], [v]
    model.adam([grad])
    w.check_close(weights, want, "NumPy Adam update", 1e-6)
    return Case(lambda: model.adam([grad]))


CASES = {
    "tutorial_fit": tutorial_fit,
    "mnist_epoch": mnist_epoch,
    **predict_cases(_predict),
    "matmul": matmul,
    "activation": activation,
    "loss": loss,
    "optimizer": optimizer,
}
