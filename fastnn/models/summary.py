"""``model.summary()``: Keras 3's table (as its ``rich`` rendering prints it without colour).

Column widths follow Keras: ``int(position * line_length)`` steps, each cell padded by one
space on both sides, then the excess over ``line_length`` taken back from the columns in turn
(``rich``'s ratio reduction, rounding half to even). Cell text wraps at spaces; a word too long
for its column is cut with ``…``.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np

_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def readable_size(n_bytes: float) -> str:
    for unit in _UNITS:
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} {_UNITS[-1]}"


def _bytes(arrays) -> int:
    return int(sum(np.asarray(a).size * np.dtype(a.dtype).itemsize for a in arrays))


def _column_widths(positions, line_length: int) -> list[int]:
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    cells = [w + 2 for w in widths]
    excess = sum(cells) - (line_length - len(cells) - 1)
    remaining, ratio = excess, len(cells)
    out = []
    for cell in cells:
        if remaining > 0:
            take = min(cell, round(remaining / ratio))
            remaining -= take
            ratio -= 1
            cell -= take
        else:
            ratio -= 1
        out.append(cell - 2)
    return out


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return [line if len(line) <= width else line[:width - 1] + "…" for line in lines]


def _align(text: str, width: int, how: str) -> str:
    if how == "right":
        return text.rjust(width)
    if how == "center":
        left = (width - len(text)) // 2
        return " " * left + text + " " * (width - len(text) - left)
    return text.ljust(width)


def _row(cells, widths, aligns, edge: str) -> list[str]:
    wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    return [edge + edge.join(f" {_align(w[i] if i < len(w) else '', width, a)} "
                             for w, width, a in zip(wrapped, widths, aligns)) + edge
            for i in range(height)]


def _rule(widths, left, fill, mid, right) -> str:
    return left + mid.join(fill * (w + 2) for w in widths) + right


def _shape_text(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _layer_cells(layer, shape, show_trainable: bool, connected=None) -> list[str]:
    name = f"{layer.name} ({type(layer).__name__})"
    if not layer.built or shape is None:
        cells = [name, "?", "0 (unbuilt)"]
    else:
        cells = [name, _shape_text(shape), f"{layer.count_params():,}"]
    if connected is not None:
        cells.append(connected)
    if show_trainable:
        cells.append(("Y" if layer.trainable else "N") if layer.weights else "-")
    return cells


def _graph_rows(model):
    """(layer, output shape, "Connected to") per layer of a functional model: the inputs
    of each of the layer's calls in this model, as ``name[node][tensor]``."""
    from fastnn.saving.functional_config import _history, _model_nodes

    index = _model_nodes(model)
    ours = set(index)
    rows = []
    for layer in model.layers:
        nodes = [n for n in layer._inbound_nodes if id(n) in ours]
        inputs = [t for n in nodes for t in n.inputs]
        connected = ", ".join("{}[{}][{}]".format(*_history(t, index)) for t in inputs) or "-"
        outs = [t.shape for t in nodes[0].outputs] if nodes else []
        rows.append((layer, outs[0] if len(outs) == 1 else outs, connected))
    return rows


def _sequential_like(model) -> bool:
    """Keras drops the "Connected to" column for a functional model that is a plain chain:
    one input, each call reading at most one tensor, no tensor read twice, no layer called
    twice."""
    if not hasattr(model, "_nodes"):
        return True
    from fastnn.saving.functional_config import _model_nodes

    index = _model_nodes(model)
    if len(getattr(model, "_input_tensors", [])) != 1:
        return False
    nodes = [n for layer in model.layers for n in layer._inbound_nodes if id(n) in index]
    if any(len(n.inputs) > 1 for n in nodes):
        return False
    read = [id(t) for n in nodes for t in n.inputs]
    if len(read) != len(set(read)):
        return False
    return all(sum(id(n) in index for n in layer._inbound_nodes) <= 1
               for layer in model.layers)


