"""Surge detection: is negativity about one topic or entity unusually high right now?

Items fall into fixed time buckets per *key* (``topic:credit & default``, ``entity:Northwind
Bank``). At each evaluation the last ``window_buckets`` form the window and the
``baseline_buckets`` before them (after a guard of one window) the baseline. Two tests look at the window's ``x`` negatives
of ``n`` items; a key fires on either (``tests``), and the alert's evidence says which:

* **rate**: is ``x`` more negatives than the key usually gets in a window? The baseline's
  negatives per bucket, with a gamma prior worth ``rate_prior_hours`` of history that
  expects ``prior_share`` of the key's own volume to be negative (plus
  ``rate_prior_negatives``, so a company never mentioned has a sensible baseline), give the
  expected count ``mu``; ``x`` is tested against a negative binomial of mean ``mu`` whose
  extra variance is the uncertainty of the rate plus the baseline's own burstiness. The test
  also runs over ``long_window_buckets`` (two hours), where five bad headlines spread over two
  hours about a company that gets one a day are as plain as they are to an analyst. This is
  how bad news about a company arrives: volume and negatives rise together, the share barely
  moves. The odds of an item being negative must still have risen ``rate_min_odds_ratio``
  times, so more news with the usual mix (an earnings day) does not fire.
* **share**: is the negative *share* unusually high? The baseline share ``p`` (with a small
  prior) is known from the baseline's items and varies between buckets by ``τ²`` (news comes
  in bursts; without it every busy hour would fire), so ``x`` is tested against a
  beta-binomial of ``n`` draws with that mean, evidence and spread. It catches a turn in tone
  at the usual volume, which the rate test misses when the volume falls at the same time. It
  needs ``share_min_volume`` items in the window: the share of four items is noise.

The buckets of an open alert's windows stay out of later baselines: after a day of bad news
about a company, the next burst is compared with the company's normal days, not with the
last surge. Both surprises are z-scores (the rate's tail probability turned into one), so ``fire_z`` and
the severities read the same for both. A key fires at ``fire_z`` (given the per-kind minimum
volume and negatives), stays one open alert while it lasts (its evidence refreshed, its
severity raised), resolves when both tests fall below ``resolve_z`` (hysteresis) and then
stays quiet for ``cooldown_minutes``. Nothing fires before the detector has seen
``warmup_hours`` of history: until then there is no baseline to be surprised against. ``method = "cusum"`` replaces the share test's window
by accumulated per-bucket surprise above ``cusum_slack``, firing when the sum reaches
``cusum_limit``: slower to fire, better at slow drifts.

Everything runs on the items' own timestamps and every bucket is evaluated when it closes, so
a replay (``--backtest``) fires the alerts the live run would have, whatever the batch size
(the last, open bucket of a run is evaluated when the run ends).
"""

from __future__ import annotations

import hashlib
import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
from scipy.special import betainc, betaln, ndtri_exp

from plugins.finance_sentiment.config import SurgeConfig

TAU_MIN_ITEMS = 5  # a bucket counts towards the burstiness estimate from this many items
TAU_MIN_BUCKETS = 4
DISPERSION_MIN_BUCKETS = 8  # the baseline's burstiness is estimated from this many buckets ...
DISPERSION_MIN_NEGATIVES = 20  # ... holding this many negatives (sparse counts make the estimate noise)
Z_LIMIT = 40.0
MAX_HELD = 100  # items held ahead of the clock (a feed's outliers); the oldest are dropped beyond


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
    surge: bool = False  # in the window of an open alert: not part of any later baseline
    top: list[tuple[float, str, str, str]] = field(default_factory=list)  # min-heap (score, time, id, text)


