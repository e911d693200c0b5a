"""PyTorch (CPU) with the usual hand-written loop: shuffled index batches, Adam, and
cross-entropy on the logits (softmax folded into the loss, as torch users write it)."""

from __future__ import annotations

import numpy as np

from fastnn._bench import workloads as w
from fastnn._bench.peers import Case, missing_module, predict_cases


def missing() -> str | None:
    return missing_module("torch")


def build(n_in, layers, weights):
    import torch

    modules = []
    for (kernel, bias), (units, act) in zip(weights, layers):
        linear = torch.nn.Linear(n_in, units)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias))
        modules.append(linear)
        if act == "relu":
            modules.append(torch.nn.ReLU())
        n_in = units
    return torch.nn.Sequential(*modules)


class Trainer:
    def __init__(self, model, learning_rate, seed=0, autocast=None):
        import contextlib

        import torch

        self.torch, self.model = torch, model
        # autocast=torch.bfloat16: the forward pass (and so its backward) under CPU autocast,
        # PyTorch's mixed precision: float32 weights, Linear in bfloat16.
        self.autocast = (lambda: torch.autocast("cpu", dtype=autocast)) if autocast \
            else contextlib.nullcontext
        self.optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, eps=1e-7)
        self.loss = torch.nn.CrossEntropyLoss()
        self.generator = torch.Generator().manual_seed(seed)

    def fit_epoch(self, x, y, batch_size):
        torch = self.torch
        order = torch.randperm(len(x), generator=self.generator)
        total = 0.0
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size]
            self.optimizer.zero_grad()
            with self.autocast():
                loss = self.loss(self.model(x[batch]), y[batch])
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(batch)
        return total / len(x)


def _tensors(x, y):
    import torch

    return torch.from_numpy(x), torch.from_numpy(y)


def tutorial_fit(sizes):
    x, y = w.tutorial_data(sizes.tutorial_samples)
    xt, yt = _tensors(x, y)
    weights = w.initial_weights(1, w.TUTORIAL_LAYERS)

    def run():
        trainer = Trainer(build(1, w.TUTORIAL_LAYERS, weights), 1e-4)
        return [trainer.fit_epoch(xt, yt, 10) for _ in range(sizes.tutorial_epochs)]

    losses = run()
    w.check_loss_falls(losses[0], losses[-1], "torch tutorial fit")
    return Case(run, x.nbytes + y.nbytes)


def mnist_epoch(sizes):
    x, y = w.mnist_data(sizes.mnist_samples)
    xt, yt = _tensors(x, y)
    trainer = Trainer(build(784, w.MNIST_LAYERS, w.initial_weights(784, w.MNIST_LAYERS)), 1e-3)
    first, second = trainer.fit_epoch(xt, yt, 128), trainer.fit_epoch(xt, yt, 128)
    w.check_loss_falls(first, second, "torch MNIST-scale epoch")
    return Case(lambda: trainer.fit_epoch(xt, yt, 128), x.nbytes + y.nbytes)


def mnist_epoch_bf16(sizes):
    import torch

    x, y = w.mnist_data(sizes.mnist_samples)
    xt, yt = _tensors(x, y)
    trainer = Trainer(build(784, w.MNIST_LAYERS, w.initial_weights(784, w.MNIST_LAYERS)), 1e-3,
                      autocast=torch.bfloat16)
    first, second = trainer.fit_epoch(xt, yt, 128), trainer.fit_epoch(xt, yt, 128)
    w.check_loss_falls(first, second, "torch MNIST-scale epoch, bfloat16 autocast")
    return Case(lambda: trainer.fit_epoch(xt, yt, 128), x.nbytes + y.nbytes)


def _predict(rows, which):
    import torch

    x, n_in, layers, weights = w.predict_setup(rows, which)
    model = build(n_in, layers, weights)

    def run():
        with torch.inference_mode():
            return np.asarray(torch.softmax(model(torch.from_numpy(x)), dim=1))
    w.check_close(run(), w.reference_forward(x, weights, layers), "torch predict")
    return Case(run, x.nbytes)


def predict_10k_bf16(sizes):
    import torch

    x, n_in, layers, weights = w.predict_setup(sizes.predict_rows, "mnist")
    model = build(n_in, layers, weights)
    xt = torch.from_numpy(x)

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return np.asarray(torch.softmax(model(xt).float(), dim=1))
    w.check_reduced(run(), w.reference_forward(x, weights, layers),
                    "torch bfloat16 autocast predict")
    return Case(run, x.nbytes)


CASES = {
    "tutorial_fit": tutorial_fit,
    "mnist_epoch": mnist_epoch,
    "mnist_epoch_bf16": mnist_epoch_bf16,
    "predict_10k_bf16": predict_10k_bf16,
    **predict_cases(_predict),
}
