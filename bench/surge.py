"""Surge detection measured on planted surges, and sentiment accuracy by kind of text.

    python -m bench.surge --data ../shared/data/financial_phrasebank
    python -m bench.surge --data ../shared/data/financial_phrasebank --home /tmp/surge-home   # keep the models

Two feeds of several days, each with surges planted by ``suite finance plant``'s code (20 per
planting, rates 3x-30x the key's usual negatives per hour, 2 hours each, at least 5 items,
nothing in the first day) under three seeds:

- ``demo``: seven days of the invented demo news (``make_samples.feed_items`` without its own
  surge), six watched companies, scored by the demo model (trained on ``samples/train.csv``);
- ``phrasebank``: the 4,846 Financial PhraseBank (50Agree) sentences in a seeded random order
  over seven days (read from --data, never copied), its eight most named companies watched
  (names found in front of Oyj/Oy/Plc/Corporation/Group/Bank), scored by a model trained on
  the AllAgree 80% split (seed 13).

Every configuration replays each planted feed through ``suite finance backtest``'s path
(``run_monitor`` in backtest mode, a file source, the same scorer with its predictions cached
by text) and is scored by ``score_backtest``: detected share, median delay, false alarms a day
(alerts outside every planted surge). Then the accuracy of both models on PhraseBank test
sentences, invented headlines and invented tweet-like comments, raw and normalised.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import table
from bench.phrasebank import read, split
from core import StreamItem, TextExample
from core.app import Suite
from core.settings import load_settings
from plugins.finance_sentiment.backtest import LabelledSurge
from plugins.finance_sentiment.config import MonitorConfig, Watchlist
from plugins.finance_sentiment.job import run_monitor
from plugins.finance_sentiment.monitor import score
from plugins.finance_sentiment.plant import PlantPlan, ScoredItem, plant
from plugins.finance_sentiment.samples import make_samples
from plugins.finance_sentiment.surge import item_keys
from plugins.finance_sentiment.text import normalise

START = datetime(2026, 1, 5, tzinfo=timezone.utc)
DAYS = 7
SEEDS = (13, 14, 15)
COMPANY = re.compile(r"\b([A-Z][A-Za-z&-]{2,}) (?:Oyj|Oy|Plc|Corporation|Group|Bank)\b")

# Configurations compared (changes to SurgeConfig's defaults); the first row is the default.
VARIANTS: dict[str, dict[str, Any]] = {
    "default (rate + share)": {},
    "share test only (as before)": {"tests": ["share"], "min_volume": 10, "min_negative": 5, "baseline_buckets": 48,
                                    "fire_z": 4.0, "resolve_z": 2.0, "warmup_hours": 0},
    "rate test only": {"tests": ["rate"]},
    "fire_z 2.5": {"fire_z": 2.5},
    "fire_z 3.5": {"fire_z": 3.5},
    "fire_z 4.0": {"fire_z": 4.0, "resolve_z": 2.0},
    "topic min 10 items / 5 negative": {"min_volume": {"topic": 10}, "min_negative": {"topic": 5}},
    "topic min_negative 4": {"min_negative": {"topic": 4}},
    "entity min_negative 2": {"min_negative": {"entity": 2}},
    "entity min_negative 4": {"min_negative": {"entity": 4}},
    "baseline 12 h": {"baseline_buckets": 48},
    "warmup 6 h": {"warmup_hours": 6},
    "rate prior 1 h": {"rate_prior_hours": 1},
    "rate_min_odds_ratio 1.0": {"rate_min_odds_ratio": 1.0},
    "rate_min_odds_ratio 3.0": {"rate_min_odds_ratio": 3.0},
    "no long window": {"long_window_buckets": 0},
    "share_min_volume 5": {"share_min_volume": 5},
}


RATE_BANDS = {"3-6x": (0, 6), "6-12x": (6, 12), ">=12x": (12, float("inf"))}  # by the rate actually planted


class CachedScorer:
    """The Predictor, each distinct text scored once (the detector is what is measured)."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.cache: dict[str, dict[str, Any]] = {}

    def predict(self, examples: list[Any]) -> list[dict[str, Any]]:
        todo = list(dict.fromkeys(ex.text for ex in examples if ex.text not in self.cache))
        if todo:
            for text, prediction in zip(todo, self.predictor.predict([TextExample(t) for t in todo])):
                self.cache[text] = prediction
        return [self.cache[ex.text] for ex in examples]

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        return []  # evidence words do not change what fires

    @property
    def head(self) -> Any:
        return self.predictor.head


