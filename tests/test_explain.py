"""One explanation shape for every scenario: words with spans, never punctuation or stop words."""

from __future__ import annotations

from core.explain import is_reason, occlusion, without, words
from core.testing import check_explanation


def test_words_are_spans_without_punctuation_and_one_per_cjk_character() -> None:
    text = "(Update) Wire: Northwind's loss-making unit, 招商银行跌了。"
    found = [(w.text, text[w.start:w.end]) for w in words(text)]
    assert [t for t, _ in found] == ["Update", "Wire", "Northwind's", "loss-making", "unit", "招", "商", "银", "行", "跌", "了"]
    assert all(t == span for t, span in found)


def test_stop_words_punctuation_and_lone_letters_are_never_reasons() -> None:
    assert not any(is_reason(w) for w in ("the", "At", "on", "的", "了", "a", "7"))
    assert all(is_reason(w) for w in ("declined", "Northwind", "跌", "600036"))


def test_leaving_a_word_out_keeps_the_rest_readable() -> None:
    text = "my card was declined again"
    assert without(text, words(text)[3]) == "my card was again"
    assert without("银行卡丢了", words("银行卡丢了")[3]) == "银行卡了"


def test_occlusion_finds_the_one_word_a_model_keys_on() -> None:
    """A classifier that keys on one word: that word carries the whole drop, every other none."""
    def score(texts: list[str]) -> list[float]:
        return [0.9 if "declined" in t.split() else 0.1 for t in texts]

    text = "the shop said my card was declined at the till"
    explanation = occlusion(text, score, top_k=5)
    check_explanation(text, explanation)
    assert explanation == [{"word": "declined", "start": 26, "end": 34, "weight": 0.8}]
    assert occlusion("declined", score) == []  # one word: nothing to compare against


def test_lexical_terms_give_chinese_characters_and_pairs_and_english_words() -> None:
    from core.lexical import terms

    assert terms("我的银行卡丢了") == ["我", "的", "银", "行", "卡", "丢", "了", "我的", "的银", "银行", "行卡", "卡丢", "丢了"]
    assert terms("Card LOST, 银行!") == ["card", "lost", "银", "行", "银行"]
    assert set(terms("银行卡丢失怎么办")) & set(terms("我的银行卡丢了")) >= {"银行", "行卡", "卡丢"}
