"""Which language a message is in, as far as its script tells, and the terms it is searched by.

Only what the script makes certain is detected: a message mostly written in CJK characters is
Chinese (``zh``), Japanese (``ja``, when kana are a fifth of them or more) or Korean (``ko``,
mostly hangul). A message in Latin or any other script is ``None``: English, German and
French share one script, so the configured language answers them as before.

"Mostly" counts words: each CJK character is one (Chinese has no spaces, and a character
carries about what an English word does), each run of other letters or digits is one, so a
brand name inside a Chinese sentence (``我的 Harbourline app 密码忘了``) does not outvote it.

:func:`terms` splits text for word search (the knowledge base's TF-IDF): other scripts keep
their words, lowercased, stop words left out; a CJK run becomes its overlapping character
bigrams (``银行卡丢了`` → 银行 行卡 卡丢 丢了), which is how Chinese is indexed without a
dictionary: a two-character word is found whole, and a longer one by its pairs. Unlike
:func:`core.lexical.terms` (characters and pairs, for item texts), single characters are left
out: against a knowledge base of short questions they let wrong articles through (measured on
15 Chinese questions about the sample's Chinese articles: with characters, at best 1 wrong in 8
answered; with pairs alone, 7 of 7 right at the default threshold of 0.2).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.lexical import CJK, HAN, HANGUL, KANA, STOP_WORDS
from core.lexical import terms as lexical_terms
CJK_LANGUAGES = ("zh", "ja", "ko")
# Pairs that ask rather than say what about: in a small knowledge base of questions they match
# everything (``怎么`` "how", ``多少`` "how much"), as "how" and "what" would in English.
STOP_PAIRS = frozenset("""
    怎么 怎样 如何 什么 为什 多少 哪里 哪儿 哪个 可以 能不 不能 是不 不是 有没 没有 请问 一下 要是 如果
    我们 你们 您的 一个 这个 那个 么办 的话
    """.split())
MOSTLY = 0.5  # share of a message's words that makes it CJK
KANA_JA = 0.2  # share of its CJK characters that makes it Japanese rather than Chinese

_PIECE = re.compile(rf"([{CJK}]+)|([^\W_{CJK}]+(?:['’][^\W_{CJK}]+)*)")
_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{KANA}]")
_HANGUL = re.compile(f"[{HANGUL}]")


@dataclass(frozen=True)
class Detection:
    """``language``: zh, ja, ko, or None (not mostly CJK); ``cjk_share``: CJK characters among
    the message's words (a CJK character or a run of other letters counting one each)."""

    language: str | None
    cjk_share: float

    def describe(self) -> str:
        return f"language '{self.language}' detected (CJK {self.cjk_share:.0%} of the message's words)"


def detect_language(text: str) -> Detection:
    """The message's language when its script decides it (see the module docstring)."""
    pieces = _PIECE.findall(unicodedata.normalize("NFKC", text))
    characters = "".join(run for run, _ in pieces)
    cjk, other = len(characters), sum(1 for run, _ in pieces if not run)
    if not cjk:
        return Detection(None, 0.0)
    share = cjk / (cjk + other)
    if share < MOSTLY:
        return Detection(None, share)
    hangul, kana = len(_HANGUL.findall(characters)), len(_KANA.findall(characters))
    han = len(_HAN.findall(characters))
    if hangul > han + kana:
        return Detection("ko", share)
    return Detection("ja" if kana >= KANA_JA * (han + kana) else "zh", share)


def is_cjk_language(language: str | None) -> bool:
    """``zh``, ``ja``, ``ko`` and their regional forms (``zh-TW``, ``zh_Hans``)."""
    return bool(language) and re.split(r"[-_]", language.lower())[0] in CJK_LANGUAGES  # type: ignore[union-attr]


def terms(text: str) -> list[str]:
    """Search terms of ``text`` (:func:`core.lexical.terms` without single characters): words
    of other scripts, lowercased, without stop words or lone letters; the character pairs of
    each CJK run (a lone character stands for itself), leaving out :data:`STOP_PAIRS` and
    pairs of two stop characters (``我的``)."""
    return [t for t in lexical_terms(text, characters=False)
            if t not in STOP_WORDS and t not in STOP_PAIRS and not all(c in STOP_WORDS for c in t)
            and not (len(t) == 1 and t.isascii() and not t.isdigit())]


__all__ = ["CJK_LANGUAGES", "STOP_PAIRS", "Detection", "detect_language", "is_cjk_language", "terms"]
