"""Layers whose computation is Python code: ``Lambda``, and any ``Layer`` subclass with its
own ``call`` (weights made with ``add_weight`` in ``build``, maths with ``fastnn.ops``).

In a model such a layer is one engine op (``"python"``): the engine runs the compiled ops
around it and, once per batch, hands this module's ``PythonPiece`` the op's inputs. In training
the piece runs ``call`` under autograd (``fastnn._autodiff.vjp``) with the layer's trainable
weights replaced by traced values, and keeps the pullback; the engine's backward pass hands it
the output's gradient and gets back the inputs' and the weights' gradients. Everything else
(the optimizer step, regularization, the other layers) stays in C.
"""

from __future__ import annotations

import inspect

import numpy as np

from fastnn.layers.base import Layer, Variable


def is_python_layer(layer) -> bool:
    """A layer whose ``call`` is Python code (a user's subclass, or Lambda)."""
    if isinstance(layer, Lambda):
        return True
    call = getattr(type(layer), "call", None)
    if call is None or hasattr(layer, "_emit"):
        return False
    # A subclass of a built-in layer that keeps its `call` is still the built-in (the engine
    # runs it); one that overrides `call` runs that code.
    builtin = next(c for c in type(layer).__mro__ if c.__module__.startswith("fastnn."))
    return getattr(builtin, "call", None) is not call


def _accepts_training(layer) -> bool:
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


def call_layer(layer, inputs, training: bool):
    """``layer.call(inputs)``, with ``training`` when its signature takes it."""
    if _accepts_training(layer):
        return layer.call(inputs, training=training)
    return layer.call(inputs)


def infer_output_shape(layer, input_shape):
    """Keras runs ``call`` on symbolic tensors to learn a custom layer's output shape; here
    ``call`` runs once on two rows of zeros (and the batch axis is left open)."""
    as_list = isinstance(input_shape, list)
    shapes = input_shape if as_list else [input_shape]
    zeros = [np.zeros((2, *[d if d is not None else 1 for d in s[1:]]), dtype=layer.dtype)
             for s in shapes]
    try:
        out = call_layer(layer, zeros if as_list else zeros[0], training=False)
    except Exception as exc:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) failed when fastnn ran its `call` "
            f"on inputs of shape {input_shape} to learn its output shape: {exc}. Define "
            "`compute_output_shape(input_shape)` for it, or fix `call`.") from exc
    shape = np.shape(out)
    if len(shape) < 1 or shape[0] != 2:
        raise ValueError(f"Layer '{layer.name}'.call must return one row per input row; it "
                         f"returned shape {shape} for 2 rows.")
    return (None, *shape[1:])


class PythonPiece:
    """The engine's side of one call of a Python layer (``Engine(python_ops=...)``).

    ``weights`` are the (offset, size) segments of the plan's params holding the layer's
    trainable weights, which the engine's backward pass writes the gradients of; ``variables``
    are those weights (their values are views of params).
    """

    def __init__(self, layer, input_shapes: list[tuple], as_list: bool,
                 output_shape: tuple):
        self.layer = layer
        self.input_shapes = [tuple(s) for s in input_shapes]
        self.as_list = as_list
        self.output_shape = tuple(output_shape)
        self.variables: list[Variable] = list(layer.trainable_weights)
        self.weights: list[tuple[int, int]] = []       # set by the plan

    def forward(self, inputs: list[np.ndarray], training: bool, need_grad: bool):
        from fastnn import _autodiff

        rows = inputs[0].shape[0]
        xs = [a.reshape((rows, *s[1:])) for a, s in zip(inputs, self.input_shapes)]
        n_in = len(xs)
        name = f"layer '{self.layer.name}' ({type(self.layer).__name__})"
        try:
            if not need_grad:
                out = np.asarray(self._call(xs, training))
                return self._flat(out, rows, name), None

            def traced(*args):
                with _substituted(self.layer, self.variables, args[n_in:]):
                    return self._call(list(args[:n_in]), training)

            values = [v.value for v in self.variables]
            argnums = tuple(range(n_in + len(values)))
            out, pullback = _autodiff.vjp(traced, *xs, *values, argnums=argnums, name=name)
            out = np.asarray(out)
            flat = self._flat(out, rows, name)
        except (_autodiff.NotDifferentiableError, _PieceError) as exc:
            raise _marked(exc)
        except Exception as exc:
            raise _marked(_retyped(exc, f"The {name} failed on a batch of {rows} rows: "
                                        f"{exc}")) from exc

        def backward(g: np.ndarray):
            try:
                grads = pullback(g.reshape(out.shape).astype(out.dtype, copy=False))
            except Exception as exc:
                raise _marked(_retyped(exc, f"The gradient of the {name} failed: {exc}")) \
                    from exc
            return ([np.asarray(gi).reshape(rows, -1) for gi in grads[:n_in]],
                    list(grads[n_in:]))

        return flat, backward

    def _call(self, xs, training):
        return call_layer(self.layer, xs if self.as_list else xs[0], training)

    def _flat(self, out, rows, name):
        if out.ndim < 1 or out.shape[0] != rows:
            raise _PieceError(f"The {name} returned shape {out.shape} for a batch of {rows} "
                             f"rows; it must return one row per input row.")
        if tuple(out.shape[1:]) != self.output_shape[1:]:
            raise _PieceError(f"The {name} returned shape {out.shape}; its output shape is "
                             f"{self.output_shape}.")
        return out.reshape(rows, -1)


