"""Chinese NER: character-per-line files in BIO, BIOES and BMES, CLUE NER's span JSON, scoring
per tagging scheme, and predictions as character spans of the input text."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pluggy
import pytest
from typer.testing import CliRunner

import core.hookspecs
from core.cli.app import build_app
from core.data import DataAdapter, ReadOptions, Record, load_token_examples, resolve_adapter
from core.data.adapters import CluenerAdapter, ConllAdapter, join_tokens, text_tokens
from core.data.types import BadRecord
from core.default_plugins import adapters as default_adapters
from core.errors import DataError
from core.evaluation.metrics import as_iobes, detect_tag_scheme, token_metrics
from core.heads.token import TokenClassificationHead, entities, lenient_chunks, strict_chunks
from core.registry import Registry
from core.testing import check_explanation

# Invented sentences, one character per token: (sentence, [(first, last + 1, type)]).
SENTENCES = [
    ("王小明在北京大学读书。", [(0, 3, "PER"), (4, 8, "ORG")]),
    ("李华去上海看望外婆。", [(0, 2, "PER"), (3, 5, "LOC")]),
    ("张三住在杭州西湖边。", [(0, 2, "PER"), (4, 6, "LOC"), (6, 8, "LOC")]),
    ("他明天进京开会。", [(4, 5, "LOC")]),
]


def tag(sentence: str, spans: list[tuple[int, int, str]], scheme: str) -> list[str]:
    """The sentence's tags in ``scheme`` (BIO, BIOES or BMES)."""
    tags = ["O"] * len(sentence)
    middle = "M" if scheme == "BMES" else "I"
    for start, end, kind in spans:
        if scheme != "BIO" and end - start == 1:
            tags[start] = f"S-{kind}"
            continue
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"{middle}-{kind}"
        if scheme != "BIO":
            tags[end - 1] = f"E-{kind}"
    return tags


def conll(scheme: str, sentences=SENTENCES, separator: str = " ") -> str:
    return "\n".join(
        "".join(f"{char}{separator}{t}\n" for char, t in zip(text, tag(text, spans, scheme))) for text, spans in sentences
    )


@pytest.fixture
def registry() -> Registry[DataAdapter]:
    """The built-in adapters, registered through the hook as the app does it."""
    pm = pluggy.PluginManager(core.hookspecs.PROJECT_NAME)
    pm.add_hookspecs(core.hookspecs)
    pm.register(default_adapters)
    reg: Registry[DataAdapter] = Registry("data adapter")
    pm.hook.register_data_adapters(register=reg.register)
    return reg


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(pm, *args: str):
    return CliRunner().invoke(build_app(pm), list(args))


# --------------------------------------------------------------------------------------
# Tagging schemes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "scheme"),
    [
        (["O", "B-PER", "I-PER"], "BIO"),
        (["O", "I-PER", "B-PER.NAM"], "BIO"),  # IOB1 reads as BIO
        (["O", "B-PER", "I-PER", "E-PER", "S-LOC"], "BIOES"),
        (["B-PER", "E-PER", "S-LOC"], "BIOES"),  # no middle: BIOES and BMES mean the same
        (["O", "B-PER", "M-PER", "E-PER", "S-LOC"], "BMES"),
        (["B-PER", "I-PER", "L-PER", "U-LOC"], "BILOU"),
        (["NN", "VBD", "O", "-LRB-"], "BIO"),  # no entity prefixes at all
        ([], "BIO"),
    ],
)
def test_scheme_is_detected_from_the_tags(tags, scheme):
    assert detect_tag_scheme(tags) == scheme


def test_mixed_schemes_are_refused_with_the_tags_named():
    with pytest.raises(ValueError, match=r"mix tagging schemes \(B-PER, I-LOC, M-PER\).*BMES uses B-, E-, M-, S-"):
        detect_tag_scheme(["B-PER", "M-PER", "I-LOC"])


def test_bmes_and_bioes_files_are_read_and_their_scheme_found(registry, tmp_path):
    for scheme, name in (("BMES", "train.char.bmes"), ("BIOES", "train.txt"), ("BIO", "weibo.train")):
        source = write(tmp_path / name, conll(scheme, separator="\t"))
        result = load_token_examples(source, registry)  # .bmes by suffix, the others by content
        assert [("".join(ex.tokens), ex.tags) for ex in result.examples] == [
            (text, tag(text, spans, scheme)) for text, spans in SENTENCES
        ]
        assert detect_tag_scheme(result.labels) == scheme
        assert resolve_adapter(source, registry).name == "conll"  # `suite data inspect` finds it too


