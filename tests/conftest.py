"""Shared fixtures. The isolation every test gets (``suite_env``: its own SUITE_HOME, no SUITE_*
leaking from the shell) and ``tiny_model`` come from the plugin kit, ``core.testing``, so
the suite's own tests and a third party's run on the same fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.plugins import make_plugin_manager
from core.settings import Settings

pytest_plugins = ["core.testing"]


@pytest.fixture
def settings(suite_env: Path) -> Settings:
    return Settings()


@pytest.fixture
def builtin_pm(settings: Settings):
    """A plugin manager with the real entry points of this distribution."""
    return make_plugin_manager(settings)


def service_url(var: str) -> str:
    """The URL of a test server from the environment, or skip with the reason."""
    url = os.environ.get(var)
    if not url:
        pytest.skip(f"{var} not set: no server to test against (CI sets it)")
    return url


def fresh_schema(base: str) -> Iterator[str]:
    """A new schema in the PostgreSQL at ``base``: yields a URL whose connections use it,
    drops it (and everything in it) when resumed."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(base, poolclass=sa.pool.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL (skipped without ``SUITE_TEST_POSTGRES_URL``)."""
    base = os.environ.get("SUITE_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("SUITE_TEST_POSTGRES_URL not set: no PostgreSQL to test against (CI sets it)")
    yield from fresh_schema(base)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under playwright, one per module (tests/browser_pages.py)."""
    from browser_pages import launched_browser

    yield from launched_browser()
