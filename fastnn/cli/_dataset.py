"""What the commands learn from: features and a target from a CSV file or from scikit-learn's
digits, and the target as class indices (classification) or numbers (regression).

Which task a target means: text labels are classes; integers with at most
``MAX_AUTO_CLASSES`` distinct values are classes; other numbers are a regression target.
``--task`` overrides the guess.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from fastnn.cli._errors import CLIError
from fastnn.cli._table import Table, first_non_number, read_csv, shorten, to_numbers

MAX_AUTO_CLASSES = 20
TASKS = ("auto", "classification", "regression")


@dataclass
class Dataset:
    """Features (float64, shape (n_samples, n_features)) and the target's cells as text."""

    name: str
    x: np.ndarray
    feature_names: list[str]
    target_name: str
    target: np.ndarray
    where: str
    lines: np.ndarray | None = None

    def line_of(self, row: int) -> str:
        return f"line {self.lines[row]}" if self.lines is not None else f"row {row}"


@dataclass
class Target:
    """The target as the network learns it."""

    task: str
    y: np.ndarray
    classes: list[str] | None = None
    numeric_labels: bool = False


def from_csv(path: str, target: str) -> Dataset:
    """Every column but ``target`` is a feature and must be numeric."""
    table = read_csv(path)
    table.require([target], " (given as --target)")
    features = [n for n in table.names if n != target]
    if not features:
        raise CLIError(f"{path} has no feature columns besides the target {target!r}")
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(name, table.numeric(features), features, target, table.column(target),
                   path, table.lines)


def digits() -> Dataset:
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, 64 pixels, 10 classes."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise CLIError("with no CSV file, fastnn train learns scikit-learn's digits, and "
                       "scikit-learn is not installed: pip install 'fastnn[cli]', or pass a "
                       "CSV file and --target") from None
    bunch = load_digits()
    return Dataset("digits", bunch.data.astype(np.float64),
                   [f"pixel_{i}" for i in range(bunch.data.shape[1])], "digit",
                   bunch.target.astype(str), "scikit-learn's digits")


def encode_target(data: Dataset, task: str = "auto") -> Target:
    """Class indices (classes sorted, numerically when they are numbers) or float values."""
    cells = data.target
    empty = np.flatnonzero(cells == "")
    if empty.size:
        raise CLIError(f"the target {data.target_name!r} of {data.where} is empty on "
                       f"{data.line_of(empty[0])}")
    numbers = to_numbers(cells)
    if task == "auto":
        task = "classification" if numbers is None or _few_integers(numbers) else "regression"
    if task == "regression":
        return Target("regression", _regression_values(data, numbers))
    if numbers is not None and np.isfinite(numbers).all():
        values = np.unique(numbers)
        classes = [format_number_label(v) for v in values]
        y = np.searchsorted(values, numbers)
    else:
        numbers = None
        names, y = np.unique(cells, return_inverse=True)
        classes = [str(c) for c in names]
    if len(classes) < 2:
        raise CLIError(f"the target {data.target_name!r} of {data.where} has one class "
                       f"({classes[0]!r}): a classifier needs at least two")
    return Target("classification", y.astype(np.int64), classes, numbers is not None)


def class_indices(cells: np.ndarray, classes: list[str], numeric_labels: bool,
                  column: str, table: Table) -> np.ndarray:
    """Labels in a file mapped to the indices of the classes a model was trained on."""
    if numeric_labels:
        numbers = to_numbers(cells)
        if numbers is not None and np.isfinite(numbers).all():
            cells = np.array([format_number_label(v) for v in numbers], dtype=str)
    index = {label: i for i, label in enumerate(classes)}
    unknown = [i for i, c in enumerate(cells) if c not in index]
    if unknown:
        row = unknown[0]
        raise CLIError(f"column {column!r} of {table.path} holds {shorten(cells[row])} on line "
                       f"{table.lines[row]}, a class the model was not trained on (it knows "
                       f"{', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''})")
    return np.array([index[c] for c in cells], dtype=np.int64)


def model_features(table: Table, meta: dict | None, n_inputs: int,
                   target: str | None = None) -> np.ndarray:
    """The columns a model reads: those it was trained on when the file says so, else every
    column but the target, which must be as many as the model's inputs."""
    if meta is not None:
        names = meta["features"]
        table.require(names, " that the model was trained on")
    else:
        names = [n for n in table.names if n != target]
    if len(names) != n_inputs:
        raise CLIError(f"the model takes {n_inputs} features but {table.path} has "
                       f"{len(names)} columns to give it")
    return table.numeric(names)


def format_number_label(value: float) -> str:
    """A numeric class label as text: ``3`` for 3.0, ``2.5`` for 2.5."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _few_integers(numbers: np.ndarray) -> bool:
    finite = np.isfinite(numbers).all()
    return bool(finite and np.all(numbers == np.round(numbers))
                and np.unique(numbers).size <= MAX_AUTO_CLASSES)


def _regression_values(data: Dataset, numbers: np.ndarray | None) -> np.ndarray:
    if numbers is None:
        row = first_non_number(data.target)
        raise CLIError(f"the target {data.target_name!r} of {data.where} is not numeric "
                       f"({shorten(data.target[row])} on {data.line_of(row)}): regression needs "
                       "numbers; use --task classification for labels")
    bad = np.flatnonzero(~np.isfinite(numbers))
    if bad.size:
        raise CLIError(f"the target {data.target_name!r} of {data.where} holds "
                       f"{shorten(data.target[bad[0]])} on {data.line_of(bad[0])}: values must be "
                       "finite numbers")
    return numbers
