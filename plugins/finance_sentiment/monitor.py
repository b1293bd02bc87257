"""The monitor loop: read a batch, score it, store it, detect surges, deliver alerts.

One batch at a time, in this order, so a crash at any point is harmless:

1. validate and normalise the source's records in one place (``core.parse_item``: lone
   surrogates and control characters cleaned, lengths within the store's columns, event times
   no later than ``max_future_minutes`` ahead of now nor before ``min_time``); what cannot be
   used becomes a dead letter with the reason;
2. score the valid ones in one micro-batch through the core Predictor; a batch the model
   refuses is halved until the refused items are found and dead-lettered (a model that
   refuses everything, a plain text too, stops the run instead);
3. store items, dead letters and the source offset in one transaction (items keyed by id);
4. acknowledge the batch to the source (a broker forgets it only now);
5. feed the *newly stored*, non-repeated items to the surge detector;
6. record alert events with their deliveries as pending, then try the sinks; an alert a sink
   could not take stays pending and is retried with backoff, on this run or the next.

On start the detector is warmed from the stored items of its last window and baseline, and
open alerts are restored, so a restart continues where the last run stopped.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from core import (Alert, AlertSink, ConfigError, Malformed, Source, StreamItem, TextExample, alert_payload, clean_text,
                  parse_item)
from plugins.finance_sentiment.config import MonitorConfig, Watchlist
from plugins.finance_sentiment.store import Delivery, FinanceStore
from plugins.finance_sentiment.surge import OpenAlert, Scored, SurgeDetector, SurgeEvent, item_keys
from plugins.finance_sentiment.text import normalise

EXPLAINED_ITEMS = 3  # evidence items whose driving words are computed (occlusion costs a pass per word)
PROFILED_TEXTS = 2000  # texts of a run kept to compare with the training texts
MAX_BACKOFF_S = 300.0
POISON_ERRORS = (TypeError, ValueError, UnicodeError, IndexError)  # what a model raises on an item it cannot read
CANARY = "Shares were unchanged."  # a text every model scores: when it fails too, the model is broken


class Scorer(Protocol):
    """What the monitor needs of the core Predictor."""

    def predict(self, examples: Sequence[Any]) -> list[dict[str, Any]]: ...
    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]: ...


@dataclass
class Stats:
    """Counts for the live view and the final summary."""

    read: int = 0
    stored: int = 0
    already_stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    sentiment: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    negative_by_topic: Counter[str] = field(default_factory=Counter)
    events: list[SurgeEvent] = field(default_factory=list)
    delivered: int = 0
    undelivered: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_time: datetime | None = None
    last_time: datetime | None = None
    sample: list[str] = field(default_factory=list)  # the first texts, for TextProfile

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class Ledger(Protocol):
    """Where the monitor writes: the store (live) or memory (``--backtest``)."""

    def offset(self, source_key: str) -> str | None: ...
    def commit_batch(self, source_key: str, position: str | None, rows: Sequence[dict[str, Any]],
                     bad: Sequence[dict[str, Any]]) -> set[str]: ...
    def record_alert(self, alert: dict[str, Any], event: str, sinks: Iterable[str], payload: dict[str, Any]) -> bool: ...
    def pending_deliveries(self, limit: int = 100) -> list[Delivery]: ...
    def mark_delivery(self, delivery: Delivery, error: str | None) -> None: ...


class MemoryLedger:
    """A backtest's ledger: nothing is written; alerts are only listed."""

    REPORT_FIELDS = ("time", "sentiment", "topic", "entities", "duplicate_of")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.alerts: dict[str, dict[str, Any]] = {}
        self.rows: list[dict[str, Any]] = []  # what a report needs of each item

    def offset(self, source_key: str) -> str | None:
        return None

    def commit_batch(self, source_key: str, position: str | None, rows: Sequence[dict[str, Any]],
                     bad: Sequence[dict[str, Any]]) -> set[str]:
        fresh = {r["id"] for r in rows} - self.seen
        self.seen |= fresh
        self.rows += [{k: r[k] for k in self.REPORT_FIELDS} for r in rows if r["id"] in fresh]
        return fresh

    def record_alert(self, alert: dict[str, Any], event: str, sinks: Iterable[str], payload: dict[str, Any]) -> bool:
        self.alerts[alert["id"]] = self.alerts.get(alert["id"], {}) | alert
        return False

    def pending_deliveries(self, limit: int = 100) -> list[Delivery]:
        return []  # a backtest sends nothing

    def mark_delivery(self, delivery: Delivery, error: str | None) -> None:
        raise AssertionError("a backtest delivers nothing")


