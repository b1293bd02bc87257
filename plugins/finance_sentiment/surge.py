"""Surge detection: is negativity about one topic or entity unusually high right now?

Items fall into fixed time buckets per *key* (``topic:credit & default``, ``entity:Northwind
Bank``). At each evaluation the last ``window_buckets`` form the window and the
``baseline_buckets`` before them the baseline. The baseline share ``p`` (with a small prior,
so a new key is not alarming on its first items) gives the expected negatives ``n·p`` of a
window of ``n`` items; the surprise is

    z = (x - n·p) / sqrt(n·p·(1-p) + (n·τ)²)

with ``x`` the window's negatives and ``τ²`` the baseline's between-bucket variance of the
share beyond binomial noise (news comes in bursts; without it every busy hour would fire).
A key fires at ``fire_z`` (given minimum volume, negatives and share), stays one open alert
while it lasts (its evidence refreshed, its severity raised), resolves below ``resolve_z``
(hysteresis) and then stays quiet for ``cooldown_minutes``. ``method = "cusum"`` instead
accumulates per-bucket surprise above ``cusum_slack`` and fires when the sum reaches
``cusum_limit``: slower to fire, better at slow drifts.

Everything runs on the items' own timestamps, so a replay (``--backtest``) fires exactly the
alerts the live run would have.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from plugins.finance_sentiment.config import SurgeConfig

TAU_MIN_ITEMS = 5  # a bucket counts towards the burstiness estimate from this many items
TAU_MIN_BUCKETS = 4


@dataclass(frozen=True)
class Scored:
    """What the detector needs of one stored, non-duplicate item."""

    id: str
    time: datetime
    text: str
    negative: bool
    negative_score: float
    keys: tuple[str, ...]


@dataclass
class Bucket:
    total: int = 0
    negative: int = 0
    top: list[tuple[float, str, str, str]] = field(default_factory=list)  # min-heap (score, time, id, text)


@dataclass
class OpenAlert:
    id: str
    fired_at: datetime
    peak_z: float
    severity: str


@dataclass
class KeyState:
    buckets: dict[int, Bucket] = field(default_factory=dict)
    open: OpenAlert | None = None
    quiet_until: datetime | None = None
    cusum: float = 0.0
    cusum_bucket: int | None = None


@dataclass(frozen=True)
class SurgeEvent:
    """A change to report: an alert ``fire``s, is ``update``d (higher severity) or ``resolve``s."""

    kind: Literal["fire", "update", "resolve"]
    key: str
    alert_id: str
    severity: str
    at: datetime
    evidence: dict[str, Any]
    group: str | None = None

    @property
    def title(self) -> str:
        kind, _, name = self.key.partition(":")
        e = self.evidence
        counts = f"{e.get('negative', 0)} of {e.get('total', 0)} items negative ({e.get('share', 0.0):.0%}, baseline {e.get('baseline_share', 0):.0%})"
        if self.kind == "resolve":
            return f"Resolved: negative surge on {kind} '{name}' is over; now {counts}"
        return f"Negative surge on {kind} '{name}': {counts}"


def alert_id(key: str, fired_at: datetime) -> str:
    """Deterministic, so a restarted or replayed run names the same alert the same way."""
    return hashlib.sha1(f"{key}|{fired_at.isoformat()}".encode()).hexdigest()[:16]


class SurgeDetector:
    """Per-key buckets and alert state; memory bounded by keys x (window + baseline) buckets."""

    def __init__(self, config: SurgeConfig, bucket_seconds: int) -> None:
        self.config = config
        self.bucket_seconds = bucket_seconds
        self.keys: dict[str, KeyState] = {}
        self.watermark: datetime | None = None
        self._touched: set[str] = set()

    # -- input ---------------------------------------------------------------------------
    def bucket_of(self, moment: datetime) -> int:
        return int(moment.timestamp()) // self.bucket_seconds

    def bucket_start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.bucket_seconds, tz=timezone.utc)

    def add(self, item: Scored) -> None:
        index = self.bucket_of(item.time)
        if self.watermark is not None and index <= self.bucket_of(self.watermark) - self._span():
            return  # too late to matter for any window still evaluated
        for key in item.keys:
            bucket = self.keys.setdefault(key, KeyState()).buckets.setdefault(index, Bucket())
            bucket.total += 1
            if item.negative:
                bucket.negative += 1
                entry = (item.negative_score, item.time.isoformat(), item.id, item.text)
                if len(bucket.top) < self.config.evidence_items:
                    heapq.heappush(bucket.top, entry)
                else:
                    heapq.heappushpop(bucket.top, entry)
            self._touched.add(key)
        if self.watermark is None or item.time > self.watermark:
            self.watermark = item.time

    def restore(self, key: str, alert: OpenAlert) -> None:
        """An alert left open by an earlier run: keep it, instead of firing it again."""
        self.keys.setdefault(key, KeyState()).open = alert

    # -- evaluation ------------------------------------------------------------------------
    def _span(self) -> int:
        return self.config.window_buckets + self.config.baseline_buckets

    def evaluate(self) -> list[SurgeEvent]:
        """Evaluate keys with new items or an open alert at the current watermark."""
        if self.watermark is None:
            return []
        now = self.bucket_of(self.watermark)
        events: list[SurgeEvent] = []
        for key in sorted(self._touched | {k for k, s in self.keys.items() if s.open}):
            event = self._evaluate_key(key, self.keys[key], now)
            if event:
                events.append(event)
        self._touched.clear()
        self._forget(now)
        return _group(events)

    def _stats(self, state: KeyState, now: int) -> dict[str, Any]:
        c = self.config
        window = [state.buckets.get(i) for i in range(now - c.window_buckets + 1, now + 1)]
        base = [state.buckets.get(i) for i in range(now - self._span() + 1, now - c.window_buckets + 1)]
        n = sum(b.total for b in window if b)
        x = sum(b.negative for b in window if b)
        base_n = sum(b.total for b in base if b)
        base_x = sum(b.negative for b in base if b)
        p = (base_x + c.prior_share * c.prior_weight) / (base_n + c.prior_weight) if base_n + c.prior_weight else c.prior_share
        p = min(max(p, 0.01), 0.99)
        filled = [b for b in base if b and b.total]
        tau2 = 0.0
        busy = [b for b in filled if b.total >= TAU_MIN_ITEMS]  # sparse buckets say nothing about burstiness
        if len(busy) >= TAU_MIN_BUCKETS:
            busy_n = sum(b.total for b in busy)
            spread = sum(b.total * (b.negative / b.total - p) ** 2 for b in busy) / busy_n
            tau2 = max(0.0, spread - p * (1 - p) / (busy_n / len(busy)))
        z = (x - n * p) / math.sqrt(n * p * (1 - p) + (n * n * tau2)) if n else 0.0
        return {"n": n, "x": x, "p": p, "z": z, "base_n": base_n, "base_x": base_x, "window": window,
                "buckets_with_data": len(filled)}

    def _cusum(self, state: KeyState, now: int) -> float:
        """Accumulate completed buckets' surprise (each against the baseline before it)."""
        c = self.config
        start = now - 1 if state.cusum_bucket is None else state.cusum_bucket + 1
        for index in range(max(start, now - self._span()), now):
            bucket = state.buckets.get(index)
            if bucket and bucket.total:
                stats = self._stats(state, index)
                single = (bucket.negative - bucket.total * stats["p"]) / math.sqrt(bucket.total * stats["p"] * (1 - stats["p"]))
                state.cusum = max(0.0, state.cusum + single - c.cusum_slack)
            state.cusum_bucket = index
        return state.cusum

    def _evaluate_key(self, key: str, state: KeyState, now: int) -> SurgeEvent | None:
        c = self.config
        stats = self._stats(state, now)
        n, x, z = stats["n"], stats["x"], stats["z"]
        score = self._cusum(state, now) if c.method == "cusum" else z
        limit = c.cusum_limit if c.method == "cusum" else c.fire_z
        at = self.watermark
        assert at is not None
        if state.open:
            if (c.method == "cusum" and score < c.cusum_slack) or (c.method == "binomial" and z < c.resolve_z):
                event = SurgeEvent("resolve", key, state.open.id, state.open.severity, at, self._evidence(stats, now, z, score))
                state.open = None
                state.cusum = 0.0
                state.quiet_until = at + timedelta(minutes=c.cooldown_minutes)
                return event
            severity = c.severity(z)
            if z > state.open.peak_z and c.severities.get(severity, 0) > c.severities.get(state.open.severity, 0):
                state.open.peak_z, state.open.severity = z, severity
                return SurgeEvent("update", key, state.open.id, severity, at, self._evidence(stats, now, z, score))
            return None
        if state.quiet_until and at < state.quiet_until:
            return None
        if n < c.min_volume or x < c.min_negative or x / n < c.min_share or score < limit:
            return None
        severity = c.severity(z)
        fired_at = self.bucket_start(now - c.window_buckets + 1)
        state.open = OpenAlert(alert_id(key, fired_at), at, z, severity)
        return SurgeEvent("fire", key, state.open.id, severity, at, self._evidence(stats, now, z, score))

    def _evidence(self, stats: dict[str, Any], now: int, z: float, score: float) -> dict[str, Any]:
        c = self.config
        top = heapq.nlargest(c.evidence_items, (e for b in stats["window"] if b for e in b.top))
        n = stats["n"]
        return {
            "window_start": self.bucket_start(now - c.window_buckets + 1).isoformat(),
            "window_end": self.bucket_start(now + 1).isoformat(),
            "negative": stats["x"],
            "total": n,
            "share": round(stats["x"] / n, 4) if n else 0.0,
            "baseline_share": round(stats["p"], 4),
            "baseline_negative": round(n * stats["p"], 2),
            "baseline_items": stats["base_n"],
            "score": round(z, 3),
            "method": c.method,
            **({"cusum": round(score, 3)} if c.method == "cusum" else {}),
            "items": [{"id": i, "time": t, "text": text, "score": round(s, 4)} for s, t, i, text in top],
        }

    def _forget(self, now: int) -> None:
        """Drop buckets no window or baseline will read again, and keys left empty."""
        oldest = now - self._span()
        for key in list(self.keys):
            state = self.keys[key]
            for index in [i for i in state.buckets if i <= oldest]:
                del state.buckets[index]
            if not state.buckets and state.open is None:
                del self.keys[key]

    def open_alerts(self) -> dict[str, OpenAlert]:
        return {key: s.open for key, s in self.keys.items() if s.open}


def _group(events: list[SurgeEvent]) -> list[SurgeEvent]:
    """Alerts firing together on the same items (a company and its topic) share a group id."""
    fired = [e for e in events if e.kind == "fire"]
    groups: dict[str, str] = {}
    for i, event in enumerate(fired):
        ids = {item["id"] for item in event.evidence["items"]}
        for other in fired[:i]:
            if ids & {item["id"] for item in other.evidence["items"]}:
                groups[event.alert_id] = groups.get(other.alert_id, other.alert_id)
                groups.setdefault(other.alert_id, other.alert_id)
                break
    if not groups:
        return events
    from dataclasses import replace

    return [replace(e, group=groups.get(e.alert_id)) if e.kind == "fire" else e for e in events]
