"""Training groups for the interest model: each liked item, seen from the user's earlier likes,
beside sampled negatives of three kinds (random, popularity-weighted and hard ones the
zero-shot retriever ranks high for that user)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core import TextExample
from plugins.recommendation.data import Item
from plugins.recommendation.texts import user_text

NEGATIVE_KINDS = ("random", "popular", "hard")


@dataclass
class PairSampler:
    """Draws negatives for one user from the catalogue, never an item the user interacted with."""

    item_ids: list[str]
    popularity: np.ndarray
    rng: np.random.Generator

    def __post_init__(self) -> None:
        weights = self.popularity.astype(np.float64) + 1.0
        self.popular_p = weights / weights.sum()

    def draw(self, kind: str, avoid: set[str], hard: Sequence[str] = ()) -> str | None:
        for _ in range(20):
            if kind == "hard" and hard:
                choice = hard[int(self.rng.integers(len(hard)))]
            elif kind == "popular":
                choice = self.item_ids[int(self.rng.choice(len(self.item_ids), p=self.popular_p))]
            else:
                choice = self.item_ids[int(self.rng.integers(len(self.item_ids)))]
            if choice not in avoid:
                return choice
        return None


def groups_for_user(items: dict[str, Item], liked: list[str], interacted: set[str], profile: str,
                    sampler: PairSampler, *, targets: int, negatives: Sequence[str] = NEGATIVE_KINDS,
                    hard: Sequence[str] = ()) -> list[TextExample]:
    """Up to ``targets`` of the user's latest likes (each with at least one earlier like or a
    profile to read), each in a group with one negative of every kind in ``negatives``."""
    first = 0 if profile.strip() else 1
    positions = list(range(first, len(liked)))[-targets:] if targets else []
    examples: list[TextExample] = []
    for t in positions:
        drawn = [sampler.draw(kind, interacted, hard) or sampler.draw("random", interacted) for kind in negatives]
        if any(d is None for d in drawn):
            continue
        examples.append(TextExample(text=user_text([items[i] for i in liked[:t]], profile),
                                    text_pair=items[liked[t]].model_text(), label="1",
                                    extras={"negatives": [items[d].model_text() for d in drawn]}))
    return examples
