"""From raw text to words and back: the tagger sees words, users want character spans."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.heads.token import entities

# A word, keeping inner apostrophes, hyphens and dots ("O'Neill", "Rhine-Main", "St.Ives"),
# or one punctuation mark: how CoNLL files split sentences.
WORD = re.compile(r"\w+(?:['’.\-]\w+)*|[^\w\s]")


def words(text: str) -> list[tuple[str, int, int]]:
    """``(word, start, end)`` for each word of ``text`` (character offsets, end exclusive)."""
    return [(match.group(), match.start(), match.end()) for match in WORD.finditer(text)]


def entity_spans(text: str, tokens: Sequence[tuple[str, int, int]], tags: Sequence[str],
                 scores: Sequence[float]) -> list[dict[str, Any]]:
    """The entities a BIO tagging marks, as ``{text, label, start, end, score}`` with character
    offsets into ``text`` and the mean of the words' tag probabilities."""
    spans = []
    for found in entities([word for word, _, _ in tokens], tags):
        first, last = tokens[found["start"]], tokens[found["end"] - 1]
        word_scores = scores[found["start"] : found["end"]]
        spans.append({
            "text": text[first[1] : last[2]],
            "label": found["type"],
            "start": first[1],
            "end": last[2],
            "score": round(sum(word_scores) / len(word_scores), 4),
        })
    return spans
