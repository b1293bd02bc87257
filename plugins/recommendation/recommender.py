"""Ranking at run time: the fine-tuned interest model's score, blended with popularity, recency
and co-occurrence by the learned ranker, over a catalogue whose vectors are computed once.

A trained model folder holds, beside the weights, what ranking needs: the catalogue and its
vectors (``catalogue.jsonl``, ``item_vectors.npy``), the behaviour it was trained on
(``behaviour.json``, ``similarity.npz``) and the ranker (``recommendation.json``). Items
added to the catalogue later are embedded on load (cold start without retraining).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import TextExample, UnknownNameError, UsageError
from core.explain import occlusion_variants, ranked_words
from plugins.recommendation.data import Interaction, Item, PositiveRule, positive_histories
from plugins.recommendation.signals import Signals
from plugins.recommendation.texts import user_text

if TYPE_CHECKING:
    from core import Predictor

TEXT_FEATURES = ("interest", "content")  # what an item nobody has interacted with still has
CENTROID_ITEMS = 20  # the latest likes whose mean vector is the user's content profile
RETRIEVE = 500  # catalogues larger than this are narrowed by the retriever before the full score
STATE_FILE = "recommendation.json"
RANKER_USERS = 2000  # held-out likes the ranker weights are chosen on, at most
RANKER_COLUMNS = 20000  # catalogue items they are ranked among, at most (a sample of larger ones)


# --------------------------------------------------------------------------------------
# Behaviour: who liked and touched what
# --------------------------------------------------------------------------------------


@dataclass
class Behaviour:
    """Liked items per user in time order, every item each user touched, and item times."""

    liked: dict[str, list[str]]
    interacted: dict[str, set[str]]
    item_times: dict[str, float]
    cutoff: float

    @classmethod
    def of(cls, rows: Sequence[Interaction], rule: PositiveRule) -> Behaviour:
        interacted: dict[str, set[str]] = defaultdict(set)
        times: dict[str, float] = {}
        for row in rows:
            interacted[row.user].add(row.item)
            times[row.item] = max(times.get(row.item, 0.0), row.time)
        return cls(positive_histories(rows, rule), dict(interacted), times, max((r.time for r in rows), default=0.0))

    def without_last_like(self) -> tuple[Behaviour, dict[str, str]]:
        """The behaviour before each user's latest like, and those likes: the ranker's validation."""
        held = {u: items[-1] for u, items in self.liked.items() if len(items) >= 2}
        liked = {u: items[:-1] if u in held else items for u, items in self.liked.items()}
        interacted = {u: items - ({held[u]} if u in held else set()) for u, items in self.interacted.items()}
        return Behaviour(liked, interacted, self.item_times, self.cutoff), held

    def to_json(self) -> dict[str, Any]:
        return {"liked": self.liked, "interacted": {u: sorted(s) for u, s in self.interacted.items()},
                "item_times": self.item_times, "cutoff": self.cutoff}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Behaviour:
        return cls(data["liked"], {u: set(s) for u, s in data["interacted"].items()}, data["item_times"], data["cutoff"])


# --------------------------------------------------------------------------------------
# The ranker: a weighted sum of standardised features, weights chosen for nDCG@10
# --------------------------------------------------------------------------------------

WEIGHT_GRID = {"interest": (0.0, 0.5, 1.0, 2.0), "content": (0.0, 0.5, 1.0), "popularity": (0.0, 0.25, 0.5, 1.0),
               "co_liked": (0.0, 0.5, 1.0, 2.0, 4.0), "recency": (0.0, 0.25, 0.5)}


@dataclass
class Ranker:
    weights: dict[str, float]
    mean: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, features: dict[str, np.ndarray], targets: np.ndarray, masked: np.ndarray) -> tuple[Ranker, float]:
        """The grid point with the best nDCG@10 of each user's held-out like (column ``targets``)
        among the columns of ``features`` (users x items) not ``masked``. Measured on MovieLens, a
        logistic regression of likes against random items ranked worse than item-kNN alone: it
        learns to tell popular from obscure items, not which popular item comes next."""
        import itertools

        mean = {n: float(f.mean()) for n, f in features.items()}
        scale = {n: float(f.std()) + 1e-6 for n, f in features.items()}
        standard = {n: (f - mean[n]) / scale[n] for n, f in features.items()}
        best: tuple[float, dict[str, float]] = (-1.0, {})
        rows = np.arange(len(targets))
        for values in itertools.product(*WEIGHT_GRID.values()):
            weights = dict(zip(WEIGHT_GRID, values))
            if not any(weights.values()):
                continue
            scores = sum(w * standard[n] for n, w in weights.items() if w)
            scores = np.where(masked, -np.inf, scores)
            rank = (scores > scores[rows, targets][:, None]).sum(axis=1)
            ndcg = float(np.where(rank < 10, 1 / np.log2(rank + 2), 0.0).mean())
            if ndcg > best[0]:
                best = (ndcg, weights)
        return cls(best[1], mean, scale), best[0]

    def score(self, features: dict[str, np.ndarray]) -> np.ndarray:
        total = 0.0
        for name, weight in self.weights.items():
            if weight:
                total = total + weight * (features[name] - self.mean.get(name, 0.0)) / self.scale.get(name, 1.0)
        return np.asarray(total, dtype=np.float32)


# --------------------------------------------------------------------------------------
# The recommender
# --------------------------------------------------------------------------------------


@dataclass
class Recommendation:
    item: Item
    score: float
    interest: float
    because: str
    explanation: list[dict[str, Any]] | None = None  # words of the item's text behind its interest score

    def as_dict(self) -> dict[str, Any]:
        out = {"item": self.item.id, "title": self.item.title, "score": round(self.score, 4),
               "interest": round(self.interest, 4), "because": self.because}
        return out if self.explanation is None else out | {"explanation": self.explanation}


class Recommender:
    def __init__(self, predictor: Predictor, items: dict[str, Item], vectors: np.ndarray, behaviour: Behaviour,
                 signals: Signals, ranker: Ranker | None, profiles: dict[str, str]) -> None:
        self.predictor = predictor
        self.items = items
        self.item_ids = list(items)
        self.index = {item: i for i, item in enumerate(self.item_ids)}
        self.vectors = vectors
        self.behaviour = behaviour
        self.signals = signals
        self.ranker = ranker
        self.profiles = profiles

    # Loading and saving ---------------------------------------------------------------
    @classmethod
    def load(cls, folder: Path, predictor: Predictor, items: dict[str, Item] | None = None) -> Recommender:
        """The model folder's catalogue, or ``items`` (new and changed ones are embedded now)."""
        from scipy import sparse

        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        saved = {row["id"]: Item(row["id"], row["title"], row["text"], tuple(row["tags"]))
                 for row in map(json.loads, (folder / "catalogue.jsonl").read_text(encoding="utf-8").splitlines())}
        saved_vectors = np.load(folder / "item_vectors.npy")
        behaviour = Behaviour.from_json(json.loads((folder / "behaviour.json").read_text(encoding="utf-8")))
        arrays = np.load(folder / "signals.npz")
        similarity = sparse.load_npz(folder / "similarity.npz").tocsr()
        signals = Signals(list(saved), arrays["popularity"], arrays["last_seen"], similarity, behaviour.cutoff)
        ranker = Ranker(**state["ranker"]) if state.get("ranker") else None
        recommender = cls(predictor, saved, saved_vectors, behaviour, signals, ranker, state.get("profiles", {}))
        if items is not None:
            recommender.update_catalogue(items)
        return recommender

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        from scipy import sparse

        with (folder / "catalogue.jsonl").open("w", encoding="utf-8") as handle:
            for item in self.items.values():
                handle.write(json.dumps(item.as_dict(), ensure_ascii=False) + "\n")
        np.save(folder / "item_vectors.npy", self.vectors)
        (folder / "behaviour.json").write_text(json.dumps(self.behaviour.to_json()), encoding="utf-8")
        np.savez(folder / "signals.npz", popularity=self.signals.popularity, last_seen=self.signals.last_seen)
        sparse.save_npz(folder / "similarity.npz", self.signals.similarity)
        state = extra | {"ranker": self.ranker.__dict__ if self.ranker else None, "profiles": self.profiles}
        (folder / STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")

    def update_catalogue(self, items: dict[str, Item]) -> int:
        """Replace the catalogue; only new or changed items are embedded. Returns how many were."""
        from scipy import sparse

        old = {item_id: i for i, item_id in enumerate(self.item_ids)}
        fresh = [i for i in items if i not in old or self.items[i].model_text() != items[i].model_text()]
        new_vectors = self.embed([items[i].model_text() for i in fresh]) if fresh else np.zeros((0, self.vectors.shape[1]))
        by_id = dict(zip(fresh, new_vectors))
        vectors = np.stack([by_id[i] if i in by_id else self.vectors[old[i]] for i in items]).astype(np.float32)
        keep = [old.get(i, -1) for i in items]
        pick = sparse.csr_matrix((np.ones(sum(k >= 0 for k in keep), dtype=np.float32),
                                  ([k for k in keep if k >= 0], [n for n, k in enumerate(keep) if k >= 0])),
                                 shape=(len(self.item_ids), len(items)))
        similarity = (pick.T @ self.signals.similarity @ pick).tocsr()
        popularity = np.array([self.signals.popularity[k] if k >= 0 else 0.0 for k in keep], dtype=np.float32)
        last_seen = np.array([self.signals.last_seen[k] if k >= 0 else 0.0 for k in keep])
        self.signals = Signals(list(items), popularity, last_seen, similarity, self.signals.cutoff)
        self.items, self.item_ids, self.vectors = dict(items), list(items), vectors
        self.index = {item: i for i, item in enumerate(self.item_ids)}
        return len(fresh)

    # Scoring ---------------------------------------------------------------------------
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        outputs, _ = self.predictor.logits([TextExample(text=t or ".") for t in texts])
        return np.stack(outputs).astype(np.float32) if len(outputs) else np.zeros((0, self.vectors.shape[1]), np.float32)

    def interest(self, user_vector: np.ndarray, columns: np.ndarray | None = None, *,
                 vectors: np.ndarray | None = None) -> np.ndarray:
        """The interest model's logits of one user against catalogue columns (all by default),
        or against item ``vectors`` given directly."""
        import torch

        items = vectors if vectors is not None else self.vectors if columns is None else self.vectors[columns]
        with torch.inference_mode():
            return self.predictor.model.interact(torch.from_numpy(user_vector)[None, :], torch.from_numpy(items)).numpy()

    def features(self, interest: np.ndarray, liked: Sequence[int], columns: np.ndarray) -> dict[str, np.ndarray]:
        co_liked = self.signals.co_liked([list(liked)])[0][columns] if liked else np.zeros(len(columns), np.float32)
        content = self.vectors[columns] @ self.centroid(liked)
        return ranker_features(interest, content, self.signals.popularity[columns], co_liked, self.signals.recency()[columns])

    def centroid(self, liked: Sequence[int]) -> np.ndarray:
        """The mean vector of the user's latest likes: content similarity over the whole history,
        where the interest model reads only the latest few."""
        recent = list(liked)[-CENTROID_ITEMS:]
        return self.vectors[recent].mean(axis=0) if recent else np.zeros(self.vectors.shape[1], np.float32)

    def blend(self, features: dict[str, np.ndarray], columns: np.ndarray, *, history: bool = True) -> np.ndarray:
        """The ranker's score. Items nobody has interacted with yet (new ones) get the average
        behavioural features, so they compete on interest alone instead of ranking last. A user
        with no ``history`` is ranked by the text model alone: the ranker's weights were learnt
        on users with likes, and may give the interest score so little weight that every
        newcomer would get the same popular list whatever their profile says."""
        if self.ranker is None or not history:
            return features["interest"]
        cold = (self.signals.popularity[columns] == 0) & (self.signals.last_seen[columns] == 0)
        if cold.any():
            features = {name: value if name in TEXT_FEATURES else np.where(cold, self.ranker.mean.get(name, 0.0), value)
                        for name, value in features.items()}
        return self.ranker.score(features)

    def history_of(self, user: str) -> list[str]:
        if user not in self.behaviour.liked and user not in self.behaviour.interacted and user not in self.profiles:
            raise UnknownNameError(f"unknown user '{user}': no interactions or profile in this model",
                                   hint="POST a history instead, or retrain with this user's interactions")
        return self.behaviour.liked.get(user, [])

    def recommend(self, *, liked: Sequence[str], profile: str = "", k: int = 10, exclude: Iterable[str] = (),
                  candidates: Sequence[str] | None = None, boost: Mapping[str, float] | None = None,
                  explain: bool = False) -> list[Recommendation]:
        """Top ``k`` for a history of liked item ids (and a profile): ``candidates`` limits the
        ranking to those items; otherwise the retriever narrows a large catalogue first. Business
        rules: ``exclude`` items, ``boost`` items by tag (``{"promoted": 1.0}`` adds 1 to the
        score of every item tagged so; a negative weight demotes). ``explain``: the words of each
        item's text behind its interest score."""
        if k < 1:
            raise UsageError(f"k must be at least 1, got {k}")
        unknown = [i for i in list(liked) + list(candidates or []) if i not in self.index]
        if unknown:
            raise UnknownNameError(f"unknown item '{unknown[0]}': not in the catalogue")
        if not liked and not profile.strip():
            raise UsageError("nothing to recommend from: give liked items or a profile")
        known_liked = [self.index[i] for i in liked]
        text = user_text([self.items[i] for i in liked], profile)
        user_vector = self.embed([text])[0]
        skip = {self.index[i] for i in exclude if i in self.index} | set(known_liked)
        if candidates is not None:
            columns = np.array([self.index[i] for i in candidates if self.index[i] not in skip], dtype=np.int64)
        else:
            columns = np.array([i for i in range(len(self.item_ids)) if i not in skip], dtype=np.int64)
            if len(columns) > RETRIEVE:  # the retriever: exact cosine over the catalogue's vectors
                cosine = self.vectors[columns] @ user_vector
                behaviour = self.signals.co_liked([known_liked])[0][columns] if known_liked else 0
                prior = np.log1p(self.signals.popularity[columns]) + behaviour  # keep what behaviour favours too
                keep = np.union1d(np.argsort(-cosine)[:RETRIEVE], np.argsort(-prior)[: RETRIEVE // 5])
                columns = columns[keep]
        if not len(columns):
            return []
        interest = self.interest(user_vector, columns)
        scores = self.blend(self.features(interest, known_liked, columns), columns, history=bool(known_liked))
        if boost:
            scores = scores + self.tag_boost(columns, boost)
        top = np.argsort(-scores)[:k]
        recs = [Recommendation(self.items[self.item_ids[columns[i]]], float(scores[i]), float(interest[i]),
                               self.because(columns[i], known_liked, profile)) for i in top]
        if explain:
            for rec in recs:
                rec.explanation = self.explain(user_vector, rec.item, rec.interest)
        return recs

    def explain(self, user_vector: np.ndarray, item: Item, interest: float) -> list[dict[str, Any]]:
        """Occlusion on the item's text: how much the interest logit drops without each word."""
        candidates, variants = occlusion_variants(item.text)
        if not candidates:
            return []
        vectors = self.embed([replace(item, text=v).model_text() for v in variants])
        return ranked_words(candidates, (interest - self.interest(user_vector, vectors=vectors)).tolist(), top_k=5)

    def tag_boost(self, columns: np.ndarray, boost: Mapping[str, float]) -> np.ndarray:
        weights = {tag.strip().lower(): float(w) for tag, w in boost.items()}
        return np.array([sum(weights.get(t.lower(), 0.0) for t in self.items[self.item_ids[c]].tags) for c in columns],
                        dtype=np.float32)

    def because(self, column: int, liked: Sequence[int], profile: str) -> str:
        """The liked item closest to the recommendation, or the profile when there is none."""
        if not liked:
            return "matches your profile" if profile.strip() else "popular"
        recent = list(liked)[-50:]
        closest = recent[int(np.argmax(self.vectors[recent] @ self.vectors[column]))]
        return f"because you liked {self.items[self.item_ids[closest]].title}"


def ranker_features(interest: np.ndarray, content: np.ndarray, popularity: np.ndarray, co_liked: np.ndarray,
                    recency: np.ndarray) -> dict[str, np.ndarray]:
    """The ranker's inputs; counts on a log scale (a few blockbusters would dominate otherwise)."""
    return {"interest": interest, "content": content, "popularity": np.log1p(popularity),
            "co_liked": np.log1p(co_liked), "recency": recency}


def feature_matrices(recommender: Recommender, vectors: np.ndarray, liked: list[list[int]],
                     columns: np.ndarray) -> dict[str, np.ndarray]:
    """The ranker's features, users x ``columns``, for users given as vectors and liked columns."""
    signals = recommender.signals
    interest = np.stack([recommender.interest(v, columns) for v in vectors]) if len(vectors) else np.zeros((0, len(columns)))
    shape = interest.shape
    content = np.stack([recommender.centroid(cols) for cols in liked]) @ recommender.vectors[columns].T if liked else interest * 0
    return ranker_features(interest, content, np.broadcast_to(signals.popularity[columns], shape),
                           signals.co_liked(liked)[:, columns], np.broadcast_to(signals.recency()[columns], shape))


def fit_ranker(recommender: Recommender, held: dict[str, str], rng: np.random.Generator) -> tuple[Ranker, float]:
    """Weights for the interest score and the behavioural signals: each user's last like in the
    training period, seen from the likes before it, ranked among the catalogue (a sample of
    RANKER_COLUMNS items for large ones; RANKER_USERS users at most)."""
    behaviour, index = recommender.behaviour, recommender.index
    users = list(held)
    if len(users) > RANKER_USERS:
        users = [users[i] for i in sorted(rng.choice(len(users), RANKER_USERS, replace=False))]
    targets = np.array([index[held[u]] for u in users])
    columns = np.arange(len(index))
    if len(columns) > RANKER_COLUMNS:
        columns = np.union1d(rng.choice(len(index), RANKER_COLUMNS, replace=False), targets)
    position = np.full(len(index), -1)
    position[columns] = np.arange(len(columns))
    texts = [user_text([recommender.items[i] for i in behaviour.liked[u]], recommender.profiles.get(u, "")) for u in users]
    liked = [[index[i] for i in behaviour.liked[u]] for u in users]
    features = feature_matrices(recommender, recommender.embed(texts), liked, columns)
    masked = np.zeros((len(users), len(columns)), dtype=bool)
    for row, user in enumerate(users):
        touched = [position[index[i]] for i in behaviour.interacted.get(user, ()) if i != held[user] and i in index]
        masked[row, [p for p in touched if p >= 0]] = True
    return Ranker.fit(features, position[targets], masked)
