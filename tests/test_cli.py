"""The CLI as a user meets it: exit codes, one-line errors, --json on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from core import Scenario, hookimpl
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings


def invoke(pm, *args: str, settings: Settings | None = None):
    return CliRunner().invoke(build_app(pm, settings), list(args))


def test_version_and_help(builtin_pm):
    result = invoke(builtin_pm, "--version")
    assert result.exit_code == 0 and result.stdout.startswith("suite ")
    help_ = invoke(builtin_pm, "--help")
    assert help_.exit_code == 0
    for command in ("plugins", "doctor", "models", "data", "serve", "keys", "train", "evaluate", "predict", "run"):
        assert command in help_.stdout


def test_help_never_cuts_an_option_name_at_80_columns(builtin_pm, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    for verb, scenario in (("train", "customer-service"), ("train", "recommendation"), ("run", "finance-monitor")):
        help_ = invoke(builtin_pm, verb, scenario, "--help")
        assert help_.exit_code == 0, help_.output
        assert "…" not in help_.stdout and max(map(len, help_.stdout.splitlines())) <= 80
    assert "--target-precision" in invoke(builtin_pm, "train", "customer-service", "--help").stdout
    recommendation = invoke(builtin_pm, "train", "recommendation", "--help").stdout
    assert "--targets-per-user" in recommendation and "--epochs" in recommendation
    for unused in ("--val-fraction", "--class-weights", "--baseline"):  # mean nothing there (#14 item 6)
        assert unused not in recommendation and unused in invoke(builtin_pm, "train", "text-classification", "--help").stdout


def test_the_readme_states_each_scenarios_training_defaults(builtin_pm):
    from core import Suite
    from core.cli.verbs import train_defaults

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    suite = Suite(Settings(), builtin_pm)
    trainable = [(s.name, train_defaults(s)) for s in suite.scenarios if train_defaults(s) is not None]
    assert len(trainable) >= 5
    for name, d in trainable:
        row = (f"| {name} | {d.auto_epochs:g} | {d.example_budget:,} | {d.learning_rate:g} | {d.batch_size} | "
               f"{d.max_length} | {d.early_stopping_patience} |")
        assert row in readme, f"README's defaults table lacks or misstates: {row}"


def test_doctor_json_reports_every_check(builtin_pm):
    result = invoke(builtin_pm, "doctor", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert set(checks) == {"python", "torch", "device", "bf16", "model", "database", "plugins", "catalogue"}
    assert "packaged" in checks["model"]["detail"]
    assert "core_0005" in checks["database"]["detail"]


def test_doctor_fails_when_the_database_is_unreachable(builtin_pm):
    result = invoke(builtin_pm, "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2", "doctor", "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["database"]["status"] == "fail"


def test_doctor_fails_on_a_read_only_database(builtin_pm, suite_env):
    """A database that takes no writes is not ok: every command that records something would fail (#15)."""
    assert invoke(builtin_pm, "doctor", "--json").exit_code == 0  # creates the database
    read_only = f"sqlite:///file:{suite_env / 'suite.db'}?mode=ro&uri=true"
    result = invoke(builtin_pm, "--db", read_only, "doctor", "--json")
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["database"]["status"] == "fail" and "read-only" in checks["database"]["detail"]


def test_models_list_empty_json(builtin_pm):
    result = invoke(builtin_pm, "models", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_csv_without_label_column_is_one_line_exit_2(builtin_pm, tmp_path: Path):
    source = write(tmp_path / "tickets.csv", "text,intent\nmy card is lost,lost_card\n")
    result = invoke(builtin_pm, "data", "inspect", source)
    assert result.exit_code == 2
    first = result.stderr.strip().splitlines()[0]
    assert "tickets.csv" in first and "'label'" in first
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_data_inspect_counts_labels(builtin_pm, tmp_path: Path):
    source = write(tmp_path / "t.csv", "body,tag\nrefund please,0\ngreat service,1\nwhere is my parcel,0\n")
    result = invoke(
        builtin_pm, "data", "inspect", source, "--text-column", "body", "--label-column", "tag",
        "--label-map", "0=complaint,1=praise", "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labels"] == {"complaint": 2, "praise": 1}


def test_data_inspect_skip_writes_a_report(builtin_pm, tmp_path: Path, suite_env: Path):
    source = write(tmp_path / "t.jsonl", '{"text": "ok", "label": "a"}\n{"text": "", "label": "a"}\nnot json\n')
    result = invoke(builtin_pm, "data", "inspect", source, "--on-error", "skip", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["examples"] == 1 and summary["skipped"] == 2
    lines = Path(summary["error_report"]).read_text().splitlines()
    assert [json.loads(line)["line"] for line in lines] == [2, 3]


def test_plugin_adapter_reads_phrasebank_format(builtin_pm, tmp_path: Path):
    source = write(tmp_path / "Sentences_Demo.txt", "Profit rose sharply@positive\nShares fell@negative\n")
    result = invoke(builtin_pm, "data", "inspect", source, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["format"] == "phrasebank"


class Shout(Scenario):
    name = "shout"
    help = "Upper-case texts (a test scenario)."

    def predict(self, suite, texts: Annotated[list[str], typer.Argument()], suffix: Annotated[str, typer.Option()] = "!"):
        """Shout each text."""
        return {"predictions": [t.upper() + suffix for t in texts]}


class ShoutPlugin:
    @hookimpl
    def register_scenarios(self, register):
        register(Shout())


def test_scenario_verbs_become_commands(settings):
    pm = make_plugin_manager(settings, load_entrypoints=False)
    pm.register_plugin(ShoutPlugin(), "shout")
    result = invoke(pm, "predict", "shout", "hi", "there", "--suffix", "?", "--json", settings=settings)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"predictions": ["HI?", "THERE?"]}
    assert invoke(pm, "train", "--help", settings=settings).exit_code == 0
    missing = invoke(pm, "run", settings=settings)
    assert missing.exit_code == 2 and "No installed scenario implements 'run'" in missing.output


def test_bad_config_file_is_one_line(tmp_path: Path, suite_env: Path):
    import subprocess
    import sys

    (Path.cwd() / "suite.toml").write_text("disable_plugins = [unterminated\n")
    proc = subprocess.run([sys.executable, "-m", "core.cli.app", "doctor"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "suite.toml" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("rows, message", [
    ("my card is lost,card\nI lost my card,card\ncard gone,card\n", "--train has one label ('card')"),
    ("my card is lost,card\n", "--train has 1 usable example(s)"),
])
def test_training_data_no_model_can_learn_is_refused_before_a_run_starts(builtin_pm, suite_env, tmp_path, rows, message):
    """One class, or one row: a one-line error, exit 2, no run left 'running', nothing on disk (#15)."""
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + rows, encoding="utf-8")
    result = invoke(builtin_pm, "train", "text-classification", "--train", str(data), "--epochs", "1")
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (suite_env / "runs").exists() or not any((suite_env / "runs").iterdir())
    assert invoke(builtin_pm, "models", "list", "--json").stdout.strip() == "[]"


def test_a_lone_surrogate_in_training_data_is_a_located_error(builtin_pm, tmp_path):
    """data inspect and train agree: a \\ud800 escape is not text (#15; it once crashed train)."""
    data = tmp_path / "train.jsonl"
    data.write_text('{"text": "lost card \\ud800", "label": "a"}\n{"text": "fine", "label": "b"}\n', encoding="utf-8")
    for command in (["data", "inspect", str(data)], ["train", "text-classification", "--train", str(data)]):
        result = invoke(builtin_pm, *command)
        assert result.exit_code == 2 and "train.jsonl:1: field 'text': not valid text" in result.output, result.output
    as_label = invoke(builtin_pm, "data", "inspect", str(data), "--label-column", "text", "--text-column", "label")
    assert as_label.exit_code == 2 and "field 'text': not valid text" in as_label.output, as_label.output


def test_error_messages_are_printed_as_written(builtin_pm, tmp_path):
    """Square brackets in a message (a file name, surges[0]) are text, not rich markup."""
    result = invoke(builtin_pm, "data", "inspect", str(tmp_path / "notes[0].csv"))
    assert result.exit_code == 2 and "notes[0].csv: no such file" in result.output, result.output


def test_tables_never_cut_an_identifier_at_80_columns(capsys, monkeypatch):
    """#14 item 7: `finance alerts list` at 80 columns showed '7b0220…' and 'resolv…'."""
    from core.cli.output import display_table

    monkeypatch.setenv("COLUMNS", "80")
    rows = [{"id": "7b02207d249ef782", "status": "resolved", "severity": "critical", "key": "entity:Northwind Bank",
             "fired_at": "2026-11-02T06:14:32.961703+00:00", "negative": "31/36", "acknowledged": False,
             "deliveries": {"delivered": 3, "pending": 1}}]
    display_table(list(rows[0]), rows)
    shown = capsys.readouterr().out
    assert "7b02207d249ef782" in shown and "resolved" in shown and "entity:Northwind Bank" in shown
    assert "…" not in shown


class Intents(Scenario):
    name = "intents"
    help = "Rows of results (a test scenario)."

    def predict(self, suite, texts: Annotated[list[str], typer.Argument()]):
        """One row per text."""
        return {"predictions": [{"text": t, "intent": "card_lost", "confidence": 0.41} for t in texts]}


class IntentsPlugin:
    @hookimpl
    def register_scenarios(self, register):
        register(Intents())


def test_rows_of_results_print_as_a_table_not_a_dict(settings):
    """#14 item 7: `predict customer-service` printed a raw Python dict."""
    pm = make_plugin_manager(settings, load_entrypoints=False)
    pm.register_plugin(IntentsPlugin(), "intents")
    result = invoke(pm, "predict", "intents", "I lost my card", settings=settings)
    assert result.exit_code == 0, result.output
    assert "{'" not in result.stdout and "card_lost" in result.stdout and "confidence" in result.stdout


def test_every_trainable_scenario_offers_the_shared_training_options(builtin_pm, settings):
    """#14 item 6: --resume was missing from `train customer-service`; one vocabulary for all."""
    import re

    app = build_app(builtin_pm, settings)
    for scenario in ("text-classification", "token-classification", "finance-sentiment", "customer-service", "recommendation"):
        shown = CliRunner().invoke(app, ["train", scenario, "--help"], env={"COLUMNS": "200"}).output
        flags = set(re.findall(r"--[a-z][a-z-]+", shown))
        assert {"--resume", "--epochs", "--lr", "--batch-size", "--activate", "--model", "--name"} <= flags, (scenario, flags)
