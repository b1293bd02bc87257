"""Writes the demo data of the finance monitor (all text invented here, for fictional firms).

    python -m plugins.finance_sentiment.samples.make_samples [OUT_DIR]

- ``train.csv``: text, label (negative/neutral/positive), topic: short news lines from
  templates, enough to fine-tune the two-headed model in about a minute on a CPU;
- ``feed.jsonl``: two days of news and comments in time order with, on the second day, a
  surge of negative credit news about Northwind Bank; also a few repeated texts under new
  ids, a re-sent id and malformed lines, so the demo shows every path of the monitor;
- ``feed.truth.json``: that surge as a labelled surge, for ``suite finance backtest``.

Deterministic (seeded): the committed files are what this script writes.
"""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

COMPANIES = {
    "Northwind Bank": "NWB", "Contoso Motors": "CTM", "Fabrikam Energy": "FBE",
    "Tailwind Airlines": "TWA", "Litware Pharma": "LWP", "Adatum Retail": "ADT",
}  # fmt: skip

# topic -> sentiment -> templates; {co} company, {pct} a percentage, {q} a quarter, {m} an amount
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "earnings": {
        "positive": ["{co} beat forecasts with {q} profit up {pct}", "{co} raised its full-year guidance after strong {q} sales",
                     "Net income at {co} jumped {pct} in {q}", "{co} reported record revenue of {m} for {q}"],
        "negative": ["{co} missed estimates as {q} profit fell {pct}", "{co} cut its outlook after weak {q} sales",
                     "{co} swung to a loss of {m} in {q}", "Revenue at {co} dropped {pct}, well below expectations"],
        "neutral": ["{co} will publish {q} results on Thursday", "{co} reported {q} revenue of {m}, in line with its plan",
                    "{co} confirmed the date of its {q} earnings call"],
    },
    "m&a": {
        "positive": ["{co} agreed to buy a rival at a premium that lifts its growth outlook", "Shares of {co} rose after it won the takeover battle",
                     "{co} completes a merger expected to save {m} a year"],
        "negative": ["{co} abandoned its acquisition after regulators objected", "The takeover of {co} collapsed, wiping {pct} off its value",
                     "{co} overpaid for its latest purchase, analysts warn"],
        "neutral": ["{co} is in talks to acquire a smaller competitor", "{co} sold a minority stake in its logistics arm for {m}",
                    "{co} hired advisers to review a possible sale of a unit"],
    },
    "markets": {
        "positive": ["{co} shares surged {pct} to an all-time high", "Investors piled into {co} as the stock rallied {pct}"],
        "negative": ["{co} shares slumped {pct} in heavy selling", "{co} stock hit a five-year low after a {pct} drop"],
        "neutral": ["{co} shares were unchanged in early trading", "{co} will be added to the regional stock index next month"],
    },
    "macro & policy": {
        "positive": ["Lower interest rates should lift lending at {co}", "Cooling inflation is good news for {co}, economists say"],
        "negative": ["Higher rates and a slowing economy weigh on {co}", "Rising unemployment threatens demand at {co}"],
        "neutral": ["The central bank left rates unchanged; {co} made no comment", "Inflation data is due on Friday, {co} noted"],
    },
    "regulation & legal": {
        "positive": ["{co} won its court case and the claim was dismissed", "Regulators cleared {co} after a long review"],
        "negative": ["{co} was fined {m} for misleading customers", "Prosecutors opened a fraud investigation into {co}",
                     "{co} faces a class action over hidden fees"],
        "neutral": ["{co} said it is cooperating with the regulator's routine review", "A hearing in the {co} case is set for next month"],
    },
    "credit & default": {
        "positive": ["{co} was upgraded by rating agencies after cutting debt", "{co} refinanced its loans at a lower cost"],
        "negative": ["{co} was downgraded to junk as its debt keeps rising", "{co} may default on a bond payment due next month",
                     "Liquidity worries grow at {co} as depositors withdraw funds", "{co} missed an interest payment, raising default fears",
                     "Analysts warn {co} could breach its loan covenants"],
        "neutral": ["{co} issued {m} of five-year bonds", "{co} extended the maturity of a credit facility"],
    },
    "management": {
        "positive": ["{co} named a highly respected new chief executive", "Investors welcomed the new chair of {co}"],
        "negative": ["The chief executive of {co} resigned abruptly amid a scandal", "{co} lost its finance chief in a sudden departure"],
        "neutral": ["{co} appointed a new board member", "The chief operating officer of {co} will retire next year as planned"],
    },
    "products & operations": {
        "positive": ["{co} won a large contract worth {m}", "{co} opened a new plant ahead of schedule"],
        "negative": ["{co} will cut 2,000 jobs and close a factory", "An outage halted operations at {co} for two days",
                     "{co} recalled thousands of products over safety faults"],
        "neutral": ["{co} launched an updated version of its main product", "{co} moved its headquarters to a new office"],
    },
}
OUTLETS = ["Harbor Wire", "Ledger Daily", "Market Lantern", "Copper Street Journal", "Forum post"]
COMMENTS = {
    "negative": ["Selling all my {tk} today, this is getting ugly", "{tk} is a disaster, stay away",
                 "Worried about my savings at {co}", "Can't believe {co} again, terrible news"],
    "positive": ["Loving my {tk} position, great quarter", "{co} keeps delivering, buying more {tk}"],
    "neutral": ["Anyone holding {tk} through the results?", "What time does {co} report?"],
}


SURGE_AT, SURGE_FOR = timedelta(hours=30), timedelta(minutes=75)


