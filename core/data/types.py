"""What flows from a data adapter to the engine: records, examples and options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Record:
    """One raw item as an adapter read it: the fields of a row, or a CoNLL sentence.

    ``line`` is 1-based and points where the item starts (for SQL: the row number).
    """

    source: str
    line: int | None
    fields: dict[str, Any]


@dataclass(frozen=True)
class BadRecord:
    """An item that cannot be used, kept so ``--on-error skip`` can report it."""

    source: str
    line: int | None
    field: str | None
    reason: str
    raw: str | None = None


@dataclass
class TextExample:
    """A text (or text pair) with an optional label; multi-label examples carry a list."""

    text: str
    label: str | list[str] | None = None
    text_pair: str | None = None
    id: str | None = None
    line: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # ColumnMapping.extras, as read


@dataclass
class TokenExample:
    """A sentence as words with one tag per word (CoNLL), e.g. for NER."""

    tokens: list[str]
    tags: list[str] | None = None
    line: int | None = None


Example = TextExample | TokenExample


@dataclass
class ReadOptions:
    """How to read a source; adapters ignore what does not apply to them."""

    encoding: str = "utf-8"
    delimiter: str | None = None
    table: str | None = None
    query: str | None = None


@dataclass
class ColumnMapping:
    """Which fields of a row make a :class:`TextExample`, and which labels are allowed.

    ``label_map`` renames raw labels (``0=negative``); when it is given, or ``labels`` is,
    any other label is an error. ``label=None`` reads unlabelled data (prediction).
    ``label_separator`` splits a multi-label cell (``billing|refund``). ``extras`` are
    optional columns copied as read into :attr:`TextExample.extras` (a second label, a time).
    """

    text: str = "text"
    label: str | None = "label"
    text_pair: str | None = None
    id: str | None = None
    label_map: dict[str, str] = field(default_factory=dict)
    labels: frozenset[str] | None = None
    label_separator: str | None = None
    extras: tuple[str, ...] = ()


OnError = Literal["raise", "skip"]


@dataclass
class LoadResult:
    """Examples read from one source, and what was skipped (only with ``on_error="skip"``)."""

    source: str
    examples: list[Any]
    skipped: list[BadRecord] = field(default_factory=list)
    report_path: str | None = None

    @property
    def labels(self) -> list[str]:
        """Sorted distinct labels (tags for token data) seen in the examples."""
        seen: set[str] = set()
        for ex in self.examples:
            value = ex.tags if isinstance(ex, TokenExample) else ex.label
            if isinstance(value, list):
                seen.update(value)
            elif value is not None:
                seen.add(value)
        return sorted(seen)
