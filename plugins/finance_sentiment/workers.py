"""The monitor as several processes on one shared source (a Redis stream's consumer group)
and one database: ``suite run finance-monitor --source redis://…#news --workers N``, on one
host or the same command on several.

Every process is a **scoring worker**: it reads its share of the stream through the group,
scores it, stores the items with their stream position, and acknowledges them only after the
commit (entries a dead worker left pending are claimed by the others after ``claim_idle``).

Every process is also a candidate **detector**, and exactly one is it at a time: the holder of
the source's lease (a row in ``finance_leases``, renewed every tick, taken over once it has
not been renewed for ``LEASE_SECONDS``). The detector counts the stored items in stream order
up to the source's safe point (every entry before it acknowledged, so stored), one by one:
it marks repeated texts, runs the surge detector and commits the repeats, its cursor and the
alert events in one transaction fenced by the lease's token, so a holder that lost the lease
(paused, partitioned) cannot commit. What fires depends on the stream and nothing else: not on
how many workers there are, which one scored what, or when the detector moved. A new holder
rebuilds the detector by replaying what was counted (``Monitor.warm_up`` with the cursor); an
alert it fires again has the same id and its deliveries exist already, so nothing is sent twice.

One process (``--workers 1``, the default for a shared source) runs both roles; the embedded
loop of ``monitor.py`` remains what a file, folder, table or stdin runs.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from core import Source, Suite, UsageError
from core.sources import open_source
from plugins.finance_sentiment.config import MonitorConfig
from plugins.finance_sentiment.monitor import Monitor, Scorer, build_sinks
from plugins.finance_sentiment.store import FinanceStore, Lease, LeaseLost
from plugins.finance_sentiment.surge import SurgeEvent

LEASE_SECONDS = 5.0  # a dead detector is replaced within this and a tick
TICK_SECONDS = 0.5
COUNT_CHUNK = 2000  # stored items the detector reads per query
ALIVE_SECONDS = 10.0  # a worker not seen for longer is listed as gone
MAX_RESTARTS = 5  # per worker slot of `--workers N`


class LockedScorer:
    """The model shared by the scoring loop and the detector's explanations (a thread each)."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.lock = threading.Lock()

    def predict(self, examples: Sequence[Any]) -> list[dict[str, Any]]:
        with self.lock:
            return self.scorer.predict(examples)

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        with self.lock:
            return self.scorer.explain(example, top_k=top_k)


def detector_name(source: Source) -> str:
    """The lease's name and the detector's cursor key (in ``finance_offsets``)."""
    return f"detector:{source.key}"


@dataclass
class Rate:
    """Items per second over the last ``seconds``."""

    seconds: float = 10.0
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def add(self, total: int) -> float:
        now = time.monotonic()
        self.samples.append((now, total))
        while len(self.samples) > 2 and now - self.samples[0][0] > self.seconds:
            self.samples.popleft()
        (t0, n0), (t1, n1) = self.samples[0], self.samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


class DetectorDuty:
    """The detector's side of a worker, on its own thread: wait for the lease, or hold it and
    count what the workers stored; heartbeat the worker's row on each tick."""

    def __init__(self, make_monitor: Callable[[], Monitor], store: FinanceStore, source: Source, holder: str,
                 beat: Callable[[bool], None], lease_seconds: float = LEASE_SECONDS) -> None:
        self.make_monitor = make_monitor
        self.store = store
        self.source = source
        self.holder = holder
        self.beat = beat
        self.lease_seconds = lease_seconds
        self.name = detector_name(source)
        self.lease: Lease | None = None
        self.monitor: Monitor | None = None
        self.cursor: str | None = None
        self.events: list[SurgeEvent] = []
        self.counted = 0
        self.takeovers = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="suite-detector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.tick()
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a database or broker outage: drop the state, retry with backoff
                self.lease = self.monitor = None
                failures += 1
                self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                print(f"finance-monitor {self.holder}: detector: {self.error}; retrying", file=sys.stderr)
            self._stop.wait(min(TICK_SECONDS * 2**failures, 10.0))

    def tick(self) -> None:
        lease = self.store.take_lease(self.name, self.holder, self.lease_seconds)
        if lease is None:
            self.lease = self.monitor = None
        else:
            if self.lease is None or lease.token != self.lease.token or self.monitor is None:
                self._take_over(lease)
            self._count_settled()
            if self.monitor is not None:
                self.monitor.deliver_pending()
        self.beat(self.lease is not None)

    def _take_over(self, lease: Lease) -> None:
        monitor = self.make_monitor()
        self.cursor = self.store.offset(self.name)
        monitor.warm_up(self.store, cursor=self.cursor or "")
        self.lease, self.monitor = lease, monitor
        self.takeovers += 1

    def _count_settled(self) -> None:
        """Count the stored items up to the safe point, a chunk per transaction."""
        upto = self.source.settled()
        while upto is not None and self.lease is not None and self.monitor is not None:
            rows = self.store.items_to_count(self.cursor, upto, COUNT_CHUNK)
            if not rows:
                return
            events = self.monitor.count(rows, one_by_one=True)
            self._commit(rows[-1]["position"], len(rows), {r["id"]: r["duplicate_of"] for r in rows if r["duplicate_of"]}, events)

    def _commit(self, cursor: str, counted: int, repeats: dict[str, str], events: list[SurgeEvent]) -> None:
        assert self.lease is not None and self.monitor is not None
        records = [self.monitor.alert_event(event) for event in events]
        try:
            self.store.commit_counted(self.lease, self.lease_seconds, self.name, cursor, counted, repeats, records)
        except LeaseLost:
            self.lease = self.monitor = None  # counted past what is committed: the next holder recounts it
            return
        self.cursor = cursor
        self.counted += counted
        self.events += events

    def finish(self, drained: bool) -> None:
        """Stop the thread; as the holder, count what is settled and, when the stream is
        drained (nothing unacknowledged), evaluate the last open bucket as a finite run does;
        deliver; hand the lease back so another process takes it at once."""
        self._stop.set()
        self._thread.join()
        try:
            self.tick()
            if self.lease is not None and self.monitor is not None and drained and self.source.progress()["lag"] == 0:
                self._count_settled()
                events = self.monitor.detector.evaluate()
                if events and self.cursor is not None and self.lease is not None:
                    self._commit(self.cursor, 0, {}, events)
            if self.monitor is not None:
                self.monitor.deliver_pending(final=True)
        finally:
            if self.lease is not None:
                self.store.release_lease(self.lease)
            self.beat(False)


