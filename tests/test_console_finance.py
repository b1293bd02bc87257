"""The console's Finance page (/ui/finance) and the /v1/finance JSON API, in-process
(FastAPI's TestClient) on a SQLite store in the test's home. No model: alerts and items are
written through FinanceStore as the monitor writes them, with invented English texts."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.app import Suite
from core.serving import create_app
from core.settings import Settings
from plugins.finance_sentiment.store import AlertEvent, FinanceStore

NOW = datetime.now(timezone.utc).replace(microsecond=0)
WATCHLIST = {"Northwind Bank": ["NWB"], "Contoso Motors": ["CTM"], "Fabrikam Energy": ["FBE"]}
RUN_HINT = "suite run finance-monitor --source file:feed.jsonl"


# ----------------------------------------------------------------------------- data


def evidence(name: str, fired: datetime, *, negative: int = 12, total: int = 20) -> dict[str, Any]:
    return {
        "window_start": (fired - timedelta(hours=1)).isoformat(), "window_end": fired.isoformat(), "test": "rate",
        "negative": negative, "total": total, "share": round(negative / total, 4), "baseline_share": 0.15,
        "baseline_negative": 3.0, "rate_negative": negative, "rate_window_hours": 1.0, "expected_negative": 0.4,
        "score": 6.3, "method": "binomial",
        "items": [
            {"id": f"{name}-1", "time": (fired - timedelta(minutes=5)).isoformat(), "score": 0.97,
             "text": f"{name} faces default fears after a fraud probe",
             "words": ["default", "fraud"],
             "explanation": [{"word": "default", "weight": 0.8}, {"word": "fraud", "weight": 0.4}]},
            {"id": f"{name}-2", "time": (fired - timedelta(minutes=9)).isoformat(), "score": 0.91,
             "text": f"<script>alert(1)</script> {name} warns of a loss",
             "explanation": [{"word": "loss", "weight": 0.6}]},
        ],
    }


def add_alert(store: FinanceStore, alert_id: str, key: str, *, severity: str = "high", status: str = "firing",
              fired: datetime = NOW - timedelta(hours=2), title: str | None = None) -> dict[str, Any]:
    """An alert as the monitor records one (commit_batch with its fire event)."""
    kind, _, name = key.partition(":")
    alert = {"id": alert_id, "key": key, "severity": severity, "status": "firing", "group_id": None,
             "title": title or f"Negative surge on {kind} '{name}': 12 of 20 items negative", "fired_at": fired,
             "evidence": evidence(name, fired)}
    store.commit_batch("test", None, [], [], [AlertEvent(alert, "fire", (), {})])
    if status == "resolved":
        resolved = {"id": alert_id, "key": key, "severity": severity, "status": "resolved", "group_id": None,
                    "resolved_at": fired + timedelta(hours=1)}
        store.commit_batch("test", None, [], [], [AlertEvent(resolved, "resolve", (), {})])
    return alert


def item(item_id: str, moment: datetime, text: str, *, topic: str = "markets", entities: tuple[str, ...] = (),
         negative: bool = False, duplicate_of: str | None = None) -> dict[str, Any]:
    return {"id": item_id, "time": moment, "source": "test", "text": text, "url": None, "entities": list(entities),
            "sentiment": "negative" if negative else "neutral", "sentiment_score": 0.9,
            "negative_score": 0.9 if negative else 0.05, "topic": topic, "topic_score": 0.6, "duplicate_of": duplicate_of}


# ----------------------------------------------------------------------------- app, keys, sign-in


@pytest.fixture(params=["sqlite"])
def suite(request: pytest.FixtureRequest, suite_env) -> Iterator[Suite]:
    """The suite on SQLite; tests marked ``on_both`` run on PostgreSQL too when CI gives one."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    s = Suite.create(Settings(home=suite_env, database_url=url, finance_sentiment={"watchlist": WATCHLIST}))
    yield s
    s.close()


