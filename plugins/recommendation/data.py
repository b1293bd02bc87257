"""Items, interactions and user profiles as read through the core's adapters, the rule that
makes an interaction positive, and the per-user temporal split every evaluation uses.

Interaction fields are ``user, item, time, signal, value``. The MovieLens layout is mapped
without options: ``ratings.csv`` (``userId, movieId, rating, timestamp``) reads as
``user=userId, item=movieId, signal=rating, value=rating, time=timestamp`` (Unix seconds),
and a MovieLens folder reads as items through the ``movielens`` adapter.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from core import BadRecord, DataError, ReadOptions, Record, UsageError
from core.data import resolve_adapter
from plugins.recommendation.adapters import MovieLensItemsAdapter, is_movies_csv

if TYPE_CHECKING:
    from core import Suite

MOVIELENS_RATINGS = {"userId": "user", "movieId": "item", "timestamp": "time", "rating": "value"}
SIGNALS = ("click", "rating", "purchase")
MAX_ITEM_CHARS = 400  # of an item's description in its model text: the title and tags say most


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    text: str = ""
    tags: tuple[str, ...] = ()

    def model_text(self) -> str:
        """What the encoder reads for this item: title, tags, then the start of the text."""
        parts = [self.title]
        if self.tags:
            parts.append(", ".join(self.tags))
        body = self.text if not self.text.startswith(self.title) else self.text[len(self.title):].lstrip(". ")
        if body and body != ", ".join(self.tags):
            parts.append(body[:MAX_ITEM_CHARS])
        return ". ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "text": self.text, "tags": list(self.tags)}


@dataclass(frozen=True)
class Interaction:
    user: str
    item: str
    time: float  # Unix seconds, UTC
    signal: str
    value: float = 1.0


@dataclass(frozen=True)
class PositiveRule:
    """Which interactions mean "the user liked it": ``purchase,rating>=4`` (the default)
    counts every purchase and ratings of 4 or more; add ``click`` to count clicks."""

    thresholds: dict[str, float] = field(default_factory=lambda: {"purchase": -math.inf, "rating": 4.0})

    @classmethod
    def parse(cls, spec: str) -> PositiveRule:
        thresholds: dict[str, float] = {}
        for term in (t.strip() for t in spec.split(",")):
            if not term:
                continue
            signal, _, minimum = term.partition(">=")
            signal = signal.strip()
            if signal not in SIGNALS:
                raise UsageError(f"--positive: unknown signal '{signal}' in '{spec}' (signals: {', '.join(SIGNALS)})")
            try:
                thresholds[signal] = float(minimum) if minimum.strip() else -math.inf
            except ValueError:
                raise UsageError(f"--positive: '{term}' needs a number after >=, e.g. rating>=4") from None
        if not thresholds:
            raise UsageError("--positive: name at least one signal, e.g. purchase,rating>=4")
        return cls(thresholds)

    def __call__(self, interaction: Interaction) -> bool:
        minimum = self.thresholds.get(interaction.signal)
        return minimum is not None and interaction.value >= minimum

    def spec(self) -> str:
        return ",".join(s if math.isinf(v) else f"{s}>={v:g}" for s, v in self.thresholds.items())


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _records(suite: Suite, source: str, fmt: str | None, encoding: str) -> Iterator[Record]:
    adapter = resolve_adapter(source, suite.adapters, fmt)
    for record in adapter.read(source, ReadOptions(encoding=encoding)):
        if isinstance(record, BadRecord):
            raise DataError(record.source, record.reason, line=record.line, field=record.field)
        yield record


def _text(record: Record, name: str, *, required: bool = True) -> str:
    value = record.fields.get(name)
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise DataError(record.source, "missing or empty", line=record.line, field=name)
    return text


def load_items(suite: Suite, source: str, *, fmt: str | None = None, encoding: str = "utf-8") -> dict[str, Item]:
    """``id, title[, text, tags]`` rows (tags ``|``- or list-separated), or a MovieLens folder."""
    items: dict[str, Item] = {}
    if fmt is None and is_movies_csv(source):  # MovieLens's movies.csv, not an id,title CSV
        fmt = MovieLensItemsAdapter.name
    for record in _records(suite, source, fmt, encoding):
        item_id = _text(record, "id")
        if item_id in items:
            raise DataError(record.source, f"duplicate item id '{item_id}'", line=record.line, field="id")
        tags = record.fields.get("tags") or ()
        if isinstance(tags, str):
            tags = [t.strip() for t in tags.split("|")]
        items[item_id] = Item(item_id, _text(record, "title"), _text(record, "text", required=False),
                              tuple(str(t) for t in tags if str(t).strip()))
    if not items:
        raise DataError(source, "no items")
    return items


def load_interactions(suite: Suite, source: str, *, fmt: str | None = None, encoding: str = "utf-8",
                      items: dict[str, Item] | None = None) -> list[Interaction]:
    """Interactions sorted by time; rows naming an item missing from ``items`` are an error."""
    rows: list[Interaction] = []
    for record in _records(suite, source, fmt, encoding):
        fields = {MOVIELENS_RATINGS.get(k, k): v for k, v in record.fields.items()}
        movielens = "rating" in record.fields and "signal" not in record.fields
        signal = "rating" if movielens else _text(_with(record, fields), "signal")
        if signal not in SIGNALS:
            raise DataError(record.source, f"unknown signal '{signal}' (expected {', '.join(SIGNALS)})",
                            line=record.line, field="signal")
        user, item = _text(_with(record, fields), "user"), _text(_with(record, fields), "item")
        if items is not None and item not in items:
            raise DataError(record.source, f"item '{item}' is not in the catalogue", line=record.line, field="item")
        rows.append(Interaction(user, item, parse_time(record, fields.get("time")), signal,
                                _number(record, fields.get("value"), default=1.0)))
    rows.sort(key=lambda r: (r.time, r.user, r.item))
    return rows


def load_profiles(suite: Suite, source: str | None, *, fmt: str | None = None, encoding: str = "utf-8") -> dict[str, str]:
    """Optional ``user, profile`` rows: a few words a user wrote about their interests."""
    if not source:
        return {}
    return {_text(r, "user"): _text(r, "profile", required=False) for r in _records(suite, source, fmt, encoding)}


def _with(record: Record, fields: dict[str, Any]) -> Record:
    return Record(record.source, record.line, fields)


def parse_time(record: Record, value: Any) -> float:
    """Unix seconds or ISO 8601 (``Z`` or an offset; naive times are UTC)."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise DataError(record.source, "missing or empty", line=record.line, field="time")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(record.source, f"'{text}' is not a time (ISO 8601 or Unix seconds)",
                        line=record.line, field="time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _number(record: Record, value: Any, *, default: float) -> float:
    if value is None or str(value).strip() == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise DataError(record.source, f"'{value}' is not a number", line=record.line, field="value") from None


