"""Data adapters and the loader: formats, line numbers, validation and the skip report."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pluggy
import pytest

import core.hookspecs
from core.data import (
    ColumnMapping,
    ConllAdapter,
    CsvAdapter,
    DataAdapter,
    JsonlAdapter,
    ReadOptions,
    Record,
    SqlAdapter,
    TextExample,
    TokenExample,
    load_text_examples,
    load_token_examples,
    parse_label_map,
    redact_source,
    resolve_adapter,
)
from core.data.types import BadRecord
from core.default_plugins import adapters as default_adapters
from core.errors import DataError, UnknownNameError, UsageError
from core.registry import Registry


@pytest.fixture
def registry() -> Registry[DataAdapter]:
    """The built-in adapters, registered through the hook as the app does it."""
    pm = pluggy.PluginManager(core.hookspecs.PROJECT_NAME)
    pm.add_hookspecs(core.hookspecs)
    pm.register(default_adapters)
    reg: Registry[DataAdapter] = Registry("data adapter")
    pm.hook.register_data_adapters(register=reg.register)
    return reg


def write(path: Path, text: str, encoding: str = "utf-8") -> str:
    path.write_bytes(text.encode(encoding))
    return str(path)


def items(adapter: DataAdapter, source: str, **options) -> list[Record | BadRecord]:
    return list(adapter.read(source, ReadOptions(**options)))


# --------------------------------------------------------------------------------------
# Registry and format resolution
# --------------------------------------------------------------------------------------


def test_hook_registers_the_builtin_adapters(registry):
    assert registry.names() == ["cluener", "conll", "csv", "jsonl", "sql"]
    assert registry.get("conll").kind == "tokens"
    assert registry.get("csv").kind == "rows"


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("a.csv", "csv"),
        ("a.TSV", "csv"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
        ("a.conll", "conll"),
        ("a.bio", "conll"),
        ("a.iob", "conll"),
        ("sqlite:///data.csv", "sql"),
        ("postgresql://u:p@host/db", "sql"),
    ],
)
def test_format_is_detected_from_the_source(registry, source, name):
    assert resolve_adapter(source, registry).name == name


def test_explicit_format_wins(registry):
    assert resolve_adapter("notes.txt", registry, "csv").name == "csv"


def test_unknown_format_name(registry):
    with pytest.raises(UnknownNameError, match="unknown data adapter 'xlsx'.*csv"):
        resolve_adapter("a.xlsx", registry, "xlsx")


def test_undetectable_format_names_file_and_formats(registry, tmp_path):
    notes = tmp_path / "notes.xlsx"
    notes.write_bytes(b"PK")
    with pytest.raises(UsageError) as info:
        resolve_adapter(str(notes), registry)
    assert "notes.xlsx" in str(info.value)
    assert "csv (.csv, .tsv)" in str(info.value)
    assert info.value.hint == "pass --format NAME"


def test_a_missing_file_is_named_as_missing(registry, tmp_path):
    with pytest.raises(UsageError, match="missing.txt: no such file or folder"):  # not "cannot tell the format" (#15)
        resolve_adapter(str(tmp_path / "missing.txt"), registry)


def test_wrong_kind_of_adapter_says_what_is_needed(registry, tmp_path):
    conll = write(tmp_path / "a.conll", "EU B-ORG\n")
    with pytest.raises(UsageError, match="reads token-tagged sentences.*needs rows of text"):
        load_text_examples(conll, registry, ColumnMapping())
    csv_file = write(tmp_path / "a.csv", "text,label\nhi,x\n")
    with pytest.raises(UsageError, match="needs token-tagged sentences"):
        load_token_examples(csv_file, registry)


# --------------------------------------------------------------------------------------
# CSV / TSV
# --------------------------------------------------------------------------------------


def test_csv_happy_path(registry, tmp_path):
    source = write(tmp_path / "train.csv", "text,label\ngreat product,pos\nawful,neg\n")
    result = load_text_examples(source, registry, ColumnMapping())
    assert result.examples == [TextExample("great product", "pos", line=2), TextExample("awful", "neg", line=3)]
    assert result.labels == ["neg", "pos"]
    assert result.skipped == [] and result.report_path is None


def test_tsv_uses_tabs_and_strips_bom(registry, tmp_path):
    source = write(tmp_path / "train.tsv", "\ufefftext\tlabel\nhello, world\tgreet\n")
    (example,) = load_text_examples(source, registry, ColumnMapping()).examples
    assert (example.text, example.label) == ("hello, world", "greet")


def test_csv_delimiter_option(tmp_path):
    source = write(tmp_path / "a.csv", "text;label\nx;y\n")
    assert items(CsvAdapter(), source, delimiter=";")[0].fields == {"text": "x", "label": "y"}


def test_csv_multiline_quoted_field_keeps_line_numbers(tmp_path):
    source = write(tmp_path / "a.csv", 'text,label\n"first\nsecond\nthird",a\n\nplain,b\n')
    records = items(CsvAdapter(), source)
    assert [(r.line, r.fields["text"]) for r in records] == [(2, "first\nsecond\nthird"), (6, "plain")]


def test_csv_malformed_row_is_a_located_bad_record(tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nok,a\ntoo,many,fields\n")
    bad = items(CsvAdapter(), source)[1]
    assert isinstance(bad, BadRecord)
    assert (bad.line, bad.field, bad.reason) == (3, None, "malformed row: expected 2 fields, got 3")


def test_csv_malformed_row_raises_with_location(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nok,a\ntoo,many,fields\n")
    with pytest.raises(DataError, match=r"a\.csv:3: malformed row: expected 2 fields, got 3"):
        load_text_examples(source, registry, ColumnMapping())


def test_csv_unterminated_quote_is_bad_not_swallowed(tmp_path):
    source = write(tmp_path / "a.csv", 'text,label\nok,a\n"open,b\nnext,c\n')
    records = items(CsvAdapter(), source)
    assert records[0].fields["text"] == "ok"
    assert isinstance(records[1], BadRecord) and records[1].line == 3


def test_csv_empty_file(registry, tmp_path):
    source = write(tmp_path / "a.csv", "")
    with pytest.raises(DataError, match="header row"):
        load_text_examples(source, registry, ColumnMapping())


def test_missing_file(registry, tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        load_text_examples(str(tmp_path / "nope.csv"), registry, ColumnMapping())


# --------------------------------------------------------------------------------------
# Encodings
# --------------------------------------------------------------------------------------


def test_latin1_file_fails_under_utf8_with_file_and_line(registry, tmp_path):
    source = write(tmp_path / "fr.csv", "text,label\nbon,pos\ntrès bien,pos\n", encoding="latin-1")
    with pytest.raises(DataError) as info:
        load_text_examples(source, registry, ColumnMapping())
    assert str(info.value).startswith(f"{source}:3: ")
    assert "latin-1" in info.value.hint


def test_latin1_file_reads_with_its_encoding(registry, tmp_path):
    source = write(tmp_path / "fr.csv", "text,label\ntrès bien,pos\n", encoding="latin-1")
    result = load_text_examples(source, registry, ColumnMapping(), ReadOptions(encoding="latin-1"))
    assert result.examples[0].text == "très bien"


def test_unknown_encoding(registry, tmp_path):
    source = write(tmp_path / "a.jsonl", '{"text": "x", "label": "y"}\n')
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        load_text_examples(source, registry, ColumnMapping(), ReadOptions(encoding="klingon"))


# --------------------------------------------------------------------------------------
# JSON Lines
# --------------------------------------------------------------------------------------


def test_jsonl_happy_path_with_int_labels_and_label_map(registry, tmp_path):
    source = write(tmp_path / "a.jsonl", '{"sentence": "up", "y": 1}\n\n{"sentence": "down", "y": 0}\n')
    mapping = ColumnMapping(text="sentence", label="y", label_map=parse_label_map("0=negative,1=positive"))
    result = load_text_examples(source, registry, mapping)
    assert [(e.text, e.label, e.line) for e in result.examples] == [("up", "positive", 1), ("down", "negative", 3)]


def test_jsonl_malformed_and_non_object_lines(tmp_path):
    source = write(tmp_path / "a.jsonl", '{"text": "ok"}\n{"text": oops}\n[1, 2]\n')
    ok, broken, array = items(JsonlAdapter(), source)
    assert ok.fields == {"text": "ok"}
    assert broken.line == 2 and broken.reason.startswith("invalid JSON") and broken.raw == '{"text": oops}'
    assert (array.line, array.reason) == (3, "expected a JSON object, got an array")


def test_json_array_of_objects_keeps_lines(tmp_path):
    source = write(tmp_path / "a.json", '[\n  {"text": "a"},\n  {"text": "b"}\n]\n')
    assert [(r.line, r.fields["text"]) for r in items(JsonlAdapter(), source)] == [(2, "a"), (3, "b")]


def test_jsonl_multi_label_lists_and_separator(registry, tmp_path):
    source = write(tmp_path / "a.jsonl", '{"text": "a", "label": ["x", "y"]}\n{"text": "b", "label": "y|z"}\n')
    result = load_text_examples(source, registry, ColumnMapping(label_separator="|"))
    assert [e.label for e in result.examples] == [["x", "y"], ["y", "z"]]


# --------------------------------------------------------------------------------------
# Column mapping and validation
# --------------------------------------------------------------------------------------


def test_column_mapping_with_pair_and_id(registry, tmp_path):
    source = write(tmp_path / "a.csv", "uid,q,a,intent\n7,how?,like this,help\n")
    mapping = ColumnMapping(text="q", text_pair="a", label="intent", id="uid")
    (example,) = load_text_examples(source, registry, mapping).examples
    assert example == TextExample(text="how?", label="help", text_pair="like this", id="7", line=2)


def test_unlabelled_data(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text\nhello\n")
    (example,) = load_text_examples(source, registry, ColumnMapping(label=None)).examples
    assert example.label is None


def test_missing_label_column_names_file_and_column(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,intent\nhello,greet\n")
    with pytest.raises(DataError) as info:
        load_text_examples(source, registry, ColumnMapping())
    message = str(info.value)
    assert source in message and "'label'" in message and "columns: text, intent" in message
    assert "--label-column" in info.value.hint


def test_empty_text_is_an_error_on_its_line(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nfine,a\n   ,b\n")
    with pytest.raises(DataError, match=r"a\.csv:3: field 'text': empty text"):
        load_text_examples(source, registry, ColumnMapping())


def test_empty_label_is_an_error(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nfine,\n")
    with pytest.raises(DataError, match="field 'label': empty label"):
        load_text_examples(source, registry, ColumnMapping())


def test_unknown_label_lists_known_ones(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nx,0\ny,7\n")
    mapping = ColumnMapping(label_map={"0": "negative", "1": "positive"})
    with pytest.raises(DataError, match=r"a\.csv:3: field 'label': unknown label '7' \(known: negative, positive\)"):
        load_text_examples(source, registry, mapping)


def test_unknown_label_list_is_capped(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\nx,other\n")
    labels = frozenset(f"l{i:02d}" for i in range(25))
    with pytest.raises(DataError, match=r"l09, \.\.\. \(15 more\)\)$"):
        load_text_examples(source, registry, ColumnMapping(labels=labels))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("0=negative,1=positive", {"0": "negative", "1": "positive"}), (" a = b ", {"a": "b"})],
)
def test_parse_label_map(spec, expected):
    assert parse_label_map(spec) == expected


@pytest.mark.parametrize("spec", ["", "0", "0=", "=x", "0=a,,1=b", "a=b=c"])
def test_parse_label_map_rejects_malformed(spec):
    with pytest.raises(UsageError, match=r"--label-map: expected FROM=TO"):
        parse_label_map(spec)


# --------------------------------------------------------------------------------------
# on_error="skip"
# --------------------------------------------------------------------------------------


def test_skip_writes_the_report_and_returns_the_rest(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\ngood,a\n,a\nx,y,z\nalso good,b\n")
    report = tmp_path / "reports" / "nested" / "a.skipped.jsonl"
    result = load_text_examples(source, registry, ColumnMapping(), on_error="skip", report_path=report)
    assert [e.text for e in result.examples] == ["good", "also good"]
    assert [(b.line, b.field) for b in result.skipped] == [(3, "text"), (4, None)]
    assert result.report_path == str(report)
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in rows] == [3, 4]
    assert set(rows[0]) == {"source", "line", "field", "reason", "raw"}
    assert rows[0]["reason"] == "empty text" and rows[1]["raw"] == "x,y,z"
    assert list(report.parent.iterdir()) == [report]  # no temp file left behind


def test_skip_needs_a_report_path(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\ngood,a\n")
    with pytest.raises(UsageError, match="report"):
        load_text_examples(source, registry, ColumnMapping(), on_error="skip")


def test_nothing_usable_is_an_error(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\n,a\n")
    report = tmp_path / "r.jsonl"
    with pytest.raises(DataError, match="no usable examples"):
        load_text_examples(source, registry, ColumnMapping(), on_error="skip", report_path=report)
    assert report.exists()


def test_header_only_file_has_no_usable_examples(registry, tmp_path):
    source = write(tmp_path / "a.csv", "text,label\n")
    with pytest.raises(DataError, match=r"a\.csv: no usable examples"):
        load_text_examples(source, registry, ColumnMapping())


# --------------------------------------------------------------------------------------
# CoNLL
# --------------------------------------------------------------------------------------

CONLL_2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_2003_four_columns(registry, tmp_path):
    source = write(tmp_path / "train.conll", CONLL_2003)
    result = load_token_examples(source, registry)
    assert result.examples == [
        TokenExample(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"], line=3),
        TokenExample(["Peter", "Blackburn"], ["B-PER", "I-PER"], line=7),
    ]
    assert result.labels == ["B-MISC", "B-ORG", "B-PER", "I-PER", "O"]


def test_conll_tabs_whitespace_lines_and_no_trailing_newline(tmp_path):
    text = "New York\tB-LOC\nis\tO\n  \t \n\nhello   O\nworld O"
    records = items(ConllAdapter(), write(tmp_path / "a.bio", text))
    assert [(r.line, r.fields) for r in records] == [
        (1, {"tokens": ["New York", "is"], "tags": ["B-LOC", "O"]}),
        (5, {"tokens": ["hello", "world"], "tags": ["O", "O"]}),
    ]


def test_conll_crlf_line_endings(tmp_path):
    records = items(ConllAdapter(), write(tmp_path / "a.conll", "a O\r\nb B-X\r\n\r\nc O\r\n"))
    assert [r.fields["tags"] for r in records] == [["O", "B-X"], ["O"]]


def test_conll_line_without_tag_spoils_its_sentence(registry, tmp_path):
    source = write(tmp_path / "a.conll", "a O\nb B-X\n\nlonely\nc O\n\nd O\n")
    records = items(ConllAdapter(), source)
    assert isinstance(records[1], BadRecord)
    assert (records[1].line, records[1].reason) == (4, "malformed line: expected token and tag")
    with pytest.raises(DataError, match=r"a\.conll:4: malformed line"):
        load_token_examples(source, registry)
    report = tmp_path / "r.jsonl"
    result = load_token_examples(source, registry, on_error="skip", report_path=report)
    assert [e.tokens for e in result.examples] == [["a", "b"], ["d"]]


def test_conll_unknown_tag(registry, tmp_path):
    source = write(tmp_path / "a.conll", "Paris B-LOC\nrocks B-XYZ\n")
    with pytest.raises(DataError, match=r"a\.conll:1: unknown tag 'B-XYZ' \(known: B-LOC, O\) on token 'rocks'"):
        load_token_examples(source, registry, labels=frozenset({"O", "B-LOC"}))


# --------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE "order notes" (body TEXT, tag TEXT)')
        db.executemany('INSERT INTO "order notes" VALUES (?, ?)', [("late parcel", "delivery"), ("refund?", "billing")])
    db.close()
    return f"sqlite:///{path}"


def test_sql_table(registry, sqlite_url):
    mapping = ColumnMapping(text="body", label="tag")
    result = load_text_examples(sqlite_url, registry, mapping, ReadOptions(table="order notes"))
    assert [(e.text, e.label, e.line) for e in result.examples] == [("late parcel", "delivery", 1), ("refund?", "billing", 2)]


def test_sql_query(registry, sqlite_url):
    query = "SELECT body AS text, length(body) AS label FROM \"order notes\" WHERE tag = 'billing'"
    result = load_text_examples(sqlite_url, registry, ColumnMapping(), ReadOptions(query=query))
    assert [(e.text, e.label) for e in result.examples] == [("refund?", "7")]


def test_sql_needs_table_or_query(registry, sqlite_url):
    with pytest.raises(DataError) as info:
        load_text_examples(sqlite_url, registry, ColumnMapping())
    assert info.value.hint == "pass --table NAME or --query SQL"


def test_sql_errors_are_one_line(registry, sqlite_url):
    with pytest.raises(DataError) as info:
        load_text_examples(sqlite_url, registry, ColumnMapping(), ReadOptions(table="nope"))
    assert "no such table" in str(info.value) and "\n" not in str(info.value)


def test_sql_missing_sqlite_file(registry, tmp_path):
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(DataError, match="no such file"):
        load_text_examples(url, registry, ColumnMapping(), ReadOptions(table="t"))
    assert not (tmp_path / "missing.db").exists()


def test_sql_messages_hide_the_password(registry):
    url = "nosuchdialect://alice:s3cret@db.example/prod"
    with pytest.raises(DataError) as info:
        list(SqlAdapter().read(url, ReadOptions(table="t")))
    assert "s3cret" not in str(info.value) and "alice" in str(info.value)
    assert redact_source("postgresql://alice:s3cret@host/db") == "postgresql://alice:***@host/db"
    assert redact_source("data/train.csv") == "data/train.csv"


def test_conll_as_distributed_is_recognised_by_its_content(registry, tmp_path):
    """#14 item 12: CoNLL-2003's train.txt stopped with 'pass --format NAME'."""
    conll = tmp_path / "train.txt"
    conll.write_text("-DOCSTART- -X- -X- O\n\nAda NNP B-NP B-PER\nvisited VBD B-VP O\nHarbourton NNP B-NP B-LOC\n\n"
                     "Bo NNP B-NP B-PER\nleft VBD B-VP O\n", encoding="utf-8")
    result = load_token_examples(str(conll), registry)
    assert [ex.tokens for ex in result.examples] == [["Ada", "visited", "Harbourton"], ["Bo", "left"]]
    assert result.examples[0].tags == ["B-PER", "O", "B-LOC"]
    prose = tmp_path / "notes.txt"
    prose.write_text("Ada visited Harbourton.\nBo left early.\nNothing tagged here.\n", encoding="utf-8")
    with pytest.raises(UsageError):  # plain text is still not token data
        load_token_examples(str(prose), registry)
