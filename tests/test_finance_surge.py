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
    assert run(tiny, few) == []  # no history yet: nothing to be surprised against
    known = SurgeDetector(SurgeConfig(), BUCKET)
    run(known, stream(24, 2, 0.2, start=START, key="entity:Tiny", seed=6))
    two = [Scored(f"y{i}", START + timedelta(hours=24, minutes=i), "t", True, 0.9, ("entity:Tiny",)) for i in range(2)]
    assert run(known, two) == []  # two negatives are below the entity's min_negative


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
    detector = SurgeDetector(SurgeConfig(window_buckets=2, long_window_buckets=4, baseline_buckets=4), BUCKET)
    run(detector, stream(48, 10, 0.1, start=START))
    assert all(len(state.buckets) <= 9 for state in detector.keys.values())  # window, guard, baseline, the open bucket


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


def mentions(start: datetime, hours: float, every_minutes: float, negative_every: int, *, key: str, prefix: str,
             jitter_seed: int = 0) -> list[Scored]:
    """A key mentioned every ``every_minutes`` (jittered), every ``negative_every``-th mention negative."""
    rng = random.Random(jitter_seed)
    out, moment, i = [], start, 0
    while moment < start + timedelta(hours=hours):
        negative = i % negative_every == 0
        out.append(Scored(f"{prefix}{i}", moment, f"{prefix} {i}", negative, 0.9 if negative else 0.1, (key,)))
        moment += timedelta(minutes=every_minutes * rng.uniform(0.5, 1.5))
        i += 1
    return out


def test_a_low_volume_company_fires_on_a_burst_of_bad_news_within_the_hour() -> None:
    """The issue's case: mentioned every two hours, a fifth negative; then 36 mentions in three
    hours, 16 negative (8 in the peak hour). The share (0.44 vs 0.2) alone never fired."""
    key = "entity:Northwind Bank"
    calm = mentions(START, 96, 120, 5, key=key, prefix="c")
    burst_start = START + timedelta(hours=96)
    negatives = [3, 8, 5]  # per hour
    burst = []
    for hour, bad in enumerate(negatives):
        for i in range(12):
            moment = burst_start + timedelta(hours=hour, minutes=5 * i)
            burst.append(Scored(f"b{hour}-{i}", moment, f"burst {hour} {i}", i < bad, 0.9 if i < bad else 0.1, (key,)))
    burst.sort(key=lambda s: s.time)
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    assert run(detector, calm) == []
    fired = [e for e in run(detector, burst) if e.kind == "fire"]
    assert len(fired) == 1
    assert fired[0].at - burst_start <= timedelta(hours=2)  # the peak hour: the first hour has 3 negatives
    assert "rate" in fired[0].evidence["test"].split("+")
    assert fired[0].evidence["expected_negative"] < 1
    assert "expected" in fired[0].title
    share_only = SurgeDetector(SurgeConfig(tests=["share"]), BUCKET)
    run(share_only, calm)
    assert not [e for e in run(share_only, burst) if e.kind == "fire"]  # what the monitor did before


def test_a_change_of_tone_at_the_usual_volume_fires_on_the_share() -> None:
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    assert run(detector, stream(48, 20, 0.1, start=START)) == []
    fired = [e for e in run(detector, stream(3, 20, 0.6, start=START + timedelta(hours=48), seed=8, prefix="t"))
             if e.kind == "fire"]
    assert len(fired) == 1 and "share" in fired[0].evidence["test"].split("+")


@pytest.mark.parametrize("share", [0.15, 0.05], ids=["same-share", "same-negative-rate"])
def test_more_volume_with_the_usual_negatives_does_not_fire(share: float) -> None:
    """Three times the news: at the usual mix (an earnings day), or with the usual negatives per
    hour among it. Neither is a negative surge."""
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    assert run(detector, stream(48, 20, 0.15, start=START, seed=9)) == []
    busy = stream(6, 60, share, start=START + timedelta(hours=48), seed=10, prefix="v")
    assert not [e for e in run(detector, busy) if e.kind == "fire"]


