"""scikeras's parameter routing: ``destination__name`` keys, and objects built from a class
and its routed parameters (``optimizer="adam", optimizer__learning_rate=0.1``).

A key ``a__b__c`` routes ``b__c`` to ``a``; a class at ``a`` is instantiated with the routed
keys that have no further ``__`` (``b`` here is routed on again, to the value of ``b``), and
numeric keys are positional arguments (``callbacks__0__patience`` goes to the first callback).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def route(params: Mapping[str, Any], destination: str, pass_filter: Iterable[str] | None,
          strict: bool = False) -> dict[str, Any]:
    """The unrouted keys in ``pass_filter`` (all when None) and the keys routed to
    ``destination`` with the prefix removed; ``strict`` leaves out keys routed further."""
    prefix = destination + "__"
    out = {k: v for k, v in params.items()
           if "__" not in k and (pass_filter is None or k in pass_filter)}
    for key, value in params.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            if not (strict and "__" in rest):
                out[rest] = value
    return out


def build(item, params: Mapping[str, Any], base: Mapping[str, Any] | None = None):
    """``item`` with its routed parameters applied: a class is instantiated, a list, tuple or
    dict is built item by item (unrouted keys apply to every item), anything else is returned
    as is and may not receive parameters."""
    own = {k: v for k, v in params.items() if "__" not in k}
    if inspect.isclass(item):
        arguments = {**(base or {}), **own}
        arguments = {k: build(v, route(params, k, pass_filter=set())) for k, v in
                     arguments.items()}
        positional = sorted((int(k), v) for k, v in arguments.items() if k.isdigit())
        keywords = {k: v for k, v in arguments.items() if not k.isdigit()}
        return item(*(v for _, v in positional), **keywords)
    if isinstance(item, (list, tuple)):
        return type(item)(build(v, route(params, str(i), pass_filter=set()), own)
                          for i, v in enumerate(item))
    if isinstance(item, dict):
        return {k: build(v, route(params, str(k), pass_filter=set()), own)
                for k, v in item.items()}
    extra = {**(base or {}), **own}
    if extra:
        raise TypeError(f"{item!r} of type {type(item).__name__} is not a class, so it cannot "
                        f"take the parameters {sorted(extra)}; pass the class instead.")
    return item


def names_to_classes(items, get):
    """Names inside ``items`` (a name, or a list/tuple/dict of them) resolved with ``get``;
    a name whose registry gives an instance becomes that instance's class, so that routed
    parameters can construct it."""
    if isinstance(items, str):
        return get(items)
    if isinstance(items, Mapping):
        return {k: names_to_classes(v, get) for k, v in items.items()}
    if isinstance(items, Sequence):
        return type(items)(names_to_classes(v, get) for v in items)
    return items


def accepts(func, name: str) -> bool:
    """Whether ``func`` has an argument called ``name`` (keyword-passable)."""
    return any(p.name == name and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               for p in inspect.signature(func).parameters.values())


def takes_kwargs(func) -> bool:
    return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(func).parameters.values())


def argument_names(func) -> list[str]:
    return [p.name for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def metric_name(key: str) -> str:
    """A history key as scikeras stores it: a registered metric's full snake_case name
    ("mse" -> "mean_squared_error"), other keys (custom metrics) unchanged."""
    from fastnn import metrics
    from fastnn.metrics import Metric

    try:
        found = metrics.get(key)
    except (ValueError, TypeError):
        return key
    if isinstance(found, Metric):
        return snake_case(type(found).__name__)
    return getattr(found, "__name__", key)


def loss_name(loss) -> str | None:
    """A loss's snake_case name ("mse" and MeanSquaredError() both give
    "mean_squared_error"), or None when it has none."""
    from fastnn import losses

    if inspect.isclass(loss):
        loss = loss()
    try:
        found = losses.get(loss)
    except (ValueError, TypeError):
        return None
    if isinstance(found, losses.Loss):
        return snake_case(type(found).__name__)
    name = getattr(found, "__name__", None)
    return snake_case(name) if name else None