def test_weibo_char_position_tokens_read_as_characters(tmp_path):
    # Weibo NER's revised files: each character with its position in its word (科0 技1).
    # One token without a position: the file is read as it is.
    plain = write(tmp_path / "plain.conll", "小明\tO\n北0\tB-GPE.NAM\n京1\tI-GPE.NAM\n")
    assert [r.fields["tokens"] for r in ConllAdapter().read(plain, ReadOptions())] == [["小明", "北0", "京1"]]
    lines = ("我0\tO\n在0\tO\n北0\tB-GPE.NAM\n京1\tI-GPE.NAM\n大0\tB-ORG.NAM\n学1\tI-ORG.NAM\n\n"
             "20\tO\n01\tO\n年0\tO\n")  # the digits 2 and 0 (one word), then 年
    source = write(tmp_path / "tiny_2nd_conll.train", lines)
    records = list(ConllAdapter().read(source, ReadOptions()))
    assert [r.fields["tokens"] for r in records] == [["我", "在", "北", "京", "大", "学"], ["2", "0", "年"]]
    assert records[0].fields["tags"][2:4] == ["B-GPE.NAM", "I-GPE.NAM"]
    english = write(tmp_path / "codes.conll", "R2\tB-BOT\nD2\tI-BOT\n")  # positions that do not count up
    assert [r.fields["tokens"] for r in ConllAdapter().read(english, ReadOptions())] == [["R2", "D2"]]


# --------------------------------------------------------------------------------------
# Scores per scheme (seqeval)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["BIO", "BIOES", "BMES"])
def test_entity_f1_per_scheme(scheme):
    gold = [tag(text, spans, scheme) for text, spans in SENTENCES]  # 8 entities
    perfect = token_metrics(gold, gold, scheme)
    assert perfect["entity_f1"] == 1.0 and perfect["tag_scheme"] == scheme
    assert set(perfect["per_type"]) >= {"PER", "ORG", "LOC"}
    # One wrong boundary: 王小 instead of 王小明. 7 of 8 found, 7 of 8 predicted right.
    text, spans = SENTENCES[0]
    wrong = [tag(text, [(0, 2, "PER"), (4, 8, "ORG")], scheme)] + gold[1:]
    report = token_metrics(gold, wrong, scheme)
    assert report["entity_precision"] == pytest.approx(7 / 8)
    assert report["entity_recall"] == pytest.approx(7 / 8)
    assert report["entity_f1"] == pytest.approx(7 / 8)
    assert report["per_type"]["PER"]["f1-score"] == pytest.approx(2 / 3)


def test_bmes_without_its_end_is_no_entity():
    gold = [["B-PER", "M-PER", "E-PER", "O", "S-LOC"]]
    broken = [["B-PER", "M-PER", "M-PER", "O", "S-LOC"]]  # the name never ends: strict scoring finds none
    report = token_metrics(gold, broken, "BMES")
    assert report["entity_precision"] == 1.0 and report["entity_recall"] == 0.5
    assert entities(list("王小明在京"), broken[0], "BMES") == [{"type": "LOC", "start": 4, "end": 5, "text": "京"}]
    # Read as BIO (no M-, no E-), the same tags would have been two entities plus a stray.
    assert as_iobes(broken[0], "BMES") == ["B-PER", "I-PER", "I-PER", "O", "S-LOC"]


def test_entities_agree_with_seqeval_on_any_tags():
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOBES, Entities

    rng = random.Random(17)
    tags = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]
    for _ in range(500):
        seq = [rng.choice(tags) for _ in range(rng.randint(1, 9))]
        assert [(k, s, e - 1) for k, s, e in lenient_chunks(seq)] == get_entities(seq)
        expected = [(e.tag, e.start, e.end) for e in Entities([seq], IOBES).entities[0]]
        assert strict_chunks(seq) == expected, seq


def test_the_head_keeps_its_scheme_and_reads_entities_with_it():
    labels = sorted({t for text, spans in SENTENCES for t in tag(text, spans, "BMES")})
    head = TokenClassificationHead(labels, tag_scheme="BMES")
    assert head.state()["options"] == {"tag_scheme": "BMES"}
    assert TokenClassificationHead(labels).tag_scheme == "BMES"  # a model saved without it: from its labels
    assert TokenClassificationHead(["O", "B-X", "I-X"]).tag_scheme == "BIO"


# --------------------------------------------------------------------------------------
# Text to tokens and entities to character spans
# --------------------------------------------------------------------------------------


def test_chinese_text_splits_into_characters_and_latin_runs():
    text = "我在Apple公司用iPhone15, 很好！"
    assert [text[a:b] for a, b in text_tokens(text)] == ["我", "在", "Apple", "公", "司", "用", "iPhone15", ",", "很", "好", "！"]
    assert ["Ada visited  Rome."[a:b] for a, b in text_tokens("Ada visited  Rome.")] == ["Ada", "visited", "Rome."]
    assert text_tokens("我用iPhone15", cuts={8}) == [(0, 1), (1, 2), (2, 8), (8, 10)]
    assert join_tokens(["叶", "老", "桂", "说", "NBA", "好"]) == ("叶老桂说NBA好", [(0, 1), (1, 2), (2, 3), (3, 4), (4, 7), (7, 8)])
    assert join_tokens(["Ada", "visited", "Rome"])[0] == "Ada visited Rome"


