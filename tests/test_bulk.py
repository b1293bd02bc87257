"""Bulk scoring (suite predict --input --output --workers --resume): every record scored once,
in input order, the same predictions as one process, and a crash resumed from what was written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli.app import build_app
from core.cli.bulk import completed_lines, read_records

GOOD = ["thanks a lot", "this works great", "lovely and quick", "happy with the card"]
BAD = ["still broken", "very slow refund", "angry about fees", "lost my money"]


def run(pm, *args: str):
    return CliRunner().invoke(build_app(pm), list(args))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return [f"{t} {n}" for n in range(600) for t in (GOOD + BAD)[n % 8: n % 8 + 1]]


def test_records_of_each_format(tmp_path: Path):
    (tmp_path / "a.txt").write_text("one\n\ntwo\r\nthree", encoding="utf-8")
    assert read_records(tmp_path / "a.txt").items == ["one\n", "two\n", "three\n"]
    (tmp_path / "a.csv").write_text('text,id\n"a, quoted\nline",1\nplain,2\n', encoding="utf-8")
    records = read_records(tmp_path / "a.csv")
    assert records.header == "text,id\n" and len(records.items) == 2 and records.items[0].startswith('"a, quoted\nline"')
    with pytest.raises(Exception, match="expected a .txt, .jsonl or .csv"):
        read_records(tmp_path / "a.parquet")
    torn = tmp_path / "out.partial"
    torn.write_text('{"a": 1}\n{"b": 2}\n{"c"', encoding="utf-8")
    assert completed_lines(torn) == 2 and torn.read_text() == '{"a": 1}\n{"b": 2}\n'


def test_workers_keep_input_order_and_resume_after_a_crash(builtin_pm, tiny_model: Path, tmp_path: Path,
                                                               texts: list[str]):
    train = tmp_path / "train.csv"
    train.write_text("text,label\n" + "".join(f"{t},good\n" for t in GOOD * 3) + "".join(f"{t},bad\n" for t in BAD * 3))
    trained = run(builtin_pm, "train", "text-classification", "--train", str(train), "--model", str(tiny_model),
                  "--epochs", "1", "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")

    single = run(builtin_pm, "predict", "text-classification", "--input", str(source), "--output",
                 str(tmp_path / "one.jsonl"), "--verbose-scores", "--precision", "fp32", "--json")
    assert single.exit_code == 0, single.output
    expected = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert [row["text"] for row in expected] == texts

    # A crash after 300 records, half-way through a line: --resume scores only the rest, in two
    # tasks on two workers, and the whole file reads as one process wrote it.
    partial = tmp_path / "three.jsonl.partial"
    lines = (tmp_path / "one.jsonl").read_text().splitlines(keepends=True)
    partial.write_text("".join(lines[:300]) + lines[300][:10], encoding="utf-8")
    resumed = run(builtin_pm, "predict", "text-classification", "--input", str(source), "--output",
                  str(tmp_path / "three.jsonl"), "--workers", "2", "--resume", "--verbose-scores", "--precision", "fp32",
                  "--json")
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["resumed_from"] == 300 and json.loads(resumed.stdout)["records"] == len(texts)
    assert not (tmp_path / "three.jsonl.partial").exists()
    finished = [json.loads(line) for line in (tmp_path / "three.jsonl").read_text().splitlines()]
    assert [row["text"] for row in finished] == [row["text"] for row in expected]
    # the same probabilities up to float noise: texts are batched with other neighbours, which
    # shifts bf16 rounding and int8's per-batch activation scale by up to 0.02 (so fp32 here), and a
    # one-epoch tiny model sits near 0.5, where even fp32 noise may flip a label
    assert [row["scores"]["good"] for row in finished] == pytest.approx([row["scores"]["good"] for row in expected],
                                                                        abs=1e-4)


def test_bulk_options_need_an_input_file_and_an_output(builtin_pm, tmp_path: Path):
    result = run(builtin_pm, "predict", "text-classification", "some text", "--workers", "2")
    assert result.exit_code == 2 and "--input file" in result.output
    (tmp_path / "in.txt").write_text("a\nb\n")
    result = run(builtin_pm, "predict", "text-classification", "--input", str(tmp_path / "in.txt"), "--workers", "2")
    assert result.exit_code == 2 and "need --output" in result.output
