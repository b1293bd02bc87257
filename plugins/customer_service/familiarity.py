"""The intent model's training texts as sentence vectors: how close a message is to each intent.

A fine-tuned classifier maps every message onto its intents, so an out-of-scope message can
get a confident one. The untuned sentence encoder still places it far from every training
text, and the nearest training text of each intent is a vote the logits do not give. Two
uses (``calibration.py``): the similarity to the nearest in-scope training text (the
*familiarity*) enters the answer's confidence, and the per-intent similarities are added to
the classifier's log-probabilities (a nearest-neighbour vote), each weighted on validation.

The index is saved beside the model (``familiarity.npz``: float16 vectors and their intents;
15,000 texts take 11 MB), with the encoder it was made with named in the calibration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from plugins.customer_service.encoder import cosine

INDEX_FILE = "familiarity.npz"
QUERY_CHUNK = 256  # queries compared at once: bounds the similarity matrix's memory


@dataclass
class FamiliarityIndex:
    vectors: np.ndarray  # (n, d), L2-normalised, grouped by intent
    intents: np.ndarray  # (n,) the intent of each vector
    starts: np.ndarray = field(init=False, repr=False)  # where each intent's group begins
    groups: dict[str, int] = field(init=False, repr=False)  # intent -> its group's position

    def __post_init__(self) -> None:
        changes = np.r_[True, self.intents[1:] != self.intents[:-1]] if len(self.intents) else np.zeros(0, bool)
        self.starts = np.flatnonzero(changes)
        self.groups = {str(self.intents[s]): j for j, s in enumerate(self.starts)}

    @classmethod
    def build(cls, vectors: np.ndarray, intents: Sequence[str]) -> FamiliarityIndex:
        order = np.argsort(np.asarray(intents), kind="stable")
        return cls(np.asarray(vectors, dtype=np.float32)[order], np.asarray(intents)[order])

    def save(self, folder: Path) -> Path:
        path = folder / INDEX_FILE
        np.savez(path, vectors=self.vectors.astype(np.float16), intents=self.intents.astype(str))
        return path

    @classmethod
    def load(cls, folder: Path) -> FamiliarityIndex | None:
        path = folder / INDEX_FILE
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as saved:
            return cls(saved["vectors"].astype(np.float32), saved["intents"])

    def by_intent(self, queries: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """(queries, labels): cosine similarity of each query to the nearest training text of
        each intent (-1 for an intent with none)."""
        out = np.full((len(queries), len(labels)), -1.0, dtype=np.float32)
        present = [(i, self.groups[label]) for i, label in enumerate(labels) if label in self.groups]
        if not present:
            return out
        for start in range(0, len(queries), QUERY_CHUNK):
            nearest = np.maximum.reduceat(cosine(queries[start:start + QUERY_CHUNK], self.vectors), self.starts, axis=1)
            for i, j in present:
                out[start:start + QUERY_CHUNK, i] = nearest[:, j]
        return out