def _fill(template: str, rng: random.Random, company: str) -> str:
    return template.format(co=company, tk="$" + COMPANIES[company], pct=f"{rng.randint(2, 40)}%",
                           q=rng.choice(["the first quarter", "the second quarter", "the third quarter", "Q4"]),
                           m=f"${rng.randint(2, 900)} million")


@dataclass(frozen=True)
class Language:
    """What a demo feed in one language is made of; the English one is below, the Chinese one
    in make_samples_zh.py. Both feeds are drawn by the same code, so they differ only here."""

    companies: Sequence[str]
    templates: dict[str, dict[str, list[str]]]
    comments: dict[str, list[str]]
    outlets: Sequence[str]
    fill: Callable[[str, random.Random, str], str]
    surge_company: str
    surge_topic: str
    surge_line: str  # the surge's headline: {outlet}, {text}, {n} (its update number)
    url: str  # the surge items' links: {n}
    wrap_up: Callable[[random.Random], str] | None = None  # market wrap-ups, a wrap_share of the items
    wrap_share: float = 0.0


def training_rows(rng: random.Random, per_template: int = 6, language: Language | None = None) -> list[dict[str, str]]:
    lang = language or ENGLISH
    rows = []
    for topic, by_sentiment in lang.templates.items():
        for sentiment, templates in by_sentiment.items():
            for template in templates:
                for company in rng.sample(list(lang.companies), per_template):
                    rows.append({"text": lang.fill(template, rng, company), "label": sentiment, "topic": topic})
    rng.shuffle(rows)
    return rows


def feed_items(rng: random.Random, start: datetime, hours: int = 48, surge: bool = True,
               language: Language | None = None) -> list[dict[str, object]]:
    """The demo feed; ``surge=False`` leaves out its surge (a quiet feed to plant measured
    surges into: ``bench/surge.py``)."""
    lang = language or ENGLISH
    items: list[dict[str, object]] = []
    surge_start = start + SURGE_AT
    moment = start
    number = 0
    while moment < start + timedelta(hours=hours):
        moment += timedelta(seconds=rng.expovariate(1 / 120))  # one item every two minutes on average
        number += 1
        company = rng.choice(list(lang.companies))
        draw = rng.random()
        if lang.wrap_up is not None and draw < lang.wrap_share:
            text, source = lang.wrap_up(rng), "newswire"
        elif draw < lang.wrap_share + 0.2:
            sentiment = rng.choices(["negative", "neutral", "positive"], [0.2, 0.5, 0.3])[0]
            text, source = lang.fill(rng.choice(lang.comments[sentiment]), rng, company), "comments"
        else:
            topic = rng.choice(list(lang.templates))
            sentiment = rng.choices(["negative", "neutral", "positive"], [0.15, 0.55, 0.3])[0]
            text, source = lang.fill(rng.choice(lang.templates[topic][sentiment]), rng, company), "newswire"
        items.append({"id": f"n{number:05d}", "time": moment.isoformat(), "text": text, "source": source})
    for minute in range(0, int(SURGE_FOR.total_seconds() // 60) if surge else 0):  # over an hour of bad credit news about one bank
        number += 1
        text = lang.fill(rng.choice(lang.templates[lang.surge_topic]["negative"] + lang.comments["negative"][:3]), rng,
                         lang.surge_company)
        text = lang.surge_line.format(outlet=rng.choice(lang.outlets), text=text, n=minute + 1)
        items.append({"id": f"s{number:05d}", "time": (surge_start + timedelta(minutes=minute, seconds=rng.randint(0, 59))).isoformat(),
                      "text": text, "source": "newswire", "url": lang.url.format(n=number)})
    items.sort(key=lambda item: str(item["time"]))
    for i in rng.sample(range(100, len(items) - 1), 4):  # syndicated copies: same text, new id, minutes later
        copy = dict(items[i], id=f"{items[i]['id']}-syndicated")
        items.insert(i + 1, copy)
    items.insert(500, dict(items[499]))  # the same id sent twice: stored once
    return items


def write_samples(out: Path, rng: random.Random, language: Language, malformed: Sequence[str], suffix: str = "") -> None:
    """train{suffix}.csv, feed{suffix}.jsonl (with malformed lines) and its truth file."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / f"train{suffix}.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["text", "label", "topic"])
        writer.writeheader()
        writer.writerows(training_rows(rng, language=language))
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    lines = [json.dumps(item, ensure_ascii=False) for item in feed_items(rng, start, language=language)]
    for offset, bad in zip((300, 900, 1500), malformed):
        lines.insert(offset, bad)
    (out / f"feed{suffix}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    surge = {"key": f"entity:{language.surge_company}", "start": (start + SURGE_AT).isoformat(),
             "end": (start + SURGE_AT + SURGE_FOR).isoformat()}
    (out / f"feed{suffix}.truth.json").write_text(json.dumps({"surges": [surge]}, indent=2, ensure_ascii=False) + "\n",
                                                  encoding="utf-8")


ENGLISH = Language(list(COMPANIES), TEMPLATES, COMMENTS, OUTLETS, _fill, "Northwind Bank",
                   "credit & default", "{outlet}: {text} (update {n})", "https://news.example.com/{n}")


MALFORMED = [
    '{"id": "bad-1", "time": "2026-11-02T09:00:00+00:00"}',
    '{"id": "bad-2", "time": "yesterday", "text": "A time nobody can parse"}',
    '{"id": "bad-3", "time": "2026-11-02T10:00:00+00:00", "text": "unterminated',
]


def main(out: Path) -> None:
    write_samples(out, random.Random(7), ENGLISH, MALFORMED)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
