"""What a text looks like to the sentiment model: the parts that carry no sentiment removed,
and a profile (length, casing, links, cashtags) to tell when a feed is not what the model was
trained on.

``normalise`` runs on training texts and on every scored text, so a model never sees at run
time what it did not see in training: links become nothing, ``@user`` handles one token,
trailing ellipses and "(update 3)" markers of wire copy go, white space is folded. The stored
item keeps its original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from core.lexical import CJK

_CJK = re.compile(f"[{CJK}]")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_TRAILING = re.compile(r"(?:\s*(?:\.{3,}|…))+\s*$")
# "(update 3)", and the Chinese wire's "（更新）" / "(更新2)", full-width brackets or not
_UPDATE = re.compile(r"\s*[(（]\s*(?:update|updated|upd\.?|更新)\s*\d*\s*[)）]\s*$", re.IGNORECASE)
_CASHTAG = re.compile(rf"(?<![^\W{CJK}])\$[A-Za-z]{{1,6}}(?![A-Za-z0-9])")  # CJK may touch it: 买入$NWB
_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """The text without links, handles, trailing ellipses and update markers (never empty:
    a text made only of those is returned folded, as it was)."""
    cleaned = _URL.sub(" ", text)
    cleaned = _HANDLE.sub("@user", cleaned)
    cleaned = _UPDATE.sub("", _TRAILING.sub("", _UPDATE.sub("", cleaned)))  # "(update 3)..." and "...（更新）" alike
    cleaned = _SPACE.sub(" ", cleaned).strip()
    return cleaned or _SPACE.sub(" ", text).strip()


def _words(text: str) -> tuple[int, int]:
    """Words in ``text`` and how many are in capitals. Words are what white space separates,
    except that each CJK character counts as one (Chinese has no spaces: a headline is one
    'word' otherwise, and a feed's length against its training texts would mean nothing)."""
    words = upper = 0
    for token in text.split():
        cjk = len(_CJK.findall(token))
        pieces = _CJK.sub(" ", token).split() if cjk else [token]
        words += cjk + len(pieces)
        upper += sum(1 for piece in pieces if len(piece) > 1 and piece.isupper())
    return words, upper


@dataclass(frozen=True)
class TextProfile:
    """Averages over a set of texts (of the raw text, before ``normalise``)."""

    texts: int
    words: float  # mean words per text (a CJK character counts as one)
    upper_words: float  # share of words in capitals (shouting, tickers)
    links: float  # share of texts with a link
    cashtags: float  # share of texts with a $TICKER
    handles: float  # share of texts with an @handle
    cjk: float = 0.0  # share of texts in Chinese, Japanese or Korean script (profiles saved before it: 0)

    @classmethod
    def of(cls, texts: Iterable[str]) -> TextProfile:
        count = words = upper = links = cashtags = handles = cjk = 0
        for text in texts:
            counted, capitals = _words(text)
            count += 1
            words += counted
            upper += capitals
            links += bool(_URL.search(text))
            cashtags += bool(_CASHTAG.search(text))
            handles += bool(_HANDLE.search(text))
            cjk += len(_CJK.findall(text)) * 2 >= len(_SPACE.sub("", text))  # mostly CJK, not one name in English text
        n = max(count, 1)
        return cls(count, round(words / n, 2), round(upper / max(words, 1), 4), round(links / n, 4),
                   round(cashtags / n, 4), round(handles / n, 4), round(cjk / n, 4))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


LENGTH_RATIO = 2.0  # a feed's texts twice as long (or half as long) as the training texts
SHARE_GAP = 0.2  # a feature present in 20 points more (or fewer) of the texts


def differences(feed: TextProfile, training: dict[str, Any] | None) -> list[str]:
    """How a feed's texts differ from the training texts, one sentence each (empty: alike)."""
    if not training or not training.get("texts") or not feed.texts:
        return []
    notes = []
    ratio = feed.words / max(training["words"], 1e-9)
    if ratio >= LENGTH_RATIO or ratio <= 1 / LENGTH_RATIO:
        notes.append(f"texts are {'longer' if ratio > 1 else 'shorter'} than the training texts "
                     f"({feed.words:.0f} words against {training['words']:.0f}): sentiment may be less accurate")
    names = {"cjk": "texts in Chinese, Japanese or Korean", "upper_words": "words in capitals", "links": "texts with links",
             "cashtags": "texts with $cashtags", "handles": "texts with @handles"}
    for field, name in names.items():
        gap = getattr(feed, field) - training.get(field, 0.0)
        if abs(gap) >= SHARE_GAP:
            notes.append(f"{name}: {getattr(feed, field):.0%} of the feed against {training.get(field, 0.0):.0%} in training")
    return notes
