"""Measuring the surge detector: truth files, the backtest's scoring, the surge planter, and
what the model sees of a text (no model needed)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core import StreamItem, UsageError
from plugins.finance_sentiment.backtest import LabelledSurge, load_truth, score_backtest
from plugins.finance_sentiment.plant import PlantPlan, ScoredItem, plant
from plugins.finance_sentiment.text import TextProfile, differences, normalise

START = datetime(2026, 11, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("content, message", [
    ("{", "not a JSON file"),
    ('{"surges": {}}', "expected"),
    ('{"surges": [{"key": "Northwind", "start": "2026-11-01T00:00:00+00:00", "end": "2026-11-01T01:00:00+00:00"}]}', "surges[0]: field 'key'"),
    ('{"surges": [{"key": "entity:N", "start": "monday", "end": "2026-11-01T01:00:00+00:00"}]}', "surges[0]: field 'start'"),
    ('{"surges": [{"key": "entity:N", "start": "2026-11-01T00:00:00", "end": "2026-11-01T01:00:00+00:00"}]}', "no time zone"),
    ('[{"key": "entity:N", "start": "2026-11-01T02:00:00+00:00", "end": "2026-11-01T01:00:00+00:00"}]', "field 'end': before 'start'"),
])
def test_a_bad_truth_file_is_one_line_naming_the_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "truth.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("]", r"\]")) as error:
        load_truth(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(UsageError, match="no such file"):
        load_truth(tmp_path / "missing.json")


def test_backtest_scoring_counts_detections_delays_and_false_alarms() -> None:
    surges = [LabelledSurge("entity:A", START + timedelta(hours=30), START + timedelta(hours=32)),
              LabelledSurge("topic:credit", START + timedelta(hours=50), START + timedelta(hours=52))]
    alerts = [
        {"id": "a1", "event": "fire", "key": "entity:A", "at": (START + timedelta(hours=30, minutes=40)).isoformat()},
        {"id": "a1", "event": "resolve", "key": "entity:A", "at": (START + timedelta(hours=34)).isoformat()},
        {"id": "t1", "event": "fire", "key": "topic:credit", "at": (START + timedelta(hours=31)).isoformat()},  # with A's news
        {"id": "x1", "event": "fire", "key": "entity:B", "at": (START + timedelta(hours=10)).isoformat()},  # nothing labelled
        {"id": "t2", "event": "fire", "key": "topic:credit", "at": (START + timedelta(hours=53, minutes=30)).isoformat()},  # too late
    ]
    result = score_backtest(alerts, surges, first=START, last=START + timedelta(days=3), window=timedelta(hours=1))
    assert [r["fired"] for r in result["surges"]] == [True, False]
    assert result["surges"][0]["delay_minutes"] == 40.0 and result["surges"][0]["alert_id"] == "a1"
    assert result["detection_rate"] == 0.5 and result["median_delay_minutes"] == 40.0
    assert [a["id"] for a in result["concurrent_alerts"]] == ["t1"]
    assert [a["id"] for a in result["false_alarms"]] == ["x1", "t2"]
    assert result["feed_days"] == 3.0 and result["false_alarms_per_day"] == 0.67


def scored_feed(days: int = 3, seed: int = 0) -> list[ScoredItem]:
    """Two watched companies and two topics, a fifth of the items negative."""
    rng = random.Random(seed)
    items, moment, number = [], START, 0
    while moment < START + timedelta(days=days):
        moment += timedelta(minutes=rng.expovariate(1 / 6))
        number += 1
        company, topic = rng.choice(["Acme", "Globex"]), rng.choice(["credit", "earnings"])
        negative = rng.random() < 0.2
        text = f"{company} {'slumps' if negative else 'holds'} on {topic} news {number}"
        items.append(ScoredItem(StreamItem(f"n{number}", moment, text, "wire"), negative, (f"topic:{topic}", f"entity:{company}")))
    return items


def test_plant_writes_surges_and_their_truth() -> None:
    items = scored_feed()
    records, truth = plant(items, PlantPlan(surges=4, hours=2, min_items=6, seed=3))
    surges = truth["surges"]
    assert len(surges) == 4 and {s["key"].partition(":")[0] for s in surges} == {"entity", "topic"}
    planted = [r for r in records if r["id"].startswith("planted-")]
    assert len(planted) == truth["planted_items"] == sum(s["planted"] for s in surges)
    assert len(records) == len(items) + len(planted) and len({r["id"] for r in records}) == len(records)
    assert [r["time"] for r in records] == sorted((r["time"] for r in records), key=datetime.fromisoformat)
    for number, surge in enumerate(surges, start=1):
        start, end = datetime.fromisoformat(surge["start"]), datetime.fromisoformat(surge["end"])
        assert start >= START + timedelta(hours=24) and end - start == timedelta(hours=2)
        mine = [r for r in planted if r["id"].startswith(f"planted-{number}-")]
        assert len(mine) == surge["planted"] >= 6 and all(start <= datetime.fromisoformat(r["time"]) <= end for r in mine)
        assert len({r["text"] for r in mine}) == len(mine)  # distinct: the repeat filter counts each
        assert all("slumps" in r["text"] for r in mine)  # copies of negative items
        assert surge["rate"] >= 3 and surge["baseline_negative_per_hour"] > 0
    assert plant(items, PlantPlan(surges=4, seed=3)) == plant(items, PlantPlan(surges=4, seed=3))  # seeded


def test_plant_refuses_what_it_cannot_do() -> None:
    with pytest.raises(UsageError, match="too short"):
        plant(scored_feed(days=1), PlantPlan(history_hours=24))
    with pytest.raises(UsageError, match="--rates"):
        plant(scored_feed(), PlantPlan(rate_min=5, rate_max=2))
    with pytest.raises(UsageError, match="no negative item"):
        plant(scored_feed(), PlantPlan(keys=("topic:weather",)))


def test_normalise_removes_what_carries_no_sentiment() -> None:
    assert normalise("@trader42 Selling $NWB now https://t.co/x1 ...") == "@user Selling $NWB now"
    assert normalise("Harbor Wire: Northwind may default (update 3)") == "Harbor Wire: Northwind may default"
    assert normalise("Profit   fell\n sharply…") == "Profit fell sharply"
    assert normalise("https://only.example.com/link") == "https://only.example.com/link"  # never empty


def test_a_feed_unlike_the_training_texts_is_named() -> None:
    training = TextProfile.of(["Northwind Bank cut its outlook", "Contoso shares rose 5%"] * 10).as_dict()
    alike = TextProfile.of(["Fabrikam won a large contract", "Litware missed estimates"])
    assert differences(alike, training) == []
    tweets = TextProfile.of(["@a $NWB is a DISASTER, selling everything I own today before it drops further https://x.example/1"] * 5)
    notes = differences(tweets, training)
    assert any("longer" in n for n in notes) and any("links" in n for n in notes) and any("$cashtags" in n for n in notes)
    assert differences(tweets, None) == []
