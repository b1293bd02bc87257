"""suite-ner as a third party tests it: the suite's conformance check, then the scenario
through the command line on a one-layer model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import suite_ner
from core.testing import check_plugin
from suite_ner.scenario import SAMPLES
from suite_ner.spans import entity_spans, words


def test_conforms_to_the_hook_contract(tiny_model: Path) -> None:
    check_plugin(suite_ner, model=tiny_model)


def test_entities_are_character_spans_of_the_text() -> None:
    text = "Mirela Vasko flew to East Selby, then home."
    tokens = words(text)
    assert [w for w, _, _ in tokens][:6] == ["Mirela", "Vasko", "flew", "to", "East", "Selby"]
    tags = ["B-PER", "I-PER", "O", "O", "B-LOC", "I-LOC", "O", "O", "O", "O"]
    scores = [0.9, 0.7, 1.0, 1.0, 0.6, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert entity_spans(text, tokens, tags, scores) == [
        {"text": "Mirela Vasko", "label": "PER", "start": 0, "end": 12, "score": 0.8},
        {"text": "East Selby", "label": "LOC", "start": 21, "end": 31, "score": 0.7},
    ]


@pytest.fixture
def trained(suite_with_plugin, tiny_model: Path):
    suite = suite_with_plugin(suite_ner)
    result = suite.invoke_json("train", "ner", "--train", SAMPLES / "train.conll", "--model", tiny_model,
                               "--epochs", "2", "--lr", "1e-3", "--batch-size", "16")
    assert result["model"] == "ner" and {"entity_f1", "token_accuracy"} <= set(result["metrics"])
    return suite


def test_train_evaluate_and_run_write_entities_as_jsonl(trained, tmp_path: Path) -> None:
    report = trained.invoke_json("evaluate", "ner", "--data", SAMPLES / "train.conll")
    assert 0 <= report["metrics"]["entity_f1"] <= 1

    texts = ["Greta Linnqvist visited Kestrel.", "Nothing to see here"]
    source = tmp_path / "texts.jsonl"
    source.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "entities.jsonl"
    result = trained.invoke("run", "ner", "--input", source, "--output", out)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows] == texts
    for row in rows:
        for entity in row["entities"]:
            assert set(entity) == {"text", "label", "start", "end", "score"}
            assert row["text"][entity["start"] : entity["end"]] == entity["text"]
            assert entity["label"] in {"PER", "ORG", "LOC"} and 0 <= entity["score"] <= 1

    lines = trained.invoke("run", "ner", "--input", "-", input="Orla Mackey works in Dunmore\n")
    assert lines.exit_code == 0, lines.output
    assert json.loads(lines.stdout)["text"] == "Orla Mackey works in Dunmore"


def test_user_mistakes_are_one_line_errors(suite_with_plugin, tmp_path: Path) -> None:
    suite = suite_with_plugin(suite_ner)
    missing = suite.invoke("run", "ner")
    assert missing.exit_code == 2 and "--input" in missing.stderr
    bad = tmp_path / "bad.conll"
    bad.write_text("Mirela B-PER\nVasko\n", encoding="utf-8")
    broken = suite.invoke("train", "ner", "--train", bad)
    assert broken.exit_code == 2 and "bad.conll:2" in broken.stderr
    assert "Traceback" not in missing.output + broken.output
