"""The fine-tuned intent model at answer time: the core's Predictor for the logits, the saved
temperature, answer scorer and threshold for deciding whether to trust them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import ModelNotFoundError, TextExample
from core.explain import occlusion
from plugins.customer_service.calibration import Calibration, IntentDecision, decide, nearest_in_scope
from plugins.customer_service.encoder import SentenceEncoder
from plugins.customer_service.familiarity import INDEX_FILE, FamiliarityIndex


@dataclass
class IntentModel:
    predictor: Any  # core.Predictor
    calibration: Calibration
    margin: float
    folder: Path
    threshold_override: float | None = None
    index: FamiliarityIndex | None = None
    encoder: SentenceEncoder | None = None  # what the index was built with, when its scorer needs it

    @classmethod
    def load(cls, folder: Path, heads: Any, *, margin: float, precision: str = "auto",
             threshold: float | None = None, encoder: SentenceEncoder | None = None) -> IntentModel:
        """``encoder`` is reused when it is the one the familiarity index was built with;
        otherwise that one is loaded."""
        from core.predictor import Predictor

        calibration = Calibration.load(folder)
        index = None
        if calibration.uses_neighbours:
            index, built = FamiliarityIndex.load(folder), calibration.familiarity
            if index is None or not built:
                raise ModelNotFoundError(f"{folder}: {INDEX_FILE} is missing, and the model's calibration uses it",
                                         hint="copy the whole model folder, or train again")
            if encoder is None or (encoder.spec, encoder.precision) != (built["encoder"], built["precision"]):
                encoder = SentenceEncoder.load(built["encoder"], precision=built["precision"])
        return cls(Predictor.load(folder, heads, precision=precision), calibration, margin, folder, threshold,
                   index, encoder if index is not None else None)

    @property
    def labels(self) -> list[str]:
        return list(self.predictor.head.labels)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold if self.threshold_override is None else self.threshold_override

    @property
    def oos_label(self) -> str | None:
        return self.calibration.oos_label

    @property
    def uses_familiarity(self) -> bool:
        return self.index is not None and self.encoder is not None

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        logits, _ = self.predictor.logits([TextExample(t) for t in texts])
        return np.stack(logits)

    def neighbours(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray | None:
        """Each text's similarity to the nearest training text of each intent (None when the
        calibration does not use them); ``vectors`` are the texts already embedded by :attr:`encoder`."""
        if not self.uses_familiarity:
            return None
        vectors = self.encoder.embed(texts) if vectors is None else vectors  # type: ignore[union-attr]
        return self.index.by_intent(vectors, self.labels)  # type: ignore[union-attr]

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text."""
        return self.calibration.probabilities(self.logits(texts), self.neighbours(texts))

    def classify(self, texts: Sequence[str], vectors: np.ndarray | None = None) -> list[IntentDecision]:
        """``vectors``: the texts already embedded by :attr:`encoder` (the service shares them
        with the knowledge base)."""
        return self.decide(self.logits(texts), self.neighbours(texts, vectors))

    def decide(self, logits: np.ndarray, neighbours: np.ndarray | None) -> list[IntentDecision]:
        """The decisions for texts whose logits (and neighbours) are known."""
        probs = self.calibration.probabilities(logits, neighbours)
        seen = None if neighbours is None else nearest_in_scope(neighbours, self.labels, self.oos_label)
        confidence = self.calibration.confidence(probs, logits, seen)
        labels = self.labels
        return [decide(row, labels, oos_label=self.oos_label, threshold=self.threshold, margin=self.margin,
                       confidence=float(conf), familiarity=None if seen is None else float(seen[i]))
                for i, (row, conf) in enumerate(zip(probs, confidence))]

    def explain(self, decision: IntentDecision) -> str:
        return decision.explain(self.threshold, self.margin)

    def explain_words(self, text: str, intent: str | None, top_k: int = 5) -> list[dict[str, Any]]:
        """The words behind ``intent``: how much its calibrated probability drops without each."""
        if intent is None or intent not in self.labels:
            return []
        column = self.labels.index(intent)
        return occlusion(text, lambda texts: self.probabilities(texts)[:, column].tolist(), top_k=top_k)
