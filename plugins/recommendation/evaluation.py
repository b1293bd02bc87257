"""The evaluation: one per-user temporal split, every method scored over the whole catalogue
by the same metric code, and the items nobody interacted with in training reported apart."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from plugins.recommendation.data import Interaction, Item, PositiveRule, temporal_split
from plugins.recommendation.metrics import rank_metrics
from plugins.recommendation.recommender import Behaviour, feature_matrices
from plugins.recommendation.signals import Signals
from plugins.recommendation.texts import user_text

if TYPE_CHECKING:
    from plugins.recommendation.recommender import Recommender

Scorer = Callable[["Setup"], np.ndarray]


@dataclass
class Setup:
    """The split as the methods see it: who is evaluated, what they liked before, what after."""

    items: dict[str, Item]
    item_ids: list[str]
    behaviour: Behaviour  # the training period
    signals: Signals
    users: list[str]
    relevant: list[list[int]]  # held-out likes, as catalogue columns
    excluded: list[list[int]]  # what each user touched in training: never recommended again
    profiles: dict[str, str]

    @classmethod
    def of(cls, items: dict[str, Item], rows: list[Interaction], rule: PositiveRule, holdout: float,
           profiles: dict[str, str]) -> Setup:
        split = temporal_split(rows, holdout)
        behaviour = Behaviour.of(split.train, rule)
        later = Behaviour.of(split.test, rule)
        item_ids = list(items)
        index = {item: i for i, item in enumerate(item_ids)}
        users, relevant, excluded = [], [], []
        for user in sorted(later.liked):
            seen = behaviour.interacted.get(user, set())
            new = [index[i] for i in later.liked[user] if i not in seen]
            if new and (behaviour.liked.get(user) or profiles.get(user)):
                users.append(user)
                relevant.append(new)
                excluded.append(sorted(index[i] for i in seen))
        signals = Signals.fit(item_ids, behaviour.liked, behaviour.item_times, behaviour.cutoff)
        return cls(items, item_ids, behaviour, signals, users, relevant, excluded, profiles)

    def liked_columns(self) -> list[list[int]]:
        index = {item: i for i, item in enumerate(self.item_ids)}
        return [[index[i] for i in self.behaviour.liked.get(u, [])] for u in self.users]

    def user_texts(self) -> list[str]:
        return [user_text([self.items[i] for i in self.behaviour.liked.get(u, [])], self.profiles.get(u, ""))
                for u in self.users]

    def cold_columns(self) -> np.ndarray:
        """Catalogue items with no interaction at all in training."""
        return np.array([i for i, item in enumerate(self.item_ids) if item not in self.behaviour.item_times], dtype=np.int64)

    def cold_relevant(self) -> list[list[int]]:
        """Each user's held-out likes among the cold items, as positions in :meth:`cold_columns`."""
        position = {int(c): n for n, c in enumerate(self.cold_columns())}
        return [[position[c] for c in rel if c in position] for rel in self.relevant]

    def cold_start_note(self) -> str | None:
        """Why cold-start HitRate@10 is not reported for this split, or None when it is."""
        return cold_start_measurable(len(self.cold_columns()), sum(1 for rel in self.cold_relevant() if rel))


MIN_COLD_ITEMS = 20  # HitRate@10 among 10 or fewer items is 1.0 for any ranking; twice that to mean something
MIN_COLD_USERS = 10  # users with a held-out like among the cold items


def cold_start_measurable(cold_items: int, cold_users: int) -> str | None:
    if cold_items < MIN_COLD_ITEMS or cold_users < MIN_COLD_USERS:
        return (f"cold_hitrate@10 not reported: {cold_items} cold item(s) and {cold_users} user(s) with a held-out "
                f"like among them (needs {MIN_COLD_ITEMS} items and {MIN_COLD_USERS} users to mean something)")
    return None


def popularity(setup: Setup) -> np.ndarray:
    return np.broadcast_to(setup.signals.popularity, (len(setup.users), len(setup.item_ids)))


def item_knn(setup: Setup) -> np.ndarray:
    return setup.signals.co_liked(setup.liked_columns())


def tfidf(setup: Setup) -> np.ndarray:
    """Cosine between the TF-IDF vector of each item's text and the mean of the user's likes."""
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from core.lexical import terms
    from sklearn.preprocessing import normalize

    # core.lexical.terms: Chinese item texts are characters and character pairs, not one
    # whitespace "word" per sentence.
    matrix = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=1, tokenizer=terms, token_pattern=None,
                             lowercase=False).fit_transform(
        [setup.items[i].model_text() for i in setup.item_ids])
    liked = setup.liked_columns()
    rows = sparse.csr_matrix((np.ones(sum(map(len, liked)), dtype=np.float32),
                              (np.repeat(np.arange(len(liked)), [len(h) for h in liked]), [c for h in liked for c in h])),
                             shape=(len(liked), len(setup.item_ids)))
    profiles = normalize(rows @ matrix)
    return np.asarray((profiles @ matrix.T).todense(), dtype=np.float32)


def embedding_scorer(embed: Callable[[Sequence[str]], np.ndarray]) -> Scorer:
    """Cosine between sentence vectors of the user's text and each item's text."""

    def score(setup: Setup) -> np.ndarray:
        items = embed([setup.items[i].model_text() for i in setup.item_ids])
        users = embed(setup.user_texts())
        return users @ items.T

    return score


def evaluate_methods(setup: Setup, methods: dict[str, Scorer], *, seed: int = 0,
                     progress: Callable[[str], None] = lambda name: None) -> dict[str, dict[str, float]]:
    """Each method's metrics over the whole catalogue, and HitRate@10 among the cold items
    where that means something (:meth:`Setup.cold_start_note`)."""
    cold, cold_relevant = setup.cold_columns(), setup.cold_relevant()
    measurable = setup.cold_start_note() is None
    table: dict[str, dict[str, float]] = {}
    for name, method in methods.items():
        progress(name)
        scores = np.asarray(method(setup), dtype=np.float32)
        table[name] = rank_metrics(scores, setup.relevant, setup.excluded, seed=seed)
        if measurable:
            cold_scores = scores[:, cold]
            outcome = rank_metrics(cold_scores, cold_relevant, [[] for _ in cold_relevant], seed=seed)
            table[name]["cold_hitrate@10"] = outcome["hitrate@10"]
            table[name]["cold_users"] = outcome["users"]
    return table


def score_users(recommender: Recommender, setup: Any, *, blended: bool) -> np.ndarray:
    """Every evaluated user against the whole catalogue: the interest logits, or the ranker's blend."""
    columns = np.arange(len(setup.item_ids))
    vectors = recommender.embed(setup.user_texts())
    if not blended:
        return np.stack([recommender.interest(v, columns) for v in vectors])
    liked = setup.liked_columns()
    features = feature_matrices(recommender, vectors, liked, columns)
    scores = recommender.blend(features, columns)
    newcomers = [row for row, cols in enumerate(liked) if not cols]
    if newcomers:  # ranked as recommend() ranks them: by the text model alone
        scores[newcomers] = features["interest"][newcomers]
    return scores
