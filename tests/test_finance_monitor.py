"""The monitor end to end on a real store and real sources, with a keyword scorer instead of
a model (the model path is covered by tests/test_finance_model.py)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from core import Suite
from core.cli.app import build_app
from core.explain import words
from core.sources import open_source
from plugins.finance_sentiment.config import MonitorConfig
from plugins.finance_sentiment.job import report_data
from plugins.finance_sentiment.monitor import MemoryLedger, Monitor, build_sinks
from plugins.finance_sentiment.store import FinanceStore

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
BAD_WORDS = ("default", "downgrade", "fraud", "loss")


class KeywordScorer:
    """Negative when a bad word occurs; topic 'credit & default' when 'default' or 'downgrade' does."""

    def predict(self, examples: list[Any]) -> list[dict[str, Any]]:
        out = []
        for ex in examples:
            negative = any(w in ex.text.lower() for w in BAD_WORDS)
            credit = any(w in ex.text.lower() for w in ("default", "downgrade"))
            scores = {"negative": 0.9 if negative else 0.05, "neutral": 0.05 if negative else 0.9, "positive": 0.05}
            out.append({"label": "negative" if negative else "neutral", "score": 0.9, "scores": scores,
                        "topic": "credit & default" if credit else "markets", "topic_score": 0.5})
        return out

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        return [{"word": w.text, "start": w.start, "end": w.end, "weight": 0.5}
                for w in words(example.text) if w.text.lower() in BAD_WORDS]


def feed(path: Path, *, surge: bool = True, extra: list[str] = ()) -> Path:
    lines = []
    for i in range(24 * 12):  # a calm day, one item every five minutes
        text = f"Northwind Bank posted a loss, note {i}" if i % 10 == 0 else f"Northwind Bank shares steady, note {i}"
        lines.append(json.dumps({"id": f"c{i}", "time": (START + timedelta(minutes=5 * i)).isoformat(), "text": text}))
    if surge:
        for i in range(40):
            moment = START + timedelta(hours=24, minutes=i)
            lines.append(json.dumps({"id": f"s{i}", "time": moment.isoformat(), "text": f"Northwind Bank faces default, report {i}"}))
    lines += extra
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CONFIG = {"watchlist": {"Northwind Bank": ["NWB"]}, "sinks": [{"type": "jsonl", "path": "alerts.jsonl"}]}


def monitor(suite: Suite, config: dict[str, Any] | None = None, ledger: Any = None) -> tuple[Monitor, FinanceStore]:
    cfg = MonitorConfig.from_table(config or CONFIG)
    store = FinanceStore(suite.store)
    return Monitor(cfg, KeywordScorer(), ledger or store, build_sinks(suite, cfg)), store


@pytest.fixture
def suite(settings) -> Suite:
    s = Suite.create(settings)
    yield s
    s.close()


def test_items_are_stored_once_and_the_surge_alerts_with_evidence(suite: Suite, tmp_path: Path) -> None:
    path = feed(tmp_path / "feed.jsonl", extra=[
        "{not json", json.dumps({"id": "no-text", "time": START.isoformat()}),
        json.dumps({"id": "c1", "time": START.isoformat(), "text": "same id again"}),
        json.dumps({"id": "copy", "time": (START + timedelta(hours=24, minutes=41)).isoformat(), "text": "Northwind Bank faces default, report 39"}),
    ])
    mon, store = monitor(suite)
    stats = mon.run(open_source(suite, f"file:{path}"))
    counts = store.counts()
    assert counts["items"] == 24 * 12 + 40 + 1  # 'c1' twice is stored once; the copy is stored, flagged
    assert counts["duplicates"] == 1 and stats.duplicates == 1
    assert counts["dead_letters"] == 2
    reasons = " ".join(d["reason"] for d in store.dead_letters())
    assert "invalid JSON" in reasons and "'text'" in reasons
    fired = [a for a in store.list_alerts() if a["key"] == "entity:Northwind Bank"]
    assert len(fired) == 1
    evidence = fired[0]["evidence"]
    assert evidence["negative"] >= 5 and evidence["items"][0]["words"] == ["default"]  # the driving words, not "default,"
    sent = [e for e in stats.events if e.alert_id == fired[0]["id"]]  # the fire, and a raised severity
    assert sent[0].kind == "fire" and fired[0]["deliveries"] == {"delivered": len(sent)}
    delivered = [json.loads(line) for line in Path("alerts.jsonl").read_text().splitlines()]
    mine = [d for d in delivered if d["id"] == fired[0]["id"]]
    assert mine[0]["evidence"]["key"] == "entity:Northwind Bank" and mine[0]["evidence"]["event"] == "fire"

    again, _ = monitor(suite)  # the same feed again: the offset says everything was read
    assert again.run(open_source(suite, f"file:{path}")).read == 0
    assert store.counts()["items"] == counts["items"]


def test_a_rerun_from_scratch_stores_nothing_twice_and_fires_nothing_twice(suite: Suite, tmp_path: Path) -> None:
    path = feed(tmp_path / "feed.jsonl")
    first, store = monitor(suite)
    first.run(open_source(suite, f"file:{path}"))
    alerts = store.list_alerts()
    suite.store.write(lambda s: s.execute(__import__("sqlalchemy").text("DELETE FROM finance_offsets")))
    second, _ = monitor(suite)
    second.warm_up(store)
    stats = second.run(open_source(suite, f"file:{path}"))
    assert stats.stored == 0 and stats.already_stored == 24 * 12 + 40
    assert [a["id"] for a in store.list_alerts()] == [a["id"] for a in alerts]


class FlakyHook(BaseHTTPRequestHandler):
    """Refuses the first ``failures`` requests with 503, then accepts."""

    failures = 0
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.failures > 0:
            cls.failures -= 1
            self.send_response(503)
        else:
            cls.received.append(json.loads(body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_an_alert_a_webhook_refused_is_retried_until_delivered(suite: Suite, tmp_path: Path) -> None:
    FlakyHook.failures, FlakyHook.received = 100, []  # more failures than the sink's own retries
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = {"sinks": [{"type": "webhook", "url": f"http://127.0.0.1:{server.server_port}/hook", "retries": 1,
                             "backoff": 0.01, "secret": "s3cret"}], "watchlist": {"Northwind Bank": []}}
        mon, store = monitor(suite, config)
        stats = mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
        assert stats.undelivered >= 1 and FlakyHook.received == []
        events = len(mon.stats.events)  # fires, raised severities, resolves: one delivery each
        assert sum(a["deliveries"].get("pending", 0) for a in store.list_alerts()) == events  # kept, not lost
        FlakyHook.failures = 0
        mon.deliver_pending(final=True)  # the next round (the monitor retries after each batch)
        assert sum(a["deliveries"].get("delivered", 0) for a in store.list_alerts()) == events == len(FlakyHook.received)
        assert FlakyHook.received[0]["severity"] in ("warning", "high", "critical")
    finally:
        server.shutdown()


def test_backtest_lists_alerts_and_stores_nothing(suite: Suite, tmp_path: Path) -> None:
    ledger = MemoryLedger()
    mon, store = monitor(suite, ledger=ledger)
    stats = mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
    assert any(e.kind == "fire" and e.key == "entity:Northwind Bank" for e in stats.events)
    assert store.counts()["items"] == 0 and store.list_alerts() == []
    data = report_data(ledger.rows, list(ledger.alerts.values()), mon.config, "file:feed", {"dead_letters": 0})
    assert sum(p["negative"] for p in data["series"]["entity:Northwind Bank"]) >= 40


def test_silenced_keys_record_but_do_not_send(suite: Suite, tmp_path: Path) -> None:
    store = FinanceStore(suite.store)
    store.silence("entity:Northwind Bank", datetime.now(timezone.utc) + timedelta(hours=1), "known issue")
    mon, _ = monitor(suite)
    mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
    alert = [a for a in store.list_alerts() if a["key"] == "entity:Northwind Bank"][0]
    assert set(alert["deliveries"]) == {"silenced"}


def test_alerts_cli_lists_acknowledges_and_silences(suite: Suite, settings, tmp_path: Path) -> None:
    mon, store = monitor(suite)
    mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
    app = build_app(suite.pm, settings)
    runner = CliRunner()
    listed = runner.invoke(app, ["finance", "alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    alert_id = json.loads(listed.stdout)[0]["id"]
    acked = runner.invoke(app, ["finance", "alerts", "ack", alert_id[:8], "--by", "risk-desk"])
    assert acked.exit_code == 0 and "risk-desk" in acked.stdout
    assert store.get_alert(alert_id)["acknowledged_by"] == "risk-desk"
    silenced = runner.invoke(app, ["finance", "alerts", "silence", alert_id, "--for", "2h", "--json"])
    assert silenced.exit_code == 0 and json.loads(silenced.stdout)["key"].startswith(("entity:", "topic:"))
    bad = runner.invoke(app, ["finance", "alerts", "silence", alert_id, "--for", "soon"])
    assert bad.exit_code == 2 and "30m, 2h or 1d" in bad.output
    forever = runner.invoke(app, ["finance", "alerts", "silence", alert_id, "--for", "99999999h"])
    assert forever.exit_code == 2 and "at most 3650 days" in forever.output and "Traceback" not in forever.output
    unknown = runner.invoke(app, ["finance", "alerts", "ack", "zzzz"])
    assert unknown.exit_code == 2 and "no alert with id 'zzzz'" in unknown.output
    # the alert-management gaps of #14: a second ack says so, unknown keys are refused, silences are listed and lifted
    again = runner.invoke(app, ["finance", "alerts", "ack", alert_id, "--by", "someone-else"])
    assert again.exit_code == 0 and "already acknowledged by risk-desk" in again.stdout
    assert store.get_alert(alert_id)["acknowledged_by"] == "risk-desk"
    nowhere = runner.invoke(app, ["finance", "alerts", "silence", "entity:Nowhere Bank"])
    assert nowhere.exit_code == 2 and "no topic or entity 'entity:Nowhere Bank'" in nowhere.output
    key = json.loads(silenced.stdout)["key"]
    listed = json.loads(runner.invoke(app, ["finance", "alerts", "silences", "--json"]).stdout)
    assert [row["key"] for row in listed] == [key]
    lifted = runner.invoke(app, ["finance", "alerts", "unsilence", key])
    assert lifted.exit_code == 0 and json.loads(runner.invoke(app, ["finance", "alerts", "silences", "--json"]).stdout) == []
    assert runner.invoke(app, ["finance", "alerts", "unsilence", key]).exit_code == 2
    letters = runner.invoke(app, ["finance", "dead-letters", "--json"])
    assert letters.exit_code == 0 and json.loads(letters.stdout) == []


def test_monitor_over_redis_streams_acknowledges_what_it_stored(suite: Suite, tmp_path: Path) -> None:
    import uuid

    import redis

    from conftest import service_url

    url = service_url("SUITE_TEST_REDIS_URL")
    stream = f"suite-test-finance-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(url)
    try:
        for line in feed(tmp_path / "feed.jsonl").read_text().splitlines():
            client.xadd(stream, {"data": line})
        client.xadd(stream, {"data": "{broken"})
        mon, store = monitor(suite)
        source = open_source(suite, f"{url}#{stream}", group="risk", poll=0.05)
        stats = mon.run(source, idle_timeout=0.5)
        source.close()
        assert stats.stored == 24 * 12 + 40 and store.counts()["dead_letters"] == 1
        assert client.xpending(stream, "risk")["pending"] == 0  # acknowledged after the store
        assert any(a["key"] == "entity:Northwind Bank" for a in store.list_alerts())
    finally:
        client.delete(stream)


def test_backtest_on_a_planted_feed_reports_detections_and_delays(suite: Suite, tmp_path: Path) -> None:
    """Surges planted by `suite finance plant`'s code into a calm three-day feed, replayed
    through the backtest: each is found, its delay is the first alert's, nothing else fires."""
    from plugins.finance_sentiment.backtest import LabelledSurge
    from plugins.finance_sentiment.config import Watchlist
    from plugins.finance_sentiment.job import run_monitor
    from plugins.finance_sentiment.monitor import score
    from plugins.finance_sentiment.plant import PlantPlan, ScoredItem, plant
    from plugins.finance_sentiment.surge import item_keys
    from core import StreamItem

    items = []
    for i in range(3 * 24 * 6):  # every ten minutes, two companies, a tenth of it bad news
        company = ("Northwind Bank", "Contoso Motors")[i % 2]
        text = f"{company} reports a loss, note {i}" if i % 10 == 3 else f"{company} shares steady, note {i}"
        items.append(StreamItem(f"c{i}", START + timedelta(minutes=10 * i), text, "wire"))
    config = MonitorConfig.from_table({"watchlist": {"Northwind Bank": [], "Contoso Motors": []}})
    scored = [ScoredItem(item, p["label"] == "negative", item_keys(p["topic"], entities))
              for item, (p, entities) in zip(items, score(KeywordScorer(), Watchlist(config.watchlist), items))]
    records, truth = plant(scored, PlantPlan(surges=3, keys=("entity:Northwind Bank", "entity:Contoso Motors"),
                                             rate_min=20, rate_max=30, hours=2, seed=5))
    path = tmp_path / "planted.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    surges = [LabelledSurge(s["key"], datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in truth["surges"]]
    summary = run_monitor(suite, config, KeywordScorer(), f"file:{path}", {}, backtest=True, report=None, idle_timeout=None,
                          max_items=None, live=False, truth=surges)
    result = summary["backtest"]
    assert result["detected"] == 3 and result["false_alarms"] == []
    fires = {a["id"]: a for a in summary["alerts"] if a["event"] == "fire"}
    for row, surge in zip(result["surges"], surges):
        fired = fires[row["alert_id"]]
        assert fired["key"] == surge.key and fired["test"]
        assert row["delay_minutes"] == round((datetime.fromisoformat(fired["at"]) - surge.start).total_seconds() / 60, 1)
        assert 0 <= row["delay_minutes"] <= 120  # while it lasts


