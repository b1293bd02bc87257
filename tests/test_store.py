"""The store on SQLite and PostgreSQL: migrations, runs, the model registry, concurrency.

PostgreSQL tests run when ``SUITE_TEST_POSTGRES_URL`` is set (e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); each test gets its own schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.errors import StoreError, UnknownNameError, UsageError
from core.store import Store, migrate, safe_url

POSTGRES_ENV = "SUITE_TEST_POSTGRES_URL"
CORE_HEAD = "core_0005"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'suite.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set: no PostgreSQL to test against (CI sets it)")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base, connect_args={"connect_timeout": 5}, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.fail(f"{POSTGRES_ENV}={safe_url(base)} is set but unreachable: {exc.orig}", pytrace=False)
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    store = Store.open(store_url)
    yield store
    store.close()


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------
# Migrations
# --------------------------------------------------------------------------------------


def test_blank_database_migrates_to_heads(store_url: str) -> None:
    store = Store.open(store_url)
    try:
        assert store.current_revisions() == {CORE_HEAD}
        store.ping()
    finally:
        store.close()
    assert {"runs", "models", "run_metrics", "alembic_version"} <= tables(store_url)


def test_sqlite_file_gets_its_folder_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "suite.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        store.close()
    assert path.is_file()


def test_in_memory_sqlite_works() -> None:
    store = Store.open("sqlite://")
    try:
        assert store.current_revisions() == {CORE_HEAD}
        assert store.get_run(store.start_run("s", {})).status == "running"
    finally:
        store.close()


def test_first_revision_database_upgrades_in_place(store_url: str) -> None:
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    migrate(engine, revision="core_0001")
    runs = sa.table("runs", *(sa.column(c) for c in ("id", "scenario", "status", "started_at")),
                    sa.column("config", sa.JSON))  # fmt: skip
    models = sa.table(
        "models", *(sa.column(c) for c in ("id", "name", "scenario", "version", "path", "active", "created_at",
                                          "run_id")), sa.column("metrics", sa.JSON),
    )  # fmt: skip
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(runs.insert().values(id=1, scenario="legacy", status="completed", started_at=now, config={"lr": 0.1}))
        conn.execute(models.insert().values(id=1, name="old", scenario="legacy", version=1, path="/m/old",
                                            active=True, created_at=now, run_id=1, metrics={"f1": 0.7}))  # fmt: skip
    engine.dispose()
    assert "run_metrics" not in tables(store_url)

    store = Store.open(store_url)
    try:
        assert store.current_revisions() == {CORE_HEAD}
        run = store.get_run(1)
        assert (run.scenario, run.config, run.started_at) == ("legacy", {"lr": 0.1}, now)
        assert store.get_model("old").metrics == {"f1": 0.7}
        store.log_epoch(1, 1.0, {"f1": 0.8})  # the new table works with old rows
        assert [e.metrics for e in store.get_run(1).epochs] == [{"f1": 0.8}]
    finally:
        store.close()


def test_reopening_is_idempotent(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = Store.open(store_url)
    first.register_model("m", "s", "/m/1", {})
    first.close()
    monkeypatch.setattr("core.store.command.upgrade", lambda *a, **k: pytest.fail("upgraded a database at head"))
    for _ in range(2):
        again = Store.open(store_url)
        assert again.current_revisions() == {CORE_HEAD}
        assert [m.version for m in again.list_models()] == [1]
        again.close()


PLUGIN_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "myplugin_0001"
down_revision = None
branch_labels = ("myplugin",)
depends_on = "core_0001"


def upgrade():
    op.create_table(
        "myplugin_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id")),
    )


def downgrade():
    op.drop_table("myplugin_items")
'''


def test_plugin_migration_folder_is_applied(store_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "myplugin_migrations"
    folder.mkdir()
    (folder / "myplugin_0001_items.py").write_text(PLUGIN_REVISION)

    store = Store.open(store_url, migration_paths=[folder])
    assert store.current_revisions() == {CORE_HEAD, "myplugin_0001"}
    store.close()
    assert "myplugin_items" in tables(store_url)
    Store.open(store_url, migration_paths=[folder]).close()  # idempotent with plugins too
    # The plugin gone but the core up to date: the store still opens.
    without = Store.open(store_url)
    assert without.current_revisions() == {CORE_HEAD, "myplugin_0001"}
    without.close()


def test_plugin_depending_on_the_core_head(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alembic then keeps only the plugin's row in the version table: still "at heads"."""
    folder = tmp_path / "later"
    folder.mkdir()
    source = PLUGIN_REVISION.replace('"core_0001"', f'"{CORE_HEAD}"').replace("myplugin", "later")
    (folder / "later_0001.py").write_text(source)
    Store.open(store_url, migration_paths=[folder]).close()
    monkeypatch.setattr("core.store.command.upgrade", lambda *a, **k: pytest.fail("upgraded a database at head"))
    store = Store.open(store_url, migration_paths=[folder])
    assert store.current_revisions() == {"later_0001"}
    store.close()
    assert "later_items" in tables(store_url)


