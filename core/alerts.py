"""Alerts and the sinks that deliver them (console, file, webhook, e-mail, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar


@dataclass
class Alert:
    """One alert as sinks receive it; ``evidence`` is JSON-serialisable."""

    id: str
    title: str
    severity: str
    status: str
    source: str
    created_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)


def alert_payload(alert: Alert) -> dict[str, Any]:
    """The JSON shape every sink sends, defined once so receivers see the same keys everywhere.

    Datetimes (``created_at`` and any inside ``evidence``) become ISO 8601 strings.
    """
    return {
        "id": alert.id,
        "title": alert.title,
        "severity": alert.severity,
        "status": alert.status,
        "source": alert.source,
        "created_at": alert.created_at.isoformat(),
        "evidence": _jsonable(alert.evidence),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class DeliveryError(Exception):
    """A sink gave up on one alert (one line, never a secret); the caller retries it later."""


class AlertSink(ABC):
    """Delivers alerts somewhere. Built from its table in the configuration (``**options``).

    ``deliver`` raises on failure; the caller keeps the alert undelivered and retries later,
    so a sink must not swallow errors.
    """

    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def deliver(self, alert: Alert) -> None:
        """Send one alert; raise to signal that it was not delivered."""
