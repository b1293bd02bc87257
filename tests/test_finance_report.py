"""The finance monitor's HTML report: self-contained, escaped, and drawn by a real browser."""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from plugins.finance_sentiment.report import FONT_STACK, SHARE_MIN_ITEMS, render_report, write_report
from browser_pages import NO_CHROMIUM, cjk_font_installed, find_chromium, opened

EVIL = 'Fund says "no default" </script><b>x</b> & \'quoted\' <!-- downgrade'
ENTITY = 'entity:Acme & Sons "Ltd"'
START = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def bucket(hour: int, negative: int, neutral: int, positive: int) -> dict:
    return {
        "t": iso(START + timedelta(hours=hour)),
        "total": negative + neutral + positive,
        "negative": negative,
        "neutral": neutral,
        "positive": positive,
    }


def sample_data() -> dict:
    earnings = [bucket(h, 3 + h % 3, 20 + h % 5, 12 + h % 4) for h in range(24)]
    credit = [bucket(h, 2 + (30 if h >= 18 else 0), 8, 5) for h in range(24)]
    acme = [bucket(h, 1 + h % 2, 4, 3) for h in range(24) if h != 7]  # one bucket left out
    fired = START + timedelta(hours=19, minutes=10)
    return {
        "title": "Finance monitor",
        "generated_at": iso(START + timedelta(hours=24)),
        "source": "file:feed.jsonl",
        "bucket_seconds": 3600,
        "summary": {
            "items": 1200,
            "duplicates": 3,
            "dead_letters": 2,
            "alerts": 1,
            "first_time": iso(START),
            "last_time": iso(START + timedelta(hours=23, minutes=59)),
            "sentiment": {"negative": 300, "neutral": 600, "positive": 300},
        },
        # The alerted key comes last here: the report must put it first.
        "series": {"topic:earnings": earnings, ENTITY: acme, "topic:credit": credit},
        "alerts": [
            {
                "id": "a1b2",
                "key": "topic:credit",
                "severity": "high",
                "status": "firing",
                "acknowledged": False,
                "title": "Negative surge on credit",
                "fired_at": iso(fired),
                "resolved_at": None,
                "evidence": {
                    "window_start": iso(START + timedelta(hours=18)),
                    "window_end": iso(START + timedelta(hours=20)),
                    "negative": 40,
                    "total": 55,
                    "share": 0.727,
                    "baseline_share": 0.18,
                    "baseline_negative": 3.1,
                    "score": 6.2,
                    "items": [
                        {
                            "id": "n17",
                            "time": iso(fired - timedelta(minutes=5)),
                            "text": "Moody's downgrade raises default fears for regional lenders",
                            "score": 0.98,
                            "words": ["default", "downgrade"],
                        },
                        {
                            "id": "n18",
                            "time": iso(fired - timedelta(minutes=2)),
                            "text": EVIL,
                            "score": 0.91,
                            "words": ["default"],
                        },
                    ],
                },
            }
        ],
    }


# ----------------------------------------------------------------------------- DOM helpers


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.content: list[str | Node] = []  # text and child elements, in document order

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        return [
            n
            for n in self.iter()
            if (tag is None or n.tag == tag) and (cls is None or cls in n.classes)
        ]

    def text(self) -> str:
        return "".join(part if isinstance(part, str) else part.text() for part in self.content)


class TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        self.current.content.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        self.current.content.append(node)

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.content.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def dump_dom(page: Path, profile: Path) -> str:
    browser = find_chromium()
    if browser is None:
        pytest.skip(NO_CHROMIUM)
    cmd = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        f"--user-data-dir={profile}",
        "--dump-dom",
        page.resolve().as_uri(),
    ]
    env = dict(os.environ, HOME=str(profile))
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, f"chromium failed ({result.returncode}): {result.stderr[-2000:]}"
    assert "<html" in result.stdout, f"no DOM dumped: {result.stderr[-2000:]}"
    return result.stdout