def test_what_fires_does_not_depend_on_the_batch_size() -> None:
    items = stream(24, 20, 0.1, start=START) + stream(2, 40, 0.7, start=START + timedelta(hours=24), seed=1, prefix="s")
    outcomes = []
    for size in (1, 16, 128, len(items)):
        detector = SurgeDetector(SurgeConfig(), BUCKET)
        events = [e for start in range(0, len(items), size) for e in detector.process(items[start : start + size])]
        outcomes.append([(e.kind, e.alert_id, e.at, e.severity) for e in events + detector.evaluate()])
    assert outcomes[0] and all(outcome == outcomes[0] for outcome in outcomes)


def test_minimums_per_key_kind() -> None:
    config = MonitorConfig.from_table({"surge": {"min_volume": 7, "min_negative": {"entity": 2}}}).surge
    assert config.min_volume == {"topic": 7, "entity": 7}
    assert config.min_negative == {"topic": 3, "entity": 2}
    assert config.minimum(config.min_negative, "entity:Acme") == 2
    with pytest.raises(ConfigError, match="unknown key kind"):
        MonitorConfig.from_table({"surge": {"min_volume": {"sector": 3}}})


def test_the_readme_configuration_is_valid_and_states_the_defaults() -> None:
    """The README's suite.toml example loads, and its surge table shows the real defaults."""
    from pathlib import Path

    import tomlkit

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    block = next(b for b in readme.split("```toml")[1:] if "[finance_sentiment.surge]" in b).split("```")[0]
    table = tomlkit.parse(block).unwrap()["finance_sentiment"]
    config = MonitorConfig.from_table(table)
    defaults = SurgeConfig()
    for name, value in table["surge"].items():
        assert getattr(defaults, name) == getattr(config.surge, name), f"README shows {name} = {value}, the default differs"


def test_one_far_future_item_does_not_move_the_clock() -> None:
    """An item from 2099 at the front of a feed: the surge still fires; a feed that resumes
    after a long gap (two items agree) still moves the clock."""
    calm = stream(24, 20, 0.1, start=START)
    surge = stream(1, 60, 0.8, start=START + timedelta(hours=24), seed=1, prefix="s")
    stray = Scored("stray", datetime(2099, 1, 1, tzinfo=timezone.utc), "t", True, 0.9, ("topic:credit",))
    detector = SurgeDetector(SurgeConfig(), BUCKET)
    events = detector.process([calm[0], stray]) + detector.process(calm[1:] + surge)
    assert [e.kind for e in events].count("fire") == 1 and detector.watermark < START + timedelta(days=2)
    assert detector.held == [stray]
    later = stream(2, 20, 0.1, start=START + timedelta(days=10), seed=2, prefix="l")
    detector.process(later)
    assert detector.watermark >= START + timedelta(days=10) and detector.held == [stray]


def test_the_tail_probabilities_are_scipy_stats_own() -> None:
    """The detector computes its two tails without scipy.stats' per-call overhead; they must be
    the distributions' own values (the beta-binomial's bit for bit, the negative binomial's to
    the last bit of a float)."""
    import math

    import numpy as np
    from scipy.stats import betabinom, nbinom

    from plugins.finance_sentiment.surge import _betabinom_logsf, _nbinom_logsf

    rng = random.Random(7)
    for _ in range(2000):
        n = rng.randint(1, 300)
        k, a, b = rng.randint(-1, n), rng.uniform(0.01, 500), rng.uniform(0.01, 500)
        with np.errstate(all="ignore"):
            expected = float(betabinom.logsf(k, n, a, b))
        got = _betabinom_logsf(k, n, a, b)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
        k, size, mu = rng.randint(-1, 400), rng.uniform(0.05, 5000), rng.uniform(0.01, 300)
        with np.errstate(all="ignore"):
            expected = float(nbinom.logsf(k, size, size / (size + mu)))
        assert _nbinom_logsf(k, size, size / (size + mu)) == pytest.approx(expected, rel=1e-12, abs=1e-300)