def spread(texts: list[str], seed: int) -> list[StreamItem]:
    """Texts as news items at random moments over DAYS days (Poisson arrivals)."""
    rng = random.Random(seed)
    step = DAYS * 86400 / len(texts)
    moment, items = START, []
    for number, text in enumerate(texts):
        moment += timedelta(seconds=rng.expovariate(1 / step))
        items.append(StreamItem(f"n{number}", moment, text, "newswire"))
    return items


def demo_feed() -> tuple[list[StreamItem], dict[str, list[str]]]:
    rng = random.Random(7)
    records = make_samples.feed_items(rng, START, hours=DAYS * 24, surge=False)
    items = [StreamItem(str(r["id"]), datetime.fromisoformat(str(r["time"])), str(r["text"]), str(r["source"])) for r in records]
    watchlist = {name: [name.split()[0], ticker, f"${ticker}"] for name, ticker in make_samples.COMPANIES.items()}
    return items, watchlist


def phrasebank_feed(data: Path) -> tuple[list[StreamItem], dict[str, list[str]]]:
    """The sentences over DAYS days; watched: the eight most mentioned names that stand before a
    company suffix in at least 5% of their mentions and never occur in lower case."""
    sentences = [text for text, _ in read(data / "Sentences_50Agree.txt")]
    random.Random(13).shuffle(sentences)
    suffixed = Counter(match for s in sentences for match in COMPANY.findall(s))
    lower = {word for s in sentences for word in s.split() if word.islower()}
    mentions = {name: sum(bool(re.search(rf"\b{re.escape(name)}\b", s)) for s in sentences)
                for name in suffixed if name.lower() not in lower}
    names = [n for n in mentions if suffixed[n] >= 0.05 * mentions[n]]
    watched = sorted(names, key=lambda n: -mentions[n])[:8]
    return spread(sentences, 13), {name: [] for name in watched}


def train(suite: Suite, name: str, rows: dict[str, list[tuple[str, str, str]]], epochs: float) -> None:
    """Train ``name`` unless the home already has it."""
    if any(m.name == name for m in suite.store.list_models()):
        return
    from plugins.finance_sentiment.scenarios import FINANCE_DEFAULTS

    files = {}
    for part, part_rows in rows.items():
        path = Path(suite.settings.home) / f"{name}-{part}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label", "topic"])
            writer.writerows(part_rows)
        files[part] = str(path)
    scenario = suite.scenarios.get("finance-sentiment")
    scenario.train(suite, train=files["train"], eval=files.get("val"), name=name,
                   training=replace(FINANCE_DEFAULTS, epochs=epochs))


def backtest(suite: Suite, scorer: CachedScorer, records: list[dict[str, Any]], truth: dict[str, Any],
             config: MonitorConfig, folder: Path) -> dict[str, Any]:
    path = folder / "planted.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    surges = [LabelledSurge(s["key"], datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in truth["surges"]]
    summary = run_monitor(suite, config, scorer, f"file:{path}", {}, backtest=True, report=None, idle_timeout=None,
                          max_items=None, live=False, truth=surges)
    return summary["backtest"]