# --------------------------------------------------------------------------------------
# Histories and the temporal split
# --------------------------------------------------------------------------------------


def positive_histories(interactions: Iterable[Interaction], rule: PositiveRule) -> dict[str, list[str]]:
    """Each user's liked items in time order (an item liked twice counts once, at its first time)."""
    histories: dict[str, list[str]] = defaultdict(list)
    seen: set[tuple[str, str]] = set()
    for row in interactions:
        if rule(row) and (row.user, row.item) not in seen:
            seen.add((row.user, row.item))
            histories[row.user].append(row.item)
    return dict(histories)


@dataclass
class Split:
    """Per user, the earliest interactions train and the latest ``holdout`` share test."""

    train: list[Interaction]
    test: list[Interaction]

    @property
    def cutoff(self) -> float:
        """The latest training time: recency features are measured from here."""
        return max((r.time for r in self.train), default=0.0)


def temporal_split(interactions: list[Interaction], holdout: float) -> Split:
    """Per-user temporal split: each user's last ``holdout`` share of interactions (at least one
    when they have two or more) is held out; nothing a user did later is used to train on them."""
    if not 0 <= holdout < 1:
        raise UsageError(f"--holdout: expected a share in [0, 1), got {holdout}")
    by_user: dict[str, list[Interaction]] = defaultdict(list)
    for row in interactions:
        by_user[row.user].append(row)
    train: list[Interaction] = []
    test: list[Interaction] = []
    for rows in by_user.values():
        held = 0 if holdout == 0 or len(rows) < 2 else max(1, round(len(rows) * holdout))
        train += rows[: len(rows) - held]
        test += rows[len(rows) - held:]
    key = lambda r: (r.time, r.user, r.item)  # noqa: E731
    return Split(sorted(train, key=key), sorted(test, key=key))