@dataclass
class OpenAlert:
    id: str
    fired_at: datetime
    peak_z: float
    severity: str
    test: str = ""


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
        if "rate" in e.get("test", "").split("+") and self.kind != "resolve":
            counts = (f"{e['rate_negative']} negative items in {e['rate_window_hours']:g} h against {e['expected_negative']:g} expected; "
                      f"{e.get('share', 0.0):.0%} of {e.get('total', 0)} negative (baseline {e.get('baseline_share', 0):.0%})")
        if self.kind == "resolve":
            return f"Resolved: negative surge on {kind} '{name}' is over; now {counts}"
        return f"Negative surge on {kind} '{name}': {counts}"


def item_keys(topic: str, entities: Iterable[str]) -> tuple[str, ...]:
    """The keys an item counts under: its topic and each watched entity it names."""
    return (f"topic:{topic}", *(f"entity:{e}" for e in entities))


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
        self.first_bucket: int | None = None  # before it the history is unknown, not quiet
        self.held: list[Scored] = []  # items far ahead of the clock, until another confirms the jump
        self._touched: set[str] = set()

    # -- input ---------------------------------------------------------------------------
    def bucket_of(self, moment: datetime) -> int:
        return int(moment.timestamp()) // self.bucket_seconds

    def bucket_start(self, index: int) -> datetime:
        return datetime.fromtimestamp(index * self.bucket_seconds, tz=timezone.utc)

    def process(self, items: Iterable[Scored]) -> list[SurgeEvent]:
        """Add items in time order, evaluating each item's keys as it arrives and every key with
        an open alert as each bucket closes: what fires depends on the items and their order,
        never on how the stream was cut into batches.

        The clock never jumps on one item: an item more than the evaluated span (window, guard
        and baseline) ahead of it is held until a second one that far ahead confirms the jump
        (a feed resuming after a long gap), or until the clock catches up with it."""
        events: list[SurgeEvent] = []
        for item in sorted(items, key=lambda i: i.time):
            confirmed = [item]
            if self._too_far(item):
                confirmed += [other for other in self.held if self._close(item, other)]
                if len(confirmed) == 1:
                    self.held = sorted([*self.held, item], key=lambda i: i.time)[:MAX_HELD]
                    continue
                self.held = [other for other in self.held if other not in confirmed]
            for moved in sorted(confirmed, key=lambda i: i.time):
                events += self._advance(moved)
            while self.held and not self._too_far(self.held[0]):
                events += self._advance(self.held.pop(0))
        return events

    def _too_far(self, item: Scored) -> bool:
        return self.watermark is not None and self.bucket_of(item.time) - self.bucket_of(self.watermark) > self._span()

    def _close(self, item: Scored, other: Scored) -> bool:
        return abs(self.bucket_of(item.time) - self.bucket_of(other.time)) <= self._span()

    def _advance(self, item: Scored) -> list[SurgeEvent]:
        events = []
        if self.watermark is not None and self.bucket_of(item.time) > self.bucket_of(self.watermark):
            events += self.evaluate()
        self.add(item)
        return events + self.evaluate(item.keys)

    def add(self, item: Scored) -> None:
        index = self.bucket_of(item.time)
        if self.watermark is not None and index <= self.bucket_of(self.watermark) - self._span():
            return  # too late to matter for any window still evaluated
        if self.first_bucket is None or index < self.first_bucket:
            self.first_bucket = index
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
        state = self.keys.setdefault(key, KeyState())
        state.open = alert
        if self.watermark is not None:
            self._mark_surge(state, self.bucket_of(alert.fired_at) - self.config.window_buckets + 1, self.bucket_of(self.watermark))

    def quiet(self, key: str, until: datetime) -> None:
        """A key whose alert resolved before this run: keep its cooldown."""
        self.keys.setdefault(key, KeyState()).quiet_until = until

    def settle(self, open_alerts: dict[str, OpenAlert]) -> None:
        """Make the open alerts exactly ``open_alerts`` (what the store says was sent): a replay
        never leaves an alert open that was never recorded, whose resolve would name nothing."""
        for key, state in self.keys.items():
            if state.open and (key not in open_alerts or open_alerts[key].id != state.open.id):
                state.open = None
        for key, alert in open_alerts.items():
            if not (key in self.keys and self.keys[key].open):
                self.restore(key, alert)

    @property
    def span(self) -> timedelta:
        """How far back one evaluation reads (window, guard, baseline)."""
        return timedelta(seconds=self._span() * self.bucket_seconds)

    @staticmethod
    def _mark_surge(state: KeyState, first: int, last: int) -> None:
        """A surge is not what is normal: its buckets stay out of the key's later baselines."""
        for index in range(first, last + 1):
            state.buckets.setdefault(index, Bucket()).surge = True

    # -- evaluation ------------------------------------------------------------------------
    def _span(self) -> int:
        """Buckets read by one evaluation: the window, a guard as long as it, the baseline."""
        return 2 * self.config.window_buckets + self.config.baseline_buckets

    def _baseline(self, now: int) -> range:
        """The baseline's buckets. A guard of one window separates them from the window, so the
        first hour of a surge is not yet the baseline its peak is compared with."""
        return range(now - self._span() + 1, now - 2 * self.config.window_buckets + 1)

    def evaluate(self, keys: Iterable[str] | None = None) -> list[SurgeEvent]:
        """Evaluate ``keys`` at the current watermark (default: every key with new items or an
        open alert, and forget what no window will read again)."""
        if self.watermark is None:
            return []
        now = self.bucket_of(self.watermark)
        chosen = sorted(self._touched | {k for k, s in self.keys.items() if s.open} if keys is None else set(keys))
        events: list[SurgeEvent] = []
        for key in chosen:
            state = self.keys.get(key)
            if state is None:
                continue  # an item too late to be counted
            event = self._evaluate_key(key, state, now)
            if event:
                events.append(event)
            if state.open:
                self._mark_surge(state, now - self.config.window_buckets + 1, now)
        self._touched.difference_update(chosen)
        if keys is None:
            self._forget(now)
        return _group(events)

    def _stats(self, state: KeyState, now: int) -> dict[str, Any]:
        c = self.config
        window = [state.buckets.get(i) for i in range(now - c.window_buckets + 1, now + 1)]
        base = [b for b in (state.buckets.get(i) for i in self._baseline(now)) if not (b and b.surge)]
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
        z = _share_z(x, n, p, base_n + c.prior_weight, tau2)
        return {"n": n, "x": x, "p": p, "z": z, "base_n": base_n, "base_x": base_x, "window": window,
                "buckets_with_data": len(filled), **self._rate(state, now, x)}

    def _rate(self, state: KeyState, now: int, x: int) -> dict[str, Any]:
        """The rate test over the window and the long window, whichever is more surprising: its
        negatives, their expected count from the baseline's rate, and the z of seeing as many."""
        c = self.config
        known = self._baseline(now)
        first = known.start if self.first_bucket is None else max(known.start, self.first_bucket)
        held = [state.buckets.get(i) for i in range(first, known.stop)]
        held = [b for b in held if not (b and b.surge)]
        counts = [b.negative if b else 0 for b in held]
        volume = sum(b.total for b in held if b) / max(len(held), 1)
        prior_buckets = c.rate_prior_hours * 3600 / self.bucket_seconds
        # gamma posterior of the negatives per bucket; the prior expects prior_share of the key's own volume
        alpha = c.rate_prior_negatives + c.prior_share * volume * prior_buckets + sum(counts)
        beta = prior_buckets + len(counts)
        dispersion = _overdispersion(counts)
        best: dict[str, Any] = {}
        for length in sorted({c.window_buckets, c.long_window_buckets or c.window_buckets}):
            held = [state.buckets.get(i) for i in range(now - length + 1, now + 1)]
            negatives = x if length == c.window_buckets else sum(b.negative for b in held if b)
            mu = length * alpha / beta
            z = _tail_z(negatives, mu, 1.0 / (1.0 / alpha + dispersion / length))
            if not best or z > best["rate_z"]:
                best = {"rate_z": z, "mu": mu, "rate_x": negatives, "rate_n": sum(b.total for b in held if b),
                        "rate_buckets": length}
        return best | {"rate_per_hour": alpha / beta * 3600 / self.bucket_seconds, "history_seconds": len(counts) * self.bucket_seconds}

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
        least_volume, least_negative = c.minimum(c.min_volume, key), c.minimum(c.min_negative, key)
        if state.open is None:  # most evaluations end here, before any statistics
            longest = max(c.window_buckets, c.long_window_buckets)
            held = [b for b in (state.buckets.get(i) for i in range(now - longest + 1, now + 1)) if b]
            if sum(b.total for b in held) < least_volume or sum(b.negative for b in held) < least_negative:
                return None
        stats = self._stats(state, now)
        n, x = stats["n"], stats["x"]
        share_score = self._cusum(state, now) if c.method == "cusum" else stats["z"]
        surprise = {"share": stats["z"], "rate": stats["rate_z"]}
        z = max(surprise[test] for test in c.tests)
        at = self.watermark
        assert at is not None
        if state.open:
            share_over = share_score < c.cusum_slack if c.method == "cusum" else stats["z"] < c.resolve_z
            if ("share" not in c.tests or share_over) and ("rate" not in c.tests or stats["rate_z"] < c.resolve_z):
                event = SurgeEvent("resolve", key, state.open.id, state.open.severity, at, self._evidence(stats, now, z, share_score, ""))
                state.open = None
                state.cusum = 0.0
                state.quiet_until = at + timedelta(minutes=c.cooldown_minutes)
                return event
            severity = c.severity(z)
            if z > state.open.peak_z and c.severities.get(severity, 0) > c.severities.get(state.open.severity, 0):
                state.open.peak_z, state.open.severity = z, severity
                return SurgeEvent("update", key, state.open.id, severity, at, self._evidence(stats, now, z, share_score, state.open.test))
            return None
        if state.quiet_until and at < state.quiet_until:
            return None
        if stats["history_seconds"] < c.warmup_hours * 3600:
            return None  # no baseline to trust yet
        passed = []  # each test on its own window, with the key kind's minimum items and negatives
        if ("rate" in c.tests and stats["rate_n"] >= least_volume and stats["rate_x"] >= least_negative
                and stats["rate_z"] >= c.fire_z and _odds_ratio(stats["rate_x"], stats["rate_n"], stats["p"]) >= c.rate_min_odds_ratio):
            passed.append("rate")
        if ("share" in c.tests and n >= max(least_volume, c.share_min_volume) and x >= least_negative and x / n >= c.min_share
                and share_score >= (c.cusum_limit if c.method == "cusum" else c.fire_z)):
            passed.append("share")
        if not passed:
            return None
        z = max(surprise[test] for test in passed)
        severity = c.severity(z)
        fired_at = self.bucket_start(now - c.window_buckets + 1)
        test = "+".join(passed)
        state.open = OpenAlert(alert_id(key, fired_at), at, z, severity, test)
        return SurgeEvent("fire", key, state.open.id, severity, at, self._evidence(stats, now, z, share_score, test))

    def _evidence(self, stats: dict[str, Any], now: int, z: float, share_score: float, test: str) -> dict[str, Any]:
        c = self.config
        top = heapq.nlargest(c.evidence_items, (e for b in stats["window"] if b for e in b.top))
        n = stats["n"]
        return {
            "window_start": self.bucket_start(now - c.window_buckets + 1).isoformat(),
            "window_end": self.bucket_start(now + 1).isoformat(),
            "test": test,
            "negative": stats["x"],
            "total": n,
            "share": round(stats["x"] / n, 4) if n else 0.0,
            "baseline_share": round(stats["p"], 4),
            "baseline_negative": round(n * stats["p"], 2),
            "rate_negative": stats["rate_x"],
            "rate_window_hours": stats["rate_buckets"] * self.bucket_seconds / 3600,
            "expected_negative": round(stats["mu"], 2),
            "baseline_negative_per_hour": round(stats["rate_per_hour"], 3),
            "baseline_items": stats["base_n"],
            "share_z": round(stats["z"], 3),
            "rate_z": round(stats["rate_z"], 3),
            "score": round(z, 3),
            "method": c.method,
            **({"cusum": round(share_score, 3)} if c.method == "cusum" else {}),
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


def _overdispersion(counts: list[int]) -> float:
    """``1/size`` of a negative binomial fitted to per-bucket counts by moments (0: Poisson)."""
    if len(counts) < DISPERSION_MIN_BUCKETS or sum(counts) < DISPERSION_MIN_NEGATIVES:
        return 0.0
    mean = sum(counts) / len(counts)
    variance = sum((k - mean) ** 2 for k in counts) / (len(counts) - 1)
    return max(0.0, (variance - mean) / (mean * mean))


def _odds_ratio(negative: int, total: int, baseline_share: float) -> float:
    """How much the odds of an item being negative rose against the baseline (smoothed by half
    an item, so an all-negative window has a finite ratio)."""
    return ((negative + 0.5) / (total - negative + 0.5)) / (baseline_share / (1 - baseline_share))


def _share_z(x: int, n: int, p: float, evidence: float, tau2: float) -> float:
    """P(X >= x) for ``x`` negatives of ``n`` when the share is ``p`` known from ``evidence``
    items and varies between buckets by ``tau2``: a beta-binomial, as a z-score. (The normal
    approximation's upper tail is too thin for small shares: it fired on noise.)"""
    if not n:
        return 0.0
    rho = min(tau2 / (p * (1 - p)), 0.99)  # the share's between-bucket correlation
    concentration = min(evidence, (1 - rho) / rho) if rho > 0 else evidence
    log_tail = _betabinom_logsf(x - 1, n, p * concentration, (1 - p) * concentration)
    if math.isnan(log_tail):  # a tail beyond floating point (1 - cdf went below zero)
        return Z_LIMIT if x > n * p else -Z_LIMIT
    return max(-Z_LIMIT, min(Z_LIMIT, -float(ndtri_exp(log_tail))))


def _tail_z(x: int, mu: float, size: float) -> float:
    """P(X >= x) for X ~ NB(mean ``mu``, ``size``), as the z-score with that upper tail."""
    log_tail = _nbinom_logsf(x - 1, size, size / (size + mu))
    return max(-Z_LIMIT, min(Z_LIMIT, -float(ndtri_exp(log_tail))))


def _nbinom_logsf(k: int, size: float, p: float) -> float:
    """``scipy.stats.nbinom.logsf(k, size, p)`` for the detector's arguments (to the last bit)."""
    if k < 0:
        return 0.0
    tail = float(betainc(k + 1, size, 1 - p))
    return math.log(tail) if tail > 0 else -math.inf


def _betabinom_logsf(k: int, n: int, a: float, b: float) -> float:
    """``scipy.stats.betabinom.logsf(k, n, a, b)``, computed as scipy computes it (the log of one
    minus the summed probabilities), without its per-call argument handling: the detector asks
    once per item and key, and that handling was a fifth of the monitor's time."""
    if not (a > 0 and b > 0):
        return math.nan
    if k < 0:
        return 0.0
    if k >= n:
        return -math.inf
    m = np.arange(0, math.floor(k) + 1.0)
    log_pmf = -np.log(n + 1) - betaln(n - m + 1, m + 1) + betaln(m + a, n - m + b) - betaln(a, b)
    with np.errstate(all="ignore"):
        return float(np.log(1.0 - np.sum(np.exp(log_pmf), axis=0)))


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
