"""Ranking metrics over score matrices (users x catalogue), the same for every method."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CUTOFFS = (5, 10)


def rank_metrics(scores: np.ndarray, relevant: Sequence[Sequence[int]], excluded: Sequence[Sequence[int]],
                 *, seed: int = 0, k: int = 10) -> dict[str, float]:
    """AUC, MRR, nDCG@5, nDCG@10, Recall@10, HitRate@10 (means over users) and catalogue coverage.

    Each user's row ranks every catalogue item except ``excluded`` (what they interacted with in
    training); ``relevant`` are their held-out positives. Ties are broken at random (seeded), so a
    constant score (popularity on items nobody has seen) ranks as chance would.
    """
    rng = np.random.default_rng(seed)
    totals = {name: 0.0 for name in ("auc", "mrr", "ndcg@5", "ndcg@10", "recall@10", "hitrate@10")}
    shown: set[int] = set()
    users = 0
    for row, rel, skip in zip(scores, relevant, excluded):
        if not len(rel):
            continue
        order_key = row.astype(np.float64)
        order_key[list(skip)] = -np.inf
        jitter = rng.random(len(row))
        order = np.lexsort((jitter, -order_key))  # by score, then at random
        order = order[: len(row) - len(set(skip))]
        ranks = np.empty(len(row), dtype=np.int64)
        ranks[order] = np.arange(len(order))
        rel_ranks = np.sort(ranks[list(rel)])
        n_neg = len(order) - len(rel)
        hits = rel_ranks < k
        totals["auc"] += float(1 - (rel_ranks - np.arange(len(rel_ranks))).mean() / max(n_neg, 1))
        totals["mrr"] += 1.0 / (rel_ranks[0] + 1)
        for cut in CUTOFFS:
            gains = 1 / np.log2(rel_ranks[rel_ranks < cut] + 2)
            ideal = (1 / np.log2(np.arange(min(len(rel), cut)) + 2)).sum()
            totals[f"ndcg@{cut}"] += float(gains.sum() / ideal)
        totals["recall@10"] += float(hits.sum() / len(rel))
        totals["hitrate@10"] += float(hits.any())
        shown.update(order[:k].tolist())
        users += 1
    result = {name: round(value / max(users, 1), 4) for name, value in totals.items()}
    result["coverage"] = round(len(shown) / scores.shape[1], 4) if scores.size else 0.0
    result["users"] = users
    return result
