"""--model resolution: packaged default, folders, Hub ids offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelNotFoundError
from core.models import packaged_model_path, resolve_model


def test_default_is_the_packaged_model():
    source = resolve_model(None)
    assert source.kind == "packaged"
    assert source.path == packaged_model_path()
    assert (source.path / "config.json").is_file()
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").kind == "packaged"


def test_local_folder(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_model(str(tmp_path)).kind == "folder"


def test_folder_without_config_is_rejected(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_unknown_hub_id_offline_lists_what_is_available():
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("acme/not-a-model", offline=True)
    assert "acme/not-a-model" in str(info.value)
    assert "default (packaged all-MiniLM-L6-v2)" in info.value.hint
    assert info.value.exit_code == 2


def test_a_plugin_table_chooses_its_scenarios_encoder(suite_env: Path, tmp_path: Path):
    """`model` in a plugin's suite.toml table is what its scenarios train from; the top-level
    `model` serves the others, and --model wins over both."""
    from core.app import Suite
    from core.errors import ConfigError
    from core.settings import load_settings

    folders = {}
    for name in ("top", "finance", "service", "recommend", "flag"):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "config.json").write_text("{}")
    suite_env.mkdir(parents=True, exist_ok=True)
    (suite_env / "suite.toml").write_text(
        f'model = "{folders["top"]}"\n'
        f'[finance_sentiment]\nmodel = "{folders["finance"]}"\n'
        f'[customer_service]\nmodel = "{folders["service"]}"\n'
        f'[recommendation]\nmodel = "{folders["recommend"]}"\n')
    suite = Suite.create(load_settings())
    chosen = {name: suite.scenarios.get(name).encoder(suite).path for name in
              ("finance-sentiment", "customer-service", "recommendation", "text-classification", "token-classification")}
    assert chosen == {"finance-sentiment": folders["finance"], "customer-service": folders["service"],
                      "recommendation": folders["recommend"], "text-classification": folders["top"],
                      "token-classification": folders["top"]}
    assert suite.scenarios.get("finance-sentiment").encoder(suite, str(folders["flag"])).path == folders["flag"]
    suite.close()

    (suite_env / "suite.toml").write_text("[customer_service]\nmodel = 7\n")
    suite = Suite.create(load_settings())
    with pytest.raises(ConfigError, match=r"\[customer_service\]: model"):
        suite.scenarios.get("customer-service").encoder(suite)
    suite.close()
