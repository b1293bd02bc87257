"""The finance monitor's page of the operations console: ``/ui/finance``.

- ``GET /ui/finance/``: open and recent alerts (filters: company, topic, severity, status,
  period), refreshed every second from ``GET /ui/finance/rows`` (the same filters), and the
  per-topic and per-company trend charts on one shared time axis;
- ``GET /ui/finance/alerts/{id}``: an alert's evidence: window, counts against the baseline,
  the top items with the words that drove them highlighted, the key's trend around it;
- ``POST /ui/finance/alerts/{id}/acknowledge`` and ``POST /ui/finance/silence`` (operators).

Every query is bounded (a LIMIT, or counts aggregated by the database: see the
``FinanceStore`` methods ``find_alerts``, ``topic_trends`` and ``entity_trends``). The period
ends at the newest stored item or alert (a replayed feed's "now" lies in the past), or at the
time the filters name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathPart
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from core import UnknownNameError
from core.console import ConsolePage, Operator, SignedIn, audit, line_chart, redirect, render
from core.console.auth import ConsoleError
from core.store.schema import utcnow
from plugins.finance_sentiment.report import (
    SEVERITY_RANK,
    as_number,
    count_text,
    dedupe_items,
    highlight,
    lang_of,
    parse_time,
    term_weights,
)
from plugins.finance_sentiment.store import FinanceStore

if TYPE_CHECKING:
    from core import Suite
    from plugins.finance_sentiment.config import MonitorConfig

TEMPLATES = Path(__file__).parent / "templates"
HOME = "/ui/finance/"
LIST_LIMIT = 100  # alerts a page lists (the newest; the filters narrow them)
TOP_SERIES = 8  # lines a trend chart draws: the topics or companies with the most negative items
MAX_SILENCE_HOURS = 3650 * 24  # as `suite finance alerts silence --for` allows
RUN_HINT = "suite run finance-monitor --source file:feed.jsonl"
# period: (length, bucket): about 24 to 170 points a chart, every bucket aligned to the epoch
PERIODS: dict[str, tuple[timedelta, int]] = {
    "6h": (timedelta(hours=6), 900),
    "24h": (timedelta(hours=24), 3600),
    "3d": (timedelta(days=3), 3600),
    "7d": (timedelta(days=7), 3600),
    "30d": (timedelta(days=30), 6 * 3600),
}
PERIOD_TITLES = {"6h": "6 hours", "24h": "24 hours", "3d": "3 days", "7d": "7 days", "30d": "30 days"}
DEFAULT_PERIOD = "7d"
STATUSES = {"": "Open and recent", "firing": "Open (firing)", "resolved": "Resolved"}
MEASURES = {"negative": "Negative items", "total": "All items"}


@dataclass(frozen=True)
class Filters:
    """What the list and the charts show; every field is a query parameter of the page and
    of its live fragment."""

    company: str = ""
    topic: str = ""
    severity: str = ""
    status: str = ""
    period: str = DEFAULT_PERIOD
    until: str = ""  # "YYYY-MM-DDTHH:MM" (UTC), as a datetime-local input sends it; blank: the newest data
    measure: str = "negative"

    def query(self) -> str:
        """The filters as a query string, defaults left out."""
        return urlencode({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default})

    @property
    def narrowed(self) -> bool:
        return bool(self.company or self.topic or self.severity or self.status or self.until)

    def until_time(self) -> datetime | None:
        if not self.until:
            return None
        try:
            moment = datetime.fromisoformat(self.until)
        except ValueError:
            raise ConsoleError(422, f"'{self.until}' is not a time: use YYYY-MM-DDTHH:MM (UTC), or leave it blank") from None
        return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


Short = Annotated[str, Query(max_length=300)]


def read_filters(company: Short = "", topic: Short = "", severity: Short = "", status: Short = "",
                 period: Short = DEFAULT_PERIOD, until: Short = "", measure: Short = "negative") -> Filters:
    """The filters from the query string; an unknown period, status or measure is the default."""
    return Filters(company.strip(), topic.strip(), severity.strip(), status if status in STATUSES else "",
                   period if period in PERIODS else DEFAULT_PERIOD, until.strip(), measure if measure in MEASURES else "negative")


Chosen = Annotated[Filters, Depends(read_filters)]
AlertId = Annotated[str, PathPart(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$",
                                  description="An alert's id (or a unique prefix).")]


@dataclass(frozen=True)
class Window:
    """The period the filters show: ``start`` to ``end``, in buckets of ``bucket`` seconds."""

    start: datetime
    end: datetime
    bucket: int
    explicit: bool  # the filters named the end


def window(store: FinanceStore, filters: Filters) -> Window:
    length, bucket = PERIODS[filters.period]
    named = filters.until_time()
    anchor = named or store.newest_time() or utcnow()
    seconds = int(anchor.timestamp())
    # a named end closes the period (rounded up to a bucket); the newest data's bucket is included whole
    end = datetime.fromtimestamp(-(-seconds // bucket) * bucket if named else seconds // bucket * bucket + bucket, tz=timezone.utc)
    return Window(end - length, end, bucket, named is not None)


def finance_page(suite: Suite) -> ConsolePage:
    """The page ``register_ui`` adds: the routes below, served under ``/ui/finance``."""
    router = APIRouter()

    def store() -> FinanceStore:
        return FinanceStore(suite.store)

    @router.get("/", response_class=HTMLResponse)
    def alerts_page(request: Request, user: SignedIn, filters: Chosen, notice: str | None = None) -> HTMLResponse:
        finance = store()
        span = window(finance, filters)
        listing = alert_listing(finance, filters, span)
        config = configured(suite)
        facets = listing["facets"]
        return render(request, "finance/alerts.html", user=user, title="Finance alerts", notice=notice, f=filters,
                      span=span, periods=PERIOD_TITLES, statuses=STATUSES, measures=MEASURES,
                      companies=sorted(set(config.watchlist) | set(facets["companies"]) if config else facets["companies"]),
                      topics=sorted(set(config.topics) | {"other"} | set(facets["topics"]) if config else facets["topics"]),
                      severities=_severities(config, facets["severities"]), silence_keys=silence_keys(config, facets),
                      silences=finance.silences(), charts=trend_charts(finance, filters, span),
                      live_url=f"{HOME}rows" + (f"?{filters.query()}" if filters.query() else ""), back=_back(filters),
                      run_hint=RUN_HINT, top=TOP_SERIES, **listing)

    @router.get("/rows", response_class=HTMLResponse)
    def alert_rows(request: Request, user: SignedIn, filters: Chosen) -> Response:
        """The alerts table alone: what the page's live region fetches every second. Unchanged
        alerts answer 304 from one cheap query (the browser revalidates with the ETag), so open
        pages cost little between alerts."""
        finance = store()
        tag = '"' + hashlib.sha256(repr((finance.alerts_version(), user.csrf, user.role, request.url.query))
                                   .encode()).hexdigest()[:32] + '"'
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers={"ETag": tag, "Cache-Control": "private, no-cache"})
        page = render(request, "finance/alert_rows.html", user=user, f=filters, back=_back(filters), run_hint=RUN_HINT,
                      **alert_listing(finance, filters, window(finance, filters)))
        page.headers["ETag"] = tag
        page.headers["Cache-Control"] = "private, no-cache"
        return page

    @router.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_page(request: Request, user: SignedIn, alert_id: AlertId, notice: str | None = None) -> HTMLResponse:
        finance = store()
        alert = _alert(finance, alert_id)
        config = configured(suite)
        evidence = alert.get("evidence") if isinstance(alert.get("evidence"), dict) else {}
        kind, _, name = alert["key"].partition(":")
        silence = next((s for s in finance.silences() if s["key"] == alert["key"]), None)
        return render(request, "finance/alert.html", user=user, title=alert["title"] or f"Alert {alert['id']}",
                      notice=notice, alert=alert, kind=_kind(kind), name=name, facts=evidence_facts(evidence),
                      items=evidence_items(evidence), chart=key_chart(finance, alert, evidence, config),
                      silence=silence, back=f"{HOME}alerts/{alert['id']}")

    @router.post("/alerts/{alert_id}/acknowledge")
    def acknowledge(request: Request, user: Operator, alert_id: AlertId,
                    note: Annotated[str, Form(max_length=500)] = "", back: Annotated[str, Form(max_length=2000)] = "") -> Response:
        finance = store()
        alert = _alert(finance, alert_id)
        target = _local(back) or f"{HOME}alerts/{alert['id']}"
        if alert["acknowledged_at"] is not None:
            return redirect(target, f"Already acknowledged by {alert['acknowledged_by']} at "
                                    f"{alert['acknowledged_at']:%Y-%m-%d %H:%M} UTC; nothing changed")
        done = finance.acknowledge(alert["id"], user.key.label)
        audit(request, user, "acknowledge alert", done["id"],
              {"key": done["key"], "title": done["title"], **({"note": note.strip()} if note.strip() else {})})
        return redirect(target, f"Acknowledged: {done['title']}")

    @router.post("/silence")
    def silence(request: Request, user: Operator, key: Annotated[str, Form(max_length=300)] = "",
                hours: Annotated[str, Form(max_length=20)] = "", reason: Annotated[str, Form(max_length=500)] = "",
                back: Annotated[str, Form(max_length=2000)] = "") -> Response:
        finance = store()
        key, reason = key.strip(), reason.strip()
        if not key or not reason or not hours.strip():
            missing = [name for name, value in (("company or topic", key), ("hours", hours.strip()), ("reason", reason)) if not value]
            raise ConsoleError(422, f"to silence, give the {', the '.join(missing)}")
        try:
            length = float(hours)
        except ValueError:
            length = float("nan")
        if not 0 < length <= MAX_SILENCE_HOURS:
            raise ConsoleError(422, f"hours must be a number above 0 and at most {MAX_SILENCE_HOURS} (got '{hours}')")
        known = silence_keys(configured(suite), finance.alert_facets())
        if key not in {k for k, _ in known}:
            raise ConsoleError(422, f"'{key}' is no watched company, topic or key with alerts "
                                    "(keys look like 'entity:Northwind Bank' or 'topic:earnings')")
        until = utcnow() + timedelta(hours=length)
        finance.silence(key, until, reason)
        audit(request, user, "silence", key, {"hours": length, "until": until.isoformat(timespec="minutes"), "reason": reason})
        return redirect(_local(back) or HOME, f"Silenced {key} until {until:%Y-%m-%d %H:%M} UTC")

    @router.post("/unsilence")
    def unsilence(request: Request, user: Operator, key: Annotated[str, Form(max_length=300)],
                  back: Annotated[str, Form(max_length=2000)] = "") -> Response:
        if not store().unsilence(key):
            raise ConsoleError(404, f"'{key}' is not silenced (any more)")
        audit(request, user, "lift silence", key)
        return redirect(_local(back) or HOME, f"{key}: alerts are sent again")

    return ConsolePage("finance", "Finance", router, templates=TEMPLATES, order=30)


# ----------------------------------------------------------------------------- views


def alert_listing(store: FinanceStore, filters: Filters, span: Window) -> dict[str, Any]:
    """The alerts the filters pick (open ones whenever they fired, unless the filters name an
    end), as table rows, and what the table's empty state needs."""
    found = store.find_alerts(company=filters.company or None, topic=filters.topic or None,
                              severity=filters.severity or None, status=filters.status or None, since=span.start,
                              until=span.end if span.explicit else None, open_too=not span.explicit,
                              limit=LIST_LIMIT + 1, evidence=False)
    silenced = {s["key"] for s in store.silences()}
    rows = [alert_row(a, silenced) for a in found[:LIST_LIMIT]]
    return {"rows": rows, "more": len(found) > LIST_LIMIT, "facets": store.alert_facets(),
            "open_count": sum(1 for r in rows if r["status"] == "firing")}