# -- poison items and implausible times (#15) ----------------------------------------------------------

class PoisonScorer(KeywordScorer):
    """Refuses any batch holding 'POISON', as a tokenizer refuses input it cannot read."""

    def predict(self, examples: list[Any]) -> list[dict[str, Any]]:
        if any("POISON" in ex.text for ex in examples):
            raise TypeError("TextEncodeInput must be Union[TextInputSequence, ...]")
        return super().predict(examples)


def poison_lines() -> list[str]:
    """One record of every kind that once crashed the monitor or silenced it."""
    at = (START + timedelta(hours=3)).isoformat()
    return [
        json.dumps({"id": "future", "time": "2099-01-01T00:00:00+00:00", "text": "Northwind Bank faces default"}),
        json.dumps({"id": "ancient", "time": "1970-01-01T00:00:00+00:00", "text": "Northwind Bank faces default"}),
        json.dumps({"id": "long-id-" + "x" * 300, "time": at, "text": "fine text"}),
        json.dumps({"id": "long-url", "time": at, "text": "fine text", "url": "https://example.com/" + "a" * 2100}),
        json.dumps({"id": "number", "time": at, "text": 42}),
        json.dumps({"id": "only-nul", "time": at, "text": "\u0000\u0001"}),
        json.dumps({"id": "poison", "time": at, "text": "POISON pill"}),
        json.dumps({"id": "nul\u0000id", "time": at, "text": "fine text"}),
    ]


