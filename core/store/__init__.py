"""The suite's store: runs, per-epoch metrics and the model registry, on SQLite or PostgreSQL.

The schema is owned by Alembic migrations (``migrations/versions``; plugins add branches
through the ``register_migrations`` hook) and is upgraded to every head when the store
opens, under a lock, so several processes may open one fresh database at once. Callers get
plain dataclasses, never ORM objects, so nothing they hold depends on an open session.
"""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.errors import StoreError, UnknownNameError, UsageError
from core.store.schema import ROLES, RUN_STATUSES, ApiKey, AuditLog, Model, Run, RunMetric, utcnow

__all__ = [
    "ApiKeyEntry",
    "AuditEntry",
    "CORE_VERSIONS_DIR",
    "EpochEntry",
    "MIGRATIONS_DIR",
    "ModelEntry",
    "ROLES",
    "RunEntry",
    "Store",
    "alembic_config",
    "migrate",
    "safe_url",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
CORE_VERSIONS_DIR = MIGRATIONS_DIR / "versions"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
WRITE_ATTEMPTS = 10  # a writer that loses a unique-constraint race retries this often
_WRITE_OPTION = "suite_write"  # execution option: SQLite takes the write lock at BEGIN
API_KEY_PREFIX = "sk-"
API_KEY_SHOWN = 10  # characters of a key kept in clear to tell keys apart (prefix + 7)

T = TypeVar("T")


# --------------------------------------------------------------------------------------
# What callers get
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpochEntry:
    epoch: float
    step: int | None
    split: str
    metrics: dict[str, Any]
    logged_at: datetime


@dataclass(frozen=True)
class RunEntry:
    id: int
    scenario: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None
    train_seconds: float | None
    model_path: str | None
    error: str | None
    epochs: list[EpochEntry] = field(default_factory=list)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    version: int
    scenario: str
    active: bool
    metrics: dict[str, Any]
    path: str
    id: int
    created_at: datetime
    run_id: int | None
    teacher: str | None = None  # "name vN": the model this one was distilled from


@dataclass(frozen=True)
class ApiKeyEntry:
    """A key as listings show it: never the secret, only its first characters."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    role: str = "viewer"

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    def can(self, role: str) -> bool:
        """Whether this key's role includes ``role`` (viewer < operator < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any] | None
    via: str


def _key_entry(row: ApiKey) -> ApiKeyEntry:
    return ApiKeyEntry(row.id, row.name, row.prefix, row.created_at, row.revoked_at, row.role)


def hash_api_key(secret: str) -> str:
    """SHA-256 hex of a key: a random 256-bit secret needs no salt or slow hash."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _run_entry(row: Run) -> RunEntry:
    epochs = [EpochEntry(e.epoch, e.step, e.split, e.metrics, e.logged_at) for e in row.epochs]
    return RunEntry(
        row.id, row.scenario, row.status, row.config, row.metrics, row.started_at,
        row.finished_at, row.train_seconds, row.model_path, row.error, epochs,
    )  # fmt: skip


def _model_entry(row: Model) -> ModelEntry:
    return ModelEntry(
        row.name, row.version, row.scenario, row.active, row.metrics, row.path,
        row.id, row.created_at, row.run_id, row.teacher,
    )  # fmt: skip


# --------------------------------------------------------------------------------------
# Engine, messages and migrations
# --------------------------------------------------------------------------------------


def safe_url(url: str | URL) -> str:
    """The URL as it may appear in messages and logs: password masked, even if unparsable."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a bad URL must still be shown, masked
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _reason(exc: BaseException, url: str | URL | None = None) -> str:
    """The driver's message on one line (SQLAlchemy's wrapper adds SQL and a docs link)."""
    orig = getattr(exc, "orig", None) or exc
    reason = " ".join(line.strip() for line in str(orig).splitlines() if line.strip())
    password = _password(url)
    return (reason.replace(password, "***") if password else reason) or type(orig).__name__


def _password(url: str | URL | None) -> str | None:
    try:
        return make_url(url).password if url is not None else None  # type: ignore[arg-type,return-value]
    except Exception:  # noqa: BLE001
        return None


def _create_engine(url: str | URL) -> Engine:
    """An engine with the per-connection settings the store relies on."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql" and parsed.get_driver_name() == "psycopg" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S  # fail fast instead of hanging
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:") and "mode=memory" not in str(parsed):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    # hide_parameters: a failed statement's message never carries a customer's text or an item's data
    engine = create_engine(parsed, pool_pre_ping=backend != "sqlite", connect_args=connect_args, hide_parameters=True)
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _set_wal(cursor: Any) -> None:
    """Switch to WAL, retrying: on a *new* file another process is creating, SQLite
    answers "locked" without honouring busy_timeout; retry as long as that would wait."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def _configure_sqlite(engine: Engine) -> None:
    """WAL + busy timeout so several processes can share the file; FKs on; explicit BEGINs.

    pysqlite's own transaction handling begins lazily (a read later upgraded to a write
    fails at once with "database is locked" in WAL mode). We emit BEGIN ourselves and make
    write transactions ``BEGIN IMMEDIATE``: they wait (busy_timeout) for the write lock up
    front, so concurrent writers serialise instead of failing.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _set_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL; a commit is not an fsync
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(migration_paths: Sequence[Path | str] = ()) -> Config:
    """An in-memory Alembic config: the core revisions plus each plugin's folder.

    Usable for developer commands too, e.g.
    ``command.revision(alembic_config(), "add x", version_path=str(CORE_VERSIONS_DIR))``
    (set ``sqlalchemy.url`` with ``set_main_option`` for ``--autogenerate``).
    """
    cfg = Config()
    locations = [str(CORE_VERSIONS_DIR)] + [str(Path(p)) for p in migration_paths]
    locations = list(dict.fromkeys(locations))  # a plugin registering twice is harmless
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    # newline: the one separator that cannot occur inside a folder name.
    cfg.set_main_option("path_separator", "newline")
    cfg.set_main_option("version_locations", "\n".join(locations).replace("%", "%%"))
    return cfg


def _at_heads(conn: Connection, cfg: Config) -> bool:
    """Whether every head this installation knows is applied (then: no lock, no upgrade).

    The version table holds only the newest revisions: a plugin revision that depends on
    the core head replaces that head's row, so "applied" means the heads plus everything
    below them, dependencies included. Rows of plugins not installed now are ignored.
    """
    script = ScriptDirectory.from_config(cfg)
    applied: set[str] = set()
    for rev in MigrationContext.configure(conn).get_current_heads():
        try:
            applied.update(s.revision for s in script.iterate_revisions((rev,), "base"))
        except (CommandError, RevisionError):
            continue  # a revision from a plugin that is not installed (or a newer suite)
    return set(script.get_heads()) <= applied


def _upgrade(conn: Connection, cfg: Config, revision: str) -> None:
    if conn.dialect.name == "postgresql":
        # Held until this transaction ends; one per schema so test schemas don't contend.
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('industry-suite:migrate:' || coalesce(current_schema(), '')))")
        )
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def migrate(bind: Engine | Connection, migration_paths: Sequence[Path | str] = (), *, revision: str = "heads") -> None:
    """Upgrade the schema to ``revision`` ("heads": the core and every plugin branch).

    Idempotent and cheap at head. Given a connection inside a transaction, the caller
    commits; otherwise the upgrade is its own transaction, taken under the migration lock
    (PostgreSQL: an advisory lock; SQLite: the write lock of ``BEGIN IMMEDIATE``).
    """
    cfg = alembic_config(migration_paths)
    if isinstance(bind, Connection):
        if bind.in_transaction():
            _upgrade(bind, cfg, revision)
        else:
            with bind.execution_options(**{_WRITE_OPTION: True}).begin():
                _upgrade(bind, cfg, revision)
        return
    if revision == "heads":
        with bind.connect() as conn:
            if _at_heads(conn, cfg):
                return
    with bind.execution_options(**{_WRITE_OPTION: True}).begin() as conn:
        _upgrade(conn, cfg, revision)


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------


class Store:
    """Runs and the model registry; each public method is its own transaction.

    Build one with :meth:`open`; ``Store(engine)`` skips the connection check and migrations.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = safe_url(engine.url)
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(engine.execution_options(**{_WRITE_OPTION: True}), expire_on_commit=False)

    @classmethod
    def open(cls, url: str, migration_paths: Sequence[Path] = ()) -> Store:
        """Connect and upgrade to every head; any failure is one :class:`StoreError` line."""
        shown = safe_url(url)
        try:
            engine = _create_engine(url)
        except (ArgumentError, NoSuchModuleError, ImportError, OSError, ValueError) as exc:
            raise StoreError(f"database {shown} unreachable: {_reason(exc, url)}") from exc
        store = cls(engine)
        try:
            store.ping()
            try:
                migrate(engine, migration_paths)
            except (CommandError, RevisionError, DBAPIError) as exc:
                reason = _reason(exc, url)
                unknown = "locate revision" in reason or "No such revision" in reason
                raise StoreError(
                    f"database {shown} cannot be migrated: {reason}",
                    hint="upgraded by a newer suite, or by a plugin that is not installed now?" if unknown else None,
                ) from exc
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def ping(self) -> None:
        """Raise :class:`StoreError` unless the database answers."""
        with self._errors(), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def current_revisions(self) -> set[str]:
        """The revisions in Alembic's version table (a branch's row may stand for its dependencies)."""
        with self._errors(), self.engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    def check_writable(self) -> None:
        """Raise :class:`StoreError` when the database takes no writes (a read-only file, folder
        or role): a rewrite of Alembic's version row in a transaction that is rolled back."""
        with self._errors(), self.engine.connect() as conn:
            transaction = conn.begin()
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
            except DBAPIError as exc:
                raise StoreError(f"database {self.url} is read-only: {_reason(exc, self.engine.url)}") from None
            finally:
                transaction.rollback()

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """A lost or refused connection is the user's to fix: one line, not a traceback."""
        try:
            yield
        except DBAPIError as exc:
            if not (isinstance(exc, OperationalError) or exc.connection_invalidated):
                raise
            raise StoreError(f"database {self.url} unreachable: {_reason(exc, self.engine.url)}") from exc

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._errors(), self._reads() as session:
            yield session

    def _write(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a write transaction, again if a concurrent writer won a race.

        Version numbers are ``max + 1``; two writers may compute the same one. The unique
        constraints reject the loser, which retries in a fresh transaction that sees the
        winner's row.
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                with self._errors(), self._writes.begin() as session:
                    return work(session)
            except IntegrityError:
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.001, 0.01 * (attempt + 1)))
        raise AssertionError("unreachable")

    # -- for plugins' own tables (registered through ``register_migrations``) ----------

    def write(self, work: Callable[[Session], T]) -> T:
        """Run ``work(session)`` in one write transaction: all of it is stored, or none."""
        return self._write(work)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; connection failures become one :class:`StoreError` line."""
        with self._read() as session:
            yield session

    @staticmethod
    def _run(session: Session, run_id: int) -> Run:
        row = session.get(Run, run_id)
        if row is None:
            raise UnknownNameError(f"unknown run {run_id}")
        return row

    # -- runs --------------------------------------------------------------------------

    def start_run(self, scenario: str, config: dict[str, Any]) -> int:
        """Record a job as running before it does work, so a crash still leaves a trace."""

        def work(s: Session) -> int:
            row = Run(scenario=scenario, status="running", config=config, started_at=utcnow())
            s.add(row)
            s.flush()
            return row.id

        return self._write(work)

    def log_epoch(
        self, run_id: int, epoch: float, metrics: dict[str, Any], split: str = "eval", step: int | None = None
    ) -> None:
        """Append one epoch's metrics as it finishes (visible to other processes at once)."""

        def work(s: Session) -> None:
            self._run(s, run_id)
            s.add(RunMetric(run_id=run_id, epoch=epoch, step=step, split=split, metrics=metrics, logged_at=utcnow()))

        self._write(work)

    def finish_run(
        self,
        run_id: int,
        status: str,
        metrics: dict[str, Any] | None = None,
        model_path: str | None = None,
        train_seconds: float | None = None,
        error: str | None = None,
    ) -> None:
        """Close a run with how it ended; fields left ``None`` keep what the run already has."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"finish_run status must be one of {RUN_STATUSES[1:]}, not {status!r}")

        def work(s: Session) -> None:
            row = self._run(s, run_id)
            row.status, row.finished_at = status, utcnow()
            for name, value in (("metrics", metrics), ("model_path", model_path),
                                ("train_seconds", train_seconds), ("error", error)):  # fmt: skip
                if value is not None:
                    setattr(row, name, value)

        self._write(work)

    def get_run(self, run_id: int) -> RunEntry:
        with self._read() as s:
            return _run_entry(self._run(s, run_id))

    def list_runs(self, scenario: str | None = None, limit: int = 50) -> list[RunEntry]:
        """Newest first."""
        query = select(Run).options(selectinload(Run.epochs)).order_by(Run.id.desc()).limit(limit)
        if scenario is not None:
            query = query.where(Run.scenario == scenario)
        with self._read() as s:
            return [_run_entry(row) for row in s.scalars(query)]

    # -- model registry ----------------------------------------------------------------

    def register_model(
        self,
        name: str,
        scenario: str,
        path: str | Path,
        metrics: dict[str, Any],
        run_id: int | None = None,
        activate: bool = True,
        teacher: str | None = None,
    ) -> ModelEntry:
        """Add the next version of ``name``; safe with concurrent writers (see ``_write``).
        ``teacher`` ("name vN") records the model a distilled one learnt from."""

        def work(s: Session) -> ModelEntry:
            if run_id is not None:
                self._run(s, run_id)
            latest = s.scalar(select(func.max(Model.version)).where(Model.name == name)) or 0
            if activate:
                s.execute(update(Model).where(Model.name == name, Model.active).values(active=False))
            row = Model(
                name=name, scenario=scenario, version=latest + 1, path=str(path), metrics=metrics,
                active=activate, created_at=utcnow(), run_id=run_id, teacher=teacher,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return _model_entry(row)

        return self._write(work)

    def list_models(self, scenario: str | None = None) -> list[ModelEntry]:
        query = select(Model).order_by(Model.name, Model.version)
        if scenario is not None:
            query = query.where(Model.scenario == scenario)
        with self._read() as s:
            return [_model_entry(row) for row in s.scalars(query)]

    def get_model(self, name: str, version: int | None = None) -> ModelEntry:
        """A version of ``name``; ``None`` means the active one (else the latest)."""
        with self._read() as s:
            return _model_entry(self._model(s, name, version))

    def find_model(self, spec: str) -> ModelEntry:
        """``NAME`` (its active version, else the latest) or ``NAME:VERSION``, as options spell them."""
        name, _, version = spec.partition(":")
        if version and not version.isdigit():
            raise UsageError(f"'{spec}': expected NAME or NAME:VERSION")
        return self.get_model(name, int(version) if version else None)

    def activate_model(self, name: str, version: int) -> ModelEntry:
        """Make ``version`` the one active version of ``name`` (e.g. to roll back)."""

        def work(s: Session) -> ModelEntry:
            row = self._model(s, name, version)
            # Deactivate first: the one-active index is checked row by row on PostgreSQL.
            s.execute(update(Model).where(Model.name == name, Model.active).values(active=False))
            s.execute(update(Model).where(Model.id == row.id).values(active=True))
            s.refresh(row)
            return _model_entry(row)

        return self._write(work)

    @staticmethod
    def _model(s: Session, name: str, version: int | None) -> Model:
        rows = list(s.scalars(select(Model).where(Model.name == name).order_by(Model.version)))
        if not rows:
            known = ", ".join(s.scalars(select(Model.name).distinct().order_by(Model.name))) or "none registered"
            raise UnknownNameError(f"unknown model '{name}' (available: {known})")
        if version is None:
            return next((r for r in rows if r.active), rows[-1])
        for row in rows:
            if row.version == version:
                return row
        versions = ", ".join(str(r.version) for r in rows)
        raise UnknownNameError(f"model '{name}' has no version {version} (available: {versions})")

    # -- API keys ----------------------------------------------------------------------

    def create_api_key(self, name: str, role: str = "viewer") -> tuple[ApiKeyEntry, str]:
        """A new key named ``name`` and its secret: the only time the secret exists in clear."""
        name = name.strip()
        if not name or name.isdigit() or len(name) > 200:
            raise UsageError(f"key name '{name}': use 1-200 characters, not only digits (ids are numbers)")
        if role not in ROLES:
            raise UsageError(f"--role: expected one of {', '.join(ROLES)}, got '{role}'")
        secret = API_KEY_PREFIX + secrets.token_urlsafe(32)

        def work(s: Session) -> ApiKeyEntry:
            live = s.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))
            if live is not None:
                raise UsageError(f"a live key named '{name}' exists (id {live.id})",
                                 hint=f"revoke it first (suite keys revoke {live.id}) or pick another name")
            row = ApiKey(name=name, prefix=secret[:API_KEY_SHOWN], key_hash=hash_api_key(secret), created_at=utcnow(),
                         role=role)
            s.add(row)
            s.flush()
            return _key_entry(row)

        return self._write(work), secret

    def list_api_keys(self) -> list[ApiKeyEntry]:
        with self._read() as s:
            return [_key_entry(row) for row in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def revoke_api_key(self, id_or_name: str | int) -> ApiKeyEntry:
        """Revoke by id, or the live key of that name; revoking twice keeps the first time."""

        def work(s: Session) -> ApiKeyEntry:
            row = self._api_key(s, str(id_or_name).strip())
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                s.flush()
            return _key_entry(row)

        return self._write(work)

    def verify_api_key(self, secret: str) -> ApiKeyEntry | None:
        """The live key whose secret this is, else ``None`` (unknown or revoked)."""
        query = select(ApiKey).where(ApiKey.key_hash == hash_api_key(secret), ApiKey.revoked_at.is_(None))
        with self._read() as s:
            row = s.scalar(query)
            return _key_entry(row) if row is not None else None

    def get_api_key(self, key_id: int) -> ApiKeyEntry | None:
        """The key with this id if it is still live (a console session refers to its key by id)."""
        with self._read() as s:
            row = s.get(ApiKey, key_id)
            return _key_entry(row) if row is not None and row.revoked_at is None else None

    # -- audit -------------------------------------------------------------------------

    def audit(self, actor: str, role: str, action: str, target: str, detail: dict[str, Any] | None = None, *,
              via: str = "console") -> None:
        """Record a change (``action`` on ``target``, e.g. "activate" on "banking77 v3") by ``actor``
        (a key's :attr:`ApiKeyEntry.label`)."""
        row = AuditLog(at=utcnow(), actor=actor[:220], role=role, action=action, target=target[:500], detail=detail,
                       via=via)
        self._write(lambda s: s.add(row))

    def list_audit(self, limit: int = 100, offset: int = 0) -> list[AuditEntry]:
        query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
        with self._read() as s:
            return [AuditEntry(r.id, r.at, r.actor, r.role, r.action, r.target, r.detail, r.via) for r in s.scalars(query)]

    @staticmethod
    def _api_key(s: Session, id_or_name: str) -> ApiKey:
        if id_or_name.isdigit():
            row = s.get(ApiKey, int(id_or_name))
        else:
            row = s.scalar(select(ApiKey).where(ApiKey.name == id_or_name, ApiKey.revoked_at.is_(None)))
        if row is None:
            live = ", ".join(f"{k.id} ({k.name})" for k in s.scalars(
                select(ApiKey).where(ApiKey.revoked_at.is_(None)).order_by(ApiKey.id))) or "none"
            raise UnknownNameError(f"no live API key '{id_or_name}' (live keys: {live})")
        return row