def run_worker(suite: Suite, config: MonitorConfig, scorer: Scorer, source_spec: str, options: dict[str, Any], *,
               idle_timeout: float | None, max_items: int | None, since: datetime | None = None,
               name: str | None = None) -> dict[str, Any]:
    """One process's share of the work (both roles); returns its summary."""
    from plugins.finance_sentiment.job import summarise

    holder = name or f"{socket.gethostname()}-{os.getpid()}"
    options = {"consumer": holder} | options  # the worker's name in the group: `suite finance status` and XINFO agree
    source = open_source(suite, source_spec, **options)
    if not source.shared:
        source.close()
        raise UsageError(f"--workers: a {source.name} source is read by one process; several workers share a Redis stream "
                         "through its consumer group (--source redis://HOST:PORT/DB#STREAM)")
    store = FinanceStore(suite.store)
    shared_scorer = LockedScorer(scorer)
    scoring = Monitor(config, shared_scorer, store, {})
    scoring.since = since
    sinks = build_sinks(suite, config)
    started = datetime.now(timezone.utc)
    rate = Rate()

    def beat(detector: bool, stopped: bool = False) -> None:
        s = scoring.stats
        store.heartbeat({"name": holder, "source_key": source.key, "host": socket.gethostname(), "pid": os.getpid(),
                         "started_at": started, "items": s.read, "stored": s.stored, "dead_letters": s.dead_letters,
                         "items_per_second": round(rate.add(s.read), 2), "detector": detector,
                         "stopped_at": datetime.now(timezone.utc) if stopped else None})

    duty = DetectorDuty(lambda: Monitor(config, shared_scorer, store, sinks), store, open_source(suite, source_spec, **options),
                        holder, beat)
    beat(False)
    duty.start()
    interrupted = drained = False
    try:
        for batch in source.read(None, config.batch_size, idle_timeout=idle_timeout):
            if batch:
                rows, bad = scoring.score_batch(source, batch)
                fresh = store.commit_batch(source.key, None, rows, bad)
                source.ack(batch)
                scoring.stats.stored += len(fresh)
                scoring.stats.already_stored += len(rows) - len(fresh)
                scoring.stats.dead_letters += len(bad)
            if max_items is not None and scoring.stats.read >= max_items:
                break
        else:
            drained = True
    except KeyboardInterrupt:
        interrupted = True  # the batch in flight was committed whole or not at all; unacknowledged entries stay pending
    finally:
        source.close()
        try:
            duty.finish(drained)
        finally:
            beat(False, stopped=True)
            duty.source.close()
    stats = scoring.stats
    stats.events = duty.events
    summary = summarise(stats, source.key, False, 0, interrupted)
    summary |= {"worker": holder, "detector": {"counted": duty.counted, "held": duty.takeovers > 0, "takeovers": duty.takeovers,
                                                "error": duty.error}}
    return summary


# -- several processes on one host ------------------------------------------------------------