class ActivationPiece:
    """A user's activation function (``Dense(activation=fn)``, ``Activation(fn)``) as the
    engine's Python op: elementwise on the rows it gets, no weights."""

    def __init__(self, fn, layer_name: str):
        self.variables: list = []
        self.weights: list = []
        self.fn = fn
        self.name = (f"activation '{getattr(fn, '__name__', type(fn).__name__)}' of layer "
                     f"'{layer_name}'")

    def forward(self, inputs, training: bool, need_grad: bool):
        from fastnn import _autodiff

        x = inputs[0]
        try:
            if not need_grad:
                out = np.asarray(self.fn(x))
                pullback = None
            else:
                out, pull = _autodiff.vjp(self.fn, x, name=self.name)
                out = np.asarray(out)

                def pullback(g):
                    try:
                        return [np.asarray(pull(g.astype(out.dtype, copy=False)))], []
                    except Exception as exc:
                        raise _marked(_retyped(exc, f"The gradient of the {self.name} "
                                                    f"failed: {exc}")) from exc
            if out.shape != x.shape:
                raise _PieceError(f"The {self.name} returned shape {out.shape} for inputs "
                                  f"of shape {x.shape}; an activation keeps the shape.")
        except (_autodiff.NotDifferentiableError, _PieceError) as exc:
            raise _marked(exc)
        except Exception as exc:
            raise _marked(_retyped(exc, f"The {self.name} failed: {exc}")) from exc
        return out, pullback


def activation_op(fn, width: int, layer_name: str) -> dict:
    """The engine op of a Python activation function."""
    return {"kind": "python", "n_out": width, "piece": ActivationPiece(fn, layer_name)}


class _PieceError(ValueError):
    """A Python layer broke its contract (its output's shape)."""


def _marked(exc):
    from fastnn.losses.python_loss import _marked as mark

    return mark(exc)


def _retyped(exc, message):
    from fastnn.losses.python_loss import _retyped as retype

    return retype(exc, message)


class _substituted:
    """The layer's trainable Variables, wherever its attributes hold them, replaced by traced
    values for one call (the autodiff library differentiates with respect to those)."""

    def __init__(self, layer, variables, values):
        self.layer = layer
        by_id = {id(v): value for v, value in zip(variables, values)}
        self.names = {name: by_id[id(attr)] for name, attr in vars(layer).items()
                      if isinstance(attr, Variable) and id(attr) in by_id}
        self.saved = {}

    def __enter__(self):
        for name, value in self.names.items():
            self.saved[name] = self.layer.__dict__[name]
            object.__setattr__(self.layer, name, value)

    def __exit__(self, *exc):
        for name, value in self.saved.items():
            object.__setattr__(self.layer, name, value)
        return False


class Lambda(Layer):
    """``Lambda(function)``: wraps a function of the inputs as a layer (Keras 3).

    Parameters
    ----------
    function : callable
        ``function(inputs, **arguments)``, written with ``fastnn.ops``.
    output_shape : tuple or callable, optional
        The output shape without the batch axis (or a function of the input shape); by
        default inferred by running ``function`` once.
    arguments : dict, optional
        Keyword arguments passed to ``function``.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise ValueError(f"Lambda's `function` must be callable; received {function!r}.")
        self.function = function
        self._output_shape = output_shape
        self.arguments = dict(arguments or {})

    def call(self, inputs, training=None):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        spec = self._output_shape
        if spec is None:
            return infer_output_shape(self, input_shape)
        if callable(spec):
            return tuple(spec(input_shape))
        return (None, *tuple(spec))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        function = config.get("function")
        if callable(function):
            return cls(**config)
        raise ValueError(
            f"The file holds a Lambda layer ('{config.get('name')}') whose function is stored "
            "as Python code. Turning it back into a function would run code from the file, "
            "which fastnn never does (with safe_mode=True or False). Rebuild the model in your "
            "code, with the Lambda's function, and load the file's weights into it with "
            "`model.load_weights`.")

    def get_config(self):
        raise ValueError(
            f"Lambda layer '{self.name}' cannot be saved by fastnn: its function is Python "
            "bytecode, which fastnn does not write into files (loading a file must never run "
            "its code). Rebuild the model from your code and save or load its weights with "
            "`save_weights`/`load_weights`, or register a Layer subclass instead.")
