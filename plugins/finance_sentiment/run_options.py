"""``suite run finance-monitor``'s shorthand options turned into the monitor's configuration:
``--watchlist`` (a TOML file), ``--window``, ``--threshold``, ``--since``, and the demo's
watchlist when the packaged demo feed is replayed."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import tomlkit

from core import UsageError
from plugins.finance_sentiment.config import MonitorConfig

SAMPLES = Path(__file__).resolve().parent / "samples"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str, option: str) -> timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise UsageError(f"{option} '{text}': expected a duration such as 30m, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _SECONDS[match.group(2)])


def parse_since(text: str) -> datetime:
    """An ISO 8601 time (UTC when it names no zone), or a duration back from now."""
    if _DURATION.match(text.strip()):
        return datetime.now(timezone.utc) - duration(text, "--since")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since '{text}': expected an ISO 8601 time (2026-11-02T06:00:00Z) or a duration (6h, 2d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def load_watchlist(path: Path) -> dict[str, list[str]]:
    """``[[watchlist]]`` tables of ``name`` and ``aliases``; a mistake names the file and entry."""
    try:
        data = tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()
    except FileNotFoundError:
        raise UsageError(f"--watchlist {path}: no such file") from None
    except Exception as exc:  # noqa: BLE001 - tomlkit's parse errors have no common base worth naming
        raise UsageError(f"--watchlist {path}: not TOML ({exc})") from None
    entries = data.get("watchlist")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"--watchlist {path}: expected [[watchlist]] tables with name and aliases")
    watched: dict[str, list[str]] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"--watchlist {path}: [[watchlist]] #{number}"
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"{where}: field 'name': missing or empty")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in aliases):
            raise UsageError(f"{where}: field 'aliases': expected a list of names")
        watched[name.strip()] = [str(a).strip() for a in aliases if str(a).strip()]  # a numeric ticker: its digits
    return watched


def apply_run_options(config: MonitorConfig, *, watchlist: Path | None, window: str | None, threshold: float | None,
                      demo: bool) -> MonitorConfig:
    """``config`` with the run's options on top (a copy: suite.toml is not changed)."""
    changes: dict[str, Any] = {}
    watched = dict(config.watchlist)
    if demo and not watched:  # the demo feed's companies, as its suite.toml watches them
        watched = MonitorConfig.from_table(tomlkit.parse((SAMPLES / "suite.toml").read_text(encoding="utf-8")).unwrap()
                                           ["finance_sentiment"]).watchlist
    if watchlist is not None:
        watched |= load_watchlist(watchlist)
    changes["watchlist"] = watched
    surge = config.surge.model_dump()
    if window is not None:
        buckets = duration(window, "--window") / timedelta(seconds=config.bucket_seconds)
        if buckets < 1 or buckets != int(buckets):
            raise UsageError(f"--window '{window}': expected a whole number of {config.bucket_minutes:g}-minute buckets")
        surge |= {"window_buckets": int(buckets), "long_window_buckets": 2 * int(buckets)}
    if threshold is not None:
        surge |= {"fire_z": threshold, "resolve_z": min(surge["resolve_z"], threshold / 2)}
    return MonitorConfig.from_table(config.model_dump() | changes | {"surge": surge}, origin="suite run finance-monitor options")
