"""Alerts and the sinks that deliver them (console, file, webhook, e-mail, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
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
