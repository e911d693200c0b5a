"""A CSV file read into named columns of strings, and those columns turned into numbers.

The first line must name the columns. Every error names the file, the column and the line, so
that it fits on one line and points at what to fix, and shows a cell shortened to a few dozen
characters. Cells are kept column by column as Python strings, so memory grows with the file's
size, whatever the length of its longest cell (a fixed-width NumPy string array would give
every cell of a column the room of the longest one).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import numpy as np

from fastnn.cli._errors import CLIError


@dataclass
class Table:
    """The cells of a CSV file as strings.

    Attributes
    ----------
    path : str
    names : list of str
        The column names, from the first line.
    columns : list of arrays of str (dtype object), each of shape (n_rows,)
    lines : array of int of shape (n_rows,)
        The line of the file each row ends on (for error messages).
    """

    path: str
    names: list[str]
    columns: list[np.ndarray]
    lines: np.ndarray

    @property
    def n_rows(self) -> int:
        return self.lines.shape[0]

    def column(self, name: str) -> np.ndarray:
        """The cells of column ``name``, as strings."""
        self.require([name])
        return self.columns[self.names.index(name)]

    def require(self, names: list[str], what: str = "") -> None:
        """Fail, naming every missing column and the ones there are, unless all exist."""
        missing = [n for n in names if n not in self.names]
        if missing:
            raise CLIError(
                f"{self.path} has no column {', '.join(map(repr, missing))}{what} "
                f"(its columns: {_shortlist(self.names)})"
            )

    def numeric(self, names: list[str]) -> np.ndarray:
        """Columns ``names`` as a float64 array of shape (n_rows, len(names)); every cell must
        be a finite number (else the error names the cell on the earliest line)."""
        self.require(names)
        out = np.empty((self.n_rows, len(names)), dtype=np.float64)
        first_bad = None   # (row, column name, message)
        for j, name in enumerate(names):
            problem = self._fill_numeric(name, out[:, j])
            if problem is not None and (first_bad is None or problem[0] < first_bad[0]):
                first_bad = (problem[0], name, problem[1])
        if first_bad is not None:
            raise CLIError(first_bad[2])
        return out

    def _fill_numeric(self, name: str, out: np.ndarray) -> tuple[int, str] | None:
        """Write column ``name`` into ``out``; (row, message) of its first bad cell, if any."""
        cells = self.column(name)
        values = to_numbers(cells)
        if values is None:
            row = first_non_number(cells)
            found = "an empty cell" if not cells[row] else shorten(cells[row])
            return row, (f"column {name!r} of {self.path} is not numeric: {found} on line "
                         f"{self.lines[row]}")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            return bad[0], (f"column {name!r} of {self.path} holds {shorten(cells[bad[0]])} on "
                            f"line {self.lines[bad[0]]}: values must be finite numbers")
        out[:] = values
        return None


def shorten(cell, limit: int = 40) -> str:
    """A cell for a message: quoted, and cut in the middle when long."""
    text = str(cell)
    if len(text) <= limit:
        return repr(text)
    half = limit // 2
    return f"{text[:half]!r}...{text[-half:]!r} ({len(text):,} characters)"


def to_numbers(cells: np.ndarray) -> np.ndarray | None:
    """``cells`` as float64, or None when one of them is not a number."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        return None


def first_non_number(cells: np.ndarray) -> int:
    """The index of the first cell that is not a number (``cells`` has one)."""
    for i, cell in enumerate(cells):
        try:
            float(cell)
        except ValueError:
            return i
    raise AssertionError("every cell is a number")


def read_csv(path: str) -> Table:
    """Read ``path``: a header line naming the columns, then one row per line."""
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a directory, not a CSV file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            names, columns, lines = _parse(csv.reader(f), path)
    except UnicodeDecodeError:
        raise CLIError(f"{path} is not a text CSV file (it is not UTF-8)") from None
    except csv.Error as e:
        raise CLIError(f"{path} is not a valid CSV file: {e}") from None
    return Table(path, names, [_text_array(c) for c in columns], np.array(lines, dtype=np.int64))


def _text_array(cells: list[str]) -> np.ndarray:
    out = np.empty(len(cells), dtype=object)
    out[:] = cells
    return out


def _parse(reader, path: str) -> tuple[list[str], list[list[str]], list[int]]:
    """The names, the cells column by column, and the line each row ends on."""
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise CLIError(f"{path} is empty: its first line must name the columns")
    names = [h.strip() for h in header]
    if to_numbers(_text_array(names)) is not None:
        raise CLIError(f"the first line of {path} holds numbers, not column names: fastnn "
                       "reads CSV files whose first line names the columns")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated or "" in names:
        what = f"{', '.join(map(repr, duplicated))} twice" if duplicated else "an empty name"
        raise CLIError(f"the header of {path} has {what}: every column needs its own name")
    columns: list[list[str]] = [[] for _ in names]
    lines = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(names):
            raise CLIError(f"line {reader.line_num} of {path} has {len(row)} fields; the "
                           f"header has {len(names)}")
        for column, cell in zip(columns, row):
            column.append(cell.strip())
        lines.append(reader.line_num)
    if not lines:
        raise CLIError(f"{path} has a header but no rows of data")
    return names, columns, lines


def _shortlist(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
