"""Named registries filled through the ``register_*`` hooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from core.errors import PluginError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Items by ``name``; one place for duplicate checks and "did you mean" errors."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, item: T) -> None:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"a registered {self.kind} needs a non-empty 'name': {item!r}")
        if name in self._items:
            raise PluginError(f"two plugins register a {self.kind} named '{name}'")
        self._items[name] = item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none installed"
            raise UnknownNameError(f"unknown {self.kind} '{name}' (available: {known})") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
