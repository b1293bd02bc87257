"""Precedence: defaults < suite.toml (SUITE_HOME, then cwd) < SUITE_* env < CLI flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings


def test_defaults(suite_env: Path):
    settings = Settings()
    assert settings.home == suite_env
    assert settings.db_url == f"sqlite:///{suite_env / 'suite.db'}"
    assert settings.load_plugins is None and settings.disable_plugins == []


def test_precedence(suite_env: Path, monkeypatch: pytest.MonkeyPatch):
    suite_env.mkdir(parents=True)
    (suite_env / "suite.toml").write_text('model = "home-model"\ndatabase_url = "sqlite:///home.db"\n[finance_sentiment]\nwindow = "15m"\n')
    assert Settings().model == "home-model"
    Path("suite.toml").write_text('model = "cwd-model"\n')
    assert Settings().model == "cwd-model"
    assert Settings().database_url == "sqlite:///home.db"  # files merge, cwd wins per key
    monkeypatch.setenv("SUITE_MODEL", "env-model")
    assert Settings().model == "env-model"
    assert load_settings(model="flag-model").model == "flag-model"
    assert Settings().plugin_config("finance_sentiment") == {"window": "15m"}
    assert Settings().plugin_config("absent") == {}


def test_comma_lists_from_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUITE_DISABLE_PLUGINS", "a, b")
    assert Settings().disable_plugins == ["a", "b"]


def test_invalid_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SUITE_OFFLINE", "maybe")
    with pytest.raises(ConfigError, match="offline"):
        load_settings()
