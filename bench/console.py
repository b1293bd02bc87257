"""Console page load: server time per page with 10,000 stored items, 1,000 alerts and 10,000
conversation turns (issue #21's target: <= 150 ms p95 for each page).

A real ``suite serve`` (one worker) on a seeded store; each page is requested ``--requests``
times one after another by a signed-in admin, and the server's own access log gives the time
each took (from the request's arrival to the last byte of the answer: the network and the
browser are not in it). Seeded data is invented here, nothing is read from ../shared/data.

    python -m bench.console                       # SQLite in a temporary home
    python -m bench.console --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.common import cpu_name, serve, table

COMPANIES = ["Northwind Bank", "Contoso Motors", "Fabrikam Energy", "Tailwind Airlines", "Litware Pharma", "Adatum Retail"]
TOPICS = ["credit & default", "earnings", "m&a", "management", "markets", "products & operations", "regulation & legal",
          "macro & policy"]
HEADLINES = ["{c} shares slide after a profit warning", "{c} beats forecasts and lifts its outlook",
             "Regulators open an inquiry into {c}", "{c} names a new chief executive", "Analysts downgrade {c} to sell",
             "{c} misses an interest payment, raising default fears", "{c} wins a large contract",
             "Outage halts operations at {c} for a day"]
INTENTS = ["card_lost", "balance", "transfer", "password_reset", "fees", "mortgage", "complaint", "oos"]
MESSAGES = ["I lost my card near the station", "what is my balance today", "send money to my sister",
            "I forgot my online banking password", "why was I charged a fee", "can I get a mortgage",
            "this service is terrible", "what is the weather on mars"]
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def seed(suite: Any, items: int, alerts: int, turns: int, rng: random.Random) -> None:
    """Invented finance items and alerts, conversation turns with feedback, model versions."""
    from plugins.customer_service.store import feedback, sessions, tickets
    from plugins.customer_service.store import turns as turn_table
    from plugins.finance_sentiment.store import alerts as alert_table
    from plugins.finance_sentiment.store import items as item_table

    now = datetime.now(timezone.utc)
    sentiments = ["negative", "neutral", "positive"]
    item_rows = []
    for i in range(items):
        company, template = rng.choice(COMPANIES), rng.choice(HEADLINES)
        sentiment = rng.choice(sentiments)
        item_rows.append({"id": f"i{i}", "time": START + timedelta(minutes=i), "source": "bench", "url": None,
                          "text": template.format(c=company), "entities": [company], "sentiment": sentiment,
                          "sentiment_score": 0.9, "negative_score": 0.9 if sentiment == "negative" else 0.05,
                          "topic": rng.choice(TOPICS), "topic_score": 0.8, "duplicate_of": None, "stored_at": now})
    alert_rows = []
    for i in range(alerts):
        company = rng.choice(COMPANIES)
        key = f"entity:{company}" if i % 2 else f"topic:{rng.choice(TOPICS)}"
        fired = START + timedelta(minutes=10 * i)
        evidence_items = [{"id": f"i{10 * i + j}", "time": (fired - timedelta(minutes=j)).isoformat(), "score": 0.95,
                           "text": HEADLINES[5].format(c=company), "words": ["default", "fears"],
                           "explanation": [{"word": "default", "start": 0, "end": 7, "weight": 0.4},
                                           {"word": "fears", "start": 0, "end": 5, "weight": 0.2}]} for j in range(5)]
        alert_rows.append({"id": f"a{i:015d}", "key": key, "severity": rng.choice(["warning", "high", "critical"]),
                           "status": "firing" if i >= alerts - 20 else "resolved", "group_id": None,
                           "title": f"Negative surge on {key}: 12 negative items in 1 h against 0.6 expected",
                           "evidence": {"window_start": (fired - timedelta(hours=1)).isoformat(), "window_end": fired.isoformat(),
                                        "test": "rate", "negative": 12, "total": 15, "share": 0.8, "baseline_share": 0.15,
                                        "expected_negative": 0.6, "rate_negative": 12, "rate_window_hours": 1.0,
                                        "items": evidence_items},
                           "fired_at": fired, "updated_at": fired, "resolved_at": None, "acknowledged_at": None,
                           "acknowledged_by": None})
    session_rows = [{"id": f"s{i}", "channel": "http", "turns": 5, "started_at": now, "last_seen_at": now}
                    for i in range(turns // 5)]
    turn_rows = []
    for i in range(turns):
        intent = rng.choice(INTENTS)
        confidence = rng.random()
        route = "escalation" if intent == "complaint" else ("retrieval" if confidence < 0.5 else "template")
        turn_rows.append({"session_id": f"s{i // 5}", "created_at": now - timedelta(seconds=turns - i),
                          "text": MESSAGES[INTENTS.index(intent)], "reply": "…", "route": route, "intent": intent,
                          "confidence": confidence, "confident": confidence >= 0.5, "reason": "bench", "kb_ref": None,
                          "similarity": None, "latency_ms": 12.0, "language": "en", "model": "bench", "explanation": None})
    with suite.store.engine.begin() as conn:
        conn.execute(insert(item_table), item_rows)
        conn.execute(insert(alert_table), alert_rows)
        conn.execute(insert(sessions), session_rows)
        conn.execute(insert(turn_table), turn_rows)
        conn.execute(insert(feedback), [{"turn_id": 1 + 7 * i, "intent": "oos", "note": None, "source": "cli",
                                         "created_at": now} for i in range(200)])
        conn.execute(insert(tickets), [{"session_id": f"s{i}", "turn_id": 1 + 5 * i, "status": "open", "reason": "bench",
                                        "text": "this service is terrible", "created_at": now} for i in range(300)])
    for version in (1, 2, 3):
        folder = suite.settings.home / "models" / f"bench-v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        suite.store.register_model("banking77", "text-classification", str(folder),
                                   {"accuracy": 0.9 + version / 100, "macro_f1": 0.88}, activate=version == 3)


def page_times(url: str, key: str, pages: list[str], requests: int, log: Path) -> dict[str, list[float]]:
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as client:
        assert client.post("/ui/login", data={"key": key, "next": "/ui/"}).status_code == 303
        for page in pages:
            path, _, conditional = page.partition(" ")  # "PATH (unchanged)": the poll of an open page, with its ETag
            headers: dict[str, str] = {}
            for attempt in range(requests + 3):  # three warm-up requests per page
                answer = client.get(path, headers=headers)
                if answer.status_code not in ((304,) if headers else (200,)):
                    raise SystemExit(f"{page} answered {answer.status_code}: {answer.text[:300]}")
                if conditional:
                    headers = {"If-None-Match": answer.headers.get("etag", "")}
    gets = [json.loads(line) for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.startswith("{") and '"method": "GET"' in line and '"path": "/ui' in line]  # in order, page by page
    per_page = requests + 3
    assert len(gets) == per_page * len(pages), f"expected {per_page * len(pages)} GETs in the log, found {len(gets)}"
    return {page: [r["duration_ms"] for r in gets[i * per_page + 3:(i + 1) * per_page]] for i, page in enumerate(pages)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, help="where the seeded suite lives (default: a temporary folder)")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: SQLite in the home)")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per page (after 3 warm-ups)")
    args = parser.parse_args(argv)

    from core.app import Suite
    from core.settings import Settings

    home = args.home or Path(tempfile.mkdtemp(prefix="bench-console-"))
    settings = Settings(home=home, database_url=args.database_url) if args.database_url else Settings(home=home)
    suite = Suite.create(settings)
    seed(suite, args.items, args.alerts, args.turns, random.Random(13))
    _, key = suite.store.create_api_key("bench", "admin")
    alert_id = f"a{args.alerts - 1:015d}"
    suite.close()
    pages = ["/ui/", "/ui/models", "/ui/models/banking77", "/ui/models/compare?a=banking77:1&b=banking77:3", "/ui/audit",
             "/ui/finance/", "/ui/finance/?company=Northwind+Bank&severity=critical", "/ui/finance/rows",
             "/ui/finance/rows (unchanged)", f"/ui/finance/alerts/{alert_id}", "/ui/customer-service/", "/ui/customer-service/?reason=negative-feedback",
             "/ui/customer-service/?reason=low-confidence&page=20", "/ui/customer-service/turns/5000",
             "/ui/customer-service/coverage", "/ui/recommendation/"]
    env = {"SUITE_DATABASE_URL": args.database_url} if args.database_url else {}
    with serve(home, "--reload-interval", "0", env=env) as (url, log):
        times = page_times(url, key, pages, args.requests, log)
    rows = []
    for page, values in times.items():
        values.sort()
        p95 = values[max(0, round(0.95 * len(values)) - 1)]
        rows.append({"page": page, "requests": len(values), "p50 ms": f"{statistics.median(values):.1f}",
                     "p95 ms": f"{p95:.1f}", "max ms": f"{values[-1]:.1f}", "<= 150 ms": "yes" if p95 <= 150 else "NO"})
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"console server time, {args.items:,} items, {args.alerts:,} alerts, {args.turns:,} turns, {store}; {cpu_name()}")
    print(table(rows, ["page", "requests", "p50 ms", "p95 ms", "max ms", "<= 150 ms"]))


if __name__ == "__main__":
    main()