def alert_row(alert: dict[str, Any], silenced: set[str]) -> dict[str, Any]:
    ev = alert.get("evidence") or {}
    kind, _, name = alert["key"].partition(":")
    return alert | {"kind": _kind(kind), "name": name, "negative": count_text(ev.get("negative")),
                    "total": count_text(ev.get("total")), "share": _pct(ev.get("share")), "baseline": _pct(ev.get("baseline_share")),
                    "silenced": alert["key"] in silenced, "lang": lang_of(alert.get("title") or "")}


def evidence_facts(ev: dict[str, Any]) -> list[tuple[str, str]]:
    """The evidence's numbers as (what, value) pairs, each only when the evidence has it."""
    facts: list[tuple[str, str]] = []
    start, end = parse_time(ev.get("window_start")), parse_time(ev.get("window_end"))
    if start or end:
        facts.append(("Window", f"{_stamp(start)} to {_stamp(end)}"))
    if as_number(ev.get("total")) is not None:
        facts.append(("Negative items", f"{count_text(ev.get('negative'))} of {count_text(ev.get('total'))}"))
    share, base = as_number(ev.get("share")), as_number(ev.get("baseline_share"))
    if share is not None:
        ratio = f" (×{share / base:.1f} the baseline)" if base else ""
        facts.append(("Negative share", f"{_pct(share)} against a baseline of {_pct(base)}{ratio}"))
    if as_number(ev.get("baseline_negative")) is not None:
        facts.append(("Expected negative items", f"{as_number(ev.get('baseline_negative')):.1f}"))
    if as_number(ev.get("rate_negative")) is not None and as_number(ev.get("rate_window_hours")):
        expected = as_number(ev.get("expected_negative"))
        facts.append(("Negative rate", f"{count_text(ev.get('rate_negative'))} in {as_number(ev.get('rate_window_hours')):g} h"
                                       + (f" against {expected:g} expected" if expected is not None else "")))
    if as_number(ev.get("baseline_items")) is not None:
        facts.append(("Baseline items", count_text(ev.get("baseline_items"))))
    if ev.get("test"):
        facts.append(("Test", str(ev["test"]) + (f" ({ev['method']})" if ev.get("method") else "")))
    if as_number(ev.get("score")) is not None:
        facts.append(("Score (z)", f"{as_number(ev.get('score')):.2f}"))
    return facts


