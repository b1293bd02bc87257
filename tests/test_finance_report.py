"""The finance monitor's HTML report: self-contained, escaped, and drawn by a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from plugins.finance_sentiment.report import render_report, write_report

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
        self.text_parts: list[str] = []

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
        return "".join(self.text_parts) + "".join(c.text() for c in self.children)


class TreeBuilder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(page: str) -> Node:
    builder = TreeBuilder()
    builder.feed(page)
    builder.close()
    return builder.root


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def dump_dom(page: Path, profile: Path) -> str:
    browser = find_chromium()
    if browser is None:
        pytest.skip("no Chromium found (chromium, chromium-browser or google-chrome on PATH)")
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
        pytest.skip("no Chromium found (chromium, chromium-browser or google-chrome on PATH)")
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
        assert "negative" in labels and "positive" in labels  # legend
        assert "11-28 12:00" in labels  # first bucket's label on the time axis
        markers = chart.find_all(None, "alert-marker")
        if chart.attrs["data-key"] == "topic:credit":
            assert len(markers) == 1
            x1 = float(markers[0].attrs["x1"])
            assert 58 < x1 < 1100 - 58  # inside the plot, not clamped to an edge
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