def _shapes_and_connections(model) -> list[tuple]:
    """(layer, output shape or None, "Connected to" or None) for each layer of a model."""
    if hasattr(model, "_nodes"):
        return _graph_rows(model)
    if hasattr(model, "_input_layer"):
        shape = model.input_shape if model.built else None
        rows = []
        for layer in model.layers:
            shape = layer.compute_output_shape(shape) if shape is not None and layer.built \
                else None
            rows.append((layer, shape, None))
        return rows
    # a subclassed model: its layers, shapes unknown to the table (as Keras)
    return [(layer, None, None) for layer in model.layers]


def _table_rows(model, connections: bool, show_trainable: bool, expand_nested: bool,
                level: int = 0) -> list[list[str]]:
    """The cells of each row; with ``expand_nested`` a nested model's layers follow it,
    indented with Keras's "└ " (their "Connected to" is "-": not calls of this model)."""
    rows = []
    for layer, shape, connected in _shapes_and_connections(model):
        cells = _layer_cells(layer, shape, show_trainable,
                             (connected if level == 0 else "-") if connections else None)
        if level:
            cells[0] = "   " * level + "└ " + cells[0]
        rows.append(cells)
        if expand_nested and hasattr(layer, "_emit") and layer.layers:
            rows += _table_rows(layer, connections, show_trainable, expand_nested, level + 1)
    return rows


def summary_text(model, line_length=None, positions=None, show_trainable=False,
                 expand_nested=False) -> str:
    """The summary as Keras 3 prints it with a ``print_fn`` (no colour)."""
    graph = not _sequential_like(model)
    default_length = 108 if graph else 88
    positions = list(positions or ([0.3, 0.56, 0.74, 1.0] if graph else [0.45, 0.80, 1.0]))
    header = ["Layer (type)", "Output Shape", "Param #"]
    aligns = ["left", "left", "right"]
    if graph:
        header.append("Connected to")
        aligns.append("left")
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        aligns.append("center")
    if positions[-1] > 1:  # absolute positions
        line_length = line_length or int(positions[-1])
        positions = [p / line_length for p in positions]
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    line_length = line_length or default_length
    widths = _column_widths(positions, line_length)
    lines = [f'Model: "{model.name}"', _rule(widths, "┏", "━", "┳", "┓"),
             *_row(header, widths, aligns, "┃"), _rule(widths, "┡", "━", "╇", "┩")]
    rows = [_row(cells, widths, aligns, "│")
            for cells in _table_rows(model, graph, show_trainable, expand_nested)]
    for i, row in enumerate(rows):
        if i:
            lines.append(_rule(widths, "├", "─", "┼", "┤"))
        lines += row
    lines.append(_rule(widths, "└", "─", "┴", "┘"))
    trainable, frozen = model.trainable_weights, model.non_trainable_weights
    counts = {"Trainable": (sum(w.value.size for w in trainable), _bytes(trainable)),
              "Non-trainable": (sum(w.value.size for w in frozen), _bytes(frozen))}
    opt_state = _optimizer_state(model)
    if opt_state is not None:
        counts["Optimizer"] = (sum(a.size for a in opt_state), _bytes(opt_state))
    total = (sum(c for c, _ in counts.values()), sum(b for _, b in counts.values()))
    for label, (count, size) in {"Total": total, **counts}.items():
        lines.append(f" {label} params: {count:,} ({readable_size(size)})")
    return "\n".join(lines) + "\n"


def _optimizer_state(model):
    """The optimizer's variables once it has state (after training or loading), else None."""
    from fastnn.saving.weights_h5 import optimizer_state

    opt = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or opt is None or opt.flat_slots is None:
        return None
    return optimizer_state(model)


def print_summary(model, line_length=None, positions=None, print_fn=None,
                  show_trainable=False, expand_nested=False) -> None:
    text = summary_text(model, line_length, positions, show_trainable, expand_nested)
    if print_fn is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        print_fn(text)
