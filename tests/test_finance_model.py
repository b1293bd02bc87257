"""The two-headed finance model through the CLI, and the monitor surviving ``kill -9``
(a one-layer model: seconds to train)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.testing import check_explanation

SAMPLES = Path(__file__).resolve().parent.parent / "plugins" / "finance_sentiment" / "samples"


def invoke(*args: str, settings: Settings | None = None):
    settings = settings or Settings()
    return CliRunner().invoke(build_app(make_plugin_manager(settings), settings), list(args))


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trained once for the module, in its own home; tests pass it with --model FOLDER."""
    home = tmp_path_factory.mktemp("finance-home")
    result = invoke("train", "finance-sentiment", "--train", str(SAMPLES / "train.csv"), "--model", str(tiny_model),
                    "--epochs", "2", "--lr", "3e-4", "--no-baseline", "--json", settings=Settings(home=home))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["topic_mode"] == "trained" and "topic_accuracy" in out["metrics"]
    assert out["baseline"] == "off (--no-baseline)" and "before" not in out  # no empty "before:" line (#14 item 4)
    return Path(out["path"])


def test_train_predict_evaluate(trained: Path) -> None:
    predicted = invoke("predict", "finance-sentiment", "Northwind Bank may default on its bonds", "--model", str(trained), "--json")
    assert predicted.exit_code == 0, predicted.output
    row = json.loads(predicted.stdout)["predictions"][0]
    assert row["sentiment"] in ("negative", "neutral", "positive") and row["topic"]
    assert set(row) >= {"text", "sentiment", "score", "topic", "topic_score", "entities"}
    text = "Northwind Bank may default on its bonds after the rate rise"
    explained = invoke("predict", "finance-sentiment", text, "--model", str(trained), "--explain", "--json")
    assert explained.exit_code == 0, explained.output
    row = json.loads(explained.stdout)["predictions"][0]
    check_explanation(text, row["explanation"])  # why this sentiment
    check_explanation(text, row["topic_explanation"])  # why this topic
    evaluated = invoke("evaluate", "finance-sentiment", "--data", str(SAMPLES / "train.csv"), "--model", str(trained), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert metrics["topic_examples"] > 300 and 0 <= metrics["topic_accuracy"] <= 1 and "confusion_matrix" in metrics


def test_zero_shot_topics_without_topic_labels(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "sentiment.csv"
    lines = (SAMPLES / "train.csv").read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n", encoding="utf-8")
    trained = invoke("train", "finance-sentiment", "--train", str(data), "--model", str(tiny_model),
                     "--epochs", "1", "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["topic_mode"] == "zero-shot"
    out = json.loads(invoke("predict", "finance-sentiment", "The central bank raised interest rates", "--json").stdout)
    assert out["predictions"][0]["topic"]  # one of the default topics, or 'other' below the similarity floor


def test_unknown_sentiment_label_is_a_located_error(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("text,label\nfine,positive\nhmm,bullish\n", encoding="utf-8")
    result = invoke("train", "finance-sentiment", "--train", str(data), "--model", str(tiny_model))
    assert result.exit_code == 2
    assert "bad.csv:3: field 'label': unknown label 'bullish'" in result.output


def test_monitor_without_a_model_says_how_to_train_one(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": "1", "time": "2026-11-01T00:00:00Z", "text": "x"}\n', encoding="utf-8")
    result = invoke("run", "finance-monitor", "--source", f"file:{feed}")
    assert result.exit_code == 2 and "suite train finance-sentiment" in result.output


def write_feed(path: Path, n: int) -> int:
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    lines = []
    for i in range(n):
        lines.append(json.dumps({"id": f"k{i}", "time": (start + timedelta(seconds=20 * i)).isoformat(),
                                 "text": f"Northwind Bank update number {i} on loans and deposits"}))
        if i % 97 == 0:  # re-sent ids must not be stored twice
            lines.append(lines[-1])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT count(*) FROM finance_items").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_9_and_restart_store_every_item_exactly_once(trained: Path, suite_env: Path, tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    distinct = write_feed(feed, 6000)
    command = [sys.executable, "-m", "core.cli.app", "run", "finance-monitor", "--source", f"file:{feed}", "--model", str(trained),
               "--batch-size", "16", "--json", "--no-live"]
    env = os.environ | {"SUITE_HOME": str(suite_env)}
    db = suite_env / "suite.db"
    victim = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while stored(db) < 500 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the monitor finished before it could be killed; make the feed longer"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    before = stored(db)
    assert 0 < before < distinct
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    summary = json.loads(finished.stdout)
    assert stored(db) == distinct
    assert summary["stored"] == distinct - before


def test_plant_then_backtest_through_the_cli(trained: Path, tmp_path: Path) -> None:
    """The commands a user runs to measure the detector on their own feed, on the demo feed."""
    planted, truth = tmp_path / "planted.jsonl", tmp_path / "truth.json"
    settings = Settings(home=tmp_path / "home")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "suite.toml").write_text((SAMPLES / "suite.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = invoke("finance", "plant", "--source", str(SAMPLES / "feed.jsonl"), "--out", str(planted), "--truth", str(truth),
                    "--surges", "3", "--history-hours", "12", "--model", str(trained), "--json", settings=settings)
    assert result.exit_code == 0, result.output
    labelled = json.loads(result.stdout)
    assert len(labelled["surges"]) == 3 and json.loads(truth.read_text())["surges"] == labelled["surges"]
    lines = planted.read_text(encoding="utf-8").splitlines()
    assert sum('"planted-' in line for line in lines) == labelled["planted_items"]
    result = invoke("finance", "backtest", "--source", str(planted), "--truth", str(truth), "--model", str(trained), "--json",
                    settings=settings)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["labelled"] == 3 and report["items_read"] == len(lines)
    assert {"surges", "detected", "detection_rate", "median_delay_minutes", "false_alarms", "false_alarms_per_day",
            "concurrent_alerts", "alerts"} <= set(report)
    assert all(r["fired"] == (r["delay_minutes"] is not None) for r in report["surges"])
    text = invoke("finance", "backtest", "--source", str(planted), "--truth", str(truth), "--model", str(trained), settings=settings)
    assert text.exit_code == 0 and "labelled surges: 3" in text.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"surges": [{"key": "entity:X", "start": "soon", "end": "later"}]}', encoding="utf-8")
    refused = invoke("finance", "backtest", "--source", str(planted), "--truth", str(bad), "--model", str(trained), settings=settings)
    assert refused.exit_code == 2 and "field 'start'" in refused.output and "Traceback" not in refused.output


def test_a_feed_unlike_the_training_texts_is_noted_in_the_summary(trained: Path, tmp_path: Path) -> None:
    feed = tmp_path / "tweets.jsonl"
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    feed.write_text("".join(json.dumps({"id": f"t{i}", "time": (start + timedelta(minutes=i)).isoformat(),
                                        "text": f"@desk{i} $NWB looks bad today https://x.example.com/{i} ..."}) + "\n"
                            for i in range(40)), encoding="utf-8")
    result = invoke("run", "finance-monitor", "--source", f"file:{feed}", "--model", str(trained), "--backtest", "--json", "--no-live")
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["text_drift"]
    assert any("links" in n for n in notes) and any("$cashtags" in n for n in notes)
    alike = tmp_path / "news.jsonl"
    alike.write_text((SAMPLES / "feed.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    same = invoke("run", "finance-monitor", "--source", f"file:{alike}", "--model", str(trained), "--backtest", "--json", "--no-live")
    assert json.loads(same.stdout)["text_drift"] == []


def test_a_run_whose_alerts_could_not_be_sent_says_so_and_exits_3(trained: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "suite.toml").write_text('[finance_sentiment]\n[finance_sentiment.watchlist]\n"Northwind Bank" = ["NWB"]\n'
                                     '[[finance_sentiment.sinks]]\ntype = "webhook"\nurl = "http://127.0.0.1:1/hook"\n'
                                     'retries = 0\ntimeout = 1\n', encoding="utf-8")
    result = invoke("run", "finance-monitor", "--source", f"file:{SAMPLES / 'feed.jsonl'}", "--model", str(trained), "--json",
                    "--no-live", settings=Settings(home=home))
    summary = json.loads(result.stdout)
    if not summary["alerts"]:
        pytest.skip("the one-layer model fired nothing on the demo feed")
    assert result.exit_code == 3, result.output
    assert summary["deliveries"]["pending"] >= 1 and "still pending" in result.stderr


def test_a_lone_surrogate_on_the_command_line_is_one_line(trained: Path) -> None:
    result = invoke("predict", "finance-sentiment", "fine", "lost card \udcff", "--model", str(trained))
    assert result.exit_code == 2 and "text 2: not valid text" in result.output and "Traceback" not in result.output


def test_evaluate_errors_do_not_suggest_an_option_evaluate_lacks(trained: Path, tmp_path: Path) -> None:
    data = tmp_path / "test.csv"
    data.write_text("text,label\nprofit rose,positive\n,negative\n", encoding="utf-8")
    result = invoke("evaluate", "finance-sentiment", "--data", str(data), "--model", str(trained))
    assert result.exit_code == 2 and "test.csv:3: field 'text'" in result.output
    assert "--on-error" not in result.output  # evaluate has no --on-error (#15)


def test_the_monitor_with_no_source_trains_on_the_samples_and_replays_the_demo(tiny_model: Path, tmp_path: Path) -> None:
    """#14 item 3: `suite run finance-monitor` with no arguments waited on stdin."""
    settings = Settings(home=tmp_path / "home", model=str(tiny_model))
    result = invoke("run", "finance-monitor", "--json", "--no-live", settings=settings)
    assert result.exit_code == 0, result.output
    assert "replaying the packaged demo feed" in result.stderr and "training one on the packaged samples" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["items_read"] == summary["items"] == 1457 and summary["items_per_second"] > 0
    for alert in summary["alerts"]:
        assert ("topic" in alert) != ("entity" in alert) and alert["severity"] and alert["evidence"]
        assert datetime.fromisoformat(alert["window_start"]) < datetime.fromisoformat(alert["window_end"])
    again = invoke("run", "finance-monitor", "--json", "--no-live", "--backtest", settings=settings)
    assert again.exit_code == 0 and "training one" not in again.stderr  # trained once, then reused


def test_monitor_shorthand_options(trained: Path, tmp_path: Path) -> None:
    """--feed, --watchlist (TOML), --window, --threshold, --since."""
    watch = tmp_path / "watch.toml"
    watch.write_text('[[watchlist]]\nname = "Northwind Bank"\naliases = ["Northwind", "NWB", "$NWB"]\n', encoding="utf-8")
    base = ["run", "finance-monitor", "--feed", str(SAMPLES / "feed.jsonl"), "--model", str(trained), "--backtest",
            "--json", "--no-live", "--watchlist", str(watch)]
    result = invoke(*base, "--window", "30m", "--threshold", "2.5", "--since", "2026-11-02T00:00:00Z")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["skipped_before_since"] > 500 and summary["first_time"] >= "2026-11-02"
    for alert in summary["alerts"]:
        window = datetime.fromisoformat(alert["window_end"]) - datetime.fromisoformat(alert["window_start"])
        assert window == timedelta(minutes=30)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[watchlist]]\naliases = ["X"]\n', encoding="utf-8")
    refused = invoke(*base[:-1], str(bad))
    assert refused.exit_code == 2 and "[[watchlist]] #1: field 'name'" in refused.output
    assert invoke(*base, "--window", "7m").exit_code == 2
    assert invoke(*base, "--since", "yesterday").exit_code == 2
    assert invoke("run", "finance-monitor", "--follow", "--model", str(trained)).exit_code == 2
