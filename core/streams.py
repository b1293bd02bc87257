"""Streams of items for long-running jobs (a monitor reading news, a chat log, ...).

A :class:`Source` reads one kind of feed (a file replayed in time order, a watched folder, a
SQL table, stdin, a Redis stream) and hands out :class:`RawItem` batches, each with its
*position* in the feed. The job validates them with :func:`parse_item`, stores what it keeps
together with the last position (its offset) in one transaction, and only then calls
:meth:`Source.ack`; after a crash it calls :meth:`Source.read` again with the stored offset,
so nothing is lost and, with items stored idempotently by id, nothing is counted twice.

Sources are chosen on the command line by a spec ``SCHEME:REST`` (``file:feed.jsonl``,
``dir:inbox/``, ``sql:sqlite:///x.db#news``, ``stdin:``, ``redis://host:6379/0#stream``); the
scheme is the source's ``name``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

MAX_TEXT_CHARS = 20_000  # longer texts are malformed items, not silently truncated


@dataclass(frozen=True)
class StreamItem:
    """One validated item: what a job scores and stores."""

    id: str
    time: datetime  # timezone-aware (UTC when the feed gave no offset)
    text: str
    source: str
    url: str | None = None
    entities: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawItem:
    """One record as read, before validation.

    ``position`` is the offset token of this record within its source (a line ordinal, a
    file and line, a row id, a stream entry id); reading again ``after`` it resumes behind it.
    ``data`` is the decoded record, or None with ``error`` saying why it could not be decoded.
    """

    position: str
    raw: str
    data: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Malformed:
    """A record that failed validation: kept (dead-lettered) with the reason."""

    position: str
    raw: str
    reason: str


@dataclass
class SourceSpec:
    """A parsed ``SCHEME:REST`` spec and the options given with it."""

    scheme: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str, **options: Any) -> SourceSpec:
        from core.errors import UsageError

        if spec in ("-", "stdin", "stdin:"):
            return cls("stdin", "", options)
        scheme, sep, rest = spec.partition(":")
        if not sep or not scheme.isidentifier():
            raise UsageError(f"--source '{spec}': expected SCHEME:TARGET, e.g. file:feed.jsonl, dir:inbox/, "
                             "sql:sqlite:///news.db#items, stdin:, redis://127.0.0.1:6379/0#news")
        if scheme in ("redis", "rediss"):  # the whole URL is the target
            return cls("redis", spec, options)
        return cls(scheme, rest, options)


class Source(ABC):
    """A feed of items. Subclasses set ``name`` (the spec's scheme) and ``follows``.

    ``follows`` is False for a finite feed (a file replay ends when the file does) and True
    for one that waits for more (a folder, a table, a broker); a job reading a following
    source runs until stopped, or until ``idle_timeout`` seconds pass without a new item.
    """

    name: ClassVar[str]
    follows: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec

    @property
    def key(self) -> str:
        """Identity under which a job stores this source's offset."""
        return f"{self.name}:{self.spec.target}"

    @abstractmethod
    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        """Batches of at most ``batch_size`` records behind position ``after`` (None: from the
        start). A following source yields an empty batch when it waited ``poll`` seconds
        without news (so the job can flush and tick), and returns after ``idle_timeout``
        seconds without news when that is given."""

    def ack(self, items: Sequence[RawItem]) -> None:
        """Called after ``items`` are durably stored; brokers acknowledge them here."""

    def close(self) -> None:
        """Release connections and files."""


def parse_time(value: Any) -> datetime:
    """ISO-8601 text or epoch seconds -> aware datetime (naive values are taken as UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    else:
        raise ValueError("expected an ISO-8601 time or epoch seconds")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_item(raw: RawItem, source: str) -> StreamItem | Malformed:
    """Validate one record: ``id`` and ``text`` required (non-empty), ``time`` ISO-8601 or
    epoch seconds, ``url`` optional text, ``entities`` optional list of names."""
    if raw.data is None:
        return Malformed(raw.position, raw.raw, raw.error or "not a record")
    data = raw.data

    def bad(field_name: str, reason: str) -> Malformed:
        return Malformed(raw.position, raw.raw, f"field '{field_name}': {reason}")

    item_id = data.get("id")
    if item_id is None or (isinstance(item_id, str) and not item_id.strip()) or isinstance(item_id, (bool, dict, list)):
        return bad("id", "missing or empty")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return bad("text", "missing or empty")
    if len(text) > MAX_TEXT_CHARS:
        return bad("text", f"longer than {MAX_TEXT_CHARS} characters")
    try:
        moment = parse_time(data.get("time", data.get("timestamp")))
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        return bad("time", str(exc) or "not a time")
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        return bad("url", "expected text")
    entities = data.get("entities") or []
    if isinstance(entities, str):
        entities = [e.strip() for e in entities.split("|") if e.strip()]
    if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
        return bad("entities", "expected a list of names")
    return StreamItem(str(item_id), moment, text, str(data.get("source") or source), url, tuple(entities))