def evidence_items(ev: dict[str, Any]) -> list[dict[str, Any]]:
    """The top items, highest negative score first and near-identical texts once (as the
    report shows them), each text with its driving words in ``<mark>``."""
    out = []
    for members in dedupe_items([i for i in ev.get("items") or [] if isinstance(i, dict)]):
        item = members[0]
        text = str(item.get("text") or "")
        words = item.get("explanation") or item.get("words") or []
        out.append({"id": item.get("id"), "time": parse_time(item.get("time")), "score": as_number(item.get("score")),
                    "html": Markup(highlight(text, words)), "lang": lang_of(text), "repeats": len(members),
                    "words": [(term, weight) for term, weight in term_weights(words).items()]})
    return out


def trend_charts(store: FinanceStore, filters: Filters, span: Window) -> list[dict[str, Any]]:
    """The per-topic and per-company charts, on the period's one time axis."""
    per = _bucket_words(span.bucket)
    measure = MEASURES[filters.measure].lower()
    charts = []
    for title, series in (
        ("By topic", store.topic_trends(span.start, span.end, span.bucket, topics=[filters.topic] if filters.topic else (),
                                        top=TOP_SERIES)),
        ("By company", store.entity_trends(span.start, span.end, span.bucket,
                                           entities=[filters.company] if filters.company else (), top=TOP_SERIES)),
    ):
        label = f"{measure.capitalize()} per {per} {title.lower()}, {_stamp(span.start)} to {_stamp(span.end)}"
        totals = [{"name": name, "total": sum(b["total"] for b in points), "negative": sum(b["negative"] for b in points)}
                  for name, points in series.items()]
        for row in totals:
            row["share"] = _pct(row["negative"] / row["total"]) if row["total"] else "–"
        drawn = {name: _dense(points, span.start, span.end, span.bucket, filters.measure) for name, points in series.items()}
        charts.append({"title": title, "label": label, "totals": totals,
                       "svg": line_chart(drawn, span.start, span.end, label=label) if drawn else None})
    return charts


