"""Training groups for the interest model: each liked item, seen from the user's earlier likes,
beside sampled negatives of three kinds (random, popularity-weighted and hard ones the
zero-shot retriever ranks high for that user)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core import TextExample
from plugins.recommendation.data import Item
from plugins.recommendation.recommender import Behaviour
from plugins.recommendation.texts import user_text

NEGATIVE_KINDS = ("random", "popular", "hard")
HARD_POOL = 50  # hard negatives come from the zero-shot retriever's top items for the user


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


def hard_negatives(catalogue: dict[str, Item], behaviour: Behaviour, profiles: dict[str, str],
                    encoder: str) -> dict[str, list[str]]:
    """Per user, the catalogue items the untuned encoder finds most similar and the user never touched."""
    embed = zero_shot_embedder(encoder, precision="int8")
    ids = list(catalogue)
    vectors = embed([catalogue[i].model_text() for i in ids])
    users = list(behaviour.liked)
    texts = [user_text([catalogue[i] for i in behaviour.liked[u]], profiles.get(u, "")) for u in users]
    scores = embed(texts) @ vectors.T
    pool: dict[str, list[str]] = {}
    for user, row in zip(users, scores):
        touched = behaviour.interacted.get(user, set())
        pool[user] = [ids[i] for i in np.argsort(-row)[: HARD_POOL + len(touched)] if ids[i] not in touched][:HARD_POOL]
    return pool


def zero_shot_embedder(encoder: str, *, precision: str) -> Callable[[Sequence[str]], np.ndarray]:
    """Sentence vectors of the untuned encoder (mean pooling, as all-MiniLM was trained)."""
    from transformers import AutoTokenizer

    from core import Predictor
    from core.heads.embedding import EmbeddingHead
    from core.heads.modeling import PooledEncoder

    predictor = Predictor(EmbeddingHead(), PooledEncoder.from_encoder(encoder), AutoTokenizer.from_pretrained(encoder),
                          max_length=128, precision=precision)

    def embed(texts: Sequence[str]) -> np.ndarray:
        outputs, _ = predictor.logits([TextExample(text=t or ".") for t in texts])
        return np.stack(outputs).astype(np.float32)

    return embed
