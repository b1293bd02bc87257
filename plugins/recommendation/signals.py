"""Behavioural signals over a catalogue: popularity, item recency and item-to-item
co-occurrence. They are the non-text baselines of the evaluation and, beside the text model's
score, the features the ranker blends; one implementation serves both, so a baseline and a
feature can never differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

RECENCY_DAYS = 90.0  # an item's recency weight halves about every two months without interactions
NEIGHBOURS = 100  # item-kNN keeps each item's most similar items (the usual pruning)


@dataclass
class Signals:
    """Statistics of one period of interactions, over the catalogue order ``item_ids``."""

    item_ids: list[str]
    popularity: np.ndarray  # positive interactions per item
    last_seen: np.ndarray  # Unix seconds of each item's latest interaction (0: never)
    similarity: sparse.csr_matrix  # item x item cosine of co-liked columns, top NEIGHBOURS per row
    cutoff: float

    @classmethod
    def fit(cls, item_ids: list[str], histories: dict[str, list[str]], times: dict[str, float], cutoff: float,
            neighbours: int = NEIGHBOURS) -> Signals:
        index = {item: i for i, item in enumerate(item_ids)}
        matrix = liked_matrix(histories, index)
        popularity = np.asarray(matrix.sum(axis=0)).reshape(-1).astype(np.float32)
        last_seen = np.zeros(len(item_ids), dtype=np.float64)
        for item, when in times.items():
            if item in index:
                last_seen[index[item]] = when
        return cls(item_ids, popularity, last_seen, item_similarity(matrix, neighbours), cutoff)

    def recency(self) -> np.ndarray:
        days = np.where(self.last_seen > 0, (self.cutoff - self.last_seen) / 86400.0, math.inf)
        return np.exp(-np.maximum(days, 0) / RECENCY_DAYS).astype(np.float32)

    def co_liked(self, histories: Sequence[Sequence[int]]) -> np.ndarray:
        """Item-kNN scores, users x items: the summed similarity of each item to the user's liked items."""
        rows = sparse.csr_matrix((np.ones(sum(len(h) for h in histories), dtype=np.float32),
                                  (np.repeat(np.arange(len(histories)), [len(h) for h in histories]),
                                   np.fromiter((i for h in histories for i in h), dtype=np.int64))),
                                 shape=(len(histories), len(self.item_ids)))
        return np.asarray((rows @ self.similarity).todense(), dtype=np.float32)


def liked_matrix(histories: dict[str, list[str]], index: dict[str, int]) -> sparse.csr_matrix:
    """Users x items, 1 where the user liked the item."""
    rows, cols = [], []
    for u, items in enumerate(histories.values()):
        for item in items:
            if item in index:
                rows.append(u)
                cols.append(index[item])
    data = np.ones(len(rows), dtype=np.float32)
    matrix = sparse.csr_matrix((data, (rows, cols)), shape=(len(histories), len(index)))
    matrix.data[:] = 1.0  # an item liked twice is liked once
    return matrix


def item_similarity(matrix: sparse.csr_matrix, neighbours: int) -> sparse.csr_matrix:
    """Cosine between item columns, each row pruned to its ``neighbours`` largest, no self-similarity."""
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=0))).reshape(-1)
    scaled = matrix @ sparse.diags(1.0 / np.maximum(norms, 1e-9))
    full = (scaled.T @ scaled).tocsr()
    full.setdiag(0)
    full.eliminate_zeros()
    rows, cols, vals = [], [], []
    for r in range(full.shape[0]):
        start, end = full.indptr[r], full.indptr[r + 1]
        if end == start:
            continue
        data, idx = full.data[start:end], full.indices[start:end]
        keep = np.argpartition(-data, neighbours)[:neighbours] if len(data) > neighbours else np.arange(len(data))
        rows.extend([r] * len(keep))
        cols.extend(idx[keep])
        vals.extend(data[keep])
    return sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=full.shape)