def assert_self_contained(page: str) -> None:
    external = re.findall(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not external, external
    assert not re.search(r"""url\(\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"@import", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert not re.search(r"<script\b[^>]*\bsrc\s*=", page, re.I)


# ----------------------------------------------------------------------------- tests


def test_report_is_written_atomically_and_self_contained(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    target.write_text("old report")
    returned = write_report(target, sample_data())
    assert returned == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]  # no temp file left
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)

    # The embedded JSON cannot end its script element early, and it round-trips.
    blocks = re.findall(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert len(blocks) == 1
    assert "<" not in blocks[0] and ">" not in blocks[0]
    embedded = json.loads(blocks[0])
    assert embedded["alerts"][0]["evidence"]["items"][1]["text"] == EVIL
    assert embedded["order"] == ["topic:credit", "topic:earnings", ENTITY]
    assert page.count("</script>") == 2  # the data block and the drawing script, nothing else

    # Outside the script: escaped text, no injected element, driving words highlighted.
    tree = parse(page)
    assert all(b.text() != "x" for b in tree.find_all("b"))
    assert "&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;" in page
    marks = [m.text() for m in tree.find_all("mark")]
    assert {"downgrade", "default"} <= {m.lower() for m in marks}
    summary = tree.find_all(None, "cards")[0].text()
    for expected in ("1,200", "Dead letters", "Duplicates", "Alerts", "negative", "25.0%"):
        assert expected in summary
    row = tree.find_all("tr", "alert-row")[0].text()
    for expected in ("high", "topic", "credit", "40 / 55", "72.7%", "18.0%", "0.98", "0.91"):
        assert expected in row


def test_chromium_draws_the_charts(tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip(NO_CHROMIUM)
    data = sample_data()
    page = write_report(tmp_path / "report.html", data)
    dom = parse(dump_dom(page, tmp_path / "chromium-profile"))

    charts = dom.find_all("svg", "trend-chart")
    assert [c.attrs.get("data-key") for c in charts] == ["topic:credit", "topic:earnings", ENTITY]
    for chart in charts:
        negative = chart.find_all("path", "series-negative")
        assert len(negative) == 1, chart.attrs
        points = re.findall(r"-?\d+(?:\.\d+)?,-?\d+(?:\.\d+)?", negative[0].attrs.get("d", ""))
        assert len(points) >= 24 * 2, negative[0].attrs  # the top and bottom edge of the area
        assert all(cls in {p for n in chart.find_all("path") for p in n.classes}
                   for cls in ("series-neutral", "series-positive", "series-share"))
        labels = " ".join(t.text() for t in chart.find_all("text"))
        assert "items per bucket" in labels and "negative share" in labels  # axes
        assert "11-28 12:00" in labels  # first bucket's label on the time axis
        legend = chart.parent.parent.find_all("ul", "legend")[0].text()  # the card's legend, in HTML
        assert "negative" in legend and "positive" in legend and f"≥\u00a0{SHARE_MIN_ITEMS}" in legend
        left, _, width, _ = (float(v) for v in chart.attrs["data-plot"].split(","))
        markers = chart.find_all(None, "alert-marker")
        if chart.attrs["data-key"] == "topic:credit":
            assert len(markers) == 1
            x1 = float(markers[0].attrs["x1"])
            assert left < x1 < left + width  # inside the plot, not clamped to an edge
        else:
            assert markers == []

    # The injected markup stayed text: no <b>x</b> element, the text reads as written.
    assert all(b.text() != "x" for b in dom.find_all("b"))
    items = " ".join(li.text() for li in dom.find_all("li"))
    assert "</script><b>x</b>" in items
    assert len(dom.find_all("tr", "alert-row")) == 1


def test_empty_data_says_so(tmp_path: Path) -> None:
    data = {
        "title": "Finance monitor",
        "generated_at": "2026-11-29T12:00:00+00:00",
        "source": "file:feed.jsonl",
        "bucket_seconds": 3600,
        "summary": {"items": 0, "duplicates": 0, "dead_letters": 0, "alerts": 0,
                    "first_time": None, "last_time": None, "sentiment": {}},
        "series": {},
        "alerts": [],
    }
    page_path = write_report(tmp_path / "empty.html", data)
    page = page_path.read_text(encoding="utf-8")
    assert_self_contained(page)
    tree = parse(page)
    assert tree.find_all(None, "chart-slot") == []
    assert "No data" in tree.find_all("section", "charts")[0].text()
    assert "No alerts" in tree.find_all("section", "evidence")[0].text()

    # Keys without buckets and a bare dict render too, and say so.
    assert "No data" in render_report({"series": {"topic:x": []}})
    assert "No data" in render_report({})

    if find_chromium() is not None:
        dom = parse(dump_dom(page_path, tmp_path / "chromium-profile"))
        assert dom.find_all("svg", "trend-chart") == []
        assert dom.find_all(None, "empty")


# ----------------------------------------------------------------------------- issue 14 item 10
# Each test below failed on the report before the fix: a share line of one-item buckets,
# interpolated empty buckets, each chart its own time axis, repeated headlines, highlighted
# punctuation and stop words, grouped alerts listed twice, a backtest that did not say so, a
# re-run showing "items from – to –", and a page that overflowed a phone's width.


def alert(key: str, items: list[dict], *, hours: tuple[int, int] = (18, 20), severity: str = "high",
          group_id: str | None = None, index: int = 0) -> dict:
    fired = START + timedelta(hours=hours[0], minutes=40)
    return {
        "id": f"al{index}", "key": key, "severity": severity, "status": "firing", "acknowledged": False,
        "title": f"Negative surge on {key}", "fired_at": iso(fired), "resolved_at": None, "group_id": group_id,
        "evidence": {"window_start": iso(START + timedelta(hours=hours[0])), "window_end": iso(START + timedelta(hours=hours[1])),
                     "negative": 30, "total": 40, "share": 0.75, "baseline_share": 0.2, "items": items},
    }


def evidence_item(ident: str, text: str, score: float, words: list[str] | None = None, minute: int = 0) -> dict:
    return {"id": ident, "time": iso(START + timedelta(hours=18, minutes=minute)), "text": text, "score": score,
            "words": words or []}


def rows_of(page: str) -> list[Node]:
    return parse(page).find_all("tr", "alert-row")


def test_near_identical_evidence_is_one_entry_with_its_count() -> None:
    """Issue 14.10 item 4: the same headline ("update 3/6/9", or from another outlet) once, "×n"."""
    headline = "Harbor Wire: Northwind Bank cuts its outlook as loan losses mount"
    items = [
        evidence_item("n3", f"{headline} (update 3)", 0.95, minute=3),
        evidence_item("n6", f"{headline} (update 6)", 0.94, minute=6),
        evidence_item("n9", f"{headline.upper()} (Update 9)", 0.93, minute=9),
        evidence_item("m1", "Market Lantern: Northwind Bank cuts its outlook as loan losses mount!", 0.92, minute=10),
        evidence_item("x1", "Northwind Bank CEO resigns after audit", 0.90, minute=11),
        evidence_item("f1", "Fed: rates unchanged", 0.5),  # short headlines of two sources stay apart
        evidence_item("e1", "ECB: rates unchanged", 0.4),
    ]
    data = sample_data()
    data["alerts"] = [alert("topic:credit", items)]
    entries = rows_of(render_report(data))[0].find_all("li")
    texts = [li.find_all("span", "text")[0].text() for li in entries]
    assert texts == [f"{headline} (update 3)", "Northwind Bank CEO resigns after audit", "Fed: rates unchanged",
                     "ECB: rates unchanged"]
    counts = [" ".join(d.text() for d in li.find_all("span", "dup")) for li in entries]
    assert counts == ["×4", "", "", ""]
    assert "n6" in entries[0].find_all("span", "dup")[0].attrs["title"]  # which items it stands for


def test_highlights_are_words_never_punctuation_or_stop_words() -> None:
    """Issue 14.10 item 5: `(update`, `Wire:`, `at`, `on` were highlighted as they came."""
    text = "Harbor Wire: Northwind downgraded at dawn on weak results, an attack on margins (update 3)"
    chinese = "北风银行下调全年盈利预期，股价大跌的原因（更新3）"
    items = [
        evidence_item("a", text, 0.9, ["(update", "Wire:", "at", "on", "downgrade", "weak,", "—", "The", "3", "s"]),
        evidence_item("b", chinese, 0.8, ["下调", "，", "的", "（更新", "大跌。"]),
    ]
    data = sample_data()
    data["alerts"] = [alert("topic:credit", items)]
    row = rows_of(render_report(data))[0]
    first, second = row.find_all("li")
    assert [m.text() for m in first.find_all("mark")] == ["Wire", "downgraded", "weak"]
    assert [m.text() for m in second.find_all("mark")] == ["下调", "大跌"]
    assert first.find_all("span", "text")[0].text() == text and second.find_all("span", "text")[0].text() == chinese
    assert second.find_all("span", "text")[0].attrs.get("lang") == "zh"


def test_alerts_on_the_same_items_are_one_entry() -> None:
    """Issue 14.10 item 6: a company and its topic firing on the same news are one entry."""
    shared = [evidence_item("n1", "Northwind Bank misses a payment", 0.97, ["misses"]),
              evidence_item("n2", "Northwind Bank depositors withdraw funds", 0.95, ["withdraw"])]
    data = sample_data()
    data["alerts"] = [
        alert("topic:credit", shared, index=0),
        alert("topic:earnings", [evidence_item("e1", "Contoso Motors profit falls", 0.9)], hours=(2, 4), index=1),
        alert(ENTITY, shared[::-1], hours=(18, 19), severity="critical", index=2),  # same items, its own window
        alert("topic:markets", [evidence_item("k1", "Markets slide", 0.8)], hours=(5, 6), group_id="g1", index=3),
        alert("topic:macro", [evidence_item("k2", "Rates jump", 0.7)], hours=(5, 6), group_id="g1", index=4),
    ]
    page = render_report(data)
    rows = rows_of(page)
    assert len(rows) == 3
    assert [r.attrs["data-alerts"] for r in rows] == ["0 2", "1", "3 4"]
    merged = rows[0].text()
    assert "credit" in merged and "Acme & Sons" in merged and "critical" in merged
    assert "2 alerts on the same items" in merged
    assert [li.find_all("span", "text")[0].text() for li in rows[0].find_all("li")] == [
        "Northwind Bank misses a payment", "Northwind Bank depositors withdraw funds"]  # each item once
    windows = [w.text() for w in rows[0].find_all("td", "windows")[0].find_all("div", "member")]
    assert windows == ["2026-11-29 06:00 UTCto 2026-11-29 08:00 UTC", "2026-11-29 06:00 UTCto 2026-11-29 07:00 UTC"]
    assert len(parse(page).find_all(None, "anchor")) == 2  # #alert-2 and #alert-4 still lead to their row
    assert 'id="alert-2"' in page and 'id="alert-4"' in page


def test_a_backtest_says_so() -> None:
    """Issue 14.10 item 7: a replay's report looked like a live one."""
    data = sample_data() | {"mode": "backtest"}
    tree = parse(render_report(data))
    assert "backtest" in tree.find_all("title")[0].text().lower()
    assert "backtest" in tree.find_all("h1")[0].text().lower()
    banner = tree.find_all(None, "mode-banner")[0].text()
    assert "Nothing was stored" in banner and "would have fired" in banner
    live = parse(render_report(sample_data() | {"mode": "live"}))
    assert "backtest" not in live.find_all("h1")[0].text().lower() and not live.find_all(None, "mode-banner")


def test_a_rerun_shows_the_time_range_of_its_items() -> None:
    """Issue 14.10 item 8: a run that read nothing new showed "items from – to –"."""
    def meta(data: dict) -> str:
        return " ".join(parse(render_report(data)).find_all("p", "meta")[0].text().split())

    exact = meta(sample_data())
    assert "items from 2026-11-28 12:00 UTC to 2026-11-29 11:59 UTC" in exact and "no new items" not in exact

    rerun = sample_data()
    rerun["summary"] |= {"first_time": None, "last_time": None}
    counted = meta(rerun)
    assert "–" not in counted.split("generated")[0]
    assert "items in the buckets from 2026-11-28 12:00 UTC to 2026-11-29 12:00 UTC" in counted
    assert "this run counted no new items: the report shows the 1,200 items stored before" in counted
    assert "this run read no new items" in meta(rerun | {"items_read": 0})

    # Items an earlier run stored widen the range beyond this run's own items.
    later = sample_data()
    later["summary"] |= {"first_time": iso(START + timedelta(hours=20, minutes=5))}
    assert "from 2026-11-28 12:00 UTC to 2026-11-29 11:59 UTC" in meta(later)

    nothing = meta({"summary": {"first_time": None, "last_time": None, "items": 0}, "items_read": 0})
    assert "no items" in nothing and "this run read no new items" in nothing


def test_the_page_declares_its_charset_language_and_cjk_fonts() -> None:
    page = render_report(sample_data())
    tree = parse(page)
    assert tree.find_all("meta")[0].attrs == {"charset": "utf-8"}
    assert tree.find_all("html")[0].attrs.get("lang") == "en"
    for family in ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei"):
        assert f'"{family}"' in FONT_STACK
    assert FONT_STACK.endswith("sans-serif")
    assert page.count(FONT_STACK) >= 2  # the page and the charts' text


# ----------------------------------------------------------------------------- in a browser (Playwright)


def chart_selector(key: str) -> str:
    return f"svg.trend-chart[data-key={json.dumps(key, ensure_ascii=False)}]"  # a JSON string is a CSS string


# Where a chart puts things, in its own coordinates (its viewBox is its width in CSS pixels).
CHART_GEOMETRY = """
(svg) => {
  const [left, top, width, height] = svg.getAttribute("data-plot").split(",").map(Number);
  const start = Number(svg.getAttribute("data-start")), end = Number(svg.getAttribute("data-end"));
  return {left, top, width, height, start, end};
}
"""


def test_empty_buckets_are_zero_never_interpolated(browser: Any, tmp_path: Path) -> None:
    """Issue 14.10 item 2: the bucket left out of the ENTITY series (hour 7 of 24, every other
    bucket with negatives) was drawn as the sides of a triangle between its neighbours. Just
    above the zero line the negative area must be empty for exactly one bucket's width."""
    path = write_report(tmp_path / "report.html", sample_data())
    with opened(browser, path, 1280) as page:
        scan = page.locator(chart_selector(ENTITY)).evaluate("""(svg) => {
            const area = svg.querySelector('path.series-negative'), box = area.getBBox();
            const y = box.y + box.height - 1.5, filled = [];
            let from = null;
            for (let x = box.x; x <= box.x + box.width + 0.25; x += 0.25) {
              const inside = area.isPointInFill(new DOMPoint(x, y));
              if (inside && from === null) { from = x; }
              if (!inside && from !== null) { filled.push([from, x]); from = null; }
            }
            return {filled, span: box.width};
        }""")
        filled, span = scan["filled"], scan["span"]
        assert len(filled) == 2, filled  # the buckets before the gap, the buckets after it
        gap = filled[1][0] - filled[0][1]
        assert abs(gap - span / 24) < 1.5, (gap, span / 24)  # one whole bucket of nothing
        assert abs(filled[0][1] - filled[0][0] - 7 * span / 24) < 1.5  # hours 0-6 at full height


def test_share_is_drawn_only_for_buckets_with_enough_items(browser: Any, tmp_path: Path) -> None:
    """Issue 14.10 item 1: one-item buckets made the share line jump between 0 and 100%."""
    data = sample_data()
    # Hours 0-11 and the even hours after: 2 of 8 items negative; the odd hours after 12: one
    # negative item (a "share" of 100% from one item).
    data["series"]["topic:earnings"] = [bucket(h, 1, 0, 0) if h > 12 and h % 2 else bucket(h, 2, 4, 2) for h in range(24)]
    # Isolated buckets with enough items are dots.
    data["series"]["topic:credit"] = [bucket(h, 6, 0, 0) if h in (3, 9) else bucket(h, 1, 1, 0) for h in range(24)]
    path = write_report(tmp_path / "report.html", data)
    with opened(browser, path, 1280) as page:
        earnings = page.locator(chart_selector("topic:earnings"))
        d = earnings.locator("path.series-share").get_attribute("d") or ""
        ys = [float(y) for y in re.findall(r"-?\d+(?:\.\d+)?,(-?\d+(?:\.\d+)?)", d)]
        ys += [float(c.get_attribute("cy") or "nan") for c in earnings.locator("circle.series-share-dot").all()]
        assert len(ys) == 13 + 5 and d.count("M") == 1  # hours 0-12 as a line, 14, 16 … 22 as dots
        g = earnings.evaluate(CHART_GEOMETRY)
        quarter = g["top"] + g["height"] * (1 - 0.25)
        assert all(abs(y - quarter) < 0.2 for y in ys), ys  # every one at 25%, none at 100%
        credit = page.locator(chart_selector("topic:credit"))
        assert credit.locator("path.series-share").get_attribute("d") == ""
        assert credit.locator("circle.series-share-dot").count() == 2
        legend = page.locator("#chart-0 ul.legend").inner_text()
        assert f"≥\u00a0{SHARE_MIN_ITEMS}\u00a0items" in legend


def test_every_chart_shares_one_time_axis(browser: Any, tmp_path: Path) -> None:
    """Issue 14.10 item 3 and 9: each chart had its own ticks; at 1280 px the same timestamp
    sits at the same x in every chart."""
    data = sample_data()
    data["series"]["topic:late"] = [bucket(h, 1, 2, 1) for h in range(14, 24)]  # starts at 14:00
    data["series"]["topic:early"] = [bucket(h, 1, 2, 1) for h in range(0, 5)]  # ends at 05:00
    path = write_report(tmp_path / "report.html", data)
    with opened(browser, path, 1280) as page:
        labels = page.evaluate("""() => [...document.querySelectorAll('svg.trend-chart')].map(svg =>
            [...svg.querySelectorAll('.x-axis text')].map(t => {
              const box = t.getBoundingClientRect();
              return [t.textContent, box.left + box.width / 2];
            }))""")
        assert len(labels) == 5
        first = labels[0]
        assert len(first) >= 4 and first[0][0] == "11-28 12:00"  # the axis starts at the first bucket of any key
        for other in labels[1:]:
            assert [text for text, _ in other] == [text for text, _ in first]
            assert all(abs(x - x0) < 0.5 for (_, x), (_, x0) in zip(other, first))
        ticks = page.evaluate("""() => [...document.querySelectorAll('svg.trend-chart')].map(svg =>
            [...svg.querySelectorAll('.x-axis line.tick')].map(t => Number(t.getAttribute('data-t'))))""")
        assert all(t == ticks[0] for t in ticks) and ticks[0][0] == int(START.timestamp() * 1000)
        # The late key's first bucket starts where 14:00 is in the other charts.
        late = page.locator(chart_selector("topic:late")).evaluate(CHART_GEOMETRY)
        assert late["start"] == int(START.timestamp() * 1000)
        assert late["end"] == int((START + timedelta(hours=24)).timestamp() * 1000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_a_phone_wide_page_does_not_overflow(browser: Any, tmp_path: Path) -> None:
    """Issue 14.10 item 9: at 420 px the page was 738 px wide and the charts unreadable."""
    data = sample_data()
    long_name = "entity:" + "Northwindbankholdingsinternational" * 3
    data["series"][long_name] = data["series"].pop(ENTITY)
    data["source"] = "file:/very/long/path/" + "feeds-" * 30 + "feed.jsonl"
    data["alerts"][0]["evidence"]["items"].append(
        evidence_item("u1", "https://example.com/" + "averyveryverylongpathsegment" * 6, 0.5, ["averyveryverylongpathsegment"]))
    path = write_report(tmp_path / "report.html", data)
    with opened(browser, path, 420) as page:
        assert page.evaluate("document.documentElement.scrollWidth") <= 420
        charts = page.evaluate("""() => [...document.querySelectorAll('svg.trend-chart')].map(svg => {
            const box = svg.getBoundingClientRect(), slot = svg.parentElement.getBoundingClientRect();
            const label = svg.querySelector('.x-axis text').getBoundingClientRect();
            return {right: box.right, slotRight: slot.right, width: box.width,
                    viewWidth: svg.viewBox.baseVal.width, labelHeight: label.height};
        })""")
        assert len(charts) == 3
        for chart in charts:
            assert chart["right"] <= chart["slotRight"] + 0.5 and chart["right"] <= 420
            assert abs(chart["viewWidth"] - chart["width"]) < 1  # drawn at its width: text not scaled down
            assert chart["labelHeight"] >= 10  # 11 px text stays 11 px
        scroll = page.locator(".table-scroll").evaluate(
            "el => ({right: el.getBoundingClientRect().right, inner: el.scrollWidth, outer: el.clientWidth})")
        assert scroll["right"] <= 420 and scroll["inner"] > scroll["outer"]  # the table scrolls in its own box

        # Widened, the charts are drawn again at the new width.
        page.set_viewport_size({"width": 1280, "height": 900})
        page.wait_for_function("document.querySelector('svg.trend-chart').viewBox.baseVal.width > 800")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_chinese_text_renders(browser: Any, tmp_path: Path) -> None:
    """A Chinese feed: its keys and evidence are in the DOM as written, nothing overflows."""
    data = sample_data()
    key = "entity:北风银行"
    text = "北风银行下调全年盈利预期，股价大跌，多家评级机构表示将重新评估其信用状况（更新3）"
    data["series"][key] = data["series"].pop(ENTITY)
    data["alerts"] = [alert(key, [evidence_item("z1", text, 0.97, ["下调", "，", "大跌"]),
                                  evidence_item("z2", text.replace("3", "6"), 0.96, ["下调"])])]
    path = write_report(tmp_path / "report.html", data)
    for width in (420, 1280):
        with opened(browser, path, width) as page:
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            shown = page.locator("#evidence .text").all_inner_texts()
            assert shown == [text]  # the (update 6) copy is the "×2"
            assert page.locator("#evidence mark").all_inner_texts() == ["下调", "大跌"]
            assert page.locator(chart_selector(key)).count() == 1
            assert "北风银行" in page.locator("#charts h3").first.inner_text()
            family = page.locator("#evidence .text").evaluate("el => getComputedStyle(el).fontFamily")
            assert "Noto Sans CJK SC" in family and "Microsoft YaHei" in family
            assert page.locator("#evidence .text").get_attribute("lang") == "zh"


def test_chinese_text_is_drawn_with_a_cjk_font(browser: Any, tmp_path: Path) -> None:
    """The font stack reaches an installed CJK font (Debian: fonts-noto-cjk), so Chinese text is
    glyphs, not boxes. Chromium says which platform font drew a node's text."""
    if not cjk_font_installed():
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    data = sample_data()
    data["alerts"][0]["evidence"]["items"][0]["text"] = "北风银行下调全年盈利预期"
    path = write_report(tmp_path / "report.html", data)
    with opened(browser, path, 1280) as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#evidence .text"})["nodeId"]
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        assert any("CJK" in f["familyName"] or "Han" in f["familyName"] for f in fonts), fonts


def test_highlights_carry_each_words_weight_as_colour_intensity() -> None:
    """Alert evidence keeps the explanation ({word, weight}); the report colours each word by
    its weight against the text's strongest reason, and says so on hover."""
    from plugins.finance_sentiment.report import highlight

    html = highlight("Northwind shares fall after default warning",
                     [{"word": "default", "start": 25, "end": 32, "weight": 0.6},
                      {"word": "fall", "start": 17, "end": 21, "weight": 0.15}, {"word": "after", "weight": 0.5}])
    assert '<mark style="--w:1.00" title="weight 1.00 of the strongest">default</mark>' in html
    assert '<mark style="--w:0.25" title="weight 0.25 of the strongest">fall</mark>' in html
    assert ">after</mark>" not in html and " after " in html  # a stop word is never marked
    assert highlight("plain words", ["words"]).count('--w:1.00') == 1  # bare words (older evidence) weigh 1
