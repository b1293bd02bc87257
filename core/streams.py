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

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar

MAX_TEXT_CHARS = 20_000  # longer texts are malformed items, not silently truncated
MAX_ID_CHARS = 200  # what an id, a source or an entity name may be (the stores' column sizes)
MAX_URL_CHARS = 2_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_lone_surrogate(value: str) -> bool:
    """Whether ``value`` holds half of a UTF-16 pair (a ``\\ud800`` JSON escape, or invalid
    UTF-8 on a command line): no tokenizer and no database takes it."""
    if value.isascii():
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: str) -> str:
    """``value`` as every tokenizer and database takes it: a lone surrogate (``"\\ud800"`` in
    JSON) becomes U+FFFD, NUL and the other control characters but tab and newlines go."""
    if not value.isascii():
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", value)


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
    shared: ClassVar[bool] = False  # readers in several processes split it (a consumer group)
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

    def order(self, position: str) -> str:
        """A text key that sorts positions in feed order (what a shared source's records are
        counted in, whichever reader handled them)."""
        return position

    def settled(self) -> str | None:
        """A shared source's safe point: the :meth:`order` key up to which every record has
        been acknowledged by some reader (so is stored), None when none has been yet."""
        raise NotImplementedError(f"{self.name}: not a shared source")

    def progress(self) -> dict[str, int]:
        """A shared source's backlog: ``length`` (records in the feed), ``lag`` (not yet
        acknowledged), ``pending`` (handed to a reader, not yet acknowledged)."""
        raise NotImplementedError(f"{self.name}: not a shared source")

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


def parse_item(raw: RawItem, source: str, *, not_before: datetime | None = None,
               not_after: datetime | None = None) -> StreamItem | Malformed:
    """Validate and normalise one record, the one place a stream's input is checked before it
    reaches a model or a database: ``id`` and ``text`` required (text, non-empty once cleaned
    by :func:`clean_text`), ``time`` ISO-8601 or epoch seconds and, when given, between
    ``not_before`` and ``not_after`` (an item from 2099 must not move a job's clock), ``url``
    optional text, ``entities`` optional list of names; lengths within the stores' columns."""
    if raw.data is None:
        return Malformed(raw.position, raw.raw, raw.error or "not a record")
    data = raw.data

    def bad(field_name: str, reason: str) -> Malformed:
        return Malformed(raw.position, raw.raw, f"field '{field_name}': {reason}")

    item_id = data.get("id")
    if item_id is None or (isinstance(item_id, str) and not item_id.strip()) or isinstance(item_id, (bool, dict, list)):
        return bad("id", "missing or empty")
    item_id = str(item_id)
    if len(item_id) > MAX_ID_CHARS:
        return bad("id", f"longer than {MAX_ID_CHARS} characters")
    if clean_text(item_id) != item_id:
        return bad("id", "contains control characters or invalid unicode")
    text = data.get("text")
    if text is None or (isinstance(text, str) and not text.strip()):
        return bad("text", "missing or empty")
    if not isinstance(text, str):
        return bad("text", f"expected text, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        return bad("text", f"longer than {MAX_TEXT_CHARS} characters")
    text = clean_text(text)
    if not text.strip():
        return bad("text", "nothing left once control characters are removed")
    try:
        moment = parse_time(data.get("time", data.get("timestamp")))
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        return bad("time", str(exc) or "not a time")
    if not_after is not None and moment > not_after:
        return bad("time", f"{moment.isoformat()} is later than {not_after.isoformat()} (the allowed skew ahead of now)")
    if not_before is not None and moment < not_before:
        return bad("time", f"{moment.isoformat()} is earlier than {not_before.isoformat()} (the oldest time accepted)")
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        return bad("url", "expected text")
    if url is not None and len(url) > MAX_URL_CHARS:
        return bad("url", f"longer than {MAX_URL_CHARS} characters")
    entities = data.get("entities") or []
    if isinstance(entities, str):
        entities = [e.strip() for e in entities.split("|") if e.strip()]
    if not isinstance(entities, list) or not all(isinstance(e, str) for e in entities):
        return bad("entities", "expected a list of names")
    if any(len(e) > MAX_ID_CHARS for e in entities):
        return bad("entities", f"a name longer than {MAX_ID_CHARS} characters")
    origin = clean_text(str(data.get("source") or source))[:MAX_ID_CHARS]
    return StreamItem(item_id, moment, text, origin, clean_text(url) if url else url, tuple(clean_text(e) for e in entities))
