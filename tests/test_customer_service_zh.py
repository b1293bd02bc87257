"""Chinese through the customer-service plugin (#17): the Chinese sample bank's files, language
detection, word search of the knowledge base in character bigrams, and replies in the customer's
language. Plumbing runs on the one-layer tiny model (its English vocabulary cannot read Chinese,
which is the case word search is for); one ``slow`` test trains multilingual-e5-small on the
Chinese bank and checks that 我的银行卡丢了 gets the card-lost answer in Chinese."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core import ReadOptions
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from plugins.customer_service.adapters import RasaNluAdapter
from plugins.customer_service.answers import AnswerBook
from plugins.customer_service.calibration import IntentDecision, decide
from plugins.customer_service.config import (
    SAMPLE_ANSWERS,
    SAMPLE_KNOWLEDGE,
    SAMPLE_TEST_ZH,
    SAMPLE_TRAIN,
    SAMPLE_TRAIN_ZH,
    ServiceConfig,
)
from plugins.customer_service.language import detect_language, terms

CARD_LOST = "我的银行卡丢了"
# The home the tests were started with (the suite_env fixture replaces SUITE_HOME per test):
# where `suite models install multilingual-e5-small` put the model the slow test trains.
START_HOME = Path(os.environ.get("SUITE_HOME") or Path.home() / ".suite").expanduser()


def invoke(*args: str, home: Path | None = None):
    settings = Settings(home=home) if home else Settings()
    return CliRunner().invoke(build_app(make_plugin_manager(settings), settings), list(args))


def read_bank(path: Path) -> list[tuple[str, str]]:
    return [(r.fields["text"], r.fields["label"]) for r in RasaNluAdapter().read(str(path), ReadOptions())]


# --------------------------------------------------------------------------------------
# The Chinese sample bank
# --------------------------------------------------------------------------------------


def test_the_chinese_bank_has_the_english_intents_and_an_answer_in_chinese_for_each() -> None:
    english, train, test = read_bank(SAMPLE_TRAIN), read_bank(SAMPLE_TRAIN_ZH), read_bank(SAMPLE_TEST_ZH)
    counts = Counter(label for _, label in train)
    assert set(counts) == {label for _, label in english}  # card_lost ... human_agent, and oos
    assert all(15 <= n <= 25 for label, n in counts.items() if label != "oos"), counts
    assert counts["oos"] >= 25 and set(label for _, label in test) == set(counts)
    assert not {t for t, _ in train} & {t for t, _ in test}  # held out
    assert (CARD_LOST, "card_lost") in test and CARD_LOST not in {t for t, _ in train}
    assert all(detect_language(text).language == "zh" for text, _ in train + test)

    book = AnswerBook.load(SAMPLE_ANSWERS)
    for intent in set(counts) - {"oos"}:
        answer = book.get(intent)
        assert answer is not None and "zh" in answer.templates, intent
        rendered = book.render(answer.templates, "zh", {"ticket_id": 7})
        assert detect_language(rendered).language == "zh", (intent, rendered)
        assert "Harbourline app" not in rendered and "there" not in rendered  # slot defaults in Chinese too
    assert "zh" in book.escalation and "工单号是 7" in book.render(book.escalation, "zh", {"ticket_id": 7})
    assert book.render(book.get("greeting").templates, "zh", {}).startswith("尊敬的客户，您好！欢迎来到港湾银行")
    assert book.render(book.get("greeting").templates, "en", {}).startswith("Hello there, welcome to Harbourline Bank")


def test_the_knowledge_base_holds_chinese_articles_beside_the_english_ones() -> None:
    from plugins.customer_service.knowledge import load_entries

    entries = load_entries([SAMPLE_KNOWLEDGE])
    chinese = [e for e in entries if detect_language(f"{e.title} {e.answer}").language == "zh"]
    assert {Path(e.source).name for e in chinese} == {"faq.zh.yml", "guide.zh.md"}
    assert len(chinese) >= 12 and any(e.title == "手机银行 App > 重置 App 登录密码" for e in chinese)
    assert len(entries) - len(chinese) >= 18  # the English ones are all still there


# --------------------------------------------------------------------------------------
# Language detection and search terms
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [
    (CARD_LOST, "zh"),
    ("我的 Harbourline app 密码忘了", "zh"),  # a brand name is one word, not eleven letters
    ("ＰＩＮ码忘了", "zh"),  # full-width Latin
    ("我的卡丢了!!! 😢", "zh"),
    ("カードをなくしました", "ja"),
    ("카드를 잃어버렸어요", "ko"),
    ("I lost my card", None),
    ("Ich habe meine Karte verloren", None),  # Latin script: the configured language answers
    ("I sent money to 王伟 yesterday", None),  # a Chinese name in an English sentence
    ("12345", None),
])
def test_language_is_detected_from_the_share_of_cjk_words(text: str, language: str | None) -> None:
    detected = detect_language(text)
    assert detected.language == language
    if language:
        assert f"language '{language}' detected (CJK" in detected.describe()


def test_chinese_is_searched_in_character_bigrams_and_english_in_words() -> None:
    assert terms(CARD_LOST) == ["的银", "银行", "行卡", "卡丢", "丢了"]  # 我的: two stop characters
    assert terms("怎么挂失？") == ["么挂", "挂失"]  # 怎么 asks how, it says nothing of what about
    assert terms("The daily LIMIT for cash withdrawals") == ["daily", "limit", "cash", "withdrawals"]
    assert terms("ＰＩＮ码忘了") == ["pin", "码忘", "忘了"]
    assert terms("卡") == ["卡"]


def test_word_index_scores_are_cosines_and_unknown_terms_lower_them() -> None:
    from plugins.customer_service.lexical import WordIndex

    index = WordIndex(["取款机每天最多能取多少现金", "在国外取现要收费吗", "重置登录密码"])
    assert index.scores("取款机每天最多能取多少现金").max() == pytest.approx(1.0, abs=1e-5)
    same, longer = index.scores("登录密码"), index.scores("登录密码以及天气预报和足球比分")
    assert int(same.argmax()) == 2 and longer[2] < same[2]  # half the question unmatched: half the evidence
    assert not index.scores("明天天气").any()


# --------------------------------------------------------------------------------------
# The knowledge base, read by an encoder that cannot read Chinese
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_encoder(tiny_model: Path):
    from plugins.customer_service.encoder import SentenceEncoder

    return SentenceEncoder.load(str(tiny_model), precision="fp32")


@pytest.fixture(scope="module")
def retriever(tiny_encoder):
    from plugins.customer_service.knowledge import Retriever

    return Retriever.load([SAMPLE_KNOWLEDGE], tiny_encoder)


def test_an_english_vocabulary_does_not_read_chinese(tiny_encoder) -> None:
    from plugins.customer_service.encoder import SentenceEncoder, declared_languages

    assert tiny_encoder.languages is None  # a folder the catalogue did not install: its tokenizer decides
    assert tiny_encoder.unknown_share(CARD_LOST) > 0.5 and not tiny_encoder.reads(CARD_LOST, "zh")
    assert tiny_encoder.reads("I lost my card", None) and tiny_encoder.unknown_share("I lost my card") == 0
    assert declared_languages(Path("."), packaged=True) == frozenset({"en"})  # the default, from the catalogue
    listed = SentenceEncoder(tiny_encoder.model, "x", "fp32", frozenset({"en"}))
    assert not listed.reads("我的卡", "zh") and listed.reads("card", None)


@pytest.mark.parametrize(("question", "title"), [
    ("App登录密码忘了怎么办", "手机银行 App > 重置 App 登录密码"),
    ("取款机每天能取多少现金", "取款机每天最多能取多少现金？"),
    ("收到一条奇怪的短信，说是银行发的", "收到自称是银行发来的可疑短信怎么办？"),
    ("我的IBAN在哪里看", "在哪里可以找到我的 IBAN 和银行代码？"),
])
def test_a_chinese_question_finds_its_article_by_words(retriever, question: str, title: str) -> None:
    floor = ServiceConfig().retrieval_word_threshold
    best = retriever.search(question, 3)[0]
    assert (best.entry.title, best.by, best.language) == (title, "words", "zh")
    assert best.similarity >= floor and best.as_dict()["by"] == "words"


def test_word_search_stays_below_its_threshold_for_unrelated_chinese_and_english_keeps_meaning(retriever) -> None:
    floor = ServiceConfig().retrieval_word_threshold
    for question in ("明天天气怎么样", "给我讲个笑话", "红烧肉怎么做"):
        assert all(hit.similarity < floor for hit in retriever.search(question, 3)), question
    english = retriever.search("how much cash can I take out in one day", 3)
    assert len(english) == 3 and all(hit.by == "meaning" and hit.language is None for hit in english)  # English entries only


# --------------------------------------------------------------------------------------
# Replies in the customer's language
# --------------------------------------------------------------------------------------


class FixedIntents:
    """An intent model that decides what the test says, so each route is certain."""

    encoder = None
    uses_familiarity = False
    folder = Path("fixed")
    labels = ["card_lost", "greeting", "human_agent", "oos"]

    def __init__(self) -> None:
        self.next: IntentDecision | None = None

    def say(self, intent: str, confidence: float = 0.95) -> None:
        probs = np.full(len(self.labels), (1 - confidence) / (len(self.labels) - 1))
        probs[self.labels.index(intent)] = confidence
        self.next = decide(probs, self.labels, oos_label="oos", threshold=0.5, margin=0.1)

    def classify(self, texts, vectors=None):  # noqa: ANN001, ANN201
        return [self.next] * len(texts)

    def explain(self, decision: IntentDecision) -> str:
        return decision.explain(0.5, 0.1)


@pytest.fixture
def service(retriever):
    from plugins.customer_service.service import CustomerService

    intents = FixedIntents()
    return intents, CustomerService(intents, AnswerBook.load(SAMPLE_ANSWERS), retriever, None, ServiceConfig())  # type: ignore[arg-type]


def test_a_chinese_message_is_answered_in_chinese_and_why_says_so(service) -> None:
    intents, cs = service
    intents.say("card_lost")
    reply = cs.reply(CARD_LOST)
    assert (reply.route, reply.intent, reply.language) == ("template", "card_lost", "zh")
    assert reply.reply.startswith("很抱歉") and "港湾银行 App" in reply.reply and "0800 555 0142" in reply.reply
    assert "language 'zh' detected (CJK 100% of the message's words)" in reply.why

    english = cs.reply("I lost my card")
    assert english.language == "en" and english.reply.startswith("I'm sorry") and "detected" not in english.why
    asked = cs.reply(CARD_LOST, language="de")  # a requested language wins over the detected one
    assert asked.language == "de" and asked.reply.startswith("Das tut mir leid") and "detected" not in asked.why


def test_detection_is_said_with_the_fallback_when_the_book_lacks_the_language(service) -> None:
    intents, cs = service
    intents.say("card_lost")
    japanese = cs.reply("カードをなくしました")
    assert japanese.language == "en" and japanese.reply.startswith("I'm sorry")
    assert "language 'ja' detected" in japanese.why and "no 'ja' answer for this intent: answered in 'en'" in japanese.why
    off = ServiceConfig(detect_language=False)
    cs.config = off
    assert cs.reply(CARD_LOST).language == "en"


def test_retrieval_and_escalation_answer_in_chinese(service) -> None:
    intents, cs = service
    intents.say("oos")
    found = cs.reply("App登录密码忘了怎么办")
    assert (found.route, found.language) == ("retrieval", "zh") and found.reply.startswith("在登录页面点“忘记密码”")
    assert "word similarity" in found.why and "searched by words" in found.why and found.match["by"] == "words"
    handed = cs.reply("明天天气怎么样")
    assert (handed.route, handed.language) == ("escalation", "zh")
    assert "已转给港湾银行的同事处理" in handed.reply and "no knowledge-base entry reaches word similarity" in handed.why
    intents.say("greeting")
    assert cs.reply("你好").reply.startswith("尊敬的客户，您好")
    assert cs.reply("你好", slots={"customer_name": "王女士"}).reply.startswith("王女士，您好")


def test_chinese_bank_trains_and_replies_in_chinese_through_the_cli(tiny_model: Path, tmp_path: Path) -> None:
    """The commands of the README's Chinese section, on the tiny model: whatever it decides (its
    vocabulary reads little Chinese), every reply is in Chinese and says why."""
    trained = invoke("train", "customer-service", "--train", str(SAMPLE_TRAIN_ZH), "--model", str(tiny_model),
                     "--epochs", "1", "--batch-size", "32", "--patience", "0", "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    out = json.loads(trained.stdout)
    assert out["intents"] == 20 and out["calibration"]["oos_label"] == "oos"
    evaluated = invoke("evaluate", "customer-service", "--data", str(SAMPLE_TEST_ZH), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert len(json.loads(evaluated.stdout)["metrics"]["confusion_matrix"]) == 21
    messages = tmp_path / "messages.txt"
    messages.write_text(f"{CARD_LOST}\nApp登录密码忘了怎么办\n明天天气怎么样\n", encoding="utf-8")
    replies = tmp_path / "replies.jsonl"
    ran = invoke("run", "customer-service", "--input", str(messages), "--output", str(replies))
    assert ran.exit_code == 0, ran.output
    rows = [json.loads(line) for line in replies.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == [CARD_LOST, "App登录密码忘了怎么办", "明天天气怎么样"]
    for row in rows:
        assert row["language"] == "zh" and "language 'zh' detected" in row["why"], row
        assert detect_language(row["reply"]).language == "zh", row


# --------------------------------------------------------------------------------------
# The real thing: multilingual-e5-small on the Chinese bank
# --------------------------------------------------------------------------------------


def installed_e5() -> Path | None:
    from core.catalogue.entries import find_entry
    from core.catalogue.status import installed_path

    entry = find_entry("multilingual-e5-small")
    return installed_path(entry, START_HOME) if entry else None


@pytest.mark.slow
def test_multilingual_e5_answers_a_lost_card_in_chinese(tmp_path: Path) -> None:
    folder = installed_e5()
    if folder is None:
        pytest.skip(f"multilingual-e5-small is not installed in {START_HOME}: suite models install multilingual-e5-small")
    # head-only: the encoder's vectors once, then a logistic regression (about a minute on 2 CPU
    # cores; full fine-tuning gets through one epoch in that time and is right 17% of the time)
    trained = invoke("train", "customer-service", "--train", str(SAMPLE_TRAIN_ZH), "--model", str(folder),
                     "--strategy", "head-only", "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    evaluated = invoke("evaluate", "customer-service", "--data", str(SAMPLE_TEST_ZH), "--json")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.stdout)["metrics"]
    assert metrics["in_scope_accuracy"] >= 0.75 and metrics["oos_recall"] >= 0.8, metrics  # measured 0.85 and 1.0
    messages = tmp_path / "messages.txt"
    messages.write_text(f"{CARD_LOST}\n", encoding="utf-8")
    replies = tmp_path / "replies.jsonl"
    ran = invoke("run", "customer-service", "--input", str(messages), "--output", str(replies))
    assert ran.exit_code == 0, ran.output
    reply = json.loads(replies.read_text(encoding="utf-8"))
    assert (reply["route"], reply["intent"], reply["language"]) == ("template", "card_lost", "zh"), reply
    assert reply["reply"].startswith("很抱歉") and "冻结" in reply["reply"]
