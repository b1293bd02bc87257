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
import unicodedata
from datetime import datetime, timedelta, timezone
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core import validate_table
from core.lexical import CJK, has_cjk

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


KEY_KINDS = ("topic", "entity")


class SurgeConfig(BaseModel):
    """When negativity about one topic or entity counts as a surge (see ``surge.py``).

    ``min_volume`` and ``min_negative`` take one number for every key or a table per key kind
    (``{topic = 10, entity = 3}``): a company mentioned twice a day must be able to fire on a
    handful of negative items, a topic with hundreds of items a day must not.
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["binomial", "cusum"] = "binomial"
    tests: list[Literal["rate", "share"]] = Field(default_factory=lambda: ["rate", "share"],
                                                  description="Fire on the negative count's rate, the negative share, or either.")
    window_buckets: int = Field(4, ge=1, description="Sliding window, in buckets.")
    baseline_buckets: int = Field(96, ge=2, description="History the baseline is computed from, in buckets.")
    min_volume: dict[str, int] = Field(default_factory=lambda: {"topic": 5, "entity": 3},
                                       description="Items in a test's window before it can fire (per key kind).")
    min_negative: dict[str, int] = Field(default_factory=lambda: {"topic": 3, "entity": 3},
                                         description="Negative items in a test's window before it can fire (per key kind).")
    min_share: float = Field(0.3, ge=0, le=1, description="Share test: negative share in the window before it can fire.")
    prior_share: float = Field(0.15, gt=0, lt=1, description="Baseline share assumed before history exists (both tests).")
    prior_weight: int = Field(20, ge=0, description="Pseudo-items of prior mixed into the baseline share.")
    rate_prior_negatives: float = Field(0.5, gt=0, description="Rate test: a key's history starts as this many negatives, plus prior_share of its volume ...")
    rate_prior_hours: float = Field(6.0, gt=0, description="... seen over this many hours (a day of real history outweighs it).")
    rate_min_odds_ratio: float = Field(1.5, ge=1, description="Rate test: the odds of an item being negative must be this many times "
                                                               "the baseline's (more volume with the usual mix is not a negative surge).")
    long_window_buckets: int = Field(8, ge=0, description="Rate test: also over this longer window (0: off), for bursts spread over hours.")
    share_min_volume: int = Field(10, ge=1, description="Share test: items in the window before it can fire (a share of a few items is noise).")
    warmup_hours: float = Field(12, ge=0, description="History the detector must have seen before anything fires (a baseline it can trust).")
    fire_z: float = Field(3.0, gt=0, description="Fire when the window's surprise (z) reaches this.")
    resolve_z: float = Field(1.5, ge=0, description="Resolve when it falls below this (hysteresis).")
    cusum_slack: float = Field(0.5, ge=0, description="CUSUM: z below this does not accumulate.")
    cusum_limit: float = Field(8.0, gt=0, description="CUSUM: fire when the sum reaches this.")
    cooldown_minutes: float = Field(60, ge=0, description="After a resolve, the same key stays quiet this long.")
    severities: dict[str, float] = Field(default_factory=lambda: {"warning": 3.0, "high": 6.0, "critical": 9.0})
    evidence_items: int = Field(5, ge=1, le=50)

    @field_validator("min_volume", "min_negative", mode="before")
    @classmethod
    def _per_kind(cls, value: Any) -> Any:
        """One number applies to every key kind; a table may name some kinds and keep the rest."""
        if isinstance(value, int) and not isinstance(value, bool):
            return {kind: value for kind in KEY_KINDS}
        return value

    @field_validator("min_volume", "min_negative")
    @classmethod
    def _kinds_known(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(KEY_KINDS)
        if unknown:
            raise ValueError(f"unknown key kind {', '.join(sorted(unknown))} (expected {', '.join(KEY_KINDS)})")
        if any(v < 1 for v in value.values()):
            raise ValueError("must be at least 1")
        return value

    @model_validator(mode="after")
    def _hysteresis(self) -> SurgeConfig:
        if self.resolve_z >= self.fire_z:
            raise ValueError(f"resolve_z ({self.resolve_z}) must be below fire_z ({self.fire_z})")
        if not self.tests:
            raise ValueError("tests: name at least one of 'rate', 'share'")
        if self.long_window_buckets > 2 * self.window_buckets:
            raise ValueError(f"long_window_buckets ({self.long_window_buckets}) must be at most twice window_buckets "
                             f"({self.window_buckets}): it must not reach into the baseline")
        for name in ("min_volume", "min_negative"):  # kinds a table leaves out keep their default
            table = getattr(self, name)
            table.update({k: v for k, v in type(self).model_fields[name].default_factory().items() if k not in table})
        return self

    @staticmethod
    def minimum(table: dict[str, int], key: str) -> int:
        """``table``'s value for the kind of ``key`` (``entity:Northwind Bank``)."""
        return table.get(key.partition(":")[0], max(table.values()))

    def severity(self, z: float) -> str:
        ranked = sorted(self.severities.items(), key=lambda kv: kv[1])
        return next((name for name, floor in reversed(ranked) if z >= floor), ranked[0][0])


