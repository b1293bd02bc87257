"""Surge detection and the watchlist, on hand-made item streams (no model)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from core import ConfigError
from plugins.finance_sentiment.config import MonitorConfig, SurgeConfig, Watchlist
from plugins.finance_sentiment.surge import OpenAlert, Scored, SurgeDetector

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
BUCKET = 900


def stream(hours: float, per_hour: int, negative_share: float, *, start: datetime, key: str = "topic:credit",
           seed: int = 0, prefix: str = "i") -> list[Scored]:
    rng = random.Random(seed)
    step = 3600 / per_hour
    out = []
    for i in range(int(hours * per_hour)):
        negative = rng.random() < negative_share
        out.append(Scored(f"{prefix}{seed}-{i}", start + timedelta(seconds=i * step), f"text {i}", negative,
                          0.9 if negative else 0.1, (key,)))
    return out


def run(detector: SurgeDetector, items: list[Scored]) -> list:
    events = []
    for start in range(0, len(items), 16):  # evaluated per micro-batch, as the monitor does
        for item in items[start : start + 16]:
            detector.add(item)
        events += detector.evaluate()
    return events


def test_a_surge_fires_once_then_resolves_and_cools_down() -> None:
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    calm = stream(24, 20, 0.1, start=START)
    surge = stream(1, 60, 0.8, start=START + timedelta(hours=24), seed=1, prefix="s")
    after = stream(6, 20, 0.1, start=START + timedelta(hours=25), seed=2, prefix="a")
    assert run(detector, calm) == []
    fired = run(detector, surge)
    kinds = [e.kind for e in fired]
    assert kinds[0] == "fire" and kinds.count("fire") == 1  # one open alert, not one per batch
    evidence = fired[0].evidence
    assert evidence["negative"] >= 5 and evidence["share"] > evidence["baseline_share"] * 2
    assert evidence["items"] and all(item["score"] == 0.9 for item in evidence["items"])
    later = run(detector, after)
    assert [e.kind for e in later].count("resolve") == 1
    assert not any(e.kind == "fire" for e in later)


def test_noise_and_small_volumes_do_not_fire() -> None:
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    assert run(detector, stream(72, 30, 0.15, start=START, seed=3)) == []
    tiny = SurgeDetector(SurgeConfig(), BUCKET)
    few = [Scored(f"x{i}", START + timedelta(minutes=i), "t", True, 0.9, ("entity:Tiny",)) for i in range(4)]
    assert run(tiny, few) == []  # four negatives are below min_negative/min_volume


def test_severity_rises_with_the_surprise() -> None:
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    run(detector, stream(24, 20, 0.1, start=START))
    events = run(detector, stream(1, 200, 0.95, start=START + timedelta(hours=24), seed=4, prefix="s"))
    assert events[0].kind == "fire"
    severities = [e.severity for e in events]
    assert "critical" in severities or "high" in severities


def test_a_restored_alert_is_not_fired_again() -> None:
    calm = stream(24, 20, 0.1, start=START)
    surge = stream(1, 60, 0.8, start=START + timedelta(hours=24), seed=1, prefix="s")
    first = SurgeDetector(SurgeConfig(), BUCKET)
    fired = [e for e in run(first, calm + surge) if e.kind == "fire"][0]
    second = SurgeDetector(SurgeConfig(), BUCKET)
    second.restore("topic:credit", OpenAlert(fired.alert_id, fired.at, fired.evidence["score"], fired.severity))
    for item in calm + surge:  # a restart's warm-up: the stored items, then one evaluation
        second.add(item)
    assert not any(e.kind == "fire" for e in second.evaluate())
    assert second.open_alerts()["topic:credit"].id == fired.alert_id


def test_replays_name_alerts_identically() -> None:
    items = stream(24, 20, 0.1, start=START) + stream(1, 60, 0.8, start=START + timedelta(hours=24), seed=1, prefix="s")
    ids = [[e.alert_id for e in run(SurgeDetector(SurgeConfig(), BUCKET), items)] for _ in range(2)]
    assert ids[0] == ids[1] and ids[0]


def test_cusum_catches_a_slow_drift() -> None:
    config = SurgeConfig(method="cusum")
    detector = SurgeDetector(config, BUCKET)
    run(detector, stream(24, 20, 0.1, start=START))
    events = run(detector, stream(4, 20, 0.45, start=START + timedelta(hours=24), seed=5, prefix="d"))
    assert any(e.kind == "fire" for e in events)


def test_memory_is_bounded_by_the_window() -> None:
    detector = SurgeDetector(SurgeConfig(window_buckets=2, baseline_buckets=4), BUCKET)
    run(detector, stream(48, 10, 0.1, start=START))
    assert all(len(state.buckets) <= 7 for state in detector.keys.values())


def test_grouping_links_alerts_on_the_same_items() -> None:
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    base = [Scored(i.id, i.time, i.text, i.negative, i.negative_score, ("topic:credit", "entity:Northwind Bank"))
            for i in stream(24, 20, 0.1, start=START)]
    burst = [Scored(i.id, i.time, i.text, i.negative, i.negative_score, ("topic:credit", "entity:Northwind Bank"))
             for i in stream(1, 60, 0.8, start=START + timedelta(hours=24), seed=1, prefix="s")]
    fired = [e for e in run(detector, base + burst) if e.kind == "fire"]
    assert len(fired) == 2 and fired[0].group is not None and fired[0].group == fired[1].group


def test_hysteresis_must_be_consistent() -> None:
    with pytest.raises(ConfigError, match="resolve_z"):
        MonitorConfig.from_table({"surge": {"fire_z": 2, "resolve_z": 3}})
    with pytest.raises(ConfigError, match="bucket_minutes"):
        MonitorConfig.from_table({"bucket_minutes": 0})


def test_watchlist_matches_names_aliases_and_tickers() -> None:
    watch = Watchlist({"Northwind Bank": ["Northwind", "NWB", "$NWB"], "Contoso Motors": ["Contoso"]})
    assert watch.find("northwind bank shares fell") == ["Northwind Bank"]
    assert watch.find("Selling $NWB and CONTOSO today") == ["Northwind Bank", "Contoso Motors"]
    assert watch.find("the nwb acronym in lower case is not a ticker") == []
    assert watch.find("Northwinds blow") == []
    assert watch.find("nothing here", given=["NWB", "Acme"]) == ["Northwind Bank", "Acme"]
