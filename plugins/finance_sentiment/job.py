"""``suite run finance-monitor``: wire source, predictor, store and sinks to the monitor,
show it live, and summarise (text, ``--json``, ``--report report.html``)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core import Suite
from core.sources import open_source
from plugins.finance_sentiment.config import MonitorConfig
from plugins.finance_sentiment.monitor import MemoryLedger, Monitor, Stats, build_sinks
from plugins.finance_sentiment.store import FinanceStore
from plugins.finance_sentiment.backtest import LabelledSurge, score_backtest
from plugins.finance_sentiment.surge import SurgeDetector
from plugins.finance_sentiment.text import TextProfile, differences


EXIT_PENDING = 3  # the run finished, but alerts wait for a sink


def run_monitor(suite: Suite, config: MonitorConfig, predictor: Any, source_spec: str, source_options: dict[str, Any], *,
                backtest: bool, report: Path | None, idle_timeout: float | None, max_items: int | None,
                live: bool, truth: list[LabelledSurge] | None = None, from_start: bool = False,
                since: datetime | None = None) -> dict[str, Any]:
    source = open_source(suite, source_spec, **source_options)
    store = None if backtest else FinanceStore(suite.store)
    ledger = MemoryLedger() if backtest else store
    sinks = {} if backtest else build_sinks(suite, config)
    view = LiveView(config) if live else None
    monitor = Monitor(config, predictor, ledger, sinks, on_batch=view.update if view else None)  # type: ignore[arg-type]
    warmed = monitor.warm_up(store) if store else 0
    interrupted = False
    try:
        if view:
            view.start()
        monitor.run(source, idle_timeout=idle_timeout, max_items=max_items, from_start=from_start, since=since)
    except KeyboardInterrupt:
        interrupted = True  # the batch in flight was committed whole or not at all
    finally:
        if view:
            view.stop()
        source.close()
    summary = summarise(monitor.stats, source.key, backtest, warmed, interrupted)
    trained_on = getattr(getattr(predictor, "head", None), "options", {}).get("text_profile")
    summary["text_drift"] = differences(TextProfile.of(monitor.stats.sample), trained_on)
    if truth is not None:
        summary["backtest"] = score_backtest(summary["alerts"], truth, first=monitor.stats.first_time,
                                             last=monitor.stats.last_time, window=config.surge_window)
    summary["warnings"] = rerun_notes(monitor.stats, source.key, backtest)
    if store:
        add_store_state(summary, store)
    if report:
        rows = ledger.rows if isinstance(ledger, MemoryLedger) else store.all_items()  # type: ignore[union-attr]
        alerts = list(ledger.alerts.values()) if isinstance(ledger, MemoryLedger) else store.list_alerts(limit=500)  # type: ignore[union-attr]
        from plugins.finance_sentiment.report import write_report

        summary["report"] = str(write_report(report, report_data(rows, alerts, config, source.key, summary)))
    return summary


def run_shared(suite: Suite, config: MonitorConfig, model: str | None, source_spec: str, source_options: dict[str, Any], *,
               workers: int, metrics_port: int | None, report: Path | None, idle_timeout: float | None,
               max_items: int | None, since: datetime | None = None, precision: str = "auto") -> dict[str, Any]:
    """The monitor on a shared source as ``workers`` processes (``workers.py``): one runs in
    this process; more are spawned. ``metrics_port``: Prometheus ``/metrics`` while it runs."""
    from plugins.finance_sentiment.scenarios import FinanceSentiment
    from plugins.finance_sentiment.workers import run_worker, run_workers, serve_metrics

    store = FinanceStore(suite.store)
    watched = open_source(suite, source_spec, **source_options) if metrics_port else None
    server = serve_metrics(metrics_port, store, watched) if watched is not None and metrics_port else None
    try:
        if workers > 1:
            summary = run_workers(suite, config, model, source_spec, source_options, workers=workers,
                                  idle_timeout=idle_timeout, max_items=max_items, since=since, precision=precision)
        else:
            summary = run_worker(suite, config, FinanceSentiment().predictor(suite, model, precision), source_spec, source_options,
                                 idle_timeout=idle_timeout, max_items=max_items, since=since)
    finally:
        if server is not None:
            server.shutdown()
        if watched is not None:
            watched.close()
    summary["warnings"] = []
    add_store_state(summary, store)
    if report:
        from plugins.finance_sentiment.report import write_report

        data = report_data(store.all_items(), store.list_alerts(limit=500), config, summary["source"], summary)
        summary["report"] = str(write_report(report, data))
    return summary


def add_store_state(summary: dict[str, Any], store: FinanceStore) -> None:
    """What the store holds after a run: open alerts, counts, deliveries still pending (exit 3)."""
    summary["alerts_open"] = [_alert_line(a) for a in store.open_alerts()]
    summary["store"] = store.counts()
    pending = store.pending_count()
    summary["deliveries"]["pending"] = pending
    if pending:
        summary["warnings"].append(f"{pending} alert deliveries are still pending (a sink failed every attempt); they are "
                                   "retried on the next run: suite finance alerts list")
        summary["exit_code"] = EXIT_PENDING


def rerun_notes(stats: Stats, source_key: str, backtest: bool) -> list[str]:
    """What a run that read or counted nothing new should tell its user."""
    if backtest:
        return []
    notes = []
    if stats.read == 0 and stats.resumed_after is not None:
        notes.append(f"nothing new in {source_key}: an earlier run read it up to {stats.resumed_after}. Read it again with "
                     f"--from-start, or reset its offset: suite finance offsets reset '{source_key}'")
    if stats.already_stored:
        notes.append(f"{stats.already_stored} items were stored by an earlier run (same ids) and were not counted again; "
                     "to see what new settings (watchlist, thresholds) would fire on them, use --backtest")
    return notes


def summarise(stats: Stats, source_key: str, backtest: bool, warmed: int, interrupted: bool) -> dict[str, Any]:
    seconds = stats.seconds
    alerts = [{"id": e.alert_id, "event": e.kind, "key": e.key, e.key.partition(":")[0]: e.key.partition(":")[2],
               "severity": e.severity, "at": e.at.isoformat(), "window_start": e.evidence.get("window_start"),
               "window_end": e.evidence.get("window_end"), "test": e.evidence.get("test") or None, "title": e.title,
               "group": e.group, "evidence": e.evidence} for e in stats.events]
    return {
        "source": source_key,
        "mode": "backtest" if backtest else "live",
        "items_read": stats.read,
        "items": stats.read,
        "skipped_before_since": stats.skipped,
        "stored": stats.stored,
        "already_stored": stats.already_stored,
        "duplicates": stats.duplicates,
        "dead_letters": stats.dead_letters,
        "seconds": round(seconds, 2),
        "items_per_second": round(stats.read / seconds, 1) if seconds else 0.0,
        "sentiment": dict(stats.sentiment),
        "topics": dict(stats.topics.most_common()),
        "first_time": stats.first_time.isoformat() if stats.first_time else None,
        "last_time": stats.last_time.isoformat() if stats.last_time else None,
        "alerts": alerts,
        "deliveries": {"delivered": stats.delivered, "failed_attempts": stats.undelivered},
        "warmed_up_items": warmed,
        "interrupted": interrupted,
    }


def _alert_line(alert: dict[str, Any]) -> dict[str, Any]:
    return {"id": alert["id"], "key": alert["key"], "severity": alert["severity"], "fired_at": alert["fired_at"].isoformat()}


def render_summary(result: dict[str, Any]) -> str:
    kept = (f"{result['stored']} counted (a backtest stores nothing)" if result["mode"] == "backtest"
            else f"{result['stored']} stored, {result['already_stored']} already stored")
    lines = [f"{result['mode']} run over {result['source']}: {result['items_read']} read, {kept}, "
             f"{result['duplicates']} repeated texts, {result['dead_letters']} dead letters, {result['items_per_second']} items/s"]
    if result["sentiment"]:
        lines.append("sentiment: " + ", ".join(f"{k} {v}" for k, v in sorted(result["sentiment"].items())))
    if result["topics"]:
        lines.append("topics: " + ", ".join(f"{k} {v}" for k, v in result["topics"].items()))
    fired = [a for a in result["alerts"] if a["event"] != "resolve"]
    lines.append(f"alerts: {len([a for a in fired if a['event'] == 'fire'])} fired, "
                 f"{len([a for a in result['alerts'] if a['event'] == 'resolve'])} resolved")
    for alert in result["alerts"]:
        lines.append(f"  {alert['at']}  {alert['event']:<8} [{alert['severity']}] {alert['id']}  {alert['title']}")
    for note in result.get("text_drift", []):
        lines.append(f"note: the feed differs from the model's training data: {note}")
    if result.get("backtest"):
        from plugins.finance_sentiment.backtest import render_backtest

        lines.append(render_backtest(result["backtest"]))
    if result.get("alerts_open"):
        lines.append(f"open alerts: {len(result['alerts_open'])} (suite finance alerts list)")
    if result.get("report"):
        lines.append(f"report: {result['report']}")
    return "\n".join(lines)


def report_data(rows: Iterable[dict[str, Any]], alerts: list[dict[str, Any]], config: MonitorConfig, source: str,
                summary: dict[str, Any]) -> dict[str, Any]:
    """The report's input (see ``report.py``): per-key sentiment counts per bucket, alerts."""
    size = config.bucket_seconds
    series: dict[str, dict[int, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    totals: Counter[str] = Counter()
    items = duplicates = 0
    first: datetime | None = None
    last: datetime | None = None
    for row in rows:
        items += 1
        first = row["time"] if first is None or row["time"] < first else first
        last = row["time"] if last is None or row["time"] > last else last
        if row.get("duplicate_of"):
            duplicates += 1
            continue
        bucket = int(row["time"].timestamp()) // size
        totals[row["sentiment"]] += 1
        for key in (f"topic:{row['topic']}", *(f"entity:{e}" for e in row["entities"])):
            series[key][bucket][row["sentiment"]] += 1

    def points(buckets: dict[int, Counter[str]]) -> list[dict[str, Any]]:
        return [{"t": datetime.fromtimestamp(b * size, tz=timezone.utc).isoformat(), "total": sum(c.values()),
                 "negative": c["negative"], "neutral": c["neutral"], "positive": c["positive"]} for b, c in sorted(buckets.items())]

    return {
        "title": "Finance monitor",
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "source": source,
        "bucket_seconds": size,
        "summary": {"items": items, "duplicates": duplicates, "dead_letters": summary.get("dead_letters", 0),
                    "alerts": len(alerts), "sentiment": dict(totals), "items_read": summary.get("items_read"),
                    # the items the report covers (a re-run reads none, and still reports the stored ones)
                    "first_time": first.isoformat() if first else summary.get("first_time"),
                    "last_time": last.isoformat() if last else summary.get("last_time")},
        "mode": summary.get("mode"),
        "series": {key: points(buckets) for key, buckets in sorted(series.items())},
        "alerts": [_report_alert(a) for a in alerts],
    }


def _report_alert(alert: dict[str, Any]) -> dict[str, Any]:
    def iso(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {"id": alert["id"], "key": alert["key"], "severity": alert["severity"], "status": alert["status"],
            "acknowledged": alert.get("acknowledged_at") is not None, "title": alert.get("title", ""),
            "fired_at": iso(alert.get("fired_at")), "resolved_at": iso(alert.get("resolved_at")),
            "group_id": alert.get("group_id"), "evidence": alert.get("evidence", {})}


class LiveView:
    """Items per topic, the sentiment mix and open alerts, redrawn after each batch (rich)."""

    def __init__(self, config: MonitorConfig) -> None:
        from rich.console import Console
        from rich.live import Live

        self.live = Live(console=Console(stderr=True), refresh_per_second=4, transient=False)

    def start(self) -> None:
        self.live.start()

    def stop(self) -> None:
        self.live.stop()

    def update(self, stats: Stats, detector: SurgeDetector) -> None:
        from rich.table import Table

        table = Table(title=f"finance monitor: {stats.read} read, {stats.stored} stored, "
                            f"{stats.read / max(stats.seconds, 1e-9):.0f} items/s, {stats.dead_letters} dead letters")
        for column in ("topic", "items", "negative", "share"):
            table.add_column(column, justify="right" if column != "topic" else "left")
        for topic, count in stats.topics.most_common():
            negative = stats.negative_by_topic[topic]
            table.add_row(topic, str(count), str(negative), f"{negative / count:.0%}")
        mix = ", ".join(f"{k} {v}" for k, v in sorted(stats.sentiment.items()))
        table.caption = f"sentiment: {mix}   open alerts: " + (", ".join(sorted(detector.open_alerts())) or "none")
        self.live.update(table)
