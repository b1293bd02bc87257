"""The monitor's configuration: topics, watchlist, surge thresholds and alert sinks.

Read from the ``[finance_sentiment]`` table of ``suite.toml`` (home, then working folder)::

    [finance_sentiment]
    bucket_minutes = 15
    [finance_sentiment.topics]
    earnings = "quarterly results, profit, revenue, earnings per share, guidance"
    [finance_sentiment.watchlist]
    "Northwind Bank" = ["Northwind", "NWB", "$NWB"]
    [[finance_sentiment.sinks]]
    type = "webhook"
    url = "https://hooks.example.com/risk"
    secret_env = "RISK_HOOK_SECRET"
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core import validate_table

# A sensible default taxonomy; each description is what zero-shot topic similarity compares to.
DEFAULT_TOPICS: dict[str, str] = {
    "earnings": "quarterly earnings results, profit, revenue, sales growth, earnings per share, outlook and guidance",
    "m&a": "mergers and acquisitions, takeover bid, buying or selling a company or a stake, divestment",
    "markets": "stock market trading, share price moves, indices, bonds, currencies, commodities, investors",
    "macro & policy": "economy, inflation, interest rates, central bank, unemployment, GDP, government policy",
    "regulation & legal": "regulator, lawsuit, fine, investigation, court, compliance, sanctions, fraud charges",
    "credit & default": "debt, loans, credit rating downgrade, default, bankruptcy, liquidity, refinancing",
    "management": "chief executive, board of directors, resignation, appointment, leadership change",
    "products & operations": "new products, contracts, orders, factories, production, layoffs, supply chain, outages",
}


class SurgeConfig(BaseModel):
    """When negativity about one topic or entity counts as a surge (see ``surge.py``)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["binomial", "cusum"] = "binomial"
    window_buckets: int = Field(4, ge=1, description="Sliding window, in buckets.")
    baseline_buckets: int = Field(48, ge=2, description="History the baseline is computed from, in buckets.")
    min_volume: int = Field(10, ge=1, description="Items in the window before anything can fire.")
    min_negative: int = Field(5, ge=1, description="Negative items in the window before anything can fire.")
    min_share: float = Field(0.3, ge=0, le=1, description="Negative share in the window before anything can fire.")
    prior_share: float = Field(0.15, gt=0, lt=1, description="Baseline share assumed before history exists.")
    prior_weight: int = Field(20, ge=0, description="Pseudo-items of prior mixed into the baseline.")
    fire_z: float = Field(4.0, gt=0, description="Fire when the window's surprise (z) reaches this.")
    resolve_z: float = Field(2.0, ge=0, description="Resolve when it falls below this (hysteresis).")
    cusum_slack: float = Field(0.5, ge=0, description="CUSUM: z below this does not accumulate.")
    cusum_limit: float = Field(8.0, gt=0, description="CUSUM: fire when the sum reaches this.")
    cooldown_minutes: float = Field(60, ge=0, description="After a resolve, the same key stays quiet this long.")
    severities: dict[str, float] = Field(default_factory=lambda: {"warning": 4.0, "high": 6.0, "critical": 9.0})
    evidence_items: int = Field(5, ge=1, le=50)

    @model_validator(mode="after")
    def _hysteresis(self) -> SurgeConfig:
        if self.resolve_z >= self.fire_z:
            raise ValueError(f"resolve_z ({self.resolve_z}) must be below fire_z ({self.fire_z})")
        return self

    def severity(self, z: float) -> str:
        ranked = sorted(self.severities.items(), key=lambda kv: kv[1])
        return next((name for name, floor in reversed(ranked) if z >= floor), ranked[0][0])


class MonitorConfig(BaseModel):
    """Everything ``suite run finance-monitor`` reads from configuration."""

    model_config = ConfigDict(extra="forbid")

    bucket_minutes: float = Field(15, gt=0)
    batch_size: int = Field(128, ge=1, le=4096)
    duplicate_window_minutes: float = Field(60, ge=0, description="Repeated text within this is flagged, not counted.")
    min_topic_similarity: float = Field(0.15, ge=-1, le=1, description="Zero-shot: below it the topic is 'other'.")
    topics: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TOPICS))
    watchlist: dict[str, list[str]] = Field(default_factory=dict)
    surge: SurgeConfig = Field(default_factory=SurgeConfig)
    sinks: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "console"}])

    @property
    def bucket_seconds(self) -> int:
        return int(self.bucket_minutes * 60)

    @classmethod
    def from_table(cls, table: dict[str, Any], origin: str = "suite.toml [finance_sentiment]") -> MonitorConfig:
        return validate_table(cls, table, origin)


class Watchlist:
    """Finds watched entities in text by their names and aliases.

    An alias in capitals of up to five letters (a ticker: ``NWB``) or starting with ``$`` must
    match exactly; other aliases match regardless of case, on word boundaries.
    """

    def __init__(self, entities: dict[str, list[str]]) -> None:
        self.canonical: dict[str, str] = {}
        exact: list[str] = []
        folded: list[str] = []
        for name, aliases in entities.items():
            for alias in {name, *aliases}:
                alias = alias.strip()
                if not alias:
                    continue
                is_ticker = alias.startswith("$") or (alias.isupper() and len(alias) <= 5)
                (exact if is_ticker else folded).append(alias)
                self.canonical[alias if is_ticker else alias.casefold()] = name
        self._exact = self._pattern(exact, 0)
        self._folded = self._pattern(folded, re.IGNORECASE)

    @staticmethod
    def _pattern(aliases: Iterable[str], flags: int) -> re.Pattern[str] | None:
        ordered = sorted(set(aliases), key=len, reverse=True)  # longest alias wins
        if not ordered:
            return None
        return re.compile(r"(?<![\w$])(?:" + "|".join(re.escape(a) for a in ordered) + r")(?!\w)", flags)

    def find(self, text: str, given: Iterable[str] = ()) -> list[str]:
        """Watched entities in ``text``, plus ``given`` ones (mapped to their canonical name)."""
        found: dict[str, None] = {}
        for name in given:
            found[self.canonical.get(name, self.canonical.get(name.casefold(), name))] = None
        if self._exact:
            for match in self._exact.finditer(text):
                found[self.canonical[match.group(0)]] = None
        if self._folded:
            for match in self._folded.finditer(text):
                found[self.canonical[match.group(0).casefold()]] = None
        return list(found)
