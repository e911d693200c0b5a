"""``fastnn train``: an MLP on a CSV file (or scikit-learn's digits), scored on held-out rows
and saved as ``.keras``.

Features are standardized with the training rows' mean and standard deviation (and so is a
regression target); after training, the scaling is folded into the first and last Dense
layers, so the saved model takes the file's raw numbers and gives answers in the target's own
units, in Keras as in fastnn.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from fastnn.cli import _dataset, _model_file
from fastnn.cli._errors import CLIError


def run(args) -> int:
    if args.data is not None and args.target is None:
        raise CLIError("--target is required with a CSV file: name the column to predict")
    if args.plot:
        _check_plot_path(args.plot)
    if args.output:   # before reading the data, which can take a while
        _model_file.check_output_path(args.output)
    data = _dataset.digits() if args.data is None else _dataset.from_csv(args.data, args.target)
    output = args.output or f"{data.name}.keras"
    _model_file.check_output_path(output)
    target = _dataset.encode_target(data, args.task)

    import fastnn

    if args.threads is not None:
        fastnn.config.set_num_threads(args.threads)
    fastnn.utils.set_random_seed(args.seed)
    train, test = split_rows(target, args.test_size, np.random.default_rng(args.seed))
    x_scaling = standardization(data.x[train])
    y_scaling = standardization(target.y[train, None]) if target.task == "regression" else None
    model = build_model(data.x.shape[1], args.hidden, args.activation, target)
    compile_model(model, target, args.optimizer, args.learning_rate)
    print(_describe(data, target, model, args, train.size, test.size), flush=True)

    start = time.perf_counter()
    history = model.fit(
        _scaled(data.x[train], x_scaling), _scaled_target(target.y[train], y_scaling),
        batch_size=args.batch_size, epochs=args.epochs,
        verbose=args.verbose if args.verbose is not None else (1 if sys.stdout.isatty() else 2),
        validation_split=args.validation_split, callbacks=_callbacks(args))
    seconds = time.perf_counter() - start
    fold_scaling(model, x_scaling, y_scaling)
    if test.size:
        print(_held_out_score(model, data.x[test], target, test))
    epochs = len(history.epoch)
    per_epoch = seconds / max(epochs, 1)
    print(f"Training took {seconds:.1f} s ({epochs} epoch{'s' * (epochs != 1)}, "
          + (f"{per_epoch:.2f} s" if per_epoch >= 0.1 else f"{per_epoch * 1e3:.1f} ms")
          + " per epoch)")
    compile_model(model, target, args.optimizer, args.learning_rate)  # a fresh optimizer
    _model_file.save(model, output, {
        "task": target.task, "target": data.target_name, "features": data.feature_names,
        "classes": target.classes, "numeric_labels": target.numeric_labels})
    print(f"Saved the model to {output}")
    if args.plot:
        title = f"{data.name}: {_layer_sizes(data, model, args)} MLP"
        fastnn.utils.plot_history(history, args.plot, title=title)
        print(f"Saved the training curves to {args.plot}")
    return 0


def split_rows(target: _dataset.Target, test_size: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (train, test) row indices; classes are split in proportion (stratified)."""
    n = target.y.shape[0]
    groups = ([np.flatnonzero(target.y == c) for c in range(len(target.classes))]
              if target.task == "classification" else [np.arange(n)])
    test = []
    for rows in groups:
        test.extend(rng.permutation(rows)[:round(test_size * rows.size)])
    test = rng.permutation(np.array(test, dtype=np.int64))
    train = rng.permutation(np.setdiff1d(np.arange(n), test))
    if (test_size and not test.size) or not train.size:
        raise CLIError(f"{n} rows are too few to hold out {test_size:g} of them and train on "
                       "the rest; change --test-size")
    return train, test


def standardization(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 for constant columns)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    return mean, scale