@dataclass(frozen=True)
class WorkerTask:
    """What a worker process needs (picklable: it crosses a spawn)."""

    settings: dict[str, Any]
    config: dict[str, Any]
    model: str | None
    source_spec: str
    options: dict[str, Any]
    idle_timeout: float | None
    max_items: int | None
    since: datetime | None
    threads: int
    precision: str = "auto"


def _worker_main(task: WorkerTask, results: Any) -> None:
    import torch

    from core.models import quiet_transformers
    from core.settings import load_settings
    from plugins.finance_sentiment.scenarios import FinanceSentiment

    torch.set_num_threads(task.threads)
    quiet_transformers()
    suite = Suite.create(load_settings(**task.settings))
    try:
        config = MonitorConfig.from_table(task.config, origin="suite run finance-monitor")
        summary = run_worker(suite, config, FinanceSentiment().predictor(suite, task.model, task.precision), task.source_spec,
                             task.options,
                             idle_timeout=task.idle_timeout, max_items=task.max_items, since=task.since)
        results.put(summary)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    finally:
        suite.close()


def run_workers(suite: Suite, config: MonitorConfig, model: str | None, source_spec: str, options: dict[str, Any], *,
                workers: int, idle_timeout: float | None, max_items: int | None, since: datetime | None = None,
                precision: str = "auto") -> dict[str, Any]:
    """``workers`` processes on this host, each :func:`run_worker`; one that dies (a crash, a
    ``kill -9``) is restarted (its pending entries are claimed by the others meanwhile)."""
    from core.cli.bulk import settings_for_workers

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    task = WorkerTask(settings_for_workers(suite.settings), config.model_dump(), model, source_spec, options,
                      idle_timeout, max_items, since, threads, precision)
    started = time.perf_counter()
    slots = {slot: context.Process(target=_worker_main, args=(task, results), name=f"finance-worker-{slot}")
             for slot in range(workers)}
    restarts = dict.fromkeys(slots, 0)
    for process in slots.values():
        process.start()
    summaries: list[dict[str, Any]] = []
    try:
        while slots:
            while not results.empty():
                summaries.append(results.get())
            for slot, process in list(slots.items()):
                if process.is_alive():
                    continue
                process.join()
                code = process.exitcode
                if code == 0 or code == 2 or restarts[slot] >= MAX_RESTARTS or not any(p.is_alive() for p in slots.values()):
                    del slots[slot]
                    if code not in (0, None):
                        print(f"finance-monitor: worker {slot} exited with {_exit_reason(code)}", file=sys.stderr)
                    continue
                restarts[slot] += 1
                print(f"finance-monitor: worker {slot} died ({_exit_reason(code)}); restarting it "
                      f"({restarts[slot]} of {MAX_RESTARTS}); the others claim its pending items meanwhile", file=sys.stderr)
                slots[slot] = context.Process(target=_worker_main, args=(task, results), name=f"finance-worker-{slot}")
                slots[slot].start()
            time.sleep(0.2)
    except KeyboardInterrupt:
        for process in slots.values():
            process.join(timeout=30)
    while not results.empty():
        summaries.append(results.get())
    if not summaries:
        raise UsageError("finance-monitor: no worker finished (see the errors above)")
    return merge(summaries, time.perf_counter() - started, restarts=sum(restarts.values()))


def _exit_reason(code: int | None) -> str:
    return f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"


def merge(summaries: list[dict[str, Any]], seconds: float, restarts: int = 0) -> dict[str, Any]:
    """One run's summary from its workers' (counts added, alerts in firing order, once each)."""
    total = dict(summaries[0])
    for name in ("items_read", "items", "skipped_before_since", "stored", "already_stored", "duplicates", "dead_letters"):
        total[name] = sum(s[name] for s in summaries)
    alerts = {(a["id"], a["event"], a["at"]): a for s in summaries for a in s["alerts"]}
    total["alerts"] = sorted(alerts.values(), key=lambda a: (a["at"], a["id"]))
    total["deliveries"] = {k: sum(s["deliveries"][k] for s in summaries) for k in ("delivered", "failed_attempts")}
    total["seconds"] = round(seconds, 2)
    total["items_per_second"] = round(total["items_read"] / seconds, 1) if seconds else 0.0
    total["interrupted"] = any(s["interrupted"] for s in summaries)
    total["workers"] = [{"worker": s["worker"], "items_read": s["items_read"], "stored": s["stored"],
                         "items_per_second": s["items_per_second"], "detector": s["detector"]} for s in summaries]
    total["restarts"] = restarts
    firsts = [s["first_time"] for s in summaries if s["first_time"]]
    lasts = [s["last_time"] for s in summaries if s["last_time"]]
    total["first_time"], total["last_time"] = min(firsts, default=None), max(lasts, default=None)
    total.pop("worker", None)
    total.pop("detector", None)
    return total