def test_entities_as_character_spans_of_the_text():
    text = "  王小明在 北京大学读书"
    spans = text_tokens(text)
    words = [text[a:b] for a, b in spans]
    tags = ["B-PER", "M-PER", "E-PER", "O", "B-ORG", "M-ORG", "M-ORG", "E-ORG", "O", "O"]
    assert entities(words, tags, "BMES", text=text, spans=spans) == [
        {"type": "PER", "start": 2, "end": 5, "text": "王小明"},
        {"type": "ORG", "start": 7, "end": 11, "text": "北京大学"},
    ]
    assert entities(words, tags, "BMES")[1] == {"type": "ORG", "start": 4, "end": 8, "text": "北 京 大 学"}  # in words


# --------------------------------------------------------------------------------------
# CLUE NER
# --------------------------------------------------------------------------------------

CLUE_ROWS = [
    {"text": "王小明在北京大学读书。", "label": {"name": {"王小明": [[0, 2]]}, "organization": {"北京大学": [[4, 7]]}}},
    {"text": "我买了iPhone15手机，李华也买了。", "label": {"product": {"iPhone": [[3, 8]]}, "name": {"李华": [[14, 15]]}}},
    {"text": "张三 和 李四去了杭州。", "label": {"name": {"张三": [[0, 1]], "李四": [[5, 6]]}, "address": {"杭州": [[9, 10]]}}},
    {"text": "今天天气很好。", "label": {}},
]


def clue_file(path: Path, rows: list) -> str:
    return write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def token_spans(text: str, tokens: list[str]) -> list[tuple[int, int]]:
    spans, at = [], 0
    for token in tokens:
        at = text.index(token, at)
        spans.append((at, at + len(token)))
        at += len(token)
    return spans


def test_clue_round_trip(registry, tmp_path):
    source = clue_file(tmp_path / "train.json", CLUE_ROWS)
    assert resolve_adapter(source, registry).name == "cluener"  # by content, not the .json suffix
    rows = clue_file(tmp_path / "rows.json", [{"text": "hi", "label": "greet"}])
    assert resolve_adapter(rows, registry).name == "jsonl"
    result = load_token_examples(source, registry)
    first, second = result.examples[:2]
    assert first.tokens == list("王小明在北京大学读书。")
    assert first.tags == ["B-name", "I-name", "I-name", "O", "B-organization", "I-organization", "I-organization",
                          "I-organization", "O", "O", "O"]
    assert second.tokens[:6] == ["我", "买", "了", "iPhone", "15", "手"]  # cut where the mention ends
    for row, example in zip(CLUE_ROWS, result.examples):
        found = entities(example.tokens, example.tags, text=row["text"], spans=token_spans(row["text"], example.tokens))
        label: dict = {}
        for e in found:
            label.setdefault(e["type"], {}).setdefault(e["text"], []).append([e["start"], e["end"] - 1])
        assert label == row["label"]
    assert detect_tag_scheme(result.labels) == "BIO"


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ({"name": {"王小明": [[0, 11]]}}, r"field 'label\.name': '王小明' at \[0, 11\] is out of range: the text has 11 "
                                         r"characters, so spans lie within \[0, 10\]"),
        ({"name": {"王小明": [[0, 3]]}}, r"field 'label\.name': '王小明' at \[0, 3\] is '王小明在' in the text, not the mention "
                                        r"\(the end looks exclusive; CLUE's end is inclusive\)"),
        ({"name": {"王小": [[1, 2]]}}, r"'王小' at \[1, 2\] is '小明' in the text, not the mention$"),
        ({"name": {"王小明": [0, 2]}}, r"field 'label\.name': '王小明': expected a list of \[start, end\] pairs"),
        ({"name": ["王小明"]}, r"field 'label\.name': expected an object"),
        ({"name": {"王小明": [[2, 0]]}}, r"the start is after the end"),
        ({"name": {"王小明": [[0, 2]]}, "organization": {"明在北京": [[2, 5]]}}, r"overlaps"),
    ],
)
def test_clue_bad_spans_are_one_located_line(registry, tmp_path, label, message):
    rows = [CLUE_ROWS[3], {"text": "王小明在北京大学读书。", "label": label}]
    source = clue_file(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match=r"^.*bad\.jsonl:2: .*" + message) as info:
        load_token_examples(source, registry)
    assert "\n" not in str(info.value)


