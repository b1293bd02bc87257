"""The engine end to end on a one-layer model: train, register, evaluate, predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.app import build_app
from core.heads.token import IGNORE, entities, first_subtoken_labels

POSITIVE = ["the refund arrived quickly", "thanks for the fast help", "great app and kind staff",
            "my card works perfectly now", "lovely service today", "quick and friendly answer"]
NEGATIVE = ["my card was declined again", "the transfer is still missing", "awful wait on the phone",
            "nobody answers my emails", "the app keeps crashing", "i was charged twice"]


def write_csv(path: Path, rows: list[tuple[str, str]]) -> str:
    path.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def sentiment_csv(tmp_path: Path) -> str:
    rows = [(t, "happy") for t in POSITIVE] + [(t, "unhappy") for t in NEGATIVE]
    return write_csv(tmp_path / "train.csv", rows * 3)


def run(builtin_pm, *args: str):
    result = CliRunner().invoke(build_app(builtin_pm), list(args))
    return result


def test_first_subtoken_alignment_on_hand_written_words(tiny_model: Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    words = ["Jürgen", "visited", "Zurich-based", "Unbelievablecorp"]
    tags = [1, 0, 2, 3]
    encoded = tokenizer(words, is_split_into_words=True)
    labels = first_subtoken_labels(encoded.word_ids(), tags)
    pieces = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    assert labels[0] == IGNORE and labels[-1] == IGNORE  # [CLS], [SEP]
    seen = [(piece, label) for piece, label in zip(pieces, labels) if label != IGNORE]
    assert [label for _, label in seen] == tags  # exactly one labelled sub-token per word
    assert len(pieces) > len(words) + 2  # the words really were split into sub-tokens
    for word_index, (piece, _) in enumerate(seen):
        assert not piece.startswith("##"), f"word {word_index} labelled on a continuation piece"


def test_entities_from_bio_tags():
    words = "Ada Lovelace met Charles Babbage in London".split()
    tags = ["B-PER", "I-PER", "O", "B-PER", "I-PER", "O", "B-LOC"]
    assert entities(words, tags) == [
        {"type": "PER", "start": 0, "end": 2, "text": "Ada Lovelace"},
        {"type": "PER", "start": 3, "end": 5, "text": "Charles Babbage"},
        {"type": "LOC", "start": 6, "end": 7, "text": "London"},
    ]


def test_a_time_budget_fits_the_schedule(builtin_pm, tiny_model: Path, sentiment_csv: str):
    budgeted = run(builtin_pm, "train", "text-classification", "--train", sentiment_csv, "--model", str(tiny_model),
                   "--max-minutes", "0.05", "--batch-size", "8", "--name", "quick", "--no-baseline", "--json")
    assert budgeted.exit_code == 0, budgeted.output
    schedule = json.loads(budgeted.stdout)["schedule"]  # fitted to 3 s, or said to fit
    assert "--max-minutes 0.05" in schedule and "examples/s" in schedule, schedule


def test_text_classification_train_evaluate_predict(builtin_pm, tiny_model: Path, sentiment_csv: str):
    trained = run(builtin_pm, "train", "text-classification", "--train", sentiment_csv, "--model", str(tiny_model),
                  "--epochs", "6", "--lr", "1e-3", "--batch-size", "8", "--name", "moods", "--json")
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    assert result["model"] == "moods" and result["version"] == 1
    assert {"accuracy", "macro_f1"} <= set(result["metrics"])
    assert result["train_seconds"] > 0
    assert "stratified" in result["validation"]
    assert {"accuracy", "macro_f1"} <= set(result["before"])  # the untuned starting point, for before/after
    assert result["schedule"] == "6 epoch(s) (--epochs)"

    listed = json.loads(run(builtin_pm, "models", "list", "--json").stdout)
    assert [(m["name"], m["active"]) for m in listed] == [("moods", True)]

    evaluated = run(builtin_pm, "evaluate", "text-classification", "--data", sentiment_csv, "--model", "moods", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)["metrics"]
    assert report["accuracy"] >= 0.75, report  # an easy, separable task the model has seen
    assert set(report["per_class"]) == {"happy", "unhappy"}
    assert len(report["confusion_matrix"]) == 2 and 0 <= report["ece"] <= 1
    files = json.loads(evaluated.stdout)["files"]
    assert Path(files["confusion_matrix"]).read_bytes().startswith(b"\x89PNG")
    assert json.loads(Path(files["json"]).read_text())["metrics"]["accuracy"] == report["accuracy"]
    text = run(builtin_pm, "evaluate", "text-classification", "--data", sentiment_csv, "--model", "moods")
    assert "accuracy" in text.stdout and "unhappy" in text.stdout

    predicted = run(builtin_pm, "predict", "text-classification", "the refund arrived quickly", "--model", "moods", "--json")
    assert predicted.exit_code == 0, predicted.output
    prediction = json.loads(predicted.stdout)["predictions"][0]
    assert prediction["label"] in {"happy", "unhappy"} and 0 <= prediction["score"] <= 1

    explained = run(builtin_pm, "predict", "text-classification", "my card was declined again", "--model", "moods",
                    "--explain", "--precision", "int8", "--json")
    assert explained.exit_code == 0, explained.output
    explanation = json.loads(explained.stdout)["predictions"][0]["explanation"]
    assert {e["word"] for e in explanation} <= set("my card was declined again".split())
    assert explanation == sorted(explanation, key=lambda e: -e["weight"])


def test_bad_training_data_is_the_adapters_one_line_error(builtin_pm, tmp_path: Path):
    source = tmp_path / "bad.csv"
    source.write_text("text,intent\nhello,greet\n", encoding="utf-8")
    result = run(builtin_pm, "train", "text-classification", "--train", str(source))
    assert result.exit_code == 2
    assert "bad.csv" in result.stderr and "'label'" in result.stderr
    assert "Traceback" not in result.output


CONLL = """-DOCSTART- -X- O O

