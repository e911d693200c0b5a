"""``fastnn predict``, ``evaluate``, ``summary``, ``bench`` and ``info``."""

from __future__ import annotations

import csv
import importlib
import sys

import numpy as np

from fastnn.cli import _dataset, _model_file
from fastnn.cli._errors import CLIError
from fastnn.cli._table import read_csv
from fastnn.cli._train import r2_score


def predict(args) -> int:
    model, meta = _model_file.load(args.model)
    table = read_csv(args.data)
    x = _dataset.model_features(table, meta, model.input_shape[-1])
    if args.out:
        _model_file.check_file_path(args.out)
    header, rows = prediction_table(model.predict(x, batch_size=args.batch_size, verbose=0),
                                    meta)
    if args.out:
        with open(args.out, "w", newline="") as f:
            _write_csv(f, header, rows)
        print(f"Wrote {len(rows)} predictions to {args.out}")
    else:
        _write_csv(sys.stdout, header, rows)
    return 0


def prediction_table(outputs: np.ndarray, meta: dict | None) -> tuple[list[str], list[list]]:
    """A header and rows of text: for a classifier the predicted label, then each class's
    probability; for a regressor the value; for a model of unknown data its raw outputs."""
    values = [[f"{v:.6g}" for v in row] for row in outputs.tolist()]
    if meta is None:
        header = (["prediction"] if outputs.shape[1] == 1
                  else [f"output_{j}" for j in range(outputs.shape[1])])
        return header, values
    if meta["task"] == "regression":
        return [meta["target"]], values
    classes = meta["classes"]
    labels = [classes[i] for i in outputs.argmax(axis=1)]
    header = [meta["target"], *(f"probability_{c}" for c in classes)]
    return header, [[label, *row] for label, row in zip(labels, values)]


def evaluate(args) -> int:
    model, meta = _model_file.load(args.model)
    table = read_csv(args.data)
    target = args.target or (meta or {}).get("target")
    if target is None:
        raise CLIError(f"--target is required: {args.model} does not say which column it "
                       "predicts")
    table.require([target], " (the target)")
    x = _dataset.model_features(table, meta, model.input_shape[-1], target=target)
    n_outputs = model.output_shape[-1]
    classification = meta["task"] == "classification" if meta else n_outputs > 1
    if classification and meta:
        y = _dataset.class_indices(table.column(target), meta["classes"],
                                   meta["numeric_labels"], target, table)
    elif classification:
        y = _class_numbers(table, target, n_outputs)
    else:
        y = table.numeric([target])[:, 0]
    predicted = model.predict(x, batch_size=args.batch_size, verbose=0)
    results = {}
    if meta is not None and model.compiled:
        results["loss"] = model.evaluate(x, y, batch_size=args.batch_size, verbose=0,
                                         return_dict=True)["loss"]
    results.update(_scores(y, predicted, classification))
    print(f"{args.model} on {args.data}: {table.n_rows} rows, target {target!r}")
    for name, value in results.items():
        print(f"{name}: {value:.4f}")
    return 0


def _scores(y: np.ndarray, predicted: np.ndarray, classification: bool) -> dict[str, float]:
    if classification:
        return {"accuracy": float(np.mean(predicted.argmax(axis=1) == y))}
    error = y - predicted[:, 0]
    return {"r2": r2_score(y, predicted[:, 0]), "mean_absolute_error": float(np.abs(error).mean()),
            "root_mean_squared_error": float(np.sqrt(np.mean(error ** 2)))}


def _class_numbers(table, target: str, n_classes: int) -> np.ndarray:
    """Class indices written as numbers, for a model that does not name its classes."""
    y = table.numeric([target])[:, 0]
    bad = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= n_classes))
    if bad.size:
        raise CLIError(f"column {target!r} of {table.path} holds {y[bad[0]]:g} on line "
                       f"{table.lines[bad[0]]}; the model has {n_classes} outputs, so its "
                       f"classes are the integers 0 to {n_classes - 1}")
    return y.astype(np.int64)


def summary(args) -> int:
    model, meta = _model_file.load(args.model)
    model.summary()
    if meta is not None:
        features = meta["features"]
        shown = ", ".join(features[:6]) + (", ..." if len(features) > 6 else "")
        print(f"Trained by fastnn train to predict {meta['target']!r} ({meta['task']}) from "
              f"{len(features)} columns: {shown}")
        if meta["classes"]:
            print(f"Classes: {', '.join(meta['classes'])}")
    return 0


def info(args) -> int:
    from fastnn import show_config

    show_config()
    return 0


def bench(args, extra: list[str]) -> int:
    try:
        report = importlib.import_module("fastnn._bench.report")
    except ModuleNotFoundError as e:
        if e.name not in ("fastnn._bench", "fastnn._bench.report"):
            raise
        raise CLIError("the benchmark report is not part of this installation of fastnn "
                       "(fastnn._bench.report is missing)") from None
    return report.main((["--quick"] if args.quick else []) + extra)


def _write_csv(stream, header: list[str], rows: list[list]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
