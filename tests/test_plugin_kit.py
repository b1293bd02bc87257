"""The plugin authoring kit: ``suite plugins new``, ``core.testing`` (isolation fixture and
conformance check), and the acceptance path of a scaffolded plugin installed with pip."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import tomlkit
import typer
from fastapi import APIRouter
from typer.testing import CliRunner

from core import DataAdapter, Scenario, TaskHead, UsageError, hookimpl
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.scaffold import FILES, scaffold_plugin
from core.settings import Settings
from core.testing import RoundTrip, check_plugin, conformance_report

# --------------------------------------------------------------------------------------
# suite plugins new
# --------------------------------------------------------------------------------------


def new(settings: Settings, *args: str):
    return CliRunner().invoke(build_app(make_plugin_manager(settings, load_entrypoints=False), settings),
                              ["plugins", "new", *args])


def test_scaffold_writes_a_package_that_parses(settings, tmp_path: Path):
    result = new(settings, "acme_tickets", "--dir", str(tmp_path / "pkg"), "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["package"] == "suite_acme_tickets" and made["scenario"] == "acme-tickets"
    root = tmp_path / "pkg"
    assert sorted(made["files"]) == sorted(f.format(package="suite_acme_tickets") for f in FILES)
    project = tomlkit.parse((root / "pyproject.toml").read_text()).unwrap()
    assert project["project"]["name"] == "suite-acme-tickets"
    assert project["project"]["entry-points"]["suite"] == {"acme_tickets": "suite_acme_tickets"}
    assert any(dep.startswith("industry-suite") for dep in project["project"]["dependencies"])
    for source in root.rglob("*.py"):
        compile(source.read_text(), str(source), "exec")
    assert 'pytest_plugins = ["core.testing"]' in (root / "tests" / "conftest.py").read_text()
    assert "suite run acme-tickets" in (root / "README.md").read_text()


def test_scaffold_in_the_working_folder_by_default(settings):
    result = new(settings, "acme")
    assert result.exit_code == 0, result.output
    assert (Path("suite-acme") / "suite_acme" / "scenario.py").is_file()
    assert "pip install -e suite-acme" in result.stderr


@pytest.mark.parametrize("name", ["Acme", "acme-tickets", "9lives", "acme__x", "acme_", "a" * 41, "x.y"])
def test_scaffold_refuses_bad_names(settings, tmp_path: Path, name: str):
    result = new(settings, name, "--dir", str(tmp_path / "pkg"))
    assert result.exit_code == 2
    assert f"invalid plugin name '{name}'" in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "pkg").exists()


def test_scaffold_refuses_a_non_empty_folder_and_taken_names(settings, tmp_path: Path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    taken = new(settings, "acme", "--dir", str(folder))
    assert taken.exit_code == 2 and "already exists and is not an empty folder" in taken.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    core_scenario = new(settings, "text_classification", "--dir", str(tmp_path / "other"))
    assert core_scenario.exit_code == 2 and "scenario named 'text-classification'" in core_scenario.stderr
    installed = CliRunner().invoke(build_app(make_plugin_manager(settings), settings),
                                   ["plugins", "new", "finance_sentiment", "--dir", str(tmp_path / "other")])
    assert installed.exit_code == 2 and "plugin named 'finance_sentiment' is already installed" in installed.stderr
    assert not (tmp_path / "other").exists()
    with pytest.raises(UsageError, match="already exists"):
        scaffold_plugin("acme", folder)
    (tmp_path / "empty").mkdir()
    assert scaffold_plugin("acme", tmp_path / "empty")  # an empty folder is fine


# --------------------------------------------------------------------------------------
# core.testing: isolation
# --------------------------------------------------------------------------------------


class EchoPlugin:
    @hookimpl
    def register_commands(self, cli):
        @cli.command("echo")
        def echo(word: str) -> None:
            print(word.upper())


def test_suite_with_plugin_registers_only_that_plugin(suite_with_plugin, suite_env: Path):
    suite = suite_with_plugin(EchoPlugin(), name="echo")
    assert suite.invoke("echo", "hi").stdout.strip() == "HI"
    listed = suite.invoke_json("plugins", "list")
    assert [(p["name"], p["hooks"]) for p in listed] == [("echo", ["register_commands"])]  # nothing installed crept in
    assert "finance-sentiment" not in suite.suite.scenarios
    assert suite.settings.home == suite_env


# --------------------------------------------------------------------------------------
# core.testing: conformance
# --------------------------------------------------------------------------------------


class NotAnAdapter:
    name = "csv"


class Lines(DataAdapter):
    name = "csv"  # the core's

    def read(self, source, options):
        return iter(())


class HalfHead(TaskHead):
    name = "half"


class Shouting(Scenario):
    name = "Shouting_Scenario"

    def predict(self, suite, text: Annotated[list[str], typer.Argument()]) -> dict[str, Any]:
        return {"predictions": [t.upper() for t in text]}


class Broken:
    """Breaks a promise of every kind the check knows about."""

    @hookimpl
    def register_data_adapters(self, register):
        register(NotAnAdapter())
        register(Lines())

    @hookimpl
    def register_task_heads(self, register):
        register(HalfHead)
        register("not a class")

    @hookimpl
    def register_scenarios(self, register):
        register(Shouting())

    @hookimpl
    def register_routes(self, register, suite):
        router = APIRouter()
        router.get("/health")(lambda: {})
        register(router)

    @hookimpl
    def register_commands(self, cli):
        cli.command("train")(lambda: None)

    @hookimpl
    def register_migrations(self, register):
        register(Path("/nonexistent/migrations"))

    @hookimpl
    def register_alert_sinks(self, register):
        raise RuntimeError("sink config missing")

    @hookimpl
    def register_ui(self, register, suite):
        from core.console import ConsolePage

        register(ConsolePage("models", "Mine", APIRouter()))


def test_conformance_lists_every_broken_promise():
    with pytest.raises(AssertionError) as raised:
        check_plugin(Broken(), name="broken")
    message = str(raised.value)
    for expected in [
        "register_data_adapters: expected a core.DataAdapter instance",
        "register_data_adapters: data adapter 'csv' clashes with the core's",
        "register_task_heads: task head HalfHead does not implement build_model, collate, decode, features",
        "register_task_heads: expected a core.TaskHead subclass",
        "register_scenarios: scenario 'Shouting_Scenario': the name must be kebab-case",
        "register_routes: route /health is the core's",
        "register_commands: command 'train' shadows the core's 'suite train'",
        "register_migrations: expected the folder of Alembic revision files",
        "register_alert_sinks raised RuntimeError: sink config missing",
        "register_ui: page name 'models': use lowercase letters, digits and dashes, not one of",
    ]:
        assert expected in message, message
    assert message.startswith("plugin 'broken' breaks 10 promise(s)")


class Typo:
    @hookimpl
    def register_data_adaptors(self, register):
        pass


def test_conformance_reports_a_misspelt_hook():
    report = conformance_report(Typo(), name="typo")
    assert report.failures == ["cannot be registered: PluginError: implements unknown hook(s): register_data_adaptors"]


class Trainable(Scenario):
    name = "trainable"

    def train(self, suite, train: Annotated[str, typer.Option("--train")]) -> dict[str, Any]:
        if "bad" in train:
            raise UsageError(f"{train}: cannot be read")
        return {"model": self.name}

    def predict(self, suite, input: Annotated[str, typer.Option("--input")]) -> dict[str, Any]:
        return {"predictions": [input]}


class TrainablePlugin:
    def __init__(self, samples: dict[str, str] | None = None) -> None:
        self.samples = samples

    @hookimpl
    def register_scenarios(self, register):
        scenario = Trainable()
        if self.samples is not None:
            scenario.samples = self.samples
        register(scenario)


def test_round_trip_needs_tiny_data_and_reports_a_failing_train():
    missing = conformance_report(TrainablePlugin(), name="t")
    assert len(missing.failures) == 1 and "trains but has no tiny data" in missing.failures[0]
    assert conformance_report(TrainablePlugin(), name="t", round_trips={"trainable": None}).ok
    failing = conformance_report(TrainablePlugin({"train": "bad.csv", "input": "x"}), name="t")
    assert failing.failures == ["suite train trainable: exit code 2: Error: bad.csv: cannot be read"]
    given = check_plugin(TrainablePlugin(), name="t",
                         round_trips={"trainable": RoundTrip(train=["--train", "ok.csv"], predict=["--input", "x"])})
    assert "train -> predict trainable" in given.checked


@pytest.mark.parametrize("module", ["plugins.customer_service", "plugins.finance_sentiment", "plugins.recommendation"])
def test_builtin_plugins_conform(module: str):
    check_plugin(importlib.import_module(module), train=False)


# --------------------------------------------------------------------------------------
# Acceptance: scaffold, pip install -e, list, own tests, conformance, train, run
# --------------------------------------------------------------------------------------


def suite_command() -> list[str]:
    script = Path(sys.executable).with_name("suite")
    return [str(script)] if script.exists() else [sys.executable, "-m", "core.cli.app"]


def pip(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A freshly scaffolded plugin, ``pip install -e``'d into this environment for the module."""
    name = f"kit{uuid.uuid4().hex[:8]}"  # unique: nothing else running can hold this name
    root = tmp_path_factory.mktemp("scaffold")
    settings = Settings(home=root / "home", database_url=f"sqlite:///{root / 'home' / 'suite.db'}")
    target = root / f"suite-{name}"
    result = new(settings, name, "--dir", str(target))
    assert result.exit_code == 0, result.output
    pip("install", "-q", "--no-deps", "--no-build-isolation", "-e", str(target))
    try:
        yield name, target
    finally:
        pip("uninstall", "-q", "-y", f"suite-{name}")