def key_chart(store: FinanceStore, alert: dict[str, Any], ev: dict[str, Any], config: MonitorConfig | None) -> Markup | None:
    """All and negative items on the alert's key, from a day before its window to six hours
    after, in the monitor's buckets."""
    bucket = config.bucket_seconds if config else 900
    bucket = max(bucket, 300)
    first = parse_time(ev.get("window_start")) or alert["fired_at"]
    last = parse_time(ev.get("window_end")) or alert["fired_at"]
    start = datetime.fromtimestamp(int((first - timedelta(hours=24)).timestamp()) // bucket * bucket, tz=timezone.utc)
    end = datetime.fromtimestamp(-(-int((last + timedelta(hours=6)).timestamp()) // bucket) * bucket, tz=timezone.utc)
    if (end - start).total_seconds() / bucket > 400:  # a window of days: coarser buckets keep the chart readable
        bucket = 3600
        start = datetime.fromtimestamp(int(start.timestamp()) // bucket * bucket, tz=timezone.utc)
    kind, _, name = alert["key"].partition(":")
    if kind == "topic":
        series = store.topic_trends(start, end, bucket, topics=[name])
    elif kind == "entity":
        series = store.entity_trends(start, end, bucket, entities=[name])
    else:
        return None
    points = series.get(name, [])
    if not points:
        return None
    label = f"Items on {_kind(kind)} {name} per {_bucket_words(bucket)}, {_stamp(start)} to {_stamp(end)}"
    return line_chart({"All items": _dense(points, start, end, bucket, "total"),
                       "Negative items": _dense(points, start, end, bucket, "negative")}, start, end, label=label)


# ----------------------------------------------------------------------------- helpers


def _alert(store: FinanceStore, alert_id: str) -> dict[str, Any]:
    try:
        return store.get_alert(alert_id)
    except UnknownNameError as exc:
        raise ConsoleError(404, str(exc)) from None


def configured(suite: Suite) -> MonitorConfig | None:
    """The monitor's configuration (topics, watchlist, severities); ``None`` when it does not
    validate (the page still lists what the store holds)."""
    from plugins.finance_sentiment.scenarios import monitor_config

    try:
        return monitor_config(suite)
    except Exception:  # noqa: BLE001 - a broken suite.toml is `suite run`'s to report, not this page's
        return None


def _severities(config: MonitorConfig | None, found: list[str]) -> list[str]:
    names = set(found) | set(config.surge.severities if config else ())
    return sorted(names, key=lambda s: (-SEVERITY_RANK.get(s.lower(), -1), s))


def silence_keys(config: MonitorConfig | None, facets: dict[str, list[str]]) -> list[tuple[str, str]]:
    """What a silence can name, as (key, label): the watched companies and configured topics
    and every key with an alert (as ``suite finance alerts silence`` accepts)."""
    keys = set(facets["keys"])
    if config is not None:
        keys |= {f"entity:{e}" for e in config.watchlist} | {f"topic:{t}" for t in [*config.topics, "other"]}
    labelled = []
    for key in keys:
        kind, _, name = key.partition(":")
        labelled.append((key, f"{_kind(kind).capitalize()}: {name}" if name else key))
    return sorted(labelled, key=lambda kl: (kl[0].partition(":")[0] != "entity", kl[1].casefold()))


def _kind(kind: str) -> str:
    return {"entity": "company", "topic": "topic"}.get(kind, kind)


def _back(filters: Filters) -> str:
    return HOME + (f"?{filters.query()}" if filters.query() else "")


def _local(url: str) -> str:
    """Only this page's own URLs to return to after a form: never another site."""
    return url if url.startswith(HOME) and "//" not in url and "\\" not in url else ""


def _dense(points: list[dict[str, Any]], start: datetime, end: datetime, bucket: int, measure: str) -> list[tuple[datetime, float]]:
    """Every bucket from ``start`` to ``end``: an empty bucket is zero, not a line between neighbours."""
    by_time = {p["t"]: p[measure] for p in points}
    out, moment, step = [], start, timedelta(seconds=bucket)
    while moment < end:
        out.append((moment, float(by_time.get(moment, 0))))
        moment += step
    return out


def _bucket_words(seconds: int) -> str:
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def _pct(value: Any) -> str:
    share = as_number(value)
    return "–" if share is None else f"{share * 100:.0f}%"


def _stamp(moment: datetime | None) -> str:
    return "–" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"