_SPACE = re.compile(r"\s+")


class RepeatFilter:
    """Flags a text seen within ``minutes`` under another id (syndicated news, copy-paste
    comments): stored, marked ``duplicate_of``, not counted twice. Bounded memory."""

    def __init__(self, minutes: float, capacity: int = 200_000) -> None:
        self.window = timedelta(minutes=minutes)
        self.capacity = capacity
        self.seen: OrderedDict[bytes, tuple[str, datetime]] = OrderedDict()

    def check(self, item: StreamItem) -> str | None:
        if not self.window:
            return None
        digest = hashlib.blake2b(_SPACE.sub(" ", item.text.casefold()).strip().encode(), digest_size=12).digest()
        first = self.seen.get(digest)
        if first and first[0] != item.id and abs(item.time - first[1]) <= self.window:
            return first[0]
        self.seen[digest] = (item.id, item.time)
        self.seen.move_to_end(digest)
        cutoff = item.time - self.window
        while self.seen and (len(self.seen) > self.capacity or next(iter(self.seen.values()))[1] < cutoff):
            self.seen.popitem(last=False)
        return None


def dead_letter(position: str, raw: str, reason: str) -> dict[str, Any]:
    """A dead-letter row; the raw record cleaned so that any database stores it."""
    return {"position": clean_text(position)[:200], "raw": clean_text(raw)[:10_000], "reason": clean_text(reason)[:2_000]}


def score(scorer: Scorer, watchlist: Watchlist, items: Sequence[StreamItem]) -> list[tuple[dict[str, Any], list[str]]]:
    """Each item's prediction (made on its normalised text) and the watched entities it names."""
    predictions = scorer.predict([TextExample(normalise(item.text)) for item in items]) if items else []
    return [(p, watchlist.find(item.text, item.entities)) for item, p in zip(items, predictions)]


def build_sinks(suite: Any, config: MonitorConfig) -> dict[str, AlertSink]:
    """The configured sinks by a unique name (``name`` or the type, numbered if repeated)."""
    sinks: dict[str, AlertSink] = {}
    for number, table in enumerate(config.sinks, start=1):
        options = dict(table)
        kind = options.pop("type", None)
        if not kind:
            raise ConfigError(f"suite.toml [[finance_sentiment.sinks]] #{number}: 'type' is required "
                              f"(one of: {', '.join(suite.alert_sinks.names())})")
        name = options.pop("name", None) or (kind if kind not in sinks else f"{kind}-{number}")
        sinks[name] = suite.alert_sinks.get(kind)(**options)
    return sinks


