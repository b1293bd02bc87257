"""The monitor loop: read a batch, score it, store it, detect surges, deliver alerts.

One batch at a time, in this order, so a crash at any point is harmless:

1. validate and normalise the source's records in one place (``core.parse_item``: lone
   surrogates and control characters cleaned, lengths within the store's columns, event times
   no later than ``max_future_minutes`` ahead of now nor before ``min_time``); what cannot be
   used becomes a dead letter with the reason;
2. score the valid ones in one micro-batch through the core Predictor; a batch the model
   refuses is halved until the refused items are found and dead-lettered (a model that
   refuses everything, a plain text too, stops the run instead);
3. feed the items not stored yet (and not repeated texts) to the surge detector;
4. store items, dead letters, the source offset and the batch's alert events, each queued for
   its sinks (the outbox), in one transaction: a crash leaves the batch whole or absent;
5. acknowledge the batch to the source (a broker forgets it only now);
6. try the sinks; an event a sink could not take stays pending and is retried with backoff,
   on this run or the next.

On start the detector is rebuilt by replaying the stored items as they were counted, from the
alerts open then, so a restart continues exactly where the last run stopped: a batch lost to
a crash is read again and fires again what it fired, a stored one fires nothing twice
(``test_a_kill_at_every_point_loses_no_alert_and_sends_none_twice`` kills the monitor at each
of these steps). A delivery sent but not yet marked done when the process died is sent again:
at least once, with the same payload (the ``jsonl`` sink writes it once).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from core import (Alert, AlertSink, ConfigError, Malformed, Source, StreamItem, TextExample, alert_payload, clean_text,
                  parse_item)
from plugins.finance_sentiment.config import MonitorConfig, Watchlist
from plugins.finance_sentiment.store import AlertEvent, Delivery, FinanceStore
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
    resumed_after: str | None = None  # the source offset the run started from
    skipped: int = 0  # items before --since

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


class Ledger(Protocol):
    """Where the monitor writes: the store (live) or memory (``--backtest``)."""

    def offset(self, source_key: str) -> str | None: ...
    def known(self, ids: Sequence[str]) -> set[str]: ...
    def commit_batch(self, source_key: str, position: str | None, rows: Sequence[dict[str, Any]],
                     bad: Sequence[dict[str, Any]], events: Sequence[AlertEvent] = ()) -> set[str]: ...
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

    def known(self, ids: Sequence[str]) -> set[str]:
        return self.seen & set(ids)

    def commit_batch(self, source_key: str, position: str | None, rows: Sequence[dict[str, Any]],
                     bad: Sequence[dict[str, Any]], events: Sequence[AlertEvent] = ()) -> set[str]:
        fresh = {r["id"] for r in rows} - self.seen
        self.seen |= fresh
        self.rows += [{k: r[k] for k in self.REPORT_FIELDS} for r in rows if r["id"] in fresh]
        for event in events:
            self.alerts[event.alert["id"]] = self.alerts.get(event.alert["id"], {}) | event.alert
        return fresh

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


def _as_stored(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows grouped by the batch that stored them (``stored_at``)."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        if batch and row["stored_at"] != batch[-1]["stored_at"]:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def _open_alert(alert: dict[str, Any]) -> OpenAlert:
    evidence = alert.get("evidence") or {}
    return OpenAlert(alert["id"], alert["fired_at"], evidence.get("score", 0.0), alert["severity"], evidence.get("test", "share"))


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
                 *, on_batch: Callable[[Stats, SurgeDetector], None] | None = None,
                 fault: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.scorer = scorer
        self.ledger = ledger
        self.sinks = sinks
        self.watchlist = Watchlist(config.watchlist)
        self.detector = SurgeDetector(config.surge, config.bucket_seconds)
        self.repeats = RepeatFilter(config.duplicate_window_minutes)
        self.stats = Stats()
        self.on_batch = on_batch
        self.since: datetime | None = None
        self.fault = fault or (lambda point: None)  # tests kill the monitor at each point it names
        self._retry_at: dict[tuple[str, str, str], float] = {}

    # -- start -------------------------------------------------------------------------------
    def warm_up(self, store: FinanceStore, cursor: str | None = None) -> int:
        """Rebuild the detector by replaying the stored items as they were counted over twice
        its span, starting from the alerts open then, so that its state is the one the last
        run had: batch by batch, each in time order, or, for a shared source's detector (up to
        its ``cursor``), one by one in stream order. The replay's alert events were recorded
        with their batches; any it would add are dropped, and alerts open in the store stay open."""
        latest = store.latest_time() if cursor is None else store.latest_counted(cursor)
        count = 0
        if latest is not None:
            start = latest - 2 * self.detector.span
            cooldown = timedelta(minutes=self.config.surge.cooldown_minutes)
            for alert in store.alerts_around(start, cooldown):
                if alert["resolved_at"] is None or alert["resolved_at"] >= start:
                    self.detector.restore(alert["key"], _open_alert(alert))
                else:
                    self.detector.quiet(alert["key"], alert["resolved_at"] + cooldown)
            batches = _as_stored(store.items_since(start)) if cursor is None else ([row] for row in store.counted_since(cursor, start))
            for batch in batches:
                self.detector.process([self._scored(row["id"], row["time"], row["text"], row["sentiment"], row["negative_score"],
                                                    row["topic"], row["entities"]) for row in batch])
                for row in batch:
                    self.repeats.check(StreamItem(row["id"], row["time"], row["text"], ""))
                count += len(batch)
        self.detector.settle({alert["key"]: _open_alert(alert) for alert in store.open_alerts()})
        return count

    # -- the loop ----------------------------------------------------------------------------
    def run(self, source: Source, *, idle_timeout: float | None = None, max_items: int | None = None,
            from_start: bool = False, since: datetime | None = None) -> Stats:
        """Read ``source`` from its stored offset (``from_start``: from its beginning) to its end;
        items timed before ``since`` are skipped (read, neither stored nor dead-lettered)."""
        after = None if from_start else self.ledger.offset(source.key)
        self.stats.resumed_after = after
        self.since = since
        for batch in source.read(after, self.config.batch_size, idle_timeout=idle_timeout):
            if batch:
                self.process(source, batch)
            self.deliver_pending()
            if self.on_batch:
                self.on_batch(self.stats, self.detector)
            if max_items is not None and self.stats.read >= max_items:
                break
        events = self.detector.evaluate()  # the last bucket, still open when the source ended
        if events:
            self.ledger.commit_batch(source.key, None, [], [], [self.alert_event(event) for event in events])
            self.stats.events += events
        self.deliver_pending(final=True)
        return self.stats

    def process(self, source: Source, batch: Sequence[Any]) -> list[SurgeEvent]:
        rows, bad = self.score_batch(source, batch)
        known = self.ledger.known([row["id"] for row in rows])
        fresh: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["id"] not in known and row["id"] not in fresh:  # an id twice in one batch counts once
                fresh[row["id"]] = row
        self.fault("scored")
        events = self.count(list(fresh.values()))
        records = [self.alert_event(event) for event in events]
        self.fault("detected")
        self.ledger.commit_batch(source.key, batch[-1].position, list(fresh.values()), bad, records)
        self.fault("committed")
        source.ack(batch)
        self.fault("acked")
        self.stats.dead_letters += len(bad)
        self.stats.already_stored += len(rows) - len(fresh)
        self.stats.stored += len(fresh)
        for row in fresh.values():
            self._count(row)
        self.stats.events += events
        return events

    def score_batch(self, source: Source, batch: Sequence[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Validate and score a batch: the rows to store, in feed order (a shared source's carry
        their ``position``, the detector's order), and the dead letters. Counts nothing."""
        self.stats.read += len(batch)
        valid: list[tuple[Any, StreamItem]] = []
        bad: list[dict[str, Any]] = []
        not_after = datetime.now(timezone.utc) + timedelta(minutes=self.config.max_future_minutes)
        for raw in batch:
            parsed = parse_item(raw, source.name, not_before=self.config.min_time, not_after=not_after)
            if isinstance(parsed, Malformed):
                bad.append(dead_letter(parsed.position, parsed.raw, parsed.reason))
            elif self.since is not None and parsed.time < self.since:
                self.stats.skipped += 1
            else:
                valid.append((raw, parsed))
        scored, poison = self._score(valid)
        where = (lambda raw: {"position": source.order(raw.position)}) if source.shared else (lambda raw: {})
        return [self._row(item, p, entities) | where(raw) for raw, item, (p, entities) in scored], bad + poison

    def count(self, rows: Sequence[dict[str, Any]], *, one_by_one: bool = False) -> list[SurgeEvent]:
        """Mark the repeated texts among new ``rows`` (``duplicate_of``) and count the others:
        the surge detector's input. ``one_by_one``: each row on its own, in the given order
        (a shared source's stream order), so no batch boundary can change what fires."""
        for row in rows:
            row["duplicate_of"] = self.repeats.check(StreamItem(row["id"], row["time"], row["text"], ""))
        counted = [self._scored(r["id"], r["time"], r["text"], r["sentiment"], r["negative_score"], r["topic"], r["entities"])
                   for r in rows if r["duplicate_of"] is None]
        if not one_by_one:
            return self.detector.process(counted)
        return [event for item in counted for event in self.detector.process([item])]

    def _score(self, valid: list[tuple[Any, StreamItem]]) -> tuple[list[tuple[Any, StreamItem, tuple[dict[str, Any], list[str]]]],
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

    def _bisect(self, valid: list[tuple[Any, StreamItem]]) -> tuple[list[tuple[Any, StreamItem, tuple[dict[str, Any], list[str]]]],
                                                                    list[tuple[Any, Exception]]]:
        items = [item for _, item in valid]
        try:
            return [(raw, item, result) for (raw, item), result in zip(valid, score(self.scorer, self.watchlist, items))], []
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
            "duplicate_of": None,  # set when counted (count)
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
    def alert_event(self, event: SurgeEvent) -> AlertEvent:
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
        return AlertEvent(alert, name, tuple(self.sinks), payload)

    def _explained(self, item: dict[str, Any]) -> dict[str, Any]:
        words = [w for w in self.scorer.explain(TextExample(normalise(item["text"])), top_k=5) if w["weight"] > 0]
        return item | {"words": [w["word"] for w in words], "explanation": words}

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
            self.fault("delivering")
            error = _deliver(sink, delivery)
            self.fault("delivered")
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