def measure_detector(suite: Suite, feeds: dict[str, tuple[list[StreamItem], dict[str, list[str]], CachedScorer]],
                     folder: Path) -> list[dict[str, Any]]:
    plantings = {}
    for feed, (items, watchlist, scorer) in feeds.items():
        marked = [ScoredItem(item, p["label"] == "negative", item_keys(p.get("topic", "other"), entities))
                  for item, (p, entities) in zip(items, score(scorer, Watchlist(watchlist), items))]
        for seed in SEEDS:
            plantings[(feed, seed)] = plant(marked, PlantPlan(seed=seed))
    rows = []
    for variant, change in VARIANTS.items():
        for feed, (items, watchlist, scorer) in feeds.items():
            config = MonitorConfig.from_table({"watchlist": watchlist, "surge": change})
            results = [backtest(suite, scorer, *plantings[(feed, seed)], config, folder) for seed in SEEDS]
            delays = [r["delay_minutes"] for result in results for r in result["surges"] if r["fired"]]
            labelled = sum(r["labelled"] for r in results)
            detected = sum(r["detected"] for r in results)
            days = sum(r["feed_days"] for r in results)
            false = sum(len(r["false_alarms"]) for r in results)
            row = {"config": variant, "feed": feed, "surges": labelled, "detected": round(detected / labelled, 3),
                   "median delay min": statistics.median(delays) if delays else None,
                   "false alarms/day": round(false / days, 2)}
            for kind in ("entity", "topic"):
                mine = [r for result in results for r in result["surges"] if r["key"].startswith(kind)]
                row[f"{kind} detected"] = f"{sum(r['fired'] for r in mine)}/{len(mine)}"
            rates = {(s["key"], s["start"]): s["rate"] or 1e9 for seed in SEEDS for s in plantings[(feed, seed)][1]["surges"]}
            for band, (low, high) in RATE_BANDS.items():
                mine = [r for result in results for r in result["surges"] if low <= rates[(r["key"], r["start"])] < high]
                row[band] = f"{sum(r['fired'] for r in mine)}/{len(mine)}"
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def labelled_styles(seed: int, n: int = 300) -> dict[str, list[tuple[str, str]]]:
    """Invented headlines and tweet-like comments with their sentiment; tweets carry handles,
    links and trailing ellipses, the things ``normalise`` removes."""
    rng = random.Random(seed)
    companies = list(make_samples.COMPANIES)
    headlines, tweets = [], []
    for _ in range(n):
        topic = rng.choice(list(make_samples.TEMPLATES))
        label = rng.choice(["negative", "neutral", "positive"])
        text = make_samples._fill(rng.choice(make_samples.TEMPLATES[topic][label]), rng, rng.choice(companies))
        headlines.append((f"{rng.choice(make_samples.OUTLETS)}: {text}", label))
        label = rng.choice(["negative", "neutral", "positive"])
        text = make_samples._fill(rng.choice(make_samples.COMMENTS[label]), rng, rng.choice(companies))
        extras = [f"@{rng.choice(['trader', 'mkt_watch', 'jo_invests'])}{rng.randint(1, 99)} {text}",
                  f"{text} https://t.example.com/{rng.randint(1000, 9999)}", f"{text}..."]
        tweets.append((rng.choice(extras), label))
    return {"headlines (invented)": headlines, "tweets (invented)": tweets}


def measure_sentiment(models: dict[str, Any], sets: dict[str, list[tuple[str, str]]]) -> list[dict[str, Any]]:
    rows = []
    for model, predictor in models.items():
        for kind, examples in sets.items():
            row: dict[str, Any] = {"model": model, "texts": kind, "n": len(examples)}
            for mode, prepare in (("raw", lambda t: t), ("normalised", normalise)):
                predictions = predictor.predict([TextExample(prepare(text)) for text, _ in examples])
                row[f"accuracy {mode}"] = round(sum(p["label"] == gold for p, (_, gold) in zip(predictions, examples)) / len(examples), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financial_phrasebank"))
    parser.add_argument("--home", type=Path, default=None, help="Suite home to keep (and reuse) the trained models in.")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/surge.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    home = args.home or Path(tempfile.mkdtemp(prefix="suite-surge-"))
    home.mkdir(parents=True, exist_ok=True)
    suite = Suite.create(load_settings(home=home))
    demo_rows = [(r["text"], r["label"], r["topic"]) for r in make_samples.training_rows(random.Random(7))]
    train(suite, "demo-finance", {"train": demo_rows}, args.epochs)
    parts = split(read(args.data / "Sentences_AllAgree.txt"))
    train(suite, "phrasebank-finance", {part: [(t, label, "") for t, label in parts[part]] for part in ("train", "val")}, args.epochs)
    scenario = suite.scenarios.get("finance-sentiment")
    models = {name: scenario.predictor(suite, name) for name in ("demo-finance", "phrasebank-finance")}
    demo_items, demo_watch = demo_feed()
    pb_items, pb_watch = phrasebank_feed(args.data)
    print(f"feeds: demo {len(demo_items)} items, phrasebank {len(pb_items)} items (watching {', '.join(pb_watch)})", flush=True)
    feeds = {"demo": (demo_items, demo_watch, CachedScorer(models["demo-finance"])),
             "phrasebank": (pb_items, pb_watch, CachedScorer(models["phrasebank-finance"]))}
    with tempfile.TemporaryDirectory() as folder:
        detector_rows = measure_detector(suite, feeds, Path(folder))
    sets = {"PhraseBank AllAgree test": parts["test"], **labelled_styles(21)}
    sentiment_rows = measure_sentiment(models, sets)
    suite.close()
    print(table(detector_rows, ["config", "feed", "surges", "detected", "entity detected", "topic detected", *RATE_BANDS,
                                "median delay min", "false alarms/day"]))
    print(table(sentiment_rows, ["model", "texts", "n", "accuracy raw", "accuracy normalised"]))
    print(f"total {time.perf_counter() - started:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"detector": detector_rows, "sentiment": sentiment_rows}, indent=2))


if __name__ == "__main__":
    main()
