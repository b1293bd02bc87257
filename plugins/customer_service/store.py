"""The conversation log (tables made by ``migrations/``) and the transactions on it.

A turn, its session's bookkeeping and its hand-off ticket are written in one transaction,
so a ticket number a customer was given always exists, and a turn never lacks its session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Boolean, Column, ColumnElement, Float, ForeignKey, Integer, MetaData, String, Table, Text,
                        and_, func, insert, not_, or_, select, update)
from sqlalchemy.orm import Session

from core import UnknownNameError, UsageError
from core.store import Store
from core.store.schema import UTCDateTime, utcnow

MIGRATIONS = Path(__file__).parent / "migrations"
MAX_INTENT_CHARS = 200
# Why a turn is in the console's review queue (``review_queue``): key -> what people read.
REVIEW_REASONS = {"escalated": "Escalated", "low-confidence": "Low confidence", "out-of-scope": "Out of scope",
                  "negative-feedback": "Negative feedback"}

metadata = MetaData()
sessions = Table(
    "cs_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("channel", String(20), nullable=False),
    Column("turns", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
)  # fmt: skip
turns = Table(
    "cs_turns", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(64), ForeignKey("cs_sessions.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("text", Text, nullable=False),
    Column("reply", Text, nullable=False),
    Column("route", String(20), nullable=False),
    Column("intent", String(200)),
    Column("confidence", Float),
    Column("confident", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("kb_ref", String(500)),
    Column("similarity", Float),
    Column("latency_ms", Float, nullable=False),
    Column("language", String(20)),
    Column("model", String(500)),
    Column("explanation", JSON),  # the words behind the intent decision, when logged
)  # fmt: skip
feedback = Table(
    "cs_feedback", metadata,
    Column("id", Integer, primary_key=True),
    Column("turn_id", Integer, ForeignKey("cs_turns.id"), nullable=False),
    Column("intent", String(200), nullable=False),
    Column("note", Text),
    Column("source", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)  # fmt: skip
tickets = Table(
    "cs_tickets", metadata,
    Column("id", Integer, primary_key=True),
    Column("session_id", String(64), ForeignKey("cs_sessions.id"), nullable=False),
    Column("turn_id", Integer, ForeignKey("cs_turns.id"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)  # fmt: skip


@dataclass(frozen=True)
class Logged:
    turn_id: int
    ticket_id: int | None
    reply: str


class ConversationLog:
    """The customer-service view of the suite's store (SQLite or PostgreSQL alike)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, session_id: str, channel: str, turn: dict[str, Any], *, ticket_reason: str | None,
               reply: Callable[[int | None], str]) -> Logged:
        """Store a turn (and a ticket when ``ticket_reason``); ``reply(ticket_id)`` renders the
        reply once the ticket number is known."""
        def work(s: Session) -> Logged:
            now = utcnow()
            bumped = s.execute(update(sessions).where(sessions.c.id == session_id)
                               .values(turns=sessions.c.turns + 1, last_seen_at=now)).rowcount
            if not bumped:
                s.execute(insert(sessions).values(id=session_id, channel=channel, turns=1, started_at=now, last_seen_at=now))
            turn_id = s.execute(insert(turns).values(**turn, session_id=session_id, created_at=now, reply="")).inserted_primary_key[0]
            ticket_id = None
            if ticket_reason is not None:
                ticket_id = s.execute(insert(tickets).values(session_id=session_id, turn_id=turn_id, status="open",
                                                             reason=ticket_reason, text=turn["text"], created_at=now)).inserted_primary_key[0]
            text = reply(ticket_id)
            s.execute(update(turns).where(turns.c.id == turn_id).values(reply=text))
            return Logged(int(turn_id), int(ticket_id) if ticket_id is not None else None, text)

        return self.store.write(work)

    def turn(self, turn_id: int) -> dict[str, Any]:
        with self.store.read() as s:
            row = s.execute(select(turns).where(turns.c.id == turn_id)).mappings().first()
        if row is None:
            raise UnknownNameError(f"no turn {turn_id} in the conversation log", hint="see recent turns with: suite cs turns")
        return dict(row)

    def add_feedback(self, turn_id: int, intent: str, *, note: str | None = None, source: str = "cli") -> dict[str, Any]:
        """Record the intent a turn should have had; the newest correction of a turn wins."""
        intent = check_intent(intent)
        self.turn(turn_id)

        def work(s: Session) -> int:
            return s.execute(insert(feedback).values(turn_id=turn_id, intent=intent, note=note, source=source,
                                                     created_at=utcnow())).inserted_primary_key[0]

        feedback_id = self.store.write(work)
        return {"feedback_id": int(feedback_id), "turn_id": turn_id, "intent": intent}

    def list_turns(self, limit: int = 20, session_id: str | None = None) -> list[dict[str, Any]]:
        query = select(turns).order_by(turns.c.id.desc()).limit(limit)
        if session_id:
            query = query.where(turns.c.session_id == session_id)
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def texts(self, limit: int) -> list[str]:
        """The newest customers' messages, each once (what a student can learn from)."""
        with self.store.read() as s:
            return list(dict.fromkeys(s.scalars(select(turns.c.text).order_by(turns.c.id.desc()).limit(limit))))

    def list_tickets(self, status: str | None = "open", limit: int = 50) -> list[dict[str, Any]]:
        query = select(tickets).order_by(tickets.c.id.desc()).limit(limit)
        if status:
            query = query.where(tickets.c.status == status)
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def export_rows(self, below: float | None = None) -> list[dict[str, Any]]:
        """Corrected turns (labelled with the correction) and low-confidence turns (label left
        empty for review): the intent model was unsure, or under ``below`` when given."""
        latest = (select(feedback.c.turn_id, func.max(feedback.c.id).label("fid"))
                  .group_by(feedback.c.turn_id).subquery())
        corrected = (select(turns, feedback.c.intent.label("label"))
                     .join(latest, latest.c.turn_id == turns.c.id).join(feedback, feedback.c.id == latest.c.fid))
        unsure = ~turns.c.confident if below is None else func.coalesce(turns.c.confidence, 0.0) < below
        uncorrected = select(turns).where(unsure, turns.c.id.not_in(select(feedback.c.turn_id)))
        with self.store.read() as s:
            rows = [_export_row(r, r["label"], "corrected") for r in s.execute(corrected.order_by(turns.c.id)).mappings()]
            rows += [_export_row(r, "", "needs-label") for r in s.execute(uncorrected.order_by(turns.c.id)).mappings()]
        return _dedupe(rows)

    # -- the review queue (the console's customer-service page) ----------------------------
    def review_queue(self, reason: str | None = None, *, oos_label: str | None = None, limit: int = 50,
                     offset: int = 0) -> list[dict[str, Any]]:
        """Turns a person should look at, newest first: escalated, not confident (low confidence
        or ambiguous), out of scope, or corrected to another intent (negative feedback); one
        ``reason`` of :data:`REVIEW_REASONS`, or any of them. Each row says which apply
        (``reasons``) and the turn's newest correction (``corrected``)."""
        conditions = review_conditions(oos_label)
        where = conditions[reason] if reason else or_(*conditions.values())
        query = (select(turns.c.id, turns.c.session_id, turns.c.created_at, turns.c.text, turns.c.route, turns.c.intent,
                        turns.c.confidence, turns.c.confident, turns.c.reason, latest_correction().label("corrected"))
                 .where(where).order_by(turns.c.id.desc()).limit(limit).offset(offset))
        with self.store.read() as s:
            rows = [dict(r) for r in s.execute(query).mappings()]
        for row in rows:
            row["reasons"] = review_reasons(row, oos_label)
        return rows

    def review_counts(self, *, oos_label: str | None = None, cap: int = 1000) -> dict[str, int]:
        """How many turns each review reason holds, counted up to ``cap`` (a bounded query
        however long the log grows: the page shows "1000+")."""
        counts = {}
        with self.store.read() as s:
            for key, condition in review_conditions(oos_label).items():
                capped = select(turns.c.id).where(condition).limit(cap).subquery()
                counts[key] = int(s.scalar(select(func.count()).select_from(capped)) or 0)
        return counts

    def corrections(self, turn_id: int, limit: int = 20) -> list[dict[str, Any]]:
        """The intents people gave a turn, newest first (the first one is what export uses)."""
        query = select(feedback).where(feedback.c.turn_id == turn_id).order_by(feedback.c.id.desc()).limit(limit)
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()]

    def ticket_of(self, turn_id: int) -> dict[str, Any] | None:
        """The hand-off ticket a turn opened, if it did."""
        with self.store.read() as s:
            row = s.execute(select(tickets).where(tickets.c.turn_id == turn_id).limit(1)).mappings().first()
        return dict(row) if row is not None else None

    def session_turns(self, session_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """A session's turns in the order they were said (its latest ``limit``)."""
        query = (select(turns.c.id, turns.c.created_at, turns.c.text, turns.c.route, turns.c.intent, turns.c.confidence)
                 .where(turns.c.session_id == session_id).order_by(turns.c.id.desc()).limit(limit))
        with self.store.read() as s:
            return [dict(r) for r in s.execute(query).mappings()][::-1]

    def corrected_intents(self, limit: int = 500) -> dict[str, int]:
        """Intents people have corrected turns to, with how many turns each (most first)."""
        turns_corrected = func.count(func.distinct(feedback.c.turn_id))
        query = (select(feedback.c.intent, turns_corrected.label("n")).group_by(feedback.c.intent)
                 .order_by(turns_corrected.desc(), feedback.c.intent).limit(limit))
        with self.store.read() as s:
            return {r.intent: int(r.n) for r in s.execute(query)}


def review_conditions(oos_label: str | None) -> dict[str, ColumnElement[bool]]:
    """The SQL filter of each review reason (keys of :data:`REVIEW_REASONS`)."""
    out_of_scope: ColumnElement[bool] = turns.c.reason.like("out of scope%")
    if oos_label:
        out_of_scope = or_(out_of_scope, func.coalesce(turns.c.intent, "") == oos_label)
    corrected = latest_correction()  # the newest correction counts, as in export_rows
    relabelled = and_(corrected.is_not(None), or_(turns.c.intent.is_(None), corrected != turns.c.intent))
    return {"escalated": turns.c.route == "escalation", "low-confidence": and_(not_(turns.c.confident), not_(out_of_scope)),
            "out-of-scope": out_of_scope, "negative-feedback": relabelled}


def latest_correction() -> Any:
    """The newest intent people gave a turn (a scalar subquery on ``cs_turns``; NULL for none)."""
    return (select(feedback.c.intent).where(feedback.c.turn_id == turns.c.id)
            .order_by(feedback.c.id.desc()).limit(1).scalar_subquery())


def review_reasons(row: dict[str, Any], oos_label: str | None) -> list[str]:
    """The review reasons that apply to a queue row (as :func:`review_conditions` decides them)."""
    out_of_scope = row["reason"].startswith("out of scope") or bool(oos_label and row["intent"] == oos_label)
    found = {"escalated": row["route"] == "escalation", "low-confidence": not row["confident"] and not out_of_scope,
             "out-of-scope": out_of_scope,
             "negative-feedback": row.get("corrected") is not None and row["corrected"] != row["intent"]}
    return [key for key, applies in found.items() if applies]


EXPORT_COLUMNS = ["text", "label", "status", "turn_id", "predicted", "confidence", "route"]


def _export_row(row: Any, label: str, status: str) -> dict[str, Any]:
    confidence = row["confidence"]
    return {"text": row["text"], "label": label, "status": status, "turn_id": row["id"], "predicted": row["intent"] or "",
            "confidence": "" if confidence is None else round(confidence, 4), "route": row["route"]}


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per text: a correction beats a row waiting for a label."""
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = " ".join(row["text"].split()).casefold()
        if key not in kept:
            kept[key] = row
    return list(kept.values())


def check_intent(intent: str) -> str:
    intent = intent.strip()
    if not intent or len(intent) > MAX_INTENT_CHARS or any(c.isspace() for c in intent):
        raise UsageError(f"--intent '{intent}': expected a name without spaces, 1 to {MAX_INTENT_CHARS} characters")
    return intent
