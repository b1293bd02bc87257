"""Plant labelled surges into a feed, so the detector can be measured on a company's own data.

A planted surge is a burst of negative items about one key (a topic or a watched entity) over
``hours``, at ``rate`` times the key's usual negatives per hour (drawn log-uniformly between
the two rates given), with at least ``min_items`` items: a surge of one item is not something
anyone can call a surge. The items are copies of the feed's own negative items about that key
(as the model scores them, so the measure is about the detector, not the model), marked
"(update N)" as wire copy is; an entity with too few borrows other negative items under its
name. Surges are spread over the feed after its first
``history_hours`` (the detector needs history to have a baseline), one per slot, the keys
alternating between entities and topics. The truth file lists each surge's key, start and end
with the rate and count actually planted.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core import StreamItem, UsageError


@dataclass(frozen=True)
class PlantPlan:
    surges: int = 20
    keys: tuple[str, ...] = ()
    rate_min: float = 3.0
    rate_max: float = 30.0
    hours: float = 2.0
    min_items: int = 5
    history_hours: float = 24.0
    seed: int = 13


@dataclass(frozen=True)
class ScoredItem:
    item: StreamItem
    negative: bool
    keys: tuple[str, ...]


def as_record(item: StreamItem) -> dict[str, Any]:
    record: dict[str, Any] = {"id": item.id, "time": item.time.isoformat(), "text": item.text, "source": item.source}
    if item.url:
        record["url"] = item.url
    if item.entities:
        record["entities"] = list(item.entities)
    return record


def plant(items: list[ScoredItem], plan: PlantPlan) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The feed with the surges in it (records in time order) and the truth file's content."""
    if not items:
        raise UsageError("the feed has no valid items to plant surges into")
    if plan.rate_min < 1 or plan.rate_max < plan.rate_min:
        raise UsageError(f"--rates {plan.rate_min:g}-{plan.rate_max:g}: expected 1 <= MIN <= MAX")
    rng = random.Random(plan.seed)
    first, last = min(i.item.time for i in items), max(i.item.time for i in items)
    feed_hours = (last - first).total_seconds() / 3600
    begin = first + timedelta(hours=plan.history_hours)
    room = (last - begin).total_seconds() / 3600 - plan.hours
    if room <= 0 or plan.surges < 1:
        raise UsageError(f"the feed spans {feed_hours:.1f} h: too short for {plan.history_hours:g} h of history "
                         f"and a {plan.hours:g} h surge")
    negatives: dict[str, list[str]] = defaultdict(list)
    for scored in items:
        if scored.negative:
            for key in scored.keys:
                negatives[key].append(scored.item.text)
    keys = _choose_keys(plan, items, negatives, rng)
    slot = room / plan.surges
    records = [as_record(s.item) for s in items]
    truth = []
    for number in range(plan.surges):
        key = keys[number % len(keys)]
        start = begin + timedelta(hours=number * slot + rng.uniform(0, max(0.0, slot - plan.hours)))
        per_hour = len(negatives.get(key, [])) / max(feed_hours, 1e-9)
        rate = math.exp(rng.uniform(math.log(plan.rate_min), math.log(plan.rate_max)))
        count = max(plan.min_items, round((rate - 1) * per_hour * plan.hours))
        texts = _texts(key, count, negatives, rng)
        for i, text in enumerate(texts):
            moment = start + timedelta(seconds=rng.uniform(0, plan.hours * 3600))
            records.append({"id": f"planted-{number + 1}-{i + 1}", "time": moment.isoformat(), "text": text, "source": "planted"})
        actual = 1 + count / (per_hour * plan.hours) if per_hour else None
        truth.append({"key": key, "start": start.isoformat(), "end": (start + timedelta(hours=plan.hours)).isoformat(),
                      "planted": count, "baseline_negative_per_hour": round(per_hour, 3),
                      "rate": round(actual, 1) if actual else None})
    records.sort(key=lambda r: datetime.fromisoformat(r["time"]))
    return records, {"surges": truth, "seed": plan.seed, "items": len(items), "planted_items": sum(t["planted"] for t in truth),
                     "generated_by": "suite finance plant"}


def _choose_keys(plan: PlantPlan, items: list[ScoredItem], negatives: dict[str, list[str]], rng: random.Random) -> list[str]:
    if plan.keys:
        return list(plan.keys)
    known = {key for s in items for key in s.keys}
    entities = sorted(k for k in known if k.startswith("entity:"))
    topics = sorted(k for k in known if k.startswith("topic:") and len(negatives.get(k, [])) >= 3 and k != "topic:other")
    rng.shuffle(entities)
    rng.shuffle(topics)
    keys = [k for pair in zip(entities, topics) for k in pair]
    keys += entities[len(topics):] + topics[len(entities):]
    if not keys:
        raise UsageError("no key to plant into: no watched entity is mentioned and no topic has 3 negative items (give --key)")
    return keys


def _texts(key: str, count: int, negatives: dict[str, list[str]], rng: random.Random) -> list[str]:
    """``count`` negative texts about ``key``: its own first, then (for an entity) borrowed ones
    under its name. Each copy carries "(update N)": a new item to the monitor's repeat filter
    (a copy of the same text within the hour is syndication, not news), and ``normalise``
    removes the marker before scoring."""
    own = list(dict.fromkeys(negatives.get(key, [])))
    rng.shuffle(own)
    kind, _, name = key.partition(":")
    if kind == "entity" and len(own) < count:
        borrowed = list(dict.fromkeys(t for k, texts in negatives.items() if k.startswith("topic:") for t in texts))
        rng.shuffle(borrowed)
        own += [f"{name}: {text}" for text in borrowed[: count - len(own)]]
    if not own:
        raise UsageError(f"--key {key}: the feed has no negative item about it to copy")
    return [f"{own[i % len(own)]} (update {i + 1})" for i in range(count)]


def read_feed(records: list[Any], source: str) -> list[StreamItem]:
    """The valid items of a feed's raw records (invalid ones are left out of the planted feed)."""
    from core import Malformed, parse_item

    return [p for p in (parse_item(r, source) for r in records) if not isinstance(p, Malformed)]
