"""Merge layers (Keras 3's ``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Concatenate``, ``Dot``) and their function forms (``add``, ``concatenate``, ...).

Each is one engine op over several inputs (fastnn/_kernels/_engine_ops.pxi computes them,
folding left to right as Keras does); these classes check the shapes and say which op.
"""

from __future__ import annotations

from typing import Any

from fastnn.layers.base import Layer


def _shapes(input_shape, cls: str) -> list[tuple]:
    if not isinstance(input_shape, (list, tuple)) or not input_shape \
            or not all(isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(f"A `{cls}` layer should be called on a list of inputs. Received: "
                         f"input_shape={input_shape}")
    return [tuple(s) for s in input_shape]


class _Merge(Layer):
    """Elementwise merges: every input has the same shape; the output too."""

    kind = ""

    def build(self, input_shape) -> None:
        shapes = _shapes(input_shape, type(self).__name__)
        for s in shapes[1:]:
            if s[1:] != shapes[0][1:]:
                raise ValueError(f"Inputs have incompatible shapes. Received shapes "
                                 f"{shapes[0][1:]} and {s[1:]}")
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        shapes = _shapes(input_shape, type(self).__name__)
        return shapes[0]

    def engine_ops(self, widths) -> list[dict[str, Any]]:
        return [{"kind": self.kind, "n_out": widths[0]}]


class Add(_Merge):
    """The sum of its inputs."""

    kind = "add"


class Subtract(_Merge):
    """The first input minus the second."""

    kind = "subtract"

    def build(self, input_shape) -> None:
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError("A `Subtract` layer should be called on exactly 2 inputs. "
                             f"Received: input_shape={input_shape}")
        super().build(input_shape)


class Multiply(_Merge):
    """The elementwise product of its inputs."""

    kind = "multiply"


class Average(_Merge):
    """The elementwise mean of its inputs."""

    kind = "average"


class Maximum(_Merge):
    """The elementwise maximum of its inputs."""

    kind = "maximum"


class Minimum(_Merge):
    """The elementwise minimum of its inputs."""

    kind = "minimum"


class Concatenate(Layer):
    """Its inputs side by side along the last axis."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape) -> None:
        shapes = _shapes(input_shape, "Concatenate")
        rank = len(shapes[0])
        if any(len(s) != rank for s in shapes) \
                or any(s[1:-1] != shapes[0][1:-1] for s in shapes):
            raise ValueError(
                "A `Concatenate` layer requires inputs with matching shapes except for the "
                f"concatenation axis. Received: input_shape={shapes}")
        if self.axis not in (-1, rank - 1) or rank != 2:
            raise ValueError(
                f"fastnn's Concatenate joins 2-D inputs along their last axis; layer "
                f"'{self.name}' received axis={self.axis} and inputs of shapes {shapes}. "
                "Flatten the inputs first.")
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        shapes = _shapes(input_shape, "Concatenate")
        last = None if any(s[-1] is None for s in shapes) else sum(s[-1] for s in shapes)
        return (*shapes[0][:-1], last)

    def engine_ops(self, widths) -> list[dict[str, Any]]:
        return [{"kind": "concatenate", "n_out": int(sum(widths))}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Dot(Layer):
    """The dot product of two 2-D inputs along ``axes`` (1 or -1), optionally of their
    L2-normalized versions (the cosine similarity): shape ``(batch, 1)``."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = list(axes) if isinstance(axes, (list, tuple)) else axes
        self.normalize = bool(normalize)

    def build(self, input_shape) -> None:
        shapes = _shapes(input_shape, "Dot")
        if len(shapes) != 2:
            raise ValueError(f"A `Dot` layer should be called on a list of 2 inputs. "
                             f"Received: input_shape={shapes}")
        axes = self.axes if isinstance(self.axes, list) else [self.axes, self.axes]
        if any(len(s) != 2 for s in shapes) or any(a not in (1, -1) for a in axes):
            raise ValueError(
                f"fastnn's Dot takes 2-D inputs and axes=1 (or -1); layer '{self.name}' "
                f"received axes={self.axes} and inputs of shapes {shapes}.")
        if shapes[0][1] != shapes[1][1]:
            raise ValueError(
                f"Incompatible input shapes: axis values {shapes[0][1]} (at axis 1) != "
                f"{shapes[1][1]} (at axis 1). Full input shapes: {shapes[0]}, {shapes[1]}")
        self.built = True

    def compute_output_shape(self, input_shape) -> tuple:
        return (_shapes(input_shape, "Dot")[0][0], 1)

    def engine_ops(self, widths) -> list[dict[str, Any]]:
        return [{"kind": "dot", "n_out": 1, "normalize": self.normalize}]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


def _function(cls):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"``{cls.__name__}(**kwargs)(inputs)``."
    return merge


add = _function(Add)
subtract = _function(Subtract)
multiply = _function(Multiply)
average = _function(Average)
maximum = _function(Maximum)
minimum = _function(Minimum)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs, axes=-1, normalize=False, **kwargs):
    """``Dot(axes=axes, normalize=normalize, **kwargs)(inputs)``."""
    return Dot(axes=axes, normalize=normalize, **kwargs)(inputs)


MERGE_LAYERS = (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot)
__all__ = [c.__name__ for c in MERGE_LAYERS] + [
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"]
