"""Why a model decided what it did, in words: one shape for every scenario, CLI and HTTP.

An explanation is a list of ``{"word", "start", "end", "weight"}``: a word of the input (its
character span, so a page can highlight it) and how much the decision's probability drops when
that word is left out (occlusion). Words, not sub-tokens: a CJK run counts each character as a
word (Chinese has no spaces), punctuation is never a word, and stop words ("the", "at", "的")
are never offered as a reason on their own. Scenarios pass their own scoring function, so the
same code explains an intent, a sentiment or a recommendation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core.lexical import STOP_WORDS, Word, is_cjk, is_reason, words


def without(text: str, word: Word) -> str:
    """``text`` with one word left out (the spaces around it collapse to one)."""
    head, tail = text[: word.start].rstrip(), text[word.end :].lstrip()
    joiner = " " if head and tail and not (is_cjk(head[-1]) or is_cjk(tail[0])) else ""
    return head + joiner + tail


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
