"""Words and terms in any script: one definition of CJK, of a word, of a stop word.

Whitespace tokenisers see a Chinese sentence as one word, so lexical matching finds nothing in
common between 我的银行卡丢了 and 银行卡丢失怎么办, and an explanation highlights a whole
headline. Here a word is a run of letters or digits, or one CJK character (a character carries
about what an English word does); :func:`terms` gives lexical scorers (TF-IDF, BM25) Latin
words and, for a CJK run, its characters and character pairs: no segmenter to install, and
pairs keep most of the signal of two-character words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # ideographs: ext. A, unified, compatibility, B-G
KANA = "\u3040-\u30ff\u31f0-\u31ff"
HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
CJK = HAN + KANA + HANGUL
_CJK = re.compile(f"[{CJK}]")
_LETTER = re.compile(r"[^\W\d_]")
# A word: a run of letters/digits (with inner ' - . joining them), or one CJK character.
_WORD = re.compile(rf"[{CJK}]|[^\W_{CJK}]+(?:['’\-.][^\W_{CJK}]+)*")

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


def is_cjk(text: str) -> bool:
    """Whether ``text`` starts with a CJK character (a CJK word is one character)."""
    return bool(_CJK.match(text))


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def cjk_share(texts: Iterable[str]) -> float:
    """CJK characters among the letters of ``texts`` (digits and punctuation not counted)."""
    letters = cjk = 0
    for text in texts:
        letters += len(_LETTER.findall(text))
        cjk += len(_CJK.findall(text))
    return cjk / letters if letters else 0.0


def terms(text: str, *, characters: bool = True) -> list[str]:
    """Lower-cased words (full-width forms folded); for each CJK run its character pairs and,
    with ``characters``, its characters (a one-character run is always itself)."""
    out: list[str] = []
    run: list[str] = []
    last_end = -1
    for word in words(unicodedata.normalize("NFKC", text).casefold()):
        if is_cjk(word.text):
            if run and word.start != last_end:
                out += _cjk_terms(run, characters)
                run = []
            run.append(word.text)
            last_end = word.end
            continue
        if run:
            out += _cjk_terms(run, characters)
            run = []
        out.append(word.text)
    return out + (_cjk_terms(run, characters) if run else [])


def _cjk_terms(run: Sequence[str], characters: bool) -> list[str]:
    pairs = [a + b for a, b in zip(run, run[1:])]
    return list(run) + pairs if characters or len(run) == 1 else pairs


__all__ = ["CJK", "HAN", "HANGUL", "KANA", "STOP_WORDS", "Word", "cjk_share", "has_cjk", "is_cjk", "is_reason",
           "terms", "words"]