def test_plugin_revision_unknown_to_an_upgrade_is_a_store_error(store_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "myplugin_0001_items.py").write_text(PLUGIN_REVISION)
    engine = sa.create_engine(store_url, poolclass=sa.pool.NullPool)
    migrate(engine, [folder], revision="core_0001")
    migrate(engine, [folder], revision="myplugin@head")
    engine.dispose()
    with pytest.raises(StoreError, match="cannot be migrated") as info:
        Store.open(store_url)  # needs the newer core revisions but cannot place myplugin_0001
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


def test_run_lifecycle_with_epoch_metrics(store: Store) -> None:
    run_id = store.start_run("finance-monitor", {"epochs": 2, "lr": 3e-5})
    run = store.get_run(run_id)
    assert (run.status, run.finished_at, run.epochs) == ("running", None, [])
    assert run.started_at.tzinfo is not None and run.started_at.utcoffset().total_seconds() == 0

    store.log_epoch(run_id, 1.0, {"loss": 0.5}, split="train", step=10)
    store.log_epoch(run_id, 1.0, {"f1": 0.7})
    store.log_epoch(run_id, 2.0, {"f1": 0.8})
    store.finish_run(run_id, "completed", metrics={"f1": 0.8}, model_path="/m/x", train_seconds=12.5)

    run = store.get_run(run_id)
    assert run.status == "completed" and run.metrics == {"f1": 0.8} and run.train_seconds == 12.5
    assert run.model_path == "/m/x" and run.config == {"epochs": 2, "lr": 3e-5}
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert [(e.epoch, e.split, e.step, e.metrics) for e in run.epochs] == [
        (1.0, "train", 10, {"loss": 0.5}),
        (1.0, "eval", None, {"f1": 0.7}),
        (2.0, "eval", None, {"f1": 0.8}),
    ]
    assert all(e.logged_at.tzinfo is not None for e in run.epochs)

    failed = store.start_run("other", {})
    store.finish_run(failed, "failed", error="CUDA out of memory")
    assert store.get_run(failed).error == "CUDA out of memory"
    assert [r.id for r in store.list_runs()] == [failed, run_id]  # newest first
    assert [r.id for r in store.list_runs(scenario="finance-monitor")] == [run_id]
    assert len(store.list_runs(limit=1)) == 1

    with pytest.raises(ValueError):
        store.finish_run(run_id, "done")
    with pytest.raises(UnknownNameError):
        store.get_run(9999)
    with pytest.raises(UnknownNameError):
        store.log_epoch(9999, 1.0, {})


# --------------------------------------------------------------------------------------
# Model registry
# --------------------------------------------------------------------------------------


def test_register_model_versions_and_single_active(store: Store) -> None:
    run_id = store.start_run("cs", {})
    entries = [store.register_model("intent", "cs", f"/m/{i}", {"f1": i / 10}, run_id=run_id) for i in range(3)]
    assert [e.version for e in entries] == [1, 2, 3]
    assert entries[0].run_id == run_id and entries[0].created_at.tzinfo is not None

    def active() -> list[int]:
        return [m.version for m in store.list_models() if m.name == "intent" and m.active]

    assert active() == [3]
    assert store.get_model("intent").version == 3
    assert store.activate_model("intent", 1).active
    assert active() == [1] and store.get_model("intent").version == 1
    assert store.get_model("intent", 2).path == "/m/1"

    quiet = store.register_model("intent", "cs", "/m/4", {}, activate=False)
    assert (quiet.version, quiet.active) == (4, False) and active() == [1]

    store.register_model("other", "fin", "/m/o", {})
    assert [m.name for m in store.list_models(scenario="fin")] == ["other"]
    assert [(m.name, m.version) for m in store.list_models()] == [("intent", v) for v in (1, 2, 3, 4)] + [("other", 1)]

    inactive = store.register_model("lonely", "cs", "/m/l", {}, activate=False)
    assert store.get_model("lonely") == inactive  # no active version: the latest