# -- what `suite finance status` and `/metrics` show -----------------------------------------------

def fleet_status(store: FinanceStore, source: Source | None = None) -> dict[str, Any]:
    """Workers seen (last heartbeat, items, rate, who detects), the detector's lease, cursor and
    lag, and, given the source, its backlog; the same numbers as the Prometheus metrics."""
    now = datetime.now(timezone.utc)
    seen = store.workers(source.key if source else None)
    workers = [{"name": w["name"], "host": w["host"], "pid": w["pid"], "source": w["source_key"],
                "last_heartbeat": w["seen_at"].isoformat(), "seconds_since_heartbeat": round((now - w["seen_at"]).total_seconds(), 1),
                "alive": w["stopped_at"] is None and (now - w["seen_at"]).total_seconds() <= ALIVE_SECONDS,
                "items": w["items"], "stored": w["stored"], "dead_letters": w["dead_letters"],
                "items_per_second": w["items_per_second"], "detector": w["detector"]} for w in seen]
    status: dict[str, Any] = {
        "workers": workers,
        "alive": sum(w["alive"] for w in workers),
        "items_per_second": round(sum(w["items_per_second"] for w in workers if w["alive"]), 2),
        "alerts_open": len(store.open_alerts()),
    }
    if source is not None:
        name = detector_name(source)
        lease = store.lease(name)
        cursor = store.offset(name)
        status["source"] = source.key
        status["stream"] = source.progress()
        status["detector"] = {"holder": lease["holder"] if lease and lease["expires_at"] > now else None,
                              "token": lease["token"] if lease else 0, "cursor": cursor,
                              "lag_items": store.uncounted(cursor)}
    return status


def render_status(status: dict[str, Any]) -> str:
    lines = []
    if "source" in status:
        stream, detector = status["stream"], status["detector"]
        lines.append(f"{status['source']}: {stream['length']} entries, lag {stream['lag']} (not acknowledged), "
                     f"{stream['pending']} pending")
        lines.append(f"detector: {detector['holder'] or 'none holds the lease'} (lease #{detector['token']}), "
                     f"{detector['lag_items']} stored items not counted yet")
    lines.append(f"workers: {status['alive']} alive, {status['items_per_second']:g} items/s, {status['alerts_open']} alerts open")
    for w in status["workers"]:
        state = "alive" if w["alive"] else "gone"
        lines.append(f"  {w['name']:<28} {state:<5} heartbeat {w['seconds_since_heartbeat']:>7.1f} s ago  {w['items']:>9} items  "
                     f"{w['items_per_second']:>7.1f}/s{'  detector' if w['detector'] and w['alive'] else ''}")
    return "\n".join(lines)


def serve_metrics(port: int, store: FinanceStore, source: Source) -> Any:
    """``/metrics`` on ``port`` (Prometheus text format), computed from :func:`fleet_status`
    on each scrape, so any process (or several) can serve the fleet's numbers."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class FleetCollector:
        def collect(self) -> Any:
            status = fleet_status(store, source)
            items = CounterMetricFamily("suite_finance_worker_items", "Items read by a worker", labels=["worker"])
            rate = GaugeMetricFamily("suite_finance_worker_items_per_second", "A worker's items/s (last 10 s)", labels=["worker"])
            beat = GaugeMetricFamily("suite_finance_worker_heartbeat_age_seconds", "Seconds since a worker's heartbeat",
                                     labels=["worker"])
            for w in status["workers"]:
                items.add_metric([w["name"]], w["items"])
                rate.add_metric([w["name"]], w["items_per_second"])
                beat.add_metric([w["name"]], w["seconds_since_heartbeat"])
            yield from (items, rate, beat)
            yield GaugeMetricFamily("suite_finance_items_per_second", "Items/s of the live workers together",
                                    value=status["items_per_second"])
            yield GaugeMetricFamily("suite_finance_workers_alive", "Workers with a heartbeat in the last 10 s", value=status["alive"])
            yield GaugeMetricFamily("suite_finance_stream_lag", "Stream entries not acknowledged yet", value=status["stream"]["lag"])
            yield GaugeMetricFamily("suite_finance_stream_pending", "Entries handed to a worker, not acknowledged",
                                    value=status["stream"]["pending"])
            yield GaugeMetricFamily("suite_finance_detector_lag_items", "Stored items the detector has not counted yet",
                                    value=status["detector"]["lag_items"])
            yield GaugeMetricFamily("suite_finance_detector_lease_token", "Times the detector changed hands (+1)",
                                    value=status["detector"]["token"])
            yield GaugeMetricFamily("suite_finance_alerts_open", "Alerts firing", value=status["alerts_open"])

    registry = CollectorRegistry()
    registry.register(FleetCollector())
    server, _thread = start_http_server(port, registry=registry)
    return server
