"""fastnn.utils.plot_model and model_to_dot: the same graph as TensorFlow's Keras 3 draws
(one box per layer, one arrow per connection, the labels asked for), a real PNG through
Graphviz, and a clear error naming the extra when pydot or Graphviz is missing."""

import os
import re
import shutil
import struct

import pytest

import fastnn

pydot = pytest.importorskip("pydot") if not os.environ.get("CI") else __import__("pydot")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed")


def _wide_and_deep(lib):
    ly = lib.layers
    a, b = ly.Input((3,), name="deep_in"), ly.Input((2,), name="wide_in")
    h = ly.Dense(4, activation="relu", name="hidden")(a)
    h = ly.Dropout(0.1, name="drop")(h)
    merged = ly.Concatenate(name="merge")([h, b])
    return lib.Model([a, b], ly.Dense(1, name="out")(merged))


def _stack(lib):
    ly = lib.layers
    return lib.Sequential([ly.Input((5,), name="x"), ly.Dense(3, name="d1"),
                           ly.Dense(2, activation="softmax", name="d2")], name="stack")


def _graph(dot):
    """({node name: label}, {(source name, target name)}) by the layer names in labels."""
    names = {}
    for node in dot.get_nodes():
        label = node.get_attributes().get("label")
        if label:
            names[node.get_name().strip('"')] = label
    title = {k: re.search(r"<b>(.*?)</b>", v).group(1) for k, v in names.items()}
    edges = {(title[e.get_source().strip('"')], title[e.get_destination().strip('"')])
             for e in dot.get_edges()}
    return {title[k]: v for k, v in names.items()}, edges


@pytest.mark.parametrize("build", [_wide_and_deep, _stack], ids=["functional", "sequential"])
def test_same_graph_as_keras(tf_keras, build):
    from keras.utils import model_to_dot

    kwargs = {"show_shapes": True, "show_layer_names": True}
    keras_nodes, keras_edges = _graph(model_to_dot(build(tf_keras), **kwargs))
    nodes, edges = _graph(fastnn.utils.model_to_dot(build(fastnn), **kwargs))
    assert edges == keras_edges
    assert set(nodes) == set(keras_nodes)
    for name, label in nodes.items():
        shapes = re.findall(r"shape: <b>(.*?)</b>", label)
        assert shapes == re.findall(r"shape: <b>(.*?)</b>", keras_nodes[name]), name


def test_labels_show_what_is_asked():
    m = _wide_and_deep(fastnn)
    nodes, edges = _graph(fastnn.utils.model_to_dot(
        m, show_layer_names=True, show_layer_activations=True, show_dtype=True,
        show_trainable=True))
    assert edges == {("deep_in", "hidden"), ("hidden", "drop"), ("drop", "merge"),
                     ("wide_in", "merge"), ("merge", "out")}
    assert "Activation: <b>relu</b>" in nodes["hidden"]
    assert "Output dtype: <b>float32</b>" in nodes["hidden"]
    assert "Trainable: <b>True</b>" in nodes["hidden"] and "Trainable" not in nodes["drop"]
    assert "shape" not in nodes["hidden"]
    plain = fastnn.utils.model_to_dot(m)
    assert all("<b>hidden</b>" not in (n.get_attributes().get("label") or "")
               for n in plain.get_nodes())       # class names only, as Keras's default


def test_expand_nested_draws_the_inner_layers_in_a_cluster():
    inner = _stack(fastnn)
    x = fastnn.Input((5,), name="outer_in")
    outer = fastnn.Model(x, fastnn.layers.Dense(1, name="head")(inner(x)))
    _, collapsed = _graph(fastnn.utils.model_to_dot(outer, show_layer_names=True))
    assert collapsed == {("outer_in", "stack"), ("stack", "head")}
    dot = fastnn.utils.model_to_dot(outer, show_layer_names=True, expand_nested=True)
    cluster_nodes = {re.search(r"<b>(.*?)</b>", n.get_attributes()["label"]).group(1)
                     for g in dot.get_subgraphs() for n in g.get_nodes()}
    assert {"d1", "d2"} <= cluster_nodes
    edges = {(s.strip('"'), d.strip('"')) for s, d in
             ((e.get_source(), e.get_destination())
              for g in [dot, *dot.get_subgraphs()] for e in g.get_edges())}
    labels = {n.get_name().strip('"'): re.search(r"<b>(.*?)</b>", n.get_attributes()["label"])
              .group(1) for g in [dot, *dot.get_subgraphs()] for n in g.get_nodes()
              if n.get_attributes().get("label")}
    named = {(labels[s], labels[d]) for s, d in edges}
    assert {("outer_in", "d1"), ("d1", "d2"), ("d2", "head")} <= named


def _png_size(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@needs_dot
def test_plot_model_writes_a_png(tmp_path):
    path = tmp_path / "model.png"
    assert fastnn.utils.plot_model(_wide_and_deep(fastnn), to_file=path, show_shapes=True,
                                   dpi=72) is None
    width, height = _png_size(path)
    assert height > width > 100          # top to bottom: taller than wide
    fastnn.utils.plot_model(_stack(fastnn), to_file=tmp_path / "wide.png", rankdir="LR",
                            dpi=72)
    width, height = _png_size(tmp_path / "wide.png")
    assert width > height


def test_clear_errors(monkeypatch, tmp_path):
    import sys

    unbuilt = fastnn.Sequential([fastnn.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        fastnn.utils.model_to_dot(unbuilt)
    with pytest.raises(ValueError, match="rankdir"):
        fastnn.utils.model_to_dot(_stack(fastnn), rankdir="BT")
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match=r"fastnn\[plot\]"):
        fastnn.utils.plot_model(_stack(fastnn), to_file=tmp_path / "m.png")
    monkeypatch.delitem(sys.modules, "pydot")
    monkeypatch.setenv("PATH", str(tmp_path))       # no dot program there
    with pytest.raises(ImportError, match="graphviz"):
        fastnn.utils.plot_model(_stack(fastnn), to_file=tmp_path / "m.png")
    assert not (tmp_path / "m.png").exists()
