"""Measure the surge detector against labelled surges: which fired, how late, and what fired
where nothing was labelled.

A truth file is JSON: ``{"surges": [{"key": "entity:Northwind Bank", "start": ISO, "end": ISO}]}``
(``suite finance plant`` writes one with extra fields, ignored here). A labelled surge counts
as *detected* when an alert on its key fires between its start and one window after its end
(the window that holds its last items closes then); the *delay* is from its start to that
alert. Every other alert is *concurrent* when it fires during some labelled surge (the topic
of a company's bad news fires with the company) and a *false alarm* otherwise.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core import UsageError


@dataclass(frozen=True)
class LabelledSurge:
    key: str
    start: datetime
    end: datetime


def _time(value: Any, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{where}: expected an ISO 8601 time such as 2026-11-02T06:00:00+00:00, got {value!r}") from None
    if moment.tzinfo is None:
        raise UsageError(f"{where}: {value!r} has no time zone (add +00:00 for UTC)")
    return moment


def load_truth(path: Path) -> list[LabelledSurge]:
    """The labelled surges of a truth file; a malformed one is a one-line error naming the field."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a JSON file ({exc})") from None
    entries = data.get("surges") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f"{path}: expected {{\"surges\": [{{\"key\", \"start\", \"end\"}}, ...]}}")
    surges = []
    for number, entry in enumerate(entries):
        where = f"{path}: surges[{number}]"
        if not isinstance(entry, dict):
            raise UsageError(f"{where}: expected an object with key, start, end")
        key = entry.get("key")
        if not isinstance(key, str) or ":" not in key:
            raise UsageError(f"{where}: field 'key': expected a key such as 'entity:Northwind Bank' or 'topic:earnings'")
        start, end = _time(entry.get("start"), f"{where}: field 'start'"), _time(entry.get("end"), f"{where}: field 'end'")
        if end < start:
            raise UsageError(f"{where}: field 'end': before 'start'")
        surges.append(LabelledSurge(key, start, end))
    return surges


def score_backtest(alerts: list[dict[str, Any]], surges: list[LabelledSurge], *, first: datetime | None,
                   last: datetime | None, window: timedelta) -> dict[str, Any]:
    """Compare fired alerts (``key``, ``at``, ``id``, ``event``) with the labelled surges."""
    fired = sorted(({**a, "at": a["at"] if isinstance(a["at"], datetime) else datetime.fromisoformat(a["at"])}
                    for a in alerts if a["event"] == "fire"), key=lambda a: a["at"])
    matched: set[str] = set()
    rows = []
    for surge in surges:
        hit = next((a for a in fired if a["key"] == surge.key and surge.start <= a["at"] <= surge.end + window), None)
        if hit:
            matched.add(hit["id"])
        rows.append({"key": surge.key, "start": surge.start.isoformat(), "end": surge.end.isoformat(), "fired": hit is not None,
                     "alert_id": hit["id"] if hit else None, "first_alert_at": hit["at"].isoformat() if hit else None,
                     "delay_minutes": round((hit["at"] - surge.start).total_seconds() / 60, 1) if hit else None})
    others = [a for a in fired if a["id"] not in matched]
    during = [a for a in others if any(s.start <= a["at"] <= s.end + window for s in surges)]
    false = [a for a in others if a not in during]
    days = (last - first).total_seconds() / 86400 if first and last and last > first else 0.0
    delays = [r["delay_minutes"] for r in rows if r["fired"]]
    detected = sum(r["fired"] for r in rows)
    return {
        "surges": rows,
        "labelled": len(rows),
        "detected": detected,
        "detection_rate": round(detected / len(rows), 4) if rows else None,
        "median_delay_minutes": round(statistics.median(delays), 1) if delays else None,
        "window_minutes": window.total_seconds() / 60,
        "feed_days": round(days, 2),
        "false_alarms": [{"key": a["key"], "at": a["at"].isoformat(), "id": a["id"]} for a in false],
        "false_alarms_per_day": round(len(false) / days, 2) if days else None,
        "concurrent_alerts": [{"key": a["key"], "at": a["at"].isoformat(), "id": a["id"]} for a in during],
    }


def render_backtest(result: dict[str, Any]) -> str:
    lines = [f"labelled surges: {result['labelled']}, detected {result['detected']} "
             f"({(result['detection_rate'] or 0):.0%}), median delay "
             + (f"{result['median_delay_minutes']:g} min" if result["median_delay_minutes"] is not None else "-")
             + f" (window {result['window_minutes']:g} min)",
             f"false alarms: {len(result['false_alarms'])} over {result['feed_days']:g} days "
             f"({result['false_alarms_per_day'] if result['false_alarms_per_day'] is not None else '-'} a day); "
             f"alerts during a labelled surge on another key: {len(result['concurrent_alerts'])}"]
    for row in result["surges"]:
        outcome = f"fired after {row['delay_minutes']:g} min ({row['alert_id']})" if row["fired"] else "MISSED"
        lines.append(f"  {row['start']}  {row['key']}: {outcome}")
    for alarm in result["false_alarms"]:
        lines.append(f"  false alarm {alarm['at']}  {alarm['key']} ({alarm['id']})")
    return "\n".join(lines)