Ada B-PER
visited O
Paris B-LOC

Bob B-PER
likes O
Rome B-LOC

Carla B-PER
left O
Berlin B-LOC
"""


def test_token_classification_train_and_predict(builtin_pm, tiny_model: Path, tmp_path: Path):
    source = tmp_path / "ner.conll"
    source.write_text(CONLL * 4, encoding="utf-8")
    trained = run(builtin_pm, "train", "token-classification", "--train", str(source), "--eval", str(source),
                  "--model", str(tiny_model), "--epochs", "4", "--lr", "1e-3", "--batch-size", "4", "--json")
    assert trained.exit_code == 0, trained.output
    metrics = json.loads(trained.stdout)["metrics"]
    assert {"entity_f1", "token_accuracy"} <= set(metrics)
    evaluated = run(builtin_pm, "evaluate", "token-classification", "--data", str(source), "--json")
    report = json.loads(evaluated.stdout)["metrics"]
    assert "B-PER" in report["token_report"] and "precision" in report["token_report"]
    predicted = run(builtin_pm, "predict", "token-classification", "Ada visited Rome", "--json")
    assert predicted.exit_code == 0, predicted.output
    first = json.loads(predicted.stdout)["predictions"][0]
    assert first["tokens"] == ["Ada", "visited", "Rome"] and len(first["tags"]) == 3


def test_tune_records_the_best_configuration(builtin_pm, tiny_model: Path, sentiment_csv: str):
    tuned = run(builtin_pm, "tune", "text-classification", "--train", sentiment_csv, "--model", str(tiny_model),
                "--trials", "2", "--budget", "120", "--epochs", "1", "--json")
    assert tuned.exit_code == 0, tuned.output
    result = json.loads(tuned.stdout)
    assert len(result["trials"]) == 2 and result["metric"] == "accuracy"
    assert set(result["best_params"]) == {"learning_rate", "epochs", "batch_size", "strategy"}
    assert result["train_command"].startswith("suite train text-classification")
    from core.app import Suite

    run_entry = Suite.create().store.get_run(result["run_id"])
    assert run_entry.metrics["best_accuracy"] == result["best_value"]
    assert len([e for e in run_entry.epochs if e.split == "trial"]) == 2
