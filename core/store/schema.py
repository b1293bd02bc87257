"""The store's ORM models: the *current* shape of the core tables.

Migrations under ``migrations/versions`` are what create and change the tables; these
models must match their newest revision (``env.py`` uses them for ``--autogenerate``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

RUN_STATUSES = ("running", "completed", "failed", "interrupted")
ROLES = ("viewer", "operator", "admin")  # each can do what the ones before it can (core.serving.auth)

# Named constraints, so later migrations (and SQLite batch mode) can refer to them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite keeps no offset and hands back naive values; this normalises on the way in and
    re-attaches UTC on the way out, so callers always compare aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Run(Base):
    """One train/evaluate/run job: what it was asked to do and how it ended."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any] | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    train_seconds: Mapped[float | None]
    model_path: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)

    epochs: Mapped[list[RunMetric]] = relationship(
        back_populates="run", order_by="RunMetric.id", cascade="all, delete-orphan"
    )


class Model(Base):
    """A registered model version; at most one version per name is active (DB-enforced)."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_models_name_version"),
        # A partial unique index: two writers can never both leave a version active.
        Index(
            "uq_models_one_active",
            "name",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scenario: Mapped[str] = mapped_column(String(200))
    version: Mapped[int]
    path: Mapped[str] = mapped_column(String(1000))
    metrics: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    teacher: Mapped[str | None] = mapped_column(String(220), default=None)  # "name vN" of a distilled model


class RunMetric(Base):
    """Metrics of one epoch (or step) of a run, so curves survive the process."""

    __tablename__ = "run_metrics"
    __table_args__ = (Index("ix_run_metrics_run_id_epoch", "run_id", "epoch"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    epoch: Mapped[float]
    step: Mapped[int | None] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(50))
    metrics: Mapped[dict[str, Any]]
    logged_at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[Run] = relationship(back_populates="epochs")


class ApiKey(Base):
    """A serving API key: only its SHA-256 is kept; ``prefix`` lets people tell keys apart."""

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("uq_api_keys_key_hash", "key_hash", unique=True),
        # One live key per name, so ``suite keys revoke NAME`` is unambiguous.
        Index(
            "uq_api_keys_live_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(20), default="viewer", server_default="operator")


class AuditLog(Base):
    """A change made through the console or the JSON API: who (key name and prefix), when, what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(220))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str] = mapped_column(String(500))
    detail: Mapped[dict[str, Any] | None]
    via: Mapped[str] = mapped_column(String(20))  # "console" or "api"
