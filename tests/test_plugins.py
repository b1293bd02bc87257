"""Plugin discovery: entry points, enable/disable, broken plugins, the listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings

BUILTINS = {"customer_service", "finance_sentiment", "recommendation"}


def fake_distribution(root: Path, dist: str, entry_name: str, module: str, source: str) -> None:
    """A minimal installed distribution on ``root``: metadata, an entry point and its module."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist.replace('-', '_')}-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text(f"[suite]\n{entry_name} = {module}\n")


@pytest.fixture
def extra_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def list_json(pm, settings=None) -> list[dict]:
    result = CliRunner().invoke(build_app(pm, settings), ["plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_builtins_load_through_entry_points(builtin_pm):
    plugins = {p["name"]: p for p in list_json(builtin_pm)}
    assert BUILTINS <= set(plugins)
    for name in BUILTINS:
        assert plugins[name]["status"] == "ok"
        assert plugins[name]["version"] == "0.1.0"
        assert "register_data_adapters" in plugins[name]["hooks"]


def test_load_plugins_env_filters_by_entry_point_name(monkeypatch):
    monkeypatch.setenv("SUITE_LOAD_PLUGINS", "finance_sentiment")
    records = {r.name: r.status for r in make_plugin_manager(Settings()).plugins_info()}
    assert records["finance_sentiment"] == "ok"
    assert records["customer_service"] == records["recommendation"] == "disabled"


def test_empty_load_plugins_loads_none(monkeypatch):
    monkeypatch.setenv("SUITE_LOAD_PLUGINS", "")
    pm = make_plugin_manager(Settings())
    assert all(r.status == "disabled" for r in pm.plugins_info())
    assert pm.get_plugin("finance_sentiment") is None


def test_disabled_in_config_file(suite_env: Path):
    suite_env.mkdir(parents=True, exist_ok=True)
    (suite_env / "suite.toml").write_text('disable_plugins = ["recommendation"]\n')
    records = {r.name: r.status for r in make_plugin_manager(Settings()).plugins_info()}
    assert records["recommendation"] == "disabled"
    assert records["customer_service"] == "ok"


def test_broken_plugin_is_listed_and_others_still_load(extra_path: Path, settings):
    fake_distribution(extra_path, "suite-broken", "broken_one", "suite_broken_mod", "raise ImportError('no numpy here')\n")
    fake_distribution(
        extra_path,
        "suite-typo",
        "typo_one",
        "suite_typo_mod",
        "from core import hookimpl\n@hookimpl\ndef register_data_adaptors(register):\n    pass\n",
    )
    plugins = {p["name"]: p for p in list_json(make_plugin_manager(settings), settings)}
    assert plugins["broken_one"]["status"] == "broken"
    assert "no numpy here" in plugins["broken_one"]["error"]
    assert plugins["typo_one"]["status"] == "broken"
    assert "register_data_adaptors" in plugins["typo_one"]["error"]
    assert all(plugins[name]["status"] == "ok" for name in BUILTINS)


def test_list_table_and_hook_filter(builtin_pm):
    runner = CliRunner()
    table = runner.invoke(build_app(builtin_pm), ["plugins", "list"])
    assert table.exit_code == 0 and "finance_sentiment" in table.stdout
    none = runner.invoke(build_app(builtin_pm), ["plugins", "list", "--json", "--hook", "register_sources"])
    assert none.exit_code == 0 and json.loads(none.stdout) == []
    defaults = runner.invoke(build_app(builtin_pm), ["plugins", "list", "--json", "--all"])
    assert "core.default_plugins.adapters" in {p["name"] for p in json.loads(defaults.stdout)}


def test_disable_then_enable_through_the_cli(settings, suite_env: Path):
    runner = CliRunner()
    result = runner.invoke(build_app(make_plugin_manager(settings), settings), ["plugins", "disable", "recommendation"])
    assert result.exit_code == 0, result.output
    assert "recommendation" in (suite_env / "suite.toml").read_text()
    again = Settings()
    assert {p["name"]: p["status"] for p in list_json(make_plugin_manager(again), again)}["recommendation"] == "disabled"
    missing = runner.invoke(build_app(make_plugin_manager(again), again), ["train", "recommendation"])
    said = " ".join(missing.output.replace("│", " ").split())  # the message as one line, out of rich's box
    assert missing.exit_code == 2 and "disabled: recommendation" in said  # not just 'No such command' (#14 item 7)
    assert "suite plugins enable" in said
    result = runner.invoke(build_app(make_plugin_manager(again), again), ["plugins", "enable", "recommendation"])
    assert result.exit_code == 0, result.output
    final = Settings()
    assert {p["name"]: p["status"] for p in list_json(make_plugin_manager(final), final)}["recommendation"] == "ok"


def test_unknown_plugin_name_is_a_usage_error(builtin_pm):
    result = CliRunner().invoke(build_app(builtin_pm), ["plugins", "disable", "nope"])
    assert result.exit_code == 2
    assert "unknown plugin 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_trace_env_prints_hook_calls(monkeypatch, capsys):
    monkeypatch.setenv("SUITE_TRACE_PLUGINS", "1")
    from core.app import Suite

    pm = make_plugin_manager(Settings())
    Suite(Settings(), pm).adapters
    assert "register_data_adapters" in capsys.readouterr().err
