"""``fastnn.utils.plot_model`` and ``model_to_dot``: a model's graph drawn by Graphviz.

One box per layer (a nested model is one box, or with ``expand_nested`` a cluster of its own
layers), one arrow per connection, as Keras 3 draws them. pydot builds the graph and
Graphviz's ``dot`` program renders it: both are optional (``pip install "fastnn[plot]"``
and, for ``dot``, the system's graphviz package), imported only when a plot is asked for.
"""

from __future__ import annotations

import html
import os
import shutil

_INSTALL = ('plot_model needs pydot and Graphviz: `pip install "fastnn[plot]"` installs '
            "pydot; Graphviz's `dot` program comes from the system (e.g. `apt-get install "
            "graphviz`, `brew install graphviz`, or https://graphviz.org/download/).")


def _pydot():
    try:
        import pydot
    except ImportError as e:
        raise ImportError(f"You must install pydot for `plot_model` to work. {_INSTALL}") \
            from e
    return pydot


def _require_dot() -> None:
    if shutil.which("dot") is None:
        raise ImportError(f"You must install graphviz for `plot_model` to work (its `dot` "
                          f"program is not on the PATH). {_INSTALL}")


def _is_model(layer) -> bool:
    return hasattr(layer, "_emit")


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _calls(model) -> list[tuple]:
    """(layer, input shape, output shape, parent layers) for each layer of ``model`` (a
    Sequential model's InputLayer gets no box, as in Keras)."""
    if hasattr(model, "_nodes"):    # functional: the calls recorded in its graph
        from fastnn.saving.functional_config import _model_nodes

        ours = set(_model_nodes(model))
        rows = []
        for layer in model.layers:
            nodes = [n for n in layer._inbound_nodes if id(n) in ours]
            inputs = [t for n in nodes for t in n.inputs]
            outs = [t.shape for t in nodes[0].outputs] if nodes else []
            ins = [t.shape for t in inputs]
            parents = []
            for t in inputs:
                parent = t._node.layer
                if parent not in parents:
                    parents.append(parent)
            rows.append((layer, _one(ins), _one(outs), parents))
        return rows
    rows, previous = [], []
    shape = None
    first = getattr(model, "_input_layer", None)
    if first is not None:
        shape = (None, *first.shape)
    elif getattr(model, "built", False) and hasattr(model, "input_shape"):
        shape = model.input_shape
    for layer in model.layers:
        out = layer.compute_output_shape(shape) if shape is not None and layer.built else None
        rows.append((layer, shape, out, previous))
        previous, shape = [layer], out
    return rows


def _one(shapes):
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else shapes


def _label(layer, in_shape, out_shape, show_shapes, show_dtype, show_layer_names,
           show_layer_activations, show_trainable) -> str:
    """An HTML-like Graphviz label: a dark title row, then the details asked for."""
    cls = type(layer).__name__
    title = f"<b>{html.escape(layer.name)}</b> ({cls})" if show_layer_names else f"<b>{cls}</b>"
    rows = [(f'<tr><td bgcolor="black"><font point-size="16" color="white">{title}'
             "</font></td></tr>")]
    details = []
    activation = getattr(layer, "activation", None)
    if show_layer_activations and activation is not None:
        from fastnn import activations

        name = activations.serialize(activation)
        details.append(f"Activation: <b>{html.escape(str(name))}</b>")
    if show_shapes:
        if cls != "InputLayer":
            details.append(f"Input shape: <b>{html.escape(_shape_text(in_shape))}</b>")
        details.append(f"Output shape: <b>{html.escape(_shape_text(out_shape))}</b>")
    if show_dtype:
        details.append(f"Output dtype: <b>{layer.dtype}</b>")
    if show_trainable and layer.weights:
        details.append(f"Trainable: <b>{'True' if layer.trainable else 'False'}</b>")
    rows += [f'<tr><td bgcolor="white"><font point-size="14">{d}</font></td></tr>'
             for d in details]
    return ('<<table border="0" cellborder="1" bgcolor="black" cellpadding="10">'
            + "".join(rows) + "</table>>")


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=False,
                 rankdir="TB", expand_nested=False, dpi=200, subgraph=False,
                 show_layer_activations=False, show_trainable=False, splines="ortho"):
    """The model's graph as a ``pydot.Dot`` (Keras 3's ``keras.utils.model_to_dot``)."""
    pydot = _pydot()
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"rankdir must be 'TB' (vertical) or 'LR' (horizontal); received "
                         f"{rankdir!r}.")
    if not getattr(model, "built", False):
        raise ValueError("This model has not yet been built. Build the model first by "
                         "calling `build()` or by calling the model on a batch of data.")
    dot = pydot.Dot(graph_type="digraph", rankdir=rankdir, concentrate=True, dpi=dpi,
                    splines=splines)
    dot.set_node_defaults(shape="plain")
    options = (show_shapes, show_dtype, show_layer_names, show_layer_activations,
               show_trainable)
    _add_model(pydot, dot, model, options, expand_nested)
    return dot


def _add_model(pydot, graph, model, options, expand_nested) -> dict:
    """Add ``model``'s layers to ``graph``; returns, per layer, the node ids that arrows
    into it and out of it attach to (a cluster's entry and exit layers)."""
    ends: dict[int, tuple[list[str], list[str]]] = {}
    for layer, in_shape, out_shape, parents in _calls(model):
        if expand_nested and _is_model(layer):
            cluster = pydot.Cluster(f"cluster_{id(layer)}",
                                    label=html.escape(layer.name), style="dashed")
            inner = _add_model(pydot, cluster, layer, options, expand_nested)
            graph.add_subgraph(cluster)
            rows = _calls(layer)
            inner_layers = {id(r[0]) for r in rows}
            entry = [n for r in rows if r[0].__class__.__name__ != "InputLayer"
                     and all(id(p) not in inner_layers or type(p).__name__ == "InputLayer"
                             for p in r[3]) for n in inner[id(r[0])][0]]
            exits = [n for r in rows[-1:] for n in inner[id(r[0])][1]]
            if hasattr(layer, "_nodes"):
                exits = [n for t in layer.outputs for n in inner[id(t._node.layer)][1]]
            ends[id(layer)] = (entry, exits)
        else:
            node_id = str(id(layer))
            graph.add_node(pydot.Node(node_id, label=_label(layer, in_shape, out_shape,
                                                            *options)))
            ends[id(layer)] = ([node_id], [node_id])
        for parent in parents:
            for src in ends[id(parent)][1]:
                for dst in ends[id(layer)][0]:
                    graph.add_edge(pydot.Edge(src, dst))
    return ends


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=False, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, splines="ortho",
               **kwargs):
    """Draw the model's graph to ``to_file`` (PNG, or the format its extension names, as
    Graphviz writes: ``.svg``, ``.pdf``, ``.dot``...), as Keras 3's ``plot_model``."""
    if kwargs:
        raise ValueError(f"Unrecognized keyword arguments to plot_model: {sorted(kwargs)}.")
    _pydot()
    _require_dot()
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi,
                       show_layer_activations=show_layer_activations,
                       show_trainable=show_trainable, splines=splines)
    to_file = os.fspath(to_file)
    _, extension = os.path.splitext(to_file)
    dot.write(to_file, format=extension[1:] if extension else "png")
