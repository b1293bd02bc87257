"""Shared fixtures. The isolation every test gets (``suite_env``: its own SUITE_HOME, no SUITE_*
leaking from the shell) and ``tiny_model`` come from the plugin kit, ``core.testing``, so
the suite's own tests and a third party's run on the same fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