def test_get_model_unknown_name_lists_the_available_ones(store: Store) -> None:
    with pytest.raises(UnknownNameError, match="none registered"):
        store.get_model("nope")
    store.register_model("alpha", "cs", "/m/a", {})
    with pytest.raises(UnknownNameError, match="available: alpha"):
        store.get_model("beta")
    with pytest.raises(UnknownNameError, match="no version 7"):
        store.get_model("alpha", 7)
    with pytest.raises(UnknownNameError):
        store.activate_model("beta", 1)


WRITER = textwrap.dedent(
    """
    import sys
    import types

    # Load core.store without core/__init__ (which imports torch): only the race is tested.
    sys.modules["core"] = types.ModuleType("core")
    sys.modules["core"].__path__ = [sys.argv[4]]
    from core.store import Store

    url, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store.open(url)  # both open a fresh database at once: the migration lock
    print("ready", flush=True)
    sys.stdin.readline()  # start line: both write at the same moment
    versions = []
    for i in range(n):
        run = store.start_run("race", {"writer": tag, "i": i})
        store.log_epoch(run, 1.0, {"loss": 0.1})
        versions.append(store.register_model("shared", "race", f"/m/{tag}/{i}", {"i": i}, run_id=run).version)
        store.finish_run(run, "completed", metrics={"i": i})
    print("versions", *versions, flush=True)
    store.close()
    """
)


def test_two_writers_at_once(store_url: str) -> None:
    n = 15
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, tag, str(n), str(REPO / "core")],
            cwd=REPO, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        for tag in ("a", "b")
    ]
    try:
        for proc in writers:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", proc.communicate()[1]
        for proc in writers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=60) for proc in writers]
    finally:
        for proc in writers:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(writers, results):
        assert proc.returncode == 0, err
    versions = [int(v) for out, _ in results for v in out.split()[1:]]
    assert sorted(versions) == list(range(1, 2 * n + 1))

    store = Store.open(store_url)
    try:
        models = store.list_models()
        assert len(models) == 2 * n and sum(m.active for m in models) == 1
        runs = store.list_runs(limit=100)
        assert len(runs) == 2 * n and {r.status for r in runs} == {"completed"}
        assert all(len(r.epochs) == 1 for r in runs)
    finally:
        store.close()


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x?connect_timeout=2",
        "nosuchdialect://user:s3cret@host/db",
    ],
)
def test_unreachable_url_is_a_one_line_store_error(url: str) -> None:
    with pytest.raises(StoreError) as info:
        Store.open(url)
    message = str(info.value)
    assert message.startswith("database ") and "unreachable: " in message
    assert "\n" not in message and "s3cret" not in message


# --------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------


def test_api_keys_are_stored_hashed_and_revocable(store: Store) -> None:
    entry, secret = store.create_api_key("crm")
    assert secret.startswith(entry.prefix) and len(secret) > 40 and entry.active
    assert store.verify_api_key(secret) == entry
    assert store.verify_api_key(secret + "x") is None
    with store.read() as s:
        assert secret not in repr(list(s.execute(sa.text("SELECT * FROM api_keys"))))
    with pytest.raises(UsageError, match="live key named 'crm'"):
        store.create_api_key("crm")
    with pytest.raises(UsageError, match="not only digits"):
        store.create_api_key("42")
    revoked = store.revoke_api_key("crm")
    assert revoked.revoked_at is not None and store.verify_api_key(secret) is None
    assert store.revoke_api_key(str(entry.id)).revoked_at == revoked.revoked_at  # revoking twice keeps the first time
    again, _ = store.create_api_key("crm")  # the name is free once its key is revoked
    assert [(k.id, k.active) for k in store.list_api_keys()] == [(entry.id, False), (again.id, True)]
    with pytest.raises(UnknownNameError, match="no live API key 'nope'"):
        store.revoke_api_key("nope")


def test_a_failed_statement_never_shows_its_parameters(store: Store) -> None:
    """A database error's message names the statement, not the data (a customer's text, an item) (#15)."""
    with store.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE secrets_probe (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(sa.text("INSERT INTO secrets_probe VALUES (1, :body)"), {"body": "my card number is 4111"})
    with pytest.raises(sa.exc.IntegrityError) as failed:
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO secrets_probe VALUES (1, :body)"), {"body": "my card number is 4111"})
    assert "4111" not in str(failed.value) and "hidden" in str(failed.value)