def build_model(n_features: int, hidden: list[int], activation: str,
                target: _dataset.Target):
    from fastnn import Input, Sequential
    from fastnn.layers import Dense

    layers = [Input((n_features,))]
    layers += [Dense(units, activation=activation) for units in hidden]
    if target.task == "classification":
        layers.append(Dense(len(target.classes), activation="softmax"))
    else:
        layers.append(Dense(1))
    return Sequential(layers)


def compile_model(model, target: _dataset.Target, optimizer: str,
                  learning_rate: float | None) -> None:
    from fastnn import optimizers

    opt = optimizers.get(optimizer)
    if learning_rate is not None:
        opt = type(opt)(learning_rate=learning_rate)
    if target.task == "classification":
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        model.compile(optimizer=opt, loss="mean_squared_error", metrics=["mean_absolute_error"])


def fold_scaling(model, x_scaling, y_scaling) -> None:
    """Make the model take raw features and give raw targets: with x = (raw - m) / s, the first
    layer's W x + b is (W / s) raw + (b - m (W / s)); an output o becomes o * sy + my."""
    first, last = model.layers[0], model.layers[-1]
    kernel, bias = (w.astype(np.float64) for w in first.get_weights())
    mean, scale = x_scaling
    kernel = kernel / scale[:, None]
    first.set_weights([kernel, bias - mean @ kernel])
    if y_scaling is not None:
        kernel, bias = (w.astype(np.float64) for w in last.get_weights())
        (y_mean,), (y_scale,) = y_scaling
        last.set_weights([kernel * y_scale, bias * y_scale + y_mean])


def r2_score(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - (residual sum of squares) / (total sum of squares); nan for a constant y."""
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - predicted) ** 2) / total) if total > 0 else float("nan")


def _held_out_score(model, x: np.ndarray, target: _dataset.Target, rows: np.ndarray) -> str:
    predicted = model.predict(x, verbose=0)
    y = target.y[rows]
    if target.task == "classification":
        accuracy = float(np.mean(predicted.argmax(axis=1) == y))
        return f"Held-out accuracy: {accuracy:.4f} ({rows.size} rows)"
    return f"Held-out R²: {r2_score(y, predicted[:, 0]):.4f} ({rows.size} rows)"


def _scaled(x: np.ndarray, scaling) -> np.ndarray:
    mean, scale = scaling
    return (x - mean) / scale


def _scaled_target(y: np.ndarray, scaling) -> np.ndarray:
    return y if scaling is None else _scaled(y[:, None], scaling)


def _callbacks(args) -> list:
    if args.early_stopping is None:
        return []
    from fastnn.callbacks import EarlyStopping

    monitor = "val_loss" if args.validation_split else "loss"
    return [EarlyStopping(monitor=monitor, patience=args.early_stopping,
                          restore_best_weights=True, verbose=1)]


def _describe(data, target, model, args, n_train: int, n_test: int) -> str:
    sizes = _layer_sizes(data, model, args, " -> ")
    what = (f"{len(target.classes)} classes" if target.task == "classification"
            else "regression, losses in standardized units")
    n_val = n_train - math.floor(n_train * (1.0 - args.validation_split))
    return (f"Data: {data.where}, {data.x.shape[0]} rows, {data.x.shape[1]} features, target "
            f"{data.target_name!r} ({what})\n"
            f"Model: {sizes} ({args.activation}), {args.optimizer}, {n_train - n_val} rows to "
            f"train on, {n_val} to validate, {n_test} held out")


def _layer_sizes(data, model, args, sep: str = "-") -> str:
    return sep.join(str(n) for n in [data.x.shape[1], *args.hidden, model.output_shape[-1]])


def _check_plot_path(path: str) -> None:
    try:
        import matplotlib  # noqa: F401 - checked now rather than after training
    except ImportError:
        raise CLIError("--plot needs matplotlib, which is not installed: "
                       "pip install 'fastnn[plot]'") from None
    _model_file.check_file_path(path)
