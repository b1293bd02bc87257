"""Word search over the knowledge base: TF-IDF cosine on :func:`~.language.terms` (words, and
character bigrams of CJK text), for messages the sentence encoder cannot read.

Scores are cosines in [0, 1] of sublinear TF-IDF vectors (``1 + log tf`` times smoothed
``idf = 1 + log((1 + n) / (1 + df))``). A message's terms that no entry contains still count
in its norm, at the highest idf: a question that shares one common pair of characters with an
entry (``怎么``) and nothing else scores low, rather than as if that pair were all it said.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

from plugins.customer_service.language import terms


class WordIndex:
    """An inverted index of ``documents``; :meth:`scores` is each one's cosine with a text."""

    def __init__(self, documents: Sequence[str]) -> None:
        counted = [Counter(terms(doc)) for doc in documents]
        n = len(documents)
        frequency = Counter(term for counts in counted for term in counts)
        self.size = n
        self.idf = {term: 1.0 + math.log((1 + n) / (1 + df)) for term, df in frequency.items()}
        self.unseen_idf = 1.0 + math.log(1 + n)
        self.postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for row, counts in enumerate(counted):
            weights = {term: (1.0 + math.log(tf)) * self.idf[term] for term, tf in counts.items()}
            norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
            for term, weight in weights.items():
                self.postings[term].append((row, weight / norm))

    def scores(self, text: str) -> np.ndarray:
        """Cosine similarity of ``text`` with every document (zeros when they share no term)."""
        out = np.zeros(self.size, dtype=np.float32)
        counts = Counter(terms(text))
        if not counts:
            return out
        weights = {term: (1.0 + math.log(tf)) * self.idf.get(term, self.unseen_idf) for term, tf in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values()))
        for term, weight in weights.items():
            for row, doc_weight in self.postings.get(term, ()):
                out[row] += weight / norm * doc_weight
        return out
