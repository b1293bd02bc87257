"""How much a message resembles what the intent model was trained on.

A fine-tuned classifier maps everything onto its intents, so an out-of-scope message can get
a confident intent. The untuned sentence encoder still places it far from every training
text: the cosine similarity to the nearest one (the *familiarity*) is a second opinion that
the classifier's logits do not give. Measured on CLINC150 (validation-chosen threshold, same
model), adding it to the classifier's score raised out-of-scope recall at 95% in-scope
accuracy from 0.79 to 0.86 (docs/benchmarks.md).

The index is the training texts' vectors, saved beside the model (``familiarity.npy``,
float16: 15,000 texts take 11 MB) with the encoder they were made with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

INDEX_FILE = "familiarity.npy"
CHUNK = 4096  # rows of the index compared at once: bounds the similarity matrix's memory


@dataclass
class FamiliarityIndex:
    vectors: np.ndarray  # (n, d), L2-normalised

    def save(self, folder: Path) -> Path:
        path = folder / INDEX_FILE
        np.save(path, self.vectors.astype(np.float16))
        return path

    @classmethod
    def load(cls, folder: Path) -> FamiliarityIndex | None:
        path = folder / INDEX_FILE
        return cls(np.load(path).astype(np.float32)) if path.is_file() else None

    def similarity(self, queries: np.ndarray) -> np.ndarray:
        """Cosine similarity of each (normalised) query to its nearest indexed text."""
        queries = np.asarray(queries, dtype=np.float32)
        best = np.full(len(queries), -1.0, dtype=np.float32)
        for start in range(0, len(self.vectors), CHUNK):
            best = np.maximum(best, (queries @ self.vectors[start:start + CHUNK].T).max(axis=1))
        return best
