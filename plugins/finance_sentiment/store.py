"""The monitor's tables (created by ``migrations/``) and the transactions on them.

The one rule that makes a crash harmless: a batch's items, its dead letters and the source
offset behind it are written in one transaction. Items are keyed by their id, so an item
read twice (a broker redelivering, a restart before the offset moved) is stored once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, BigInteger, Boolean, Column, ColumnElement, Float, Integer, MetaData, String, Table, Text, and_, case, cast,
                        delete, extract, func, insert, literal_column, or_, select, true, update)
from sqlalchemy.orm import Session

from core import UnknownNameError
from core.store import Store
from core.store.schema import UTCDateTime, utcnow

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()
items = Table(
    "finance_items", metadata,
    Column("id", String(200), primary_key=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("source", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("url", String(2000)),
    Column("entities", JSON, nullable=False),
    Column("sentiment", String(20), nullable=False),
    Column("sentiment_score", Float, nullable=False),
    Column("negative_score", Float, nullable=False),
    Column("topic", String(100), nullable=False),
    Column("topic_score", Float, nullable=False),
    Column("duplicate_of", String(200)),
    Column("stored_at", UTCDateTime(), nullable=False),
    Column("position", String(40)),  # a shared source's order key (Source.order): the detector's order
)  # fmt: skip
offsets = Table(
    "finance_offsets", metadata,
    Column("source_key", String(1000), primary_key=True),
    Column("position", String(200), nullable=False),
    Column("items", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)  # fmt: skip
dead_letters = Table(
    "finance_dead_letters", metadata,
    Column("id", Integer, primary_key=True),
    Column("source_key", String(1000), nullable=False),
    Column("position", String(200), nullable=False),
    Column("raw", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)  # fmt: skip
alerts = Table(
    "finance_alerts", metadata,
    Column("id", String(32), primary_key=True),
    Column("key", String(300), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("title", Text, nullable=False),
    Column("group_id", String(32)),
    Column("evidence", JSON, nullable=False),
    Column("fired_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime()),
    Column("acknowledged_at", UTCDateTime()),
    Column("acknowledged_by", String(200)),
)  # fmt: skip
deliveries = Table(
    "finance_deliveries", metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("event", String(40), primary_key=True),
    Column("sink", String(100), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
)  # fmt: skip
silences = Table(
    "finance_silences", metadata,
    Column("key", String(300), primary_key=True),
    Column("until", UTCDateTime(), nullable=False),
    Column("reason", Text),
    Column("created_at", UTCDateTime(), nullable=False),
)  # fmt: skip

leases = Table(
    "finance_leases", metadata,
    Column("name", String(1000), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", Integer, nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("taken_at", UTCDateTime(), nullable=False),
)  # fmt: skip
workers = Table(
    "finance_workers", metadata,
    Column("name", String(200), primary_key=True),
    Column("source_key", String(1000), nullable=False),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("items", BigInteger, nullable=False),
    Column("stored", BigInteger, nullable=False),
    Column("dead_letters", BigInteger, nullable=False),
    Column("items_per_second", Float, nullable=False),
    Column("detector", Boolean, nullable=False),
    Column("stopped_at", UTCDateTime()),
)  # fmt: skip

ALERT_STATUSES = ("firing", "resolved")
EVIDENCE_NUMBERS = ("negative", "total", "share", "baseline_share", "score")  # what an alert list shows of its evidence


@dataclass(frozen=True)
class Delivery:
    alert_id: str
    event: str
    sink: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Lease:
    """The right to run the surge detector of one source; ``token`` grows with each new holder
    (a fencing token: a holder that lost the lease cannot commit)."""

    name: str
    holder: str
    token: int


class LeaseLost(Exception):
    """Another process took the detector's lease: this one's uncommitted work is dropped."""


@dataclass(frozen=True)
class AlertEvent:
    """An alert's change to record: the alert row, the event's name, the sinks to queue it for."""

    alert: dict[str, Any]
    event: str  # fire, update:SEVERITY, resolve
    sinks: tuple[str, ...]
    payload: dict[str, Any]


class FinanceStore:
    """The monitor's view of the suite's store (SQLite or PostgreSQL alike)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- ingestion ---------------------------------------------------------------------------
    def offset(self, source_key: str) -> str | None:
        with self.store.read() as s:
            return s.execute(select(offsets.c.position).where(offsets.c.source_key == source_key)).scalar()

    def offsets(self) -> list[dict[str, Any]]:
        """Every source's offset: where the next run resumes, and how many items it stored."""
        with self.store.read() as s:
            return [dict(r) for r in s.execute(select(offsets).order_by(offsets.c.source_key)).mappings()]

    def reset_offset(self, source_key: str) -> bool:
        """Forget where ``source_key`` was read up to; whether it had an offset."""
        return self.store.write(lambda s: s.execute(delete(offsets).where(offsets.c.source_key == source_key)).rowcount > 0)

    def known(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored already."""
        found: set[str] = set()
        with self.store.read() as s:
            for start in range(0, len(ids), 500):
                found.update(s.execute(select(items.c.id).where(items.c.id.in_(ids[start : start + 500]))).scalars())
        return found

    def commit_batch(self, source_key: str, position: str | None, rows: Sequence[dict[str, Any]],
                     bad: Sequence[dict[str, Any]], events: Sequence[AlertEvent] = ()) -> set[str]:
        """Store new items, dead letters, the offset and the batch's alert events (each queued
        for its sinks: the outbox) in one transaction; return the ids that were new (an id
        already stored is skipped, not counted again). A crash leaves the batch whole or absent."""
        def work(s: Session) -> set[str]:
            ids = [r["id"] for r in rows]
            known: set[str] = set()
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                known.update(s.execute(select(items.c.id).where(items.c.id.in_(chunk))).scalars())
            fresh: dict[str, dict[str, Any]] = {}
            for row in rows:
                if row["id"] not in known and row["id"] not in fresh:
                    fresh[row["id"]] = row
            now = utcnow()
            if fresh:
                s.execute(insert(items), [row | {"stored_at": now} for row in fresh.values()])
            if bad:
                s.execute(insert(dead_letters), [b | {"source_key": source_key, "created_at": now} for b in bad])
            if position is not None:
                _move_offset(s, source_key, position, len(fresh), now)
            for event in events:
                self._record(s, event, now)
            return set(fresh)

        return self.store.write(work)

    # -- several processes on one shared source (workers.py) ----------------------------------
    def take_lease(self, name: str, holder: str, seconds: float) -> Lease | None:
        """Take or renew the lease ``name`` for ``seconds``: held by ``holder`` now, or free
        (never taken, or expired). A compare-and-set on the token, so of two processes that
        both saw it expire, one gets it. None: another process holds it."""
        from sqlalchemy.exc import IntegrityError

        def work(s: Session) -> Lease | None:
            now = utcnow()
            until = now + timedelta(seconds=seconds)
            row = s.execute(select(leases).where(leases.c.name == name).with_for_update()).mappings().first()
            if row is None:
                s.execute(insert(leases).values(name=name, holder=holder, token=1, expires_at=until, taken_at=now))
                return Lease(name, holder, 1)
            held = row["holder"] == holder and row["expires_at"] > now
            if not held and row["expires_at"] > now:
                return None
            token = row["token"] if held else row["token"] + 1
            values = {"expires_at": until} if held else {"holder": holder, "token": token, "expires_at": until, "taken_at": now}
            changed = s.execute(update(leases).where(leases.c.name == name, leases.c.token == row["token"],
                                                     leases.c.holder == row["holder"]).values(**values)).rowcount
            return Lease(name, holder, token) if changed else None

        try:
            return self.store.write(work)
        except IntegrityError:  # another process inserted it first
            return None

    def release_lease(self, lease: Lease) -> None:
        """Let the next process take the lease at once (a clean stop)."""
        self.store.write(lambda s: s.execute(update(leases).where(
            leases.c.name == lease.name, leases.c.holder == lease.holder, leases.c.token == lease.token).values(expires_at=utcnow())))

    def lease(self, name: str) -> dict[str, Any] | None:
        with self.store.read() as s:
            row = s.execute(select(leases).where(leases.c.name == name)).mappings().first()
        return dict(row) if row else None

    def items_to_count(self, after: str | None, upto: str, limit: int) -> list[dict[str, Any]]:
        """Stored items of a shared source behind the detector's cursor ``after`` and up to the
        source's safe point ``upto``, in stream order."""
        query = (select(items.c.id, items.c.time, items.c.text, items.c.sentiment, items.c.negative_score, items.c.topic,
                        items.c.entities, items.c.position)
                 .where(items.c.position <= upto).order_by(items.c.position).limit(limit))
        if after is not None:
            query = query.where(items.c.position > after)
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def counted_since(self, cursor: str, since: datetime, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """What the detector counted of a shared source from ``since`` on, in the order it did
        (stream order, up to its ``cursor``, repeats left out): a new holder's warm-up."""
        query = (select(items.c.id, items.c.time, items.c.text, items.c.sentiment, items.c.negative_score, items.c.topic,
                        items.c.entities)
                 .where(items.c.position <= cursor, items.c.time >= since, items.c.duplicate_of.is_(None))
                 .order_by(items.c.position))
        with self.store.read() as s:
            for row in s.execute(query.execution_options(yield_per=batch)).mappings():
                yield dict(row)

    def latest_counted(self, cursor: str) -> datetime | None:
        with self.store.read() as s:
            return s.execute(select(func.max(items.c.time)).where(items.c.position <= cursor)).scalar()

    def uncounted(self, cursor: str | None) -> int:
        """Items of a shared source stored but not counted by the detector yet (its lag)."""
        query = select(func.count()).select_from(items).where(items.c.position.is_not(None))
        if cursor is not None:
            query = query.where(items.c.position > cursor)
        with self.store.read() as s:
            return s.execute(query).scalar_one()

    def commit_counted(self, lease: Lease, seconds: float, cursor_key: str, cursor: str, counted: int,
                       repeats: dict[str, str], events: Sequence[AlertEvent]) -> None:
        """The detector's step in one transaction, fenced by its lease: the repeats it found,
        its cursor and the alert events (queued for their sinks). :class:`LeaseLost`, and
        nothing written, when another process has taken the lease since."""
        def work(s: Session) -> None:
            now = utcnow()
            fenced = s.execute(update(leases).where(leases.c.name == lease.name, leases.c.holder == lease.holder,
                                                    leases.c.token == lease.token)
                               .values(expires_at=now + timedelta(seconds=seconds))).rowcount
            if not fenced:
                raise LeaseLost(lease.name)
            for item_id, first in repeats.items():
                s.execute(update(items).where(items.c.id == item_id).values(duplicate_of=first))
            _move_offset(s, cursor_key, cursor, counted, now)
            for event in events:
                self._record(s, event, now)

        self.store.write(work)

    def heartbeat(self, worker: dict[str, Any]) -> None:
        """Upsert a worker's row (name, source_key, host, pid, started_at, counts, rate, detector)."""
        def work(s: Session) -> None:
            values = worker | {"seen_at": utcnow()}
            if not s.execute(update(workers).where(workers.c.name == worker["name"]).values(**values)).rowcount:
                s.execute(insert(workers).values(**values))

        self.store.write(work)

    def workers(self, source_key: str | None = None) -> list[dict[str, Any]]:
        query = select(workers).order_by(workers.c.started_at, workers.c.name)
        if source_key is not None:
            query = query.where(workers.c.source_key == source_key)
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def items_since(self, since: datetime, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Stored, non-duplicate items from ``since`` on, in the order the monitor counted them:
        batch by batch (``stored_at``), each batch in time order (detector warm-up)."""
        query = (select(items.c.id, items.c.time, items.c.text, items.c.sentiment, items.c.negative_score,
                        items.c.topic, items.c.entities, items.c.stored_at)
                 .where(items.c.time >= since, items.c.duplicate_of.is_(None))
                 .order_by(items.c.stored_at, items.c.time, items.c.id))
        with self.store.read() as s:
            for row in s.execute(query.execution_options(yield_per=batch)).mappings():
                yield dict(row)

    def alerts_around(self, moment: datetime, cooldown: timedelta) -> list[dict[str, Any]]:
        """Alerts fired before ``moment`` and open then, or resolved within ``cooldown`` of it."""
        query = select(alerts).where(alerts.c.fired_at < moment,
                                     (alerts.c.resolved_at.is_(None)) | (alerts.c.resolved_at >= moment - cooldown))
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def all_items(self, batch: int = 5000) -> Iterator[dict[str, Any]]:
        """Every stored item (time, sentiment, topic, entities, duplicate flag), oldest first."""
        query = select(items.c.time, items.c.sentiment, items.c.topic, items.c.entities, items.c.duplicate_of).order_by(items.c.time)
        with self.store.read() as s:
            for row in s.execute(query.execution_options(yield_per=batch)).mappings():
                yield dict(row)

    def texts(self, limit: int) -> list[str]:
        """The newest stored items' texts, repeats left out (what a student can learn from)."""
        query = (select(items.c.text).where(items.c.duplicate_of.is_(None)).order_by(items.c.time.desc())
                 .limit(limit))
        with self.store.read() as s:
            return list(dict.fromkeys(s.scalars(query)))

    def latest_time(self) -> datetime | None:
        with self.store.read() as s:
            return s.execute(select(func.max(items.c.time))).scalar()

    def counts(self) -> dict[str, int]:
        with self.store.read() as s:
            return {
                "items": s.execute(select(func.count()).select_from(items)).scalar_one(),
                "duplicates": s.execute(select(func.count()).select_from(items).where(items.c.duplicate_of.is_not(None))).scalar_one(),
                "dead_letters": s.execute(select(func.count()).select_from(dead_letters)).scalar_one(),
            }

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.store.read() as s:
            query = select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
            return [dict(r) for r in s.execute(query).mappings()]

    # -- alerts ------------------------------------------------------------------------------
    def _record(self, s: Session, event: AlertEvent, now: datetime) -> bool:
        """Upsert the alert and queue ``event`` for each sink (unless silenced or, for an update,
        acknowledged). Returns whether anything was queued. The event of an alert never fired
        (a resolve whose fire was not recorded) is skipped: it has nothing to say."""
        alert = event.alert
        current = s.execute(select(alerts).where(alerts.c.id == alert["id"])).mappings().first()
        if current is None and event.event != "fire":
            return False
        if current is None:
            s.execute(insert(alerts).values(**alert, updated_at=now))
        else:
            s.execute(update(alerts).where(alerts.c.id == alert["id"]).values(
                **{k: v for k, v in alert.items() if k not in ("id", "fired_at")}, updated_at=now))
        quiet = self._silenced(s, alert["key"], now) or (event.event != "fire" and current is not None and current["acknowledged_at"] is not None)
        queued = False
        for sink in event.sinks:
            exists = s.execute(select(deliveries.c.status).where(
                deliveries.c.alert_id == alert["id"], deliveries.c.event == event.event, deliveries.c.sink == sink)).first()
            if exists is None:
                s.execute(insert(deliveries).values(alert_id=alert["id"], event=event.event, sink=sink, payload=event.payload,
                                                    status="silenced" if quiet else "pending", attempts=0, updated_at=now))
                queued = queued or not quiet
        return queued

    @staticmethod
    def _silenced(s: Session, key: str, now: datetime) -> bool:
        return s.execute(select(silences.c.key).where(silences.c.key == key, silences.c.until > now)).first() is not None

    def pending_count(self) -> int:
        with self.store.read() as s:
            return s.execute(select(func.count()).select_from(deliveries).where(deliveries.c.status == "pending")).scalar_one()

    def pending_deliveries(self, limit: int = 100) -> list[Delivery]:
        with self.store.read() as s:
            query = (select(deliveries).where(deliveries.c.status == "pending")
                     .order_by(deliveries.c.updated_at).limit(limit))
            return [Delivery(r["alert_id"], r["event"], r["sink"], r["payload"], r["attempts"]) for r in s.execute(query).mappings()]

    def mark_delivery(self, delivery: Delivery, error: str | None) -> None:
        def work(s: Session) -> None:
            now = utcnow()
            values: dict[str, Any] = {"attempts": deliveries.c.attempts + 1, "updated_at": now, "last_error": error}
            if error is None:
                values |= {"status": "delivered", "delivered_at": now}
            s.execute(update(deliveries).where(deliveries.c.alert_id == delivery.alert_id, deliveries.c.event == delivery.event,
                                               deliveries.c.sink == delivery.sink).values(**values))

        self.store.write(work)

    def open_alerts(self) -> list[dict[str, Any]]:
        with self.store.read() as s:
            return [dict(r) for r in s.execute(select(alerts).where(alerts.c.status == "firing")).mappings()]

    def list_alerts(self, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(alerts).order_by(alerts.c.fired_at.desc()).limit(limit)
        if status:
            query = query.where(alerts.c.status == status)
        with self.store.read() as s:
            rows = [dict(r) for r in s.execute(query).mappings()]
            states = s.execute(select(deliveries.c.alert_id, deliveries.c.status, func.count())
                               .where(deliveries.c.alert_id.in_([r["id"] for r in rows]))
                               .group_by(deliveries.c.alert_id, deliveries.c.status)).all()
        for row in rows:
            row["deliveries"] = {status: n for alert_id, status, n in states if alert_id == row["id"]}
        return rows

    def get_alert(self, alert_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            rows = s.execute(select(alerts).where(or_(alerts.c.id == alert_id, alerts.c.id.startswith(alert_id)))).mappings().all()
        if len(rows) != 1:
            raise UnknownNameError(f"{'no' if not rows else 'more than one'} alert with id '{alert_id}'",
                                   hint="see the ids with: suite finance alerts list")
        return dict(rows[0])

    def acknowledge(self, alert_id: str, by: str) -> dict[str, Any]:
        alert = self.get_alert(alert_id)

        def work(s: Session) -> None:
            s.execute(update(alerts).where(alerts.c.id == alert["id"]).values(acknowledged_at=utcnow(), acknowledged_by=by))

        self.store.write(work)
        return self.get_alert(alert["id"])

    def silence(self, key: str, until: datetime, reason: str | None) -> None:
        def work(s: Session) -> None:
            s.execute(delete(silences).where(silences.c.key == key))
            s.execute(insert(silences).values(key=key, until=until, reason=reason, created_at=utcnow()))
            s.execute(update(deliveries).where(and_(deliveries.c.status == "pending", deliveries.c.alert_id.in_(
                select(alerts.c.id).where(alerts.c.key == key)))).values(status="silenced"))

        self.store.write(work)

    def unsilence(self, key: str) -> bool:
        """Lift the silence on ``key``; whether one was in force."""
        def work(s: Session) -> bool:
            return s.execute(delete(silences).where(silences.c.key == key, silences.c.until > utcnow())).rowcount > 0

        return self.store.write(work)

    def silences(self) -> list[dict[str, Any]]:
        with self.store.read() as s:
            return [dict(r) for r in s.execute(select(silences).where(silences.c.until > utcnow())).mappings()]

    # -- the console's and the JSON API's views (bounded: LIMITs, aggregation in SQL) ---------
    def find_alerts(self, *, company: str | None = None, topic: str | None = None, severity: str | None = None,
                    status: str | None = None, since: datetime | None = None, until: datetime | None = None,
                    open_too: bool = False, limit: int = 100, evidence: bool = True) -> list[dict[str, Any]]:
        """Alerts, open ones first, then newest first; at most ``limit``.

        ``company`` and ``topic`` pick the alerts on ``entity:COMPANY`` or ``topic:TOPIC`` (either,
        when both are given); ``since``/``until`` bound ``fired_at`` (``open_too``: alerts still
        firing are kept whenever they fired). Without ``evidence`` the rows carry only its
        numbers (``negative``, ``total``, ``share``, ``baseline_share``, ``score``), not its items."""
        ev = alerts.c.evidence
        numbers = [ev[name].as_float().label(f"ev_{name}") for name in EVIDENCE_NUMBERS]
        columns = [c for c in alerts.c if c.name != "evidence" or evidence]
        query = select(*columns, *([] if evidence else numbers))
        keys = [*([f"entity:{company}"] if company else []), *([f"topic:{topic}"] if topic else [])]
        if keys:
            query = query.where(alerts.c.key.in_(keys))
        if severity:
            query = query.where(alerts.c.severity == severity)
        if status:
            query = query.where(alerts.c.status == status)
        if since is not None:
            query = query.where(or_(alerts.c.fired_at >= since, alerts.c.status == "firing") if open_too
                                else alerts.c.fired_at >= since)
        if until is not None:
            query = query.where(alerts.c.fired_at < until)
        query = query.order_by(case((alerts.c.status == "firing", 0), else_=1), alerts.c.fired_at.desc(), alerts.c.id).limit(limit)
        with self.store.read() as s:
            rows = [dict(r) for r in s.execute(query).mappings()]
        if not evidence:
            for row in rows:
                numbers = {name: row.pop(f"ev_{name}") for name in EVIDENCE_NUMBERS}
                row["evidence"] = {k: int(v) if k in ("negative", "total") and isinstance(v, float) and v.is_integer() else v
                                   for k, v in numbers.items()}
        return rows

    def alert_facets(self) -> dict[str, list[str]]:
        """What the alerts' filters can offer: the companies and topics alerts were raised on
        and the severities they have (distinct values, from the key and severity columns)."""
        with self.store.read() as s:
            keys = s.execute(select(alerts.c.key).distinct()).scalars().all()
            severities = s.execute(select(alerts.c.severity).distinct()).scalars().all()
        kinds: dict[str, list[str]] = {"entity": [], "topic": []}
        for key in keys:
            kind, _, name = key.partition(":")
            kinds.setdefault(kind, []).append(name)
        return {"companies": sorted(kinds["entity"]), "topics": sorted(kinds["topic"]), "severities": sorted(severities),
                "keys": sorted(keys)}

    def alerts_version(self) -> tuple[Any, ...]:
        """What changes whenever an alert fires, changes, is acknowledged or silenced, or a newer
        item moves the console's period: an open page's poll compares it (its ETag) before
        listing anything."""
        with self.store.read() as s:
            alerted = s.execute(select(func.count(), func.max(alerts.c.updated_at), func.max(alerts.c.acknowledged_at))).one()
            silenced = s.execute(select(func.count(), func.max(silences.c.created_at))).one()
            newest = s.execute(select(func.max(items.c.time))).scalar()
        return (*alerted, *silenced, newest)

    def newest_time(self) -> datetime | None:
        """The newest item's time or alert's firing, whichever is later (the data's "now": a
        replayed feed's is in the past)."""
        with self.store.read() as s:
            found = [s.execute(select(func.max(items.c.time))).scalar(), s.execute(select(func.max(alerts.c.fired_at))).scalar()]
        found = [t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t for t in found if t is not None]
        return max(found, default=None)

    def topic_trends(self, start: datetime, end: datetime, bucket_seconds: int, *, topics: Sequence[str] = (),
                     top: int = 8) -> dict[str, list[dict[str, Any]]]:
        """Items and negative items per bucket for each topic from ``start`` to ``end`` (repeats
        left out), counted by the database (GROUP BY topic, bucket): the ``top`` topics with the
        most negative items, or those in ``topics``. ``{topic: [{t, total, negative}]}``, only
        buckets with items, in time order."""
        return self._trends(items.c.topic, None, start, end, bucket_seconds, topics, top)

    def entity_trends(self, start: datetime, end: datetime, bucket_seconds: int, *, entities: Sequence[str] = (),
                      top: int = 8) -> dict[str, list[dict[str, Any]]]:
        """:meth:`topic_trends` per company: each item counts once for every watched company it
        names (the entities JSON list is unnested by the database: json_each on SQLite,
        json_array_elements_text on PostgreSQL)."""
        if self.store.engine.dialect.name == "postgresql":
            each = func.json_array_elements_text(items.c.entities).table_valued("value").render_derived()
        else:
            each = func.json_each(items.c.entities).table_valued("value")
        return self._trends(each.c.value, each, start, end, bucket_seconds, entities, top)

    def _trends(self, name: ColumnElement[Any], unnest: Any, start: datetime, end: datetime, bucket_seconds: int,
                only: Sequence[str], top: int) -> dict[str, list[dict[str, Any]]]:
        size = max(int(bucket_seconds), 1)
        if self.store.engine.dialect.name == "postgresql":
            seconds = cast(func.floor(extract("epoch", items.c.time)), BigInteger)
        else:  # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" (UTC)
            seconds = cast(func.strftime(literal_column("'%s'"), items.c.time), Integer)
        bucket = (seconds // literal_column(str(size))).label("bucket")
        negative = func.sum(case((items.c.sentiment == "negative", 1), else_=0))
        query = (select(name.label("name"), bucket, func.count().label("total"), negative.label("negative"))
                 .select_from(items if unnest is None else items.join(unnest, true()))
                 .where(items.c.time >= start, items.c.time < end, items.c.duplicate_of.is_(None))
                 .group_by("name", "bucket"))
        if only:
            query = query.where(name.in_(list(only)))
        with self.store.read() as s:
            rows = s.execute(query).all()
        series: dict[str, list[dict[str, Any]]] = {}
        for key, index, total, neg in sorted(rows, key=lambda r: (str(r[0]), r[1])):
            series.setdefault(str(key), []).append(
                {"t": datetime.fromtimestamp(int(index) * size, tz=timezone.utc), "total": int(total), "negative": int(neg or 0)})
        ranked = sorted(series, key=lambda k: (-sum(b["negative"] for b in series[k]), -sum(b["total"] for b in series[k]), k))
        return {key: series[key] for key in (ranked if only else ranked[:top])}


def _move_offset(s: Session, source_key: str, position: str, count: int, now: datetime) -> None:
    """Upsert a source's offset, adding ``count`` to the items stored behind it."""
    changed = s.execute(update(offsets).where(offsets.c.source_key == source_key)
                        .values(position=position, items=offsets.c["items"] + count, updated_at=now)).rowcount
    if not changed:
        s.execute(insert(offsets).values(source_key=source_key, position=position, items=count, updated_at=now))