class Monitor:
    """Runs the loop above for one source; ``run`` returns the summary."""

    def __init__(self, config: MonitorConfig, scorer: Scorer, ledger: Ledger, sinks: dict[str, AlertSink],
                 *, on_batch: Callable[[Stats, SurgeDetector], None] | None = None) -> None:
        self.config = config
        self.scorer = scorer
        self.ledger = ledger
        self.sinks = sinks
        self.watchlist = Watchlist(config.watchlist)
        self.detector = SurgeDetector(config.surge, config.bucket_seconds)
        self.repeats = RepeatFilter(config.duplicate_window_minutes)
        self.stats = Stats()
        self.on_batch = on_batch
        self._retry_at: dict[tuple[str, str, str], float] = {}

    # -- start -------------------------------------------------------------------------------
    def warm_up(self, store: FinanceStore) -> int:
        """Rebuild the detector's windows from stored items and restore open alerts."""
        latest = store.latest_time()
        count = 0
        if latest is not None:
            span = (self.config.surge.window_buckets + self.config.surge.baseline_buckets + 1) * self.config.bucket_seconds
            for row in store.items_since(latest - timedelta(seconds=span)):
                self.detector.add(self._scored(row["id"], row["time"], row["text"], row["sentiment"],
                                               row["negative_score"], row["topic"], row["entities"]))
                self.repeats.check(StreamItem(row["id"], row["time"], row["text"], ""))
                count += 1
        for alert in store.open_alerts():
            evidence = alert["evidence"]
            self.detector.restore(alert["key"], OpenAlert(alert["id"], alert["fired_at"], evidence.get("score", 0.0),
                                                          alert["severity"], evidence.get("test", "share")))
        self.detector.evaluate()  # settle state; restored alerts keep their ids
        return count

    # -- the loop ----------------------------------------------------------------------------
    def run(self, source: Source, *, idle_timeout: float | None = None, max_items: int | None = None) -> Stats:
        after = self.ledger.offset(source.key)
        for batch in source.read(after, self.config.batch_size, idle_timeout=idle_timeout):
            if batch:
                self.process(source, batch)
            self.deliver_pending()
            if self.on_batch:
                self.on_batch(self.stats, self.detector)
            if max_items is not None and self.stats.read >= max_items:
                break
        for event in self.detector.evaluate():  # the last bucket, still open when the source ended
            self._record(event)
        self.deliver_pending(final=True)
        return self.stats

    def process(self, source: Source, batch: Sequence[Any]) -> list[SurgeEvent]:
        self.stats.read += len(batch)
        valid: list[tuple[Any, StreamItem]] = []
        bad: list[dict[str, Any]] = []
        not_after = datetime.now(timezone.utc) + timedelta(minutes=self.config.max_future_minutes)
        for raw in batch:
            parsed = parse_item(raw, source.name, not_before=self.config.min_time, not_after=not_after)
            if isinstance(parsed, Malformed):
                bad.append(dead_letter(parsed.position, parsed.raw, parsed.reason))
            else:
                valid.append((raw, parsed))
        scored, poison = self._score(valid)
        bad += poison
        rows = [self._row(item, p, entities) for item, (p, entities) in scored]
        fresh = self.ledger.commit_batch(source.key, batch[-1].position, rows, bad)
        source.ack(batch)
        self.stats.dead_letters += len(bad)
        self.stats.already_stored += len(rows) - len(fresh)
        counted: list[Scored] = []
        for row in rows:
            if row["id"] not in fresh:
                continue
            fresh.discard(row["id"])  # an id twice in one batch counts once
            self.stats.stored += 1
            self._count(row)
            if row["duplicate_of"] is None:
                counted.append(self._scored(row["id"], row["time"], row["text"], row["sentiment"],
                                            row["negative_score"], row["topic"], row["entities"]))
        events = self.detector.process(counted)
        for event in events:
            self._record(event)
        return events

    def _score(self, valid: list[tuple[Any, StreamItem]]) -> tuple[list[tuple[StreamItem, tuple[dict[str, Any], list[str]]]],
                                                                   list[dict[str, Any]]]:
        """Score the batch; when the model refuses it, halve it until the items it refuses are
        found and dead-lettered, so one poison item never costs its batch nor stops the monitor.
        When nothing could be scored and the model refuses a plain text too, the failure is the
        model's, not the items': it is raised and nothing is dead-lettered."""
        done, refused = self._bisect(valid)
        if refused and not done:
            try:
                self.scorer.predict([TextExample(CANARY)])
            except POISON_ERRORS:
                raise refused[0][1] from None
        return done, [dead_letter(raw.position, raw.raw, f"the model could not score it: {type(exc).__name__}: {exc}")
                      for raw, exc in refused]

    def _bisect(self, valid: list[tuple[Any, StreamItem]]) -> tuple[list[tuple[StreamItem, tuple[dict[str, Any], list[str]]]],
                                                                    list[tuple[Any, Exception]]]:
        items = [item for _, item in valid]
        try:
            return list(zip(items, score(self.scorer, self.watchlist, items))), []
        except POISON_ERRORS as exc:
            if len(valid) == 1:
                return [], [(valid[0][0], exc)]
            halves = [self._bisect(valid[: len(valid) // 2]), self._bisect(valid[len(valid) // 2 :])]
            return halves[0][0] + halves[1][0], halves[0][1] + halves[1][1]

    def _row(self, item: StreamItem, prediction: dict[str, Any], entities: list[str]) -> dict[str, Any]:
        return {
            "id": item.id, "time": item.time, "source": item.source[:200], "text": item.text, "url": item.url,
            "entities": entities,
            "sentiment": prediction["label"], "sentiment_score": round(prediction["score"], 5),
            "negative_score": round(prediction["scores"].get("negative", 0.0), 5),
            "topic": prediction.get("topic", "other"), "topic_score": round(prediction.get("topic_score", 0.0), 5),
            "duplicate_of": self.repeats.check(item),
        }  # fmt: skip

    @staticmethod
    def _scored(item_id: str, moment: datetime, text: str, sentiment: str, negative_score: float, topic: str,
                entities: Iterable[str]) -> Scored:
        return Scored(item_id, moment, text, sentiment == "negative", negative_score, item_keys(topic, entities))

    def _count(self, row: dict[str, Any]) -> None:
        s = self.stats
        if row["duplicate_of"] is not None:
            s.duplicates += 1
            return
        s.sentiment[row["sentiment"]] += 1
        s.topics[row["topic"]] += 1
        if row["sentiment"] == "negative":
            s.negative_by_topic[row["topic"]] += 1
        if len(s.sample) < PROFILED_TEXTS:
            s.sample.append(row["text"])
        s.first_time = min(s.first_time or row["time"], row["time"])
        s.last_time = max(s.last_time or row["time"], row["time"])

    # -- alerts ------------------------------------------------------------------------------
    def _record(self, event: SurgeEvent) -> None:
        evidence = dict(event.evidence)
        if event.kind != "resolve":
            evidence["items"] = [self._explained(item) if i < EXPLAINED_ITEMS else item
                                 for i, item in enumerate(evidence["items"])]
        status = "resolved" if event.kind == "resolve" else "firing"
        alert = {"id": event.alert_id, "key": event.key, "severity": event.severity, "status": status,
                 "title": event.title, "group_id": event.group, "evidence": evidence, "fired_at": event.at}
        if event.kind == "resolve":
            alert = {k: v for k, v in alert.items() if k not in ("title", "evidence", "fired_at")} | {"resolved_at": event.at}
        payload = alert_payload(Alert(event.alert_id, event.title, event.severity, status, f"finance-monitor {event.key}",
                                      event.at, evidence | {"key": event.key, "event": event.kind, "group": event.group}))
        name = event.kind if event.kind != "update" else f"update:{event.severity}"
        self.ledger.record_alert(alert, name, self.sinks, payload)
        self.stats.events.append(event)

    def _explained(self, item: dict[str, Any]) -> dict[str, Any]:
        words = self.scorer.explain(TextExample(normalise(item["text"])), top_k=5)
        return item | {"words": [w["token"] for w in words if w["weight"] > 0]}

    def deliver_pending(self, final: bool = False) -> None:
        """Try each pending delivery whose backoff has passed; failures stay pending."""
        now = time.monotonic()
        for delivery in self.ledger.pending_deliveries():
            slot = (delivery.alert_id, delivery.event, delivery.sink)
            if self._retry_at.get(slot, 0) > now and not final:
                continue
            sink = self.sinks.get(delivery.sink)
            if sink is None:
                continue  # a sink removed from the configuration: left pending, listed by `alerts list`
            error = _deliver(sink, delivery)
            self.ledger.mark_delivery(delivery, error)
            if error is None:
                self.stats.delivered += 1
                self._retry_at.pop(slot, None)
            else:
                self.stats.undelivered += 1
                self._retry_at[slot] = now + min(MAX_BACKOFF_S, 2.0 ** (delivery.attempts + 1))


def _deliver(sink: AlertSink, delivery: Delivery) -> str | None:
    payload = delivery.payload
    alert = Alert(payload["id"], payload["title"], payload["severity"], payload["status"], payload["source"],
                  datetime.fromisoformat(payload["created_at"]), payload.get("evidence", {}))
    try:
        sink.deliver(alert)
    except Exception as exc:  # noqa: BLE001 - any sink failure leaves the alert pending, never crashes the monitor
        return f"{type(exc).__name__}: {exc}"[:1000]
    return None
