"""The built-in plugins' own data formats, read through the adapter hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.app import Suite
from core.data import ColumnMapping, load_text_examples
from core.errors import DataError

NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello there
    - good morning
- synonym: card
  examples: |
    - debit card
- intent: block_card
  examples: |
    - please freeze my card
    - i lost my card
"""


@pytest.fixture
def suite(settings, builtin_pm) -> Suite:
    return Suite(settings, builtin_pm)


def test_rasa_nlu_examples_keep_their_lines(suite: Suite, tmp_path: Path):
    source = tmp_path / "nlu.yml"
    source.write_text(NLU, encoding="utf-8")
    result = load_text_examples(str(source), suite.adapters, ColumnMapping())
    assert [(ex.text, ex.label, ex.line) for ex in result.examples] == [
        ("hello there", "greet", 5), ("good morning", "greet", 6),
        ("please freeze my card", "block_card", 12), ("i lost my card", "block_card", 13),
    ]


def test_rasa_nlu_malformed_yaml_names_the_line(suite: Suite, tmp_path: Path):
    source = tmp_path / "bad.yml"
    source.write_text("nlu:\n- intent: greet\n  examples: [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_text_examples(str(source), suite.adapters, ColumnMapping())
    assert "bad.yml:" in str(info.value) and "malformed YAML" in str(info.value)


def test_phrasebank_lines_and_malformed_line(suite: Suite, tmp_path: Path):
    source = tmp_path / "Sentences_Mine.txt"
    source.write_text("Sales grew by a tenth@positive\nno label on this line\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Sentences_Mine.txt:2: .*sentence@label"):
        load_text_examples(str(source), suite.adapters, ColumnMapping())


def test_movielens_folder_as_items(suite: Suite, tmp_path: Path):
    (tmp_path / "movies.csv").write_text(
        'movieId,title,genres\n1,Harbour Lights (2001),Drama|Romance\n2,"Robots, Inc. (2010)",(no genres listed)\n'
    )
    (tmp_path / "tags.csv").write_text("userId,movieId,tag,timestamp\n5,1,Seaside,1\n6,1,seaside,2\n7,1,slow,3\n")
    records = list(suite.adapters.get("movielens").read(str(tmp_path), __import__("core").ReadOptions()))
    first, second = (r.fields for r in records)
    assert first == {"id": "1", "title": "Harbour Lights (2001)", "tags": ["Drama", "Romance", "seaside", "slow"],
                     "text": "Harbour Lights (2001). Drama, Romance, seaside, slow"}
    assert second["tags"] == [] and second["text"] == "Robots, Inc. (2010)"
