"""The interface every data adapter implements (built-in or from a plugin)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import PurePath
from typing import ClassVar, Literal

from core.data.types import BadRecord, ReadOptions, Record


class DataAdapter(ABC):
    """Reads one kind of source into :class:`Record` items.

    Subclasses set ``name`` (used by ``--format``), ``kind`` and either ``suffixes`` or
    override :meth:`can_read`. ``read`` yields a :class:`BadRecord` instead of raising for an
    item it cannot parse, so the loader can stop with a located error or skip and report it.

    * ``kind = "rows"``: each record's ``fields`` is a flat mapping of column to value.
    * ``kind = "tokens"``: each record's ``fields`` is ``{"tokens": [...], "tags": [...]}``.
    """

    name: ClassVar[str]
    kind: ClassVar[Literal["rows", "tokens"]] = "rows"
    suffixes: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    def can_read(self, source: str) -> bool:
        """Whether this adapter reads ``source`` when no ``--format`` is given."""
        return PurePath(source).suffix.lower() in self.suffixes

    def recognises(self, source: str) -> bool:
        """Whether ``source``'s content is this adapter's format, whatever its name says (asked
        when the name alone points to an adapter of the wrong kind: a CoNLL file named .txt)."""
        return False

    @abstractmethod
    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        """Yield the source's items in order. Raise :class:`core.errors.DataError` only for
        problems that concern the whole source (missing file, bad encoding, missing column)."""
