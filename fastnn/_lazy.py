"""Names of a package that load their module on first use (PEP 562), so that ``import fastnn``
stays fast: h5py behind the saving functions, the preprocessing layers, the less common
metric and callback families.

A package lists each lazy name with the module defining it and takes the two functions
:func:`attach` returns as its ``__getattr__`` and ``__dir__``: ``fastnn.layers.Normalization``,
``from fastnn.callbacks import TensorBoard``, ``dir()`` and tab completion behave as if the
name had been imported eagerly. Registries find such names through :class:`Lazy` entries
(fastnn._registry), so that a config naming a class loads its module too. Pickles and
``.keras`` files name a class by its defining module, which imports like any other.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


class Lazy:
    """A registry entry for the object ``name`` of ``module``, imported on first lookup."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def load(self):
        return getattr(importlib.import_module(self.module), self.name)

    def __repr__(self) -> str:
        return f"Lazy({self.module!r}, {self.name!r})"


def entries(module: str, names) -> dict[str, Lazy]:
    """{name: Lazy(module, name)} for each of ``names``."""
    return {name: Lazy(module, name) for name in names}


def attach(namespace: dict, lazy: Mapping[str, str]) -> tuple[Callable, Callable]:
    """(``__getattr__``, ``__dir__``) for the package whose globals are ``namespace``:
    ``lazy`` maps each lazily loaded name to the module that defines it. A name, once
    loaded, is stored in the package's globals, so later lookups cost nothing."""
    package = namespace["__name__"]

    def __getattr__(name: str):
        module = lazy.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(lazy))

    return __getattr__, __dir__
