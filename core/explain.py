"""Why a model decided what it did, in words: one shape for every scenario, CLI and HTTP.

An explanation is a list of ``{"word", "start", "end", "weight"}``: a word of the input (its
character span, so a page can highlight it) and how much the decision's probability drops when
that word is left out (occlusion). Words, not sub-tokens: a CJK run counts each character as a
word (Chinese has no spaces), punctuation is never a word, and stop words ("the", "at", "的")
are never offered as a reason on their own. Scenarios pass their own scoring function, so the
same code explains an intent, a sentiment or a recommendation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# A word: a run of letters/digits (with inner ' - . joining them), or one CJK character.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+(?:['’\-.][^\W_{_CJK}]+)*")

STOP_WORDS = frozenset(
    # English function words (not "no", "not", "down", "up", "against": they carry sentiment)
    """
    a about after am an and any are as at be because been before being between both but by can could
    did do does doing during each for from had has have having he her here hers herself him himself his
    how i if in into is it its itself just me my myself now of on once or other our ours ourselves out
    own same she should so some such than that the their theirs them themselves then there these they
    this those through to until was we were what when where which while who whom why will with would
    you your yours yourself yourselves via per amid says said also only over under again vs too us
    update updated upd
    der die das und ist ein eine zu den le la les et un une des du de el los las y en es
    更新 的 了 在 是 和 与 及 将 对 为 也 就 都 而 或 其 之 于 这 那 有 被 把 从 到 向 给 让 个 我 你 他 她 它 们
    吗 呢 吧 啊 呀 哦 么
    """.split()
)  # wire-copy markers ("(update 3)") too: never a reason on their own


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int


def words(text: str) -> list[Word]:
    """The words of ``text`` with their character spans; punctuation and spaces are not words."""
    return [Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def is_reason(word: str) -> bool:
    """Whether a word may stand alone as a reason: not a stop word, not a lone digit or letter."""
    lowered = word.lower()
    return lowered not in STOP_WORDS and not (len(word) == 1 and word.isascii())


def without(text: str, word: Word) -> str:
    """``text`` with one word left out (the spaces around it collapse to one)."""
    head, tail = text[: word.start].rstrip(), text[word.end :].lstrip()
    joiner = " " if head and tail and not (is_cjk(head[-1]) or is_cjk(tail[0])) else ""
    return head + joiner + tail


def is_cjk(text: str) -> bool:
    """Whether ``text`` starts with a CJK character (a CJK word is one character)."""
    return bool(re.match(f"[{_CJK}]", text))


def occlusion(text: str, score: Callable[[Sequence[str]], Sequence[float]], *, top_k: int = 5,
              base: float | None = None) -> list[dict[str, Any]]:
    """The ``top_k`` words whose removal lowers ``score`` the most (positive weights only).

    ``score`` maps texts to the probability of the decision being explained; it is called once
    on every one-word-out variant together, so a batched model scores them in one pass.
    """
    candidates, variants = occlusion_variants(text)
    if not candidates:
        return []
    values = list(score(([text] if base is None else []) + variants))
    reference = values.pop(0) if base is None else base
    return ranked_words(candidates, [reference - v for v in values], top_k)


def occlusion_variants(text: str) -> tuple[list[Word], list[str]]:
    """The words that may be a reason, and ``text`` without each of them (none for one word)."""
    candidates = [w for w in words(text) if is_reason(w.text)]
    if len(words(text)) < 2:
        return [], []
    return candidates, [without(text, w) for w in candidates]


def ranked_words(candidates: Sequence[Word], drops: Sequence[float], top_k: int) -> list[dict[str, Any]]:
    """The explanation's shape: the ``top_k`` largest positive drops, largest first."""
    ranked = sorted(range(len(candidates)), key=lambda i: -drops[i])[:top_k]
    return [{"word": candidates[i].text, "start": candidates[i].start, "end": candidates[i].end,
             "weight": round(float(drops[i]), 4)} for i in ranked if drops[i] > 0]


__all__ = ["STOP_WORDS", "Word", "is_cjk", "is_reason", "occlusion", "occlusion_variants", "ranked_words", "without", "words"]