def repairable_lines() -> list[str]:
    """Records with characters no tokenizer or PostgreSQL takes, stored once cleaned."""
    at = (START + timedelta(hours=4)).isoformat()
    return [json.dumps({"id": "surrogate", "time": at, "text": "lost card \ud800 at Northwind Bank"}),
            json.dumps({"id": "nul", "time": at, "text": "Northwind Bank\u0000 shares steady", "source": "wire\u0000"})]


@pytest.fixture(params=["sqlite", "postgresql"])
def any_suite(request: pytest.FixtureRequest, suite_env: Path) -> Suite:
    """The monitor's store on SQLite and, when CI gives one, on PostgreSQL (NUL, lengths)."""
    from core.settings import Settings

    settings = Settings() if request.param == "sqlite" else Settings(database_url=request.getfixturevalue("postgres_url"))
    s = Suite.create(settings)
    yield s
    s.close()


def test_poison_items_are_dead_lettered_and_cost_nothing_else(any_suite: Suite, tmp_path: Path) -> None:
    path = feed(tmp_path / "feed.jsonl", extra=poison_lines() + repairable_lines())
    cfg = MonitorConfig.from_table(CONFIG)
    store = FinanceStore(any_suite.store)
    mon = Monitor(cfg, PoisonScorer(), store, build_sinks(any_suite, cfg))
    stats = mon.run(open_source(any_suite, f"file:{path}"))
    assert stats.read == 24 * 12 + 40 + len(poison_lines()) + len(repairable_lines())
    assert stats.stored + stats.dead_letters == stats.read and stats.dead_letters == len(poison_lines())
    reasons = {d["raw"][:40]: d["reason"] for d in store.dead_letters(limit=50)}
    assert len(reasons) == len(poison_lines())
    assert "the allowed skew ahead of now" in next(r for raw, r in reasons.items() if '"future"' in raw)
    assert "the oldest time accepted" in next(r for raw, r in reasons.items() if '"ancient"' in raw)
    assert "the model could not score it: TypeError" in next(r for raw, r in reasons.items() if '"poison"' in raw)
    assert any("longer than 200" in r for r in reasons.values()) and any("longer than 2000" in r for r in reasons.values())
    assert any("expected text, got int" in r for r in reasons.values())
    with any_suite.store.read() as s:
        rows = dict(s.execute(__import__("sqlalchemy").text("SELECT id, text FROM finance_items WHERE id IN ('surrogate', 'nul')")).all())
    assert rows == {"surrogate": "lost card \ufffd at Northwind Bank", "nul": "Northwind Bank shares steady"}
    assert any(e.kind == "fire" and e.key == "entity:Northwind Bank" for e in stats.events)  # 2099 moved no clock