def test_clue_bad_rows_can_be_skipped_and_unlabelled_rows_read(registry, tmp_path):
    rows = [CLUE_ROWS[0], {"text": "王小明", "label": {"name": {"王小明": [[0, 5]]}}}, {"text": 3, "label": {}}]
    source = clue_file(tmp_path / "train.json", rows)
    result = load_token_examples(source, registry, on_error="skip", report_path=tmp_path / "skipped.jsonl")
    assert len(result.examples) == 1
    assert [(b.line, b.field) for b in result.skipped] == [(2, "label.name"), (3, "text")]
    unlabelled = clue_file(tmp_path / "test.json", [{"id": 0, "text": "李华去上海。"}])
    records = list(CluenerAdapter().read(unlabelled, ReadOptions()))
    assert isinstance(records[0], Record) and records[0].fields["tokens"] == list("李华去上海。")
    assert "tags" not in records[0].fields and not isinstance(records[0], BadRecord)


# --------------------------------------------------------------------------------------
# Through the CLI, on the tiny model
# --------------------------------------------------------------------------------------


def test_train_evaluate_predict_chinese_bmes(builtin_pm, tiny_model: Path, tmp_path: Path):
    source = write(tmp_path / "weibo_like.train", conll("BMES", SENTENCES * 4, separator="\t"))
    trained = run(builtin_pm, "train", "token-classification", "--train", source, "--format", "conll",
                  "--model", str(tiny_model), "--epochs", "3", "--lr", "1e-3", "--batch-size", "4",
                  "--name", "zh-ner", "--json")
    assert trained.exit_code == 0, trained.output
    result = json.loads(trained.stdout)
    assert result["tag_scheme"] == "BMES" and "tag scheme: BMES" in trained.stderr
    saved = json.loads((Path(result["path"]) / "suite_head.json").read_text(encoding="utf-8"))
    assert saved["options"]["tag_scheme"] == "BMES" and "M-PER" in saved["labels"]

    evaluated = run(builtin_pm, "evaluate", "token-classification", "--data", source, "--model", "zh-ner", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.stdout)["metrics"]["tag_scheme"] == "BMES"

    text = "王小明去上海。Apple也在。"
    predicted = run(builtin_pm, "predict", "token-classification", text, "Ada visited Rome", "--model", "zh-ner",
                    "--json")
    assert predicted.exit_code == 0, predicted.output
    chinese, english = json.loads(predicted.stdout)["predictions"]
    assert chinese["text"] == text
    assert chinese["tokens"] == ["王", "小", "明", "去", "上", "海", "。", "Apple", "也", "在", "。"]
    assert len(chinese["tags"]) == len(chinese["tokens"])
    spans = token_spans(text, chinese["tokens"])
    assert chinese["entities"] == entities(chinese["tokens"], chinese["tags"], "BMES", text=text, spans=spans)
    for entity in chinese["entities"]:
        assert text[entity["start"]:entity["end"]] == entity["text"]
    assert english["tokens"] == ["Ada", "visited", "Rome"] and english["text"] == "Ada visited Rome"

    from_file = run(builtin_pm, "predict", "token-classification", "--input", source, "--model", "zh-ner", "--json")
    assert from_file.exit_code == 0, from_file.output
    first = json.loads(from_file.stdout)["predictions"][0]
    assert first["text"] == "王小明在北京大学读书。"
    assert all(first["text"][e["start"]:e["end"]] == e["text"] for e in first["entities"])

    explained = run(builtin_pm, "predict", "token-classification", "--input", source, "--model", "zh-ner", "--explain",
                    "--json")
    assert explained.exit_code == 0, explained.output
    rows = json.loads(explained.stdout)["predictions"]
    found = [(row["text"], e) for row in rows for e in row["entities"]]
    assert found and all("explanation" in e for _, e in found)
    for text, entity in found:  # the shape of every --explain, the entity's own characters never among them
        check_explanation(text, entity["explanation"])
        assert all(not (entity["start"] <= r["start"] < entity["end"]) for r in entity["explanation"])


def test_train_on_clue_json(builtin_pm, tiny_model: Path, tmp_path: Path):
    source = clue_file(tmp_path / "train.json", CLUE_ROWS * 3)
    trained = run(builtin_pm, "train", "token-classification", "--train", source, "--model", str(tiny_model),
                  "--epochs", "1", "--batch-size", "4", "--json")
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["tag_scheme"] == "BIO"
    unlabelled = clue_file(tmp_path / "unlabelled.json", [{"text": "李华去上海。"}])
    refused = run(builtin_pm, "train", "token-classification", "--train", unlabelled, "--format", "cluener",
                  "--model", str(tiny_model))
    assert refused.exit_code == 2 and "unlabelled.json:1: field 'label': no tags" in refused.stderr, refused.output
