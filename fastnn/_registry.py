"""One lookup table per kind of named object (activation, loss, optimizer, ...).

Every user-facing module builds a ``Registry`` from one dictionary of names (Keras 3's names and
the Keras 2 aliases old scripts use) and exposes its ``get``, ``serialize`` and ``deserialize``.
Aliases live in that dictionary and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastnn._lazy import Lazy


class Registry:
    """Name lookup, serialization and deserialization for one kind of object.

    Parameters
    ----------
    kind : str
        What the objects are, as used in messages ("activation function", "loss", ...).
    objects : mapping of str to object
        Every accepted name, aliases included. Values are classes or functions, or
        ``fastnn._lazy.Lazy`` entries for those whose module loads on first lookup.
    case_sensitive : bool
        Keras looks names up exactly, except optimizer names (lower-cased).
    module : str
        The Keras module path written in serialized configs (``"keras.layers"``, ...).
    """

    def __init__(
        self,
        kind: str,
        objects: Mapping[str, Any],
        *,
        case_sensitive: bool = True,
        module: str = "",
    ):
        self.kind = kind
        self.case_sensitive = case_sensitive
        self.module = module
        self._objects = {self._key(k): v for k, v in objects.items()}
        self._names = sorted(objects)

    def _key(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    @property
    def names(self) -> list[str]:
        """Every accepted name, sorted."""
        return list(self._names)

    def lookup(self, name: str) -> Any:
        """The object registered under ``name``; ValueError listing the valid names if none."""
        key = self._key(name)
        try:
            obj = self._objects[key]
        except KeyError:
            from fastnn.saving.object_registration import lookup_custom

            custom = lookup_custom(name)
            if custom is not None:        # registered, or in a custom_object_scope
                return custom
            raise ValueError(
                f"Could not interpret {self.kind} identifier: {name!r}. "
                f"Valid names are: {', '.join(self._names)}."
            ) from None
        if type(obj) is Lazy:     # its module loads now (fastnn._lazy)
            obj = self._objects[key] = obj.load()
        return obj

    def get(
        self,
        identifier: Any,
        *,
        instantiate: bool = True,
        default: Any = None,
        accept: Callable[[Any], bool] | None = None,
    ) -> Any:
        """Resolve ``identifier`` (None, a name, a config dict, an instance or a callable).

        A registered class found by name or config is instantiated with its defaults when
        ``instantiate`` is true. ``accept`` says which objects pass through unchanged
        (default: anything callable).
        """
        if identifier is None:
            return default
        if isinstance(identifier, str):
            obj = self.lookup(identifier)
            return obj() if instantiate and isinstance(obj, type) else obj
        if isinstance(identifier, Mapping):
            return self.deserialize(identifier)
        ok = accept(identifier) if accept is not None else callable(identifier)
        if ok:
            return identifier
        raise ValueError(
            f"Could not interpret {self.kind} identifier: {identifier!r}. Expected a name "
            f"({', '.join(self._names)}), a config dict or an instance."
        )

    def serialize(self, obj: Any) -> Any:
        """Keras 3's form: a name for functions, ``{"module", "class_name", "config", ...}``
        for objects with ``get_config``."""
        if obj is None:
            return None
        from fastnn.saving.object_registration import get_registered_name

        if hasattr(obj, "get_config"):
            registered = get_registered_name(type(obj))
            return {
                "module": self.module if registered is None else type(obj).__module__,
                "class_name": type(obj).__name__,
                "config": obj.get_config(),
                "registered_name": registered,
            }
        registered = get_registered_name(obj)
        if registered is not None:       # your function, written under its registered name
            return registered
        name = getattr(obj, "__name__", None)
        if name is None or self._key(name) not in self._objects:
            raise ValueError(f"Cannot serialize {obj!r}: it is not a registered {self.kind}.")
        return name

    def deserialize(self, config: Any) -> Any:
        """Inverse of :meth:`serialize`; also accepts a plain name."""
        if config is None or isinstance(config, str):
            return self.get(config)
        if not isinstance(config, Mapping) or "class_name" not in config:
            raise ValueError(
                f"Could not deserialize {self.kind} from {config!r}: expected a name or a "
                "dict with 'class_name' and 'config'."
            )
        name = config["class_name"]
        if not isinstance(name, str):
            raise ValueError(f"Could not deserialize {self.kind} from {config!r}: its "
                             f"'class_name' must be a string.")
        from fastnn.saving.object_registration import lookup_custom

        if name == "function" and isinstance(config.get("config"), str):
            return self.lookup(config["config"])     # Keras's form of a (registered) function
        registered = config.get("registered_name")
        cls = lookup_custom(name, registered) if isinstance(registered, str) and registered \
            else None
        if cls is None:
            cls = self.lookup(name)
        inner = config.get("config") or {}
        if not isinstance(inner, Mapping):
            raise ValueError(f"Could not deserialize {self.kind} '{name}': its 'config' must "
                             f"be a dict; received {inner!r}.")
        if not isinstance(cls, type):
            return cls
        from_config = getattr(cls, "from_config", None)
        try:
            return from_config(inner) if from_config else cls(**inner)
        except TypeError as e:  # an argument the class does not take, or of the wrong type
            raise ValueError(f"Could not deserialize {self.kind} '{name}' from its config "
                             f"{dict(inner)!r}: {e}.") from None