class MonitorConfig(BaseModel):
    """Everything ``suite run finance-monitor`` reads from configuration."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, description=(
        "Encoder this plugin trains from (catalogue name, folder or id) over the top-level `model`."))
    bucket_minutes: float = Field(15, gt=0)
    batch_size: int = Field(128, ge=1, le=4096)
    duplicate_window_minutes: float = Field(60, ge=0, description="Repeated text within this is flagged, not counted.")
    max_future_minutes: float = Field(60, ge=0, description="An item timed further ahead of the processing time is dead-lettered.")
    min_time: datetime = Field(datetime(2000, 1, 1, tzinfo=timezone.utc), description="An item timed earlier is dead-lettered.")
    min_topic_similarity: float = Field(0.15, ge=-1, le=1, description="Zero-shot: below it the topic is 'other'.")
    topics: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TOPICS))
    watchlist: dict[str, list[str]] = Field(default_factory=dict)
    surge: SurgeConfig = Field(default_factory=SurgeConfig)
    sinks: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "console"}])

    @field_validator("watchlist", mode="before")
    @classmethod
    def _numeric_tickers(cls, value: Any) -> Any:
        """A ticker written as a number (``"北风银行" = ["北行", 690017]``) is its digits."""
        if isinstance(value, dict):
            return {name: [str(a) if isinstance(a, int) and not isinstance(a, bool) else a for a in aliases]
                    if isinstance(aliases, list) else aliases for name, aliases in value.items()}
        return value

    @field_validator("min_time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    @property
    def bucket_seconds(self) -> int:
        return int(self.bucket_minutes * 60)

    @property
    def surge_window(self) -> timedelta:
        return timedelta(seconds=self.bucket_seconds * self.surge.window_buckets)

    @classmethod
    def from_table(cls, table: dict[str, Any], origin: str = "suite.toml [finance_sentiment]") -> MonitorConfig:
        return validate_table(cls, table, origin)


_LATIN_WORD = rf"[^\W{CJK}]"  # a word character that is not CJK: letters, digits, underscore


def _boundaries(alias: str) -> str:
    """``alias`` as a pattern with the boundaries its script needs.

    A CJK end has none (no spaces in Chinese: 招商银行 matches in 招商银行股价); a Latin end must
    not continue a Latin word, though CJK may touch it (NWB股价 finds NWB, NWBX does not); an
    all-digit ticker (600036) must not be part of a longer number (1600036, 6000361, 0.600036),
    though letters may touch it (SH600036, 600036.SH)."""
    body = re.escape(alias)
    if alias.isdigit():
        return rf"(?<!\d)(?<!\d\.){body}(?!\.?\d)"
    left = "" if has_cjk(alias[0]) else rf"(?<!{_LATIN_WORD})(?<!\$)"
    right = "" if has_cjk(alias[-1]) else rf"(?!{_LATIN_WORD})"
    return left + body + right


def _fold_width(text: str) -> str:
    """Full-width letters and digits (ＮＷＢ, ６０００３６: common in Chinese text) as ASCII."""
    return unicodedata.normalize("NFKC", text)


class Watchlist:
    """Finds watched entities in text by their names and aliases.

    An alias in capitals of up to five letters (a ticker: ``NWB``) or starting with ``$`` must
    match exactly; other aliases match regardless of case. Latin names match on word
    boundaries, CJK names (招商银行, 招行) wherever they occur, a numeric ticker (600036) where it
    is not part of a longer number (see :func:`_boundaries`). Full-width forms match their
    ASCII alias.
    """

    def __init__(self, entities: dict[str, list[str]]) -> None:
        self.canonical: dict[str, str] = {}
        exact: list[str] = []
        folded: list[str] = []
        for name, aliases in entities.items():
            for alias in {name, *aliases}:
                alias = _fold_width(str(alias)).strip()
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
        return re.compile("|".join(_boundaries(a) for a in ordered), flags)

    def find(self, text: str, given: Iterable[str] = ()) -> list[str]:
        """Watched entities in ``text``, plus ``given`` ones (mapped to their canonical name)."""
        found: dict[str, None] = {}
        for name in given:
            key = _fold_width(name).strip()
            found[self.canonical.get(key, self.canonical.get(key.casefold(), name))] = None
        text = _fold_width(text)
        if self._exact:
            for match in self._exact.finditer(text):
                found[self.canonical[match.group(0)]] = None
        if self._folded:
            for match in self._folded.finditer(text):
                name = self.canonical.get(match.group(0).casefold())
                if name is not None:  # a case-insensitive match whose full case folding differs (rare)
                    found[name] = None
        return list(found)