def test_a_model_that_fails_on_everything_stops_the_monitor(suite: Suite, tmp_path: Path) -> None:
    class Broken(KeywordScorer):
        def predict(self, examples: list[Any]) -> list[dict[str, Any]]:
            raise ValueError("the model is broken, not the items")

    cfg = MonitorConfig.from_table(CONFIG)
    mon = Monitor(cfg, Broken(), FinanceStore(suite.store), build_sinks(suite, cfg))
    with pytest.raises(ValueError, match="broken"):
        mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
    assert FinanceStore(suite.store).counts()["dead_letters"] == 0  # nothing dead-lettered for a systemic failure


def test_fuzz_mixed_feed_stores_or_dead_letters_everything_and_alerts_as_a_clean_run(suite: Suite, tmp_path: Path) -> None:
    """10,000 items, valid ones mixed with every kind of bad one at random: the run finishes,
    stored + dead-lettered = read, and the alerts are those of the valid items alone."""
    import random

    rng = random.Random(15)
    valid, mixed = [], []
    for i in range(7000):
        company = rng.choice(["Northwind Bank", "Contoso Motors"])
        moment = START + timedelta(seconds=30 * i)
        bad_news = rng.random() < (0.7 if 3000 <= i < 3120 and company == "Northwind Bank" else 0.1)
        text = f"{company} {'faces default' if bad_news else 'shares steady'} {i}"
        if rng.random() < 0.05:
            text = text.replace(" ", rng.choice([" \u0000", " \ud800 ", " \u0007"]), 1)  # repaired, then stored
        line = json.dumps({"id": f"v{i}", "time": moment.isoformat(), "text": text, "source": "wire"})
        mixed.append(line)
        valid.append(line)
    bad_makers = [
        lambda i, t: json.dumps({"id": f"b{i}", "time": "2099-01-01T00:00:00Z", "text": "Northwind Bank faces default"}),
        lambda i, t: json.dumps({"id": f"b{i}", "time": "1969-12-31T00:00:00Z", "text": "Northwind Bank faces default"}),
        lambda i, t: json.dumps({"id": f"b{i}" + "x" * 250, "time": t, "text": "Northwind Bank faces default"}),
        lambda i, t: json.dumps({"id": f"b{i}", "time": t, "text": "x", "url": "u" * 2500}),
        lambda i, t: json.dumps({"id": f"b{i}", "time": t, "text": rng.choice([7, 3.5, True, None, "", "\u0000"])}),
        lambda i, t: json.dumps({"id": f"b{i}", "time": t, "text": "POISON Northwind Bank faces default"}),
        lambda i, t: json.dumps({"id": f"b{i}", "time": "not a time", "text": "x"}),
        lambda i, t: "{broken json " + str(i),
        lambda i, t: json.dumps({"time": t, "text": "no id"}),
        lambda i, t: json.dumps([1, 2, 3]),
    ]
    for i in range(3000):
        at = (START + timedelta(seconds=rng.randrange(0, 30 * 7000))).isoformat()
        mixed.insert(rng.randrange(len(mixed) + 1), rng.choice(bad_makers)(i, at))
    runs = {}
    for name, lines in (("mixed", mixed), ("clean", valid)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        run_suite = Suite.create(__import__("core.settings", fromlist=["Settings"]).Settings(home=tmp_path / name))
        cfg = MonitorConfig.from_table(CONFIG)
        store = FinanceStore(run_suite.store)
        stats = Monitor(cfg, PoisonScorer(), store, {}).run(open_source(run_suite, f"file:{path}"))
        runs[name] = (stats, [(e.kind, e.key, e.alert_id, e.at) for e in stats.events])
        counts = store.counts()
        assert stats.read == len(lines) and counts["items"] + counts["dead_letters"] == stats.read
        run_suite.close()
    assert runs["mixed"][0].dead_letters == 3000 and runs["clean"][0].dead_letters == 0
    assert runs["mixed"][1] == runs["clean"][1] and any(kind == "fire" for kind, *_ in runs["mixed"][1])


# -- a kill at every point of a batch (#15) -------------------------------------------------------------

class Killed(BaseException):
    """What a kill -9 does to the monitor at a fault point: nothing after it runs."""


def kill_feed(path: Path) -> Path:
    """Two surges a day apart, so fires, raised severities and resolves fall in many batches."""
    lines = [line for line in feed(path).read_text(encoding="utf-8").splitlines()]
    for i in range(36):
        moment = START + timedelta(hours=40, minutes=2 * i)
        lines.append(json.dumps({"id": f"t{i}", "time": moment.isoformat(), "text": f"Contoso Motors posts a loss, {i}"}))
    for i in range(12 * 12):
        moment = START + timedelta(hours=30, minutes=5 * i)
        lines.append(json.dumps({"id": f"q{i}", "time": moment.isoformat(), "text": f"Contoso Motors shares steady {i}"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_until_done(home: Path, path: Path, fault: Any = None) -> tuple[Suite, FinanceStore]:
    from core.settings import Settings

    s = Suite.create(Settings(home=home))
    cfg = MonitorConfig.from_table({"watchlist": {"Northwind Bank": [], "Contoso Motors": []}, "batch_size": 32,
                                    "sinks": [{"type": "jsonl", "path": str(home / "alerts.jsonl")}]})
    store = FinanceStore(s.store)
    mon = Monitor(cfg, KeywordScorer(), store, build_sinks(s, cfg), fault=fault)
    mon.warm_up(store)
    source = open_source(s, f"file:{path}")
    try:
        mon.run(source)
    finally:
        source.close()
    return s, store


def outcome(home: Path, store: FinanceStore) -> tuple[Any, ...]:
    with store.store.read() as s:
        sent = sorted(tuple(r) for r in s.execute(__import__("sqlalchemy").text(
            "SELECT alert_id, event, sink, status FROM finance_deliveries")).all())
    alerts = sorted((a["id"], a["key"], a["status"], a["severity"]) for a in store.list_alerts(limit=1000))
    lines = (home / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    return alerts, sent, sorted(lines)


def test_a_kill_at_every_point_loses_no_alert_and_sends_none_twice(tmp_path: Path) -> None:
    path = kill_feed(tmp_path / "feed.jsonl")
    points: list[str] = []
    reference_suite, reference = run_until_done(tmp_path / "reference", path, fault=points.append)
    expected = outcome(tmp_path / "reference", reference)
    reference_suite.close()
    assert len(expected[0]) >= 3 and len(expected[2]) == len(expected[1]) >= 6  # fires, updates, resolves, all sent
    killed_at = []
    for number in range(1, len(points) + 1):
        calls = [0]

        def fault(point: str, at: int = number) -> None:
            calls[0] += 1
            if calls[0] == at:
                raise Killed(point)

        home = tmp_path / f"kill-{number}"
        with pytest.raises(Killed) as killed:
            run_until_done(home, path, fault=fault)
        killed_at.append(str(killed.value))
        # the killed process's connections die with it; the restart opens its own
        restarted_suite, restarted = run_until_done(home, path)
        assert outcome(home, restarted) == expected, f"killed at point {number} ({killed.value})"
        restarted_suite.close()
    assert len(killed_at) >= 20 and set(killed_at) >= {"scored", "detected", "committed", "acked", "delivering", "delivered"}


def test_a_rerun_says_why_it_read_nothing_and_offers_a_way_to_read_again(suite: Suite, settings, tmp_path: Path) -> None:
    """#14 item 2: a second replay read 0 items silently; a copy under another name 'stored nothing'."""
    from plugins.finance_sentiment.job import run_monitor

    path = feed(tmp_path / "feed.jsonl")
    cfg = MonitorConfig.from_table(CONFIG)

    def replay(spec: str, **options: Any) -> dict[str, Any]:
        return run_monitor(suite, cfg, KeywordScorer(), spec, {}, backtest=False, report=None, idle_timeout=None,
                           max_items=None, live=False, **options)

    first = replay(f"file:{path}")
    assert first["stored"] == 24 * 12 + 40 and first["warnings"] == []
    again = replay(f"file:{path}")
    assert again["items_read"] == 0 and "--from-start" in again["warnings"][0] and "offsets reset" in again["warnings"][0]
    copy = tmp_path / "copy.jsonl"
    copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    copied = replay(f"file:{copy}")
    assert copied["already_stored"] == 24 * 12 + 40 and "--backtest" in copied["warnings"][0]
    from_start = replay(f"file:{path}", from_start=True)
    assert from_start["items_read"] == 24 * 12 + 40 and from_start["stored"] == 0
    app, runner = build_app(suite.pm, settings), CliRunner()
    listed = json.loads(runner.invoke(app, ["finance", "offsets", "list", "--json"]).stdout)
    assert {row["source_key"] for row in listed} == {f"file:{path}", f"file:{copy}"}
    assert runner.invoke(app, ["finance", "offsets", "reset", f"file:{path}"]).exit_code == 0
    assert replay(f"file:{path}")["items_read"] == 24 * 12 + 40
    assert runner.invoke(app, ["finance", "offsets", "reset", "file:nowhere.jsonl"]).exit_code == 2
    backtest = run_monitor(suite, cfg, KeywordScorer(), f"file:{path}", {}, backtest=True, report=None, idle_timeout=None,
                           max_items=None, live=False)
    from plugins.finance_sentiment.job import render_summary

    assert "a backtest stores nothing" in render_summary(backtest) and " stored," not in render_summary(backtest)


def test_stored_items_are_unlabelled_text_for_a_student(suite: Suite, tmp_path: Path) -> None:
    """suite distill --unlabelled stored: the monitor's items, newest first, each text once."""
    from types import SimpleNamespace

    from core.training.distill import Distillation, Teacher

    mon, _ = monitor(suite)
    mon.run(open_source(suite, f"file:{feed(tmp_path / 'feed.jsonl')}"))
    scenario = suite.scenarios.get("finance-sentiment")
    texts = scenario.stored_texts(suite, 5)
    assert len(texts) == len(set(texts)) == 5
    teacher = Teacher("finance-sentiment v1", tmp_path, SimpleNamespace(head=SimpleNamespace(example_kind="text")),
                      Distillation("finance-sentiment", unlabelled="stored"))
    assert [example.text for example in teacher.unlabelled(suite, scenario)][:5] == texts
