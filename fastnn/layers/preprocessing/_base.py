"""What the preprocessing layers share.

Two kinds of preprocessing layer:

- numeric ones (Normalization, Rescaling) are engine ops like any other layer;
- the others (Discretization, CategoryEncoding, IntegerLookup, StringLookup) compute in NumPy
  (``_transform``): called on arrays they return NumPy results with Keras's dtypes; inside a
  model they are one engine op of kind ``"python"`` (``NumpyPiece``) that maps the batch in
  NumPy and passes no gradient back (their outputs are indices and counts, as in Keras).

``adapt_batches`` turns what ``adapt`` accepts (an array, or any iterable of batches:
lists, generators, PyDatasets, ``(x, y)`` tuples) into a stream of NumPy batches.
"""

from __future__ import annotations

import numpy as np

from fastnn.layers.base import Layer


def adapt_batches(data, layer_name: str):
    """``(first_batch, iterator over all batches)`` of ``data`` for ``adapt``; a single array
    (NumPy, list of numbers, pandas) is one batch."""
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("pandas") \
            or (isinstance(data, list) and (not data or not hasattr(data[0], "shape"))):
        arr = np.asarray(data)
        return arr, iter([arr])
    if hasattr(data, "__getitem__") and hasattr(data, "__len__") and \
            not isinstance(data, (list, tuple)):
        batches = (data[i] for i in range(len(data)))     # a PyDataset / Sequence
    elif hasattr(data, "__iter__"):
        batches = iter(data)
    else:
        raise TypeError(f"Unsupported data type: {type(data)}. `adapt` of layer "
                        f"'{layer_name}' takes a NumPy array or an iterable of batches "
                        "(a list of arrays, a generator, a PyDataset).")
    first = next(batches, None)
    if first is None:
        raise ValueError(f"adapt() of layer '{layer_name}' received an empty iterable (no "
                         "batches); expected at least one batch.")
    first = _x_of(first)

    def stream():
        yield first
        for batch in batches:
            yield _x_of(batch)
    return first, stream()


def _x_of(batch):
    """The inputs of a batch that may be ``(x, y)`` or ``(x, y, sample_weight)``."""
    if isinstance(batch, tuple):
        batch = batch[0]
    arr = np.asarray(batch)
    if arr.dtype == object:
        raise TypeError("adapt() expects batches of arrays; received a batch that NumPy "
                        f"turns into an object array (shape {arr.shape}).")
    return arr


class NumpyLayer(Layer):
    """A preprocessing layer computed in NumPy: ``_transform(x)`` on a batch, and
    ``_output_tail(input_shape)`` the output's shape without the batch axis."""

    _output_dtype = "float32"

    def __init__(self, **kwargs):
        dtype = kwargs.pop("dtype", None)
        super().__init__(**kwargs)
        # Keras's layer dtype here is the output's (int64 for indices); the layer holds no
        # float weights, so this is not the engine dtype.
        if isinstance(dtype, dict):
            dtype = (dtype.get("config") or {}).get("name")
        self._layer_dtype = None if dtype is None else str(dtype)
        self.built = True

    @property
    def dtype(self) -> str:
        from fastnn import config as _config

        name = self._layer_dtype
        return name if name in ("float32", "float64") else _config.floatx()

    def _maybe_build(self, input_shape) -> None:
        if self.input_shape_built is None:
            self.input_shape_built = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        return (input_shape[0], *self._output_tail(tuple(input_shape)))

    def __call__(self, inputs, training=None, **kwargs):
        from fastnn import _graph

        if _graph.is_symbolic(inputs):
            return super().__call__(inputs, training=training, **kwargs)
        if kwargs:
            raise ValueError(f"Layer '{self.name}' got unexpected keyword arguments "
                             f"{sorted(kwargs)}.")
        return self._transform(_as_array(inputs, self.name))

    def engine_ops(self, width: int) -> list[dict]:
        in_shape = self.input_shape_built
        out_shape = self.compute_output_shape(in_shape)
        n_out = int(np.prod(out_shape[1:])) if len(out_shape) > 1 else 1
        return [{"kind": "python", "n_out": n_out,
                 "piece": NumpyPiece(self, in_shape, n_out)}]

    def get_config(self) -> dict:
        config = super().get_config()
        if self._layer_dtype is not None:
            config["dtype"] = self._layer_dtype
        return config


def _as_array(inputs, name: str) -> np.ndarray:
    if type(inputs).__module__.startswith("pandas") and hasattr(inputs, "to_numpy"):
        inputs = inputs.to_numpy()
    arr = np.asarray(inputs)
    if arr.dtype == object:
        if all(isinstance(v, (str, bytes)) for v in arr.ravel()):
            return arr.astype(str)
        raise ValueError(f"Layer '{name}' takes an array of numbers or of strings; received "
                         f"an object array of shape {arr.shape}.")
    return arr


class NumpyPiece:
    """The engine's Python op for a NumpyLayer inside a model: no weights, no gradient
    through it (its outputs are indices, bins and counts)."""

    def __init__(self, layer: NumpyLayer, input_shape: tuple, n_out: int):
        self.layer = layer
        self.input_shape = tuple(input_shape)
        self.n_out = n_out
        self.variables: list = []
        self.weights: list = []

    def forward(self, inputs, training: bool, need_grad: bool):
        x = inputs[0]
        rows = x.shape[0]
        out = self.layer._transform(x.reshape((rows, *self.input_shape[1:])))
        out = np.asarray(out, dtype=x.dtype).reshape(rows, self.n_out)
        if not need_grad:
            return out, None
        return out, lambda g: ([np.zeros_like(x)], [])