on_both = pytest.mark.parametrize("suite", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def finance(suite: Suite) -> FinanceStore:
    return FinanceStore(suite.store)


@pytest.fixture
def app(suite: Suite) -> Any:
    return create_app(suite, poll_interval_s=0)


def sign_in(app: Any, suite: Suite, role: str) -> TestClient:
    _, secret = suite.store.create_api_key(f"{role}-person", role)
    client = TestClient(app)
    answer = client.post("/ui/login", data={"key": secret, "next": "/ui/finance/"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/finance/"
    return client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def titles(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<a id="title-[^"]+" href="/ui/finance/alerts/[^"]+"[^>]*>([^<]+)</a>', html)]


@pytest.fixture
def stocked(finance: FinanceStore) -> dict[str, dict[str, Any]]:
    """Three alerts: Northwind open (high), the credit topic resolved (warning), Contoso 12 days ago (critical)."""
    return {
        "northwind": add_alert(finance, "a1northwind", "entity:Northwind Bank", severity="high"),
        "credit": add_alert(finance, "a2credit", "topic:credit & default", severity="warning", status="resolved",
                            fired=NOW - timedelta(hours=5)),
        "contoso": add_alert(finance, "a3contoso", "entity:Contoso Motors", severity="critical", status="resolved",
                             fired=NOW - timedelta(days=12)),
    }


# ----------------------------------------------------------------------------- the page


@on_both
def test_page_lists_alerts_and_the_filters_narrow_them(app: Any, suite: Suite, stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "viewer")
    page = client.get("/ui/finance/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    shown = titles(page.text)
    assert shown == [stocked["northwind"]["title"], stocked["credit"]["title"]]  # open first; Contoso is 12 days old
    for control in ("f-company", "f-topic", "f-severity", "f-status", "f-period", "f-until", "f-measure"):
        assert f'<label for="{control}">' in page.text and f'id="{control}"' in page.text
    assert '<option value="Fabrikam Energy">' in page.text  # the watchlist, before any alert on it
    assert 'class="table-wrap" role="region" aria-label="Alerts table" tabindex="0"' in page.text

    def listed(**query: str) -> list[str]:
        answer = client.get("/ui/finance/", params=query)
        assert answer.status_code == 200
        return titles(answer.text)

    assert listed(company="Northwind Bank") == [stocked["northwind"]["title"]]
    assert listed(topic="credit & default") == [stocked["credit"]["title"]]
    assert listed(company="Northwind Bank", topic="credit & default") == shown  # either key
    assert listed(severity="warning") == [stocked["credit"]["title"]]
    assert listed(status="resolved") == [stocked["credit"]["title"]]
    assert listed(status="firing") == [stocked["northwind"]["title"]]
    assert listed(period="30d")[-1] == stocked["contoso"]["title"]
    assert listed(period="6h", status="resolved") == [stocked["credit"]["title"]]
    # an end in the past: the alerts fired in the period before it, open or not
    before = (NOW - timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    assert listed(until=before) == [stocked["contoso"]["title"]]
    refused = client.get("/ui/finance/", params={"until": "soon"})  # the error page says how to write it
    assert refused.status_code == 422 and "YYYY-MM-DDTHH:MM" in refused.text
    assert "No alerts match these filters" in client.get("/ui/finance/", params={"company": "Fabrikam Energy"}).text


def test_the_live_fragment_brings_a_new_alert_without_a_reload(app: Any, suite: Suite, finance: FinanceStore,
                                                               stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "viewer")
    page = client.get("/ui/finance/", params={"company": "Northwind Bank"}).text
    live = re.search(r'data-live="([^"]+)" data-interval="(\d+)"', page)
    assert live and live.group(2) == "1000"
    url = live.group(1).replace("&amp;", "&")
    assert url == "/ui/finance/rows?company=Northwind+Bank"
    before = client.get(url)
    assert before.status_code == 200 and "<html" not in before.text and "<tr" in before.text
    assert titles(before.text) == [stocked["northwind"]["title"]]
    fresh = add_alert(finance, "a4fresh", "entity:Northwind Bank", severity="critical", fired=NOW - timedelta(minutes=1),
                      title="Negative surge on entity 'Northwind Bank': a fresh one")
    add_alert(finance, "a5other", "entity:Fabrikam Energy", fired=NOW - timedelta(minutes=1))
    after = client.get(url)
    assert titles(after.text) == [fresh["title"], stocked["northwind"]["title"]]  # newest first, the filter kept
    assert client.get(url).text == after.text  # unchanged: the page's script leaves the table alone
    assert client.get("/ui/finance/rows", follow_redirects=False).status_code == 200
    signed_out = TestClient(app).get("/ui/finance/rows", follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/ui/login")


def test_empty_states_say_what_to_do(app: Any, suite: Suite) -> None:
    client = sign_in(app, suite, "operator")
    page = client.get("/ui/finance/")
    assert page.status_code == 200
    assert "No alerts yet" in page.text and RUN_HINT in page.text
    assert "No items" in page.text and "<svg" not in page.text  # no chart without data
    assert "No silences in force" in page.text
    assert "No alerts yet" in client.get("/ui/finance/rows").text


def test_detail_shows_the_evidence_with_the_driving_words_marked(app: Any, suite: Suite, stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "viewer")
    page = client.get("/ui/finance/alerts/a1northwind")
    assert page.status_code == 200
    html = page.text
    ev = stocked["northwind"]["evidence"]
    start, end = (datetime.fromisoformat(ev[k]) for k in ("window_start", "window_end"))
    assert f"{start:%Y-%m-%d %H:%M} UTC to {end:%Y-%m-%d %H:%M} UTC" in html  # the window
    assert "12 of 20" in html and "60% against a baseline of 15% (×4.0 the baseline)" in html
    assert "12 in 1 h against 0.4 expected" in html
    marks = re.findall(r"<mark[^>]*>([^<]+)</mark>", html)
    assert {"default", "fraud", "loss"} <= set(marks)
    assert 'style="--w:1.00"' in html  # the strongest word of its item at full colour
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.index("Northwind Bank faces") < html.index("Northwind Bank warns of")  # highest score first
    assert "Driving words: default (1.00), fraud (0.50)" in html
    assert client.get("/ui/finance/alerts/a1north").status_code == 200  # a unique prefix, as the CLI takes
    missing = client.get("/ui/finance/alerts/nothere")
    assert missing.status_code == 404 and "no alert with id" in missing.text
    assert client.get("/ui/finance/alerts/bad%20id").status_code == 422


def test_an_operator_acknowledges_and_it_is_audited(app: Any, suite: Suite, finance: FinanceStore,
                                                     stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "operator")
    page = client.get("/ui/finance/").text
    row = re.search(r'<tr id="alert-a1northwind">.*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    assert stocked["northwind"]["title"] in unescape(row)
    assert re.search(r'<button type="submit" aria-describedby="title-a1northwind"[^>]*>Acknowledge</button>', row)
    answer = client.post("/ui/finance/alerts/a1northwind/acknowledge",
                         data={"csrf": csrf_of(page), "back": "/ui/finance/?company=Northwind+Bank"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/ui/finance/?company=Northwind+Bank&notice=Acknowledged")
    done = finance.get_alert("a1northwind")
    assert done["acknowledged_at"] is not None and done["acknowledged_by"].startswith("operator-person")
    entries = suite.store.list_audit()
    assert [(e.action, e.target, e.via, e.role) for e in entries] == [("acknowledge alert", "a1northwind", "console", "operator")]
    assert entries[0].actor.startswith("operator-person") and entries[0].detail["key"] == "entity:Northwind Bank"
    shown = client.get(answer.headers["location"]).text
    assert "Acknowledged: Negative surge" in shown and "acknowledged by operator-person" in shown
    assert 'aria-describedby="title-a1northwind"' not in shown  # no button for it any more
    detail = client.get("/ui/finance/alerts/a1northwind").text
    assert ">Acknowledge</button>" not in detail and "by operator-person" in detail
    # from the detail page, with a note; a second time changes nothing and is not audited again
    again = client.post("/ui/finance/alerts/a2credit/acknowledge",
                        data={"csrf": csrf_of(page), "note": "seen it, wire copy"}, follow_redirects=False)
    assert again.headers["location"].startswith("/ui/finance/alerts/a2credit?notice=")
    assert suite.store.list_audit()[0].detail["note"] == "seen it, wire copy"
    twice = client.post("/ui/finance/alerts/a1northwind/acknowledge", data={"csrf": csrf_of(page)}, follow_redirects=False)
    assert "Already%20acknowledged" in twice.headers["location"] and len(suite.store.list_audit()) == 2
    elsewhere = client.post("/ui/finance/alerts/a3contoso/acknowledge",
                            data={"csrf": csrf_of(page), "back": "https://evil.example/ui/finance/"}, follow_redirects=False)
    assert elsewhere.headers["location"].startswith("/ui/finance/alerts/a3contoso?")  # never an open redirect


def test_a_viewer_sees_no_actions_and_is_refused(app: Any, suite: Suite, finance: FinanceStore, stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "viewer")
    page = client.get("/ui/finance/").text
    detail = client.get("/ui/finance/alerts/a1northwind").text
    for html in (page, detail):
        assert ">Acknowledge</button>" not in html and ">Silence</button>" not in html
    assert "need the operator role" in detail
    token = csrf_of(page)  # the sign-out form's: a valid token, the wrong role
    refused = client.post("/ui/finance/alerts/a1northwind/acknowledge", data={"csrf": token})
    assert refused.status_code == 403 and "this needs operator" in refused.text
    silenced = client.post("/ui/finance/silence", data={"csrf": token, "key": "entity:Northwind Bank", "hours": "2",
                                                         "reason": "not mine to silence"})
    assert silenced.status_code == 403
    assert finance.get_alert("a1northwind")["acknowledged_at"] is None and finance.silences() == []
    assert suite.store.list_audit() == []


def test_a_form_without_the_security_token_is_refused(app: Any, suite: Suite, finance: FinanceStore,
                                                      stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "operator")
    for data in ({}, {"csrf": "forged"}):
        answer = client.post("/ui/finance/alerts/a1northwind/acknowledge", data=data)
        assert answer.status_code == 403 and "security token" in answer.text
        answer = client.post("/ui/finance/silence", data=data | {"key": "entity:Northwind Bank", "hours": "2", "reason": "x"})
        assert answer.status_code == 403
    assert finance.get_alert("a1northwind")["acknowledged_at"] is None and finance.silences() == []
    assert suite.store.list_audit() == []


@on_both
def test_an_operator_silences_a_company_with_a_reason(app: Any, suite: Suite, finance: FinanceStore,
                                                      stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "operator")
    page = client.get("/ui/finance/").text
    for control in ("silence-key", "silence-hours", "silence-reason"):
        assert f'<label for="{control}">' in page
    assert '<option value="entity:Fabrikam Energy">Company: Fabrikam Energy</option>' in page  # watched, no alert yet
    token = csrf_of(page)
    form = {"csrf": token, "key": "entity:Northwind Bank", "hours": "2", "reason": "results call at 10:00"}
    for bad, message in ((form | {"reason": "  "}, "reason"), (form | {"hours": "0"}, "hours must be"),
                         (form | {"hours": "soon"}, "hours must be"), (form | {"key": "entity:Nowhere Bank"}, "no watched company")):
        refused = client.post("/ui/finance/silence", data=bad)
        assert refused.status_code == 422 and message in refused.text
    assert finance.silences() == []
    answer = client.post("/ui/finance/silence", data=form, follow_redirects=False)
    assert answer.status_code == 303 and "Silenced%20entity%3ANorthwind%20Bank" in answer.headers["location"]
    [silence] = finance.silences()
    assert silence["key"] == "entity:Northwind Bank" and silence["reason"] == "results call at 10:00"
    assert timedelta(hours=1, minutes=59) < silence["until"] - datetime.now(timezone.utc) <= timedelta(hours=2)
    [entry] = suite.store.list_audit()
    assert (entry.action, entry.target, entry.detail["reason"], entry.detail["hours"]) == \
        ("silence", "entity:Northwind Bank", "results call at 10:00", 2.0)
    shown = client.get("/ui/finance/").text
    assert "results call at 10:00" in shown and "company: Northwind Bank · fired" in shown and "· silenced" in shown
    detail = client.get("/ui/finance/alerts/a1northwind").text
    assert "Silenced" in detail and "results call at 10:00" in detail
    topic = client.post("/ui/finance/silence", data=form | {"key": "topic:earnings", "reason": "quarter end"},
                        follow_redirects=False)  # a configured topic, no alert on it yet
    assert topic.status_code == 303 and len(finance.silences()) == 2
    assert 'aria-label="Lift the silence on topic:earnings"' in client.get("/ui/finance/").text
    lifted = client.post("/ui/finance/unsilence", data={"csrf": form["csrf"], "key": "topic:earnings"},
                         follow_redirects=False)
    assert lifted.status_code == 303 and [s["key"] for s in finance.silences()] == ["entity:Northwind Bank"]
    assert suite.store.list_audit()[0].action == "lift silence"
    again = client.post("/ui/finance/unsilence", data={"csrf": form["csrf"], "key": "topic:earnings"})
    assert again.status_code == 404


@on_both
def test_trends_are_counted_by_the_database_on_one_time_axis(app: Any, suite: Suite, finance: FinanceStore) -> None:
    rnd = random.Random(3)
    rows, expected_topics, expected_companies = [], Counter(), Counter()
    for i in range(300):
        moment = NOW - timedelta(minutes=rnd.randrange(23 * 60))
        topic = rnd.choice(["earnings", "credit & default", "markets"])
        named = tuple(rnd.sample(sorted(WATCHLIST), rnd.choice([0, 1, 2])))
        negative = rnd.random() < 0.3
        duplicate = "x0" if i % 25 == 24 else None  # repeats are not counted
        rows.append(item(f"x{i}", moment, f"{' and '.join(named) or 'Markets'} note {i}", topic=topic, entities=named,
                         negative=negative, duplicate_of=duplicate))
        if duplicate is None:
            bucket = datetime.fromtimestamp(int(moment.timestamp()) // 3600 * 3600, tz=timezone.utc)
            expected_topics[(topic, bucket, negative)] += 1
            for name in named:
                expected_companies[(name, bucket, negative)] += 1
    rows.append(item("old", NOW - timedelta(days=3), "Northwind Bank long ago", entities=("Northwind Bank",), negative=True))
    finance.commit_batch("test", None, rows, [])
    start = datetime.fromtimestamp(int(NOW.timestamp()) // 3600 * 3600 - 23 * 3600, tz=timezone.utc)
    end = start + timedelta(hours=24)

    def flattened(series: dict[str, list[dict[str, Any]]]) -> Counter:
        out: Counter = Counter()
        for name, points in series.items():
            for p in points:
                out[(name, p["t"], True)] += p["negative"]
                out[(name, p["t"], False)] += p["total"] - p["negative"]
        return +out

    assert flattened(finance.topic_trends(start, end, 3600)) == +expected_topics
    assert flattened(finance.entity_trends(start, end, 3600)) == +expected_companies
    only = finance.entity_trends(start, end, 3600, entities=["Contoso Motors"])
    assert list(only) == ["Contoso Motors"]
    negatives: Counter = Counter()
    for (topic, _, negative), n in expected_topics.items():
        negatives[topic] += n if negative else 0
    top = finance.topic_trends(start, end, 3600, top=2)
    assert len(top) == 2 and sum(p["negative"] for p in next(iter(top.values()))) == max(negatives.values())

    client = sign_in(app, suite, "viewer")
    page = client.get("/ui/finance/", params={"period": "24h"}).text
    charts = re.findall(r'<svg class="chart"[^>]*aria-label="([^"]+)"', page)
    assert len(charts) == 2 and charts[0].startswith("Negative items per hour by topic")
    assert charts[1].startswith("Negative items per hour by company")
    axes = [c.split(", ", 1)[1] for c in charts]
    assert axes[0] == axes[1]  # one shared time axis
    assert all(name in page for name in ("credit &amp; default", "earnings", *WATCHLIST))
    companies = client.get("/ui/finance/", params={"period": "24h", "company": "Contoso Motors", "measure": "total"}).text
    legend = re.findall(r'<li><span class="swatch"[^>]*></span>([^<]+)</li>', companies)
    assert "Contoso Motors" in legend and "Northwind Bank" not in legend
    assert "All items per hour by company" in companies


@on_both
def test_json_api_lists_for_any_key_and_acknowledges_for_operators(app: Any, suite: Suite, finance: FinanceStore,
                                                                   stocked: dict[str, Any]) -> None:
    _, viewer = suite.store.create_api_key("api-viewer", "viewer")
    _, operator = suite.store.create_api_key("api-operator", "operator")
    client = TestClient(app)
    assert client.get("/v1/finance/alerts").status_code == 401
    listed = client.get("/v1/finance/alerts", headers=bearer(viewer))
    assert listed.status_code == 200
    body = listed.json()
    assert [a["id"] for a in body["alerts"]] == ["a1northwind", "a2credit", "a3contoso"] and body["more"] is False
    assert body["alerts"][0]["evidence"]["items"][0]["explanation"][0]["word"] == "default"
    narrowed = client.get("/v1/finance/alerts", headers=bearer(viewer),
                          params={"company": "Northwind Bank", "evidence": "false", "limit": 1}).json()
    assert [a["id"] for a in narrowed["alerts"]] == ["a1northwind"]
    assert narrowed["alerts"][0]["evidence"] == {"negative": 12, "total": 20, "share": 0.6, "baseline_share": 0.15, "score": 6.3}
    recent = client.get("/v1/finance/alerts", headers=bearer(viewer),
                        params={"since": (NOW - timedelta(days=1)).isoformat(), "status": "resolved"}).json()
    assert [a["id"] for a in recent["alerts"]] == ["a2credit"]
    assert client.get("/v1/finance/alerts", headers=bearer(viewer), params={"limit": 1}).json()["more"] is True
    assert client.get("/v1/finance/alerts/a3contoso", headers=bearer(viewer)).json()["key"] == "entity:Contoso Motors"
    assert client.get("/v1/finance/alerts/nothere", headers=bearer(viewer)).status_code == 404

    ack = "/v1/finance/alerts/a1northwind/acknowledge"
    refused = client.post(ack, headers=bearer(viewer))
    assert refused.status_code == 403 and "needs operator" in refused.json()["error"]
    assert finance.get_alert("a1northwind")["acknowledged_at"] is None
    done = client.post(ack, headers=bearer(operator))
    assert done.status_code == 200
    assert done.json()["acknowledged_by"].startswith("api-operator") and done.json()["already_acknowledged"] is False
    assert client.post(ack, headers=bearer(operator)).json()["already_acknowledged"] is True
    assert client.post("/v1/finance/alerts/nothere/acknowledge", headers=bearer(operator)).status_code == 404
    silence = {"key": "topic:credit & default", "hours": 1.5, "reason": "known: a rating review"}
    assert client.post("/v1/finance/silences", headers=bearer(viewer), json=silence).status_code == 403
    assert client.post("/v1/finance/silences", headers=bearer(operator), json=silence | {"key": "topic:nothing"}).status_code == 422
    assert client.post("/v1/finance/silences", headers=bearer(operator), json=silence | {"reason": ""}).status_code == 422
    silenced = client.post("/v1/finance/silences", headers=bearer(operator), json=silence)
    assert silenced.status_code == 200 and silenced.json()["key"] == "topic:credit & default"
    assert [(e.action, e.target, e.via) for e in suite.store.list_audit()] == [
        ("silence", "topic:credit & default", "api"), ("acknowledge alert", "a1northwind", "api")]
    assert [s["key"] for s in finance.silences()] == ["topic:credit & default"]


def test_an_unchanged_table_answers_304_to_the_open_pages_poll(app: Any, suite: Suite, finance: FinanceStore,
                                                               stocked: dict[str, Any]) -> None:
    client = sign_in(app, suite, "viewer")
    first = client.get("/ui/finance/rows")
    tag = first.headers["etag"]
    assert first.status_code == 200 and "no-cache" in first.headers["cache-control"]
    assert client.get("/ui/finance/rows", headers={"If-None-Match": tag}).status_code == 304
    assert client.get("/ui/finance/rows?severity=critical", headers={"If-None-Match": tag}).status_code == 200
    finance.acknowledge(stocked["northwind"]["id"], by="someone")
    changed = client.get("/ui/finance/rows", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
