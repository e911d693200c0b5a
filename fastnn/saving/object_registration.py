"""Your own classes and functions by name, in configs and files (``keras.saving``'s
``register_keras_serializable``, ``get_custom_objects``, ``custom_object_scope``).

A registered object is written into configs under ``"package>name"`` (Keras 3's
``registered_name``), so that a file fastnn writes loads in Keras when Keras registers the same
object, and the other way round. Loading never imports or runs anything a file names: names
resolve only to objects registered here, passed in ``custom_objects`` or in an active scope.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[int, str] = {}      # id(object) -> its registered name
_scopes = threading.local()


def register_keras_serializable(package: str = "Custom", name: str | None = None):
    """Decorator: register a class or function under ``package>name`` (``name`` defaults to
    its ``__name__``). A class must define ``get_config`` to be written into configs."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"`package` must be a string without '>'; received {package!r}.")

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a registered class needs a "
                             "`get_config` method.")
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[id(obj)] = key
        return obj

    return decorator


def get_custom_objects() -> dict[str, Any]:
    """The global dictionary of registered objects (you may add to it directly)."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj) -> str | None:
    """``package>name`` of a registered class or function, or None."""
    return _GLOBAL_CUSTOM_NAMES.get(id(obj))


class CustomObjectScope:
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes the names resolvable in
    configs and files loaded inside it (in this thread)."""

    def __init__(self, *custom_objects: dict[str, Any] | None):
        self.custom_objects: dict[str, Any] = {}
        for objects in custom_objects:
            if objects is None:
                continue
            if not isinstance(objects, dict):
                raise ValueError("custom_object_scope takes dicts of name -> object; received "
                                 f"{type(objects).__name__}.")
            self.custom_objects.update(objects)

    def __enter__(self):
        _stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _stack().pop()
        return False


custom_object_scope = CustomObjectScope


def _stack() -> list:
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


def lookup_custom(name: str | None, registered_name: str | None = None):
    """The custom object a config names (its registered name first, then its class or
    function name), from the active scopes (innermost first), then the global registry."""
    for key in (registered_name, name):
        if not key:
            continue
        for objects in reversed(_stack()):
            if key in objects:
                return objects[key]
        if key in _GLOBAL_CUSTOM_OBJECTS:
            return _GLOBAL_CUSTOM_OBJECTS[key]
    # A registered name that is only known by its short name ("Custom>f" for "f").
    if name:
        for key, obj in _GLOBAL_CUSTOM_OBJECTS.items():
            if key.split(">", 1)[-1] == name:
                return obj
    return None


@contextlib.contextmanager
def objects_for_loading(custom_objects):
    """``load_model(..., custom_objects=...)``: those names resolvable while it loads."""
    if not custom_objects:
        yield
        return
    with CustomObjectScope(custom_objects):
        yield
