"""HTTP: the finance monitor's alerts as JSON, under ``/v1/finance``.

- ``GET /v1/finance/alerts``: open and recent alerts (filters: company, topic, severity,
  status, since), any key;
- ``GET /v1/finance/alerts/{id}``: one alert with its evidence, any key;
- ``POST /v1/finance/alerts/{id}/acknowledge``: operator keys; audited;
- ``POST /v1/finance/silences``: silence a company or topic for some hours, operator keys; audited.

The same store methods as the console's page (``plugins/finance_sentiment/console.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core import CleanStr, UnknownNameError
from core.serving.auth import audit, requires
from core.serving.schemas import error_responses
from core.store.schema import utcnow
from plugins.finance_sentiment.store import FinanceStore

if TYPE_CHECKING:
    from core import Suite

PREFIX = "/v1/finance"
MAX_LIMIT = 500
MAX_SILENCE_HOURS = 3650 * 24
AlertId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$",
                              description="An alert's id (or a unique prefix of it).")]
Name = Annotated[str, Query(max_length=300)]

EXAMPLE = {
    "id": "3f9c2a71d04b4e8a", "key": "entity:Northwind Bank", "severity": "high", "status": "firing",
    "title": "Negative surge on entity 'Northwind Bank': 14 of 18 items negative (78%, baseline 12%)",
    "group_id": None, "fired_at": "2026-12-02T09:00:00+00:00", "updated_at": "2026-12-02T09:15:00+00:00",
    "resolved_at": None, "acknowledged_at": None, "acknowledged_by": None,
    "evidence": {"window_start": "2026-12-02T08:00:00+00:00", "window_end": "2026-12-02T09:00:00+00:00",
                 "negative": 14, "total": 18, "share": 0.7778, "baseline_share": 0.12, "score": 6.4,
                 "items": [{"id": "n17", "time": "2026-12-02T08:41:00+00:00", "score": 0.97,
                            "text": "Northwind Bank faces default fears after fraud probe",
                            "explanation": [{"word": "default", "weight": 0.8}, {"word": "fraud", "weight": 0.5}]}]},
}


class AlertOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})
    id: str
    key: str = Field(description="What surged: 'entity:COMPANY' or 'topic:TOPIC'.")
    severity: str
    status: Literal["firing", "resolved"]
    title: str
    group_id: Optional[str] = Field(description="Alerts on the same items (a company and its topic) share it.")
    fired_at: datetime
    updated_at: datetime
    resolved_at: Optional[datetime]
    acknowledged_at: Optional[datetime]
    acknowledged_by: Optional[str]
    evidence: dict[str, Any] = Field(description=(
        "window_start, window_end, negative, total, share, baseline_share, score and items [{id, time, text, score, "
        "explanation: [{word, weight}]}]; with evidence=false only the numbers."))


class AlertList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"alerts": [EXAMPLE], "more": False}]})
    alerts: list[AlertOut]
    more: bool = Field(description="More alerts match than `limit`: narrow the filters or raise it.")


class Acknowledged(AlertOut):
    already_acknowledged: bool = Field(description="It was acknowledged before: nothing changed.")


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"key": "entity:Northwind Bank", "hours": 4, "reason": "known issue: results call at 10:00"}]})
    key: Annotated[CleanStr, StringConstraints(min_length=3, max_length=300, pattern=r"^(entity|topic):.+$")] = Field(
        description="'entity:COMPANY' or 'topic:TOPIC': a watched company, a configured topic or a key with alerts.")
    hours: float = Field(gt=0, le=MAX_SILENCE_HOURS)
    reason: Annotated[CleanStr, StringConstraints(min_length=1, max_length=500, pattern=r"\S")]


class Silenced(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"key": "entity:Northwind Bank", "until": "2026-12-02T14:00:00+00:00", "reason": "known issue"}]})
    key: str
    until: datetime
    reason: str


def build_router(suite: Suite) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["finance"])

    def store() -> FinanceStore:
        return FinanceStore(suite.store)

    def one(alert_id: str) -> dict[str, Any]:
        try:
            return store().get_alert(alert_id)
        except UnknownNameError as exc:
            raise HTTPException(404, detail=str(exc)) from None

    @router.get("/alerts", response_model=AlertList, summary="Open and recent alerts")
    def list_alerts(company: Name = "", topic: Name = "", severity: Name = "",
                    status: Annotated[Optional[Literal["firing", "resolved"]], Query()] = None,
                    since: Annotated[Optional[datetime], Query(description="Fired at or after (ISO 8601; no offset: UTC).")] = None,
                    open_too: Annotated[bool, Query(description="With since: keep alerts still firing, whenever they fired.")] = True,
                    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
                    evidence: Annotated[bool, Query(description="The whole evidence (items and words); false: its numbers.")] = True,
                    ) -> AlertList:
        """Open alerts first, then newest first. ``company`` and ``topic`` pick alerts on
        ``entity:COMPANY`` or ``topic:TOPIC`` (either, when both are given)."""
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        found = store().find_alerts(company=company.strip() or None, topic=topic.strip() or None,
                                    severity=severity.strip() or None, status=status, since=since, open_too=open_too,
                                    limit=limit + 1, evidence=evidence)
        return AlertList(alerts=[AlertOut(**a) for a in found[:limit]], more=len(found) > limit)

    @router.get("/alerts/{alert_id}", response_model=AlertOut, summary="One alert with its evidence",
                responses=error_responses(404))
    def get_alert(alert_id: AlertId) -> AlertOut:
        return AlertOut(**one(alert_id))

    @router.post("/alerts/{alert_id}/acknowledge", response_model=Acknowledged, responses=error_responses(403, 404),
                 summary="Acknowledge an alert (operator keys)", dependencies=[Depends(requires("operator"))])
    def acknowledge(request: Request, alert_id: AlertId) -> Acknowledged:
        """Its updates are no longer sent; it stays open until the surge is over. Acknowledging
        twice changes nothing (``already_acknowledged``)."""
        before = one(alert_id)
        if before["acknowledged_at"] is not None:
            return Acknowledged(**before, already_acknowledged=True)
        key = getattr(request.state, "api_key", None)
        done = store().acknowledge(before["id"], key.label if key is not None else "no key (--no-auth)")
        audit(request, suite.store, "acknowledge alert", done["id"], {"key": done["key"], "title": done["title"]})
        return Acknowledged(**done, already_acknowledged=False)

    @router.post("/silences", response_model=Silenced, responses=error_responses(403, 422),
                 summary="Silence a company or topic (operator keys)", dependencies=[Depends(requires("operator"))])
    def silence(request: Request, body: SilenceRequest) -> Silenced:
        """Send nothing for the key for ``hours``; its alerts are still recorded."""
        from plugins.finance_sentiment.console import configured, silence_keys

        finance = store()
        known = {k for k, _ in silence_keys(configured(suite), finance.alert_facets())}
        if body.key not in known:
            raise HTTPException(422, detail=f"'{body.key}' is no watched company, configured topic or key with alerts")
        until = utcnow() + timedelta(hours=body.hours)
        finance.silence(body.key, until, body.reason)
        audit(request, suite.store, "silence", body.key, {"hours": body.hours, "until": until.isoformat(timespec="minutes"),
                                             "reason": body.reason})
        return Silenced(key=body.key, until=until, reason=body.reason)

    return router