def test_scaffolded_plugin_installs_passes_its_tests_and_trains(
    scaffolded: tuple[str, Path], tiny_model: Path, monkeypatch: pytest.MonkeyPatch
):
    name, target = scaffolded
    package, samples = f"suite_{name}", target / f"suite_{name}" / "samples"

    check_cli(name, samples, tiny_model)

    own = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=target,
                         capture_output=True, text=True, env={**os.environ, "SUITE_TEST_TINY_MODEL": str(tiny_model)})
    assert own.returncode == 0, own.stdout[-4000:] + own.stderr[-2000:]
    assert "4 passed" in own.stdout  # among them check_plugin's train -> run round trip and the console page

    monkeypatch.syspath_prepend(str(target))  # the editable install's finder only starts with a new interpreter
    assert check_plugin(importlib.import_module(package), train=False).checked == ["register_scenarios", "register_ui", "cli"]


def check_cli(name: str, samples: Path, tiny_model: Path) -> None:
    """``suite plugins list`` shows the installed plugin; ``suite train`` and ``suite run`` work."""
    listed = subprocess.run([*suite_command(), "plugins", "list", "--json"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    plugin = {p["name"]: p for p in json.loads(listed.stdout)}[name]
    assert (plugin["status"], plugin["version"], plugin["hooks"]) == ("ok", "0.1.0", ["register_scenarios", "register_ui"])

    trained = subprocess.run([*suite_command(), "train", name, "--train", str(samples / "train.csv"), "--model",
                              str(tiny_model), "--epochs", "1", "--batch-size", "16", "--no-baseline", "--json"],
                             capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr[-2000:]
    assert json.loads(trained.stdout)["model"] == name

    ran = subprocess.run([*suite_command(), "run", name, "--input", str(samples / "input.txt")],
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-2000:]
    rows = [json.loads(line) for line in ran.stdout.splitlines()]
    assert len(rows) == 3 and all({"text", "label", "score"} <= set(row) for row in rows)
