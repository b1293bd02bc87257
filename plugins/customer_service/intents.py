"""The fine-tuned intent model at answer time: the core's Predictor for the logits, the saved
temperature and threshold for deciding whether to trust them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import TextExample
from plugins.customer_service.calibration import Calibration, IntentDecision, decide, softmax


@dataclass
class IntentModel:
    predictor: Any  # core.Predictor
    calibration: Calibration
    margin: float
    folder: Path
    threshold_override: float | None = None

    @classmethod
    def load(cls, folder: Path, heads: Any, *, margin: float, precision: str = "auto",
             threshold: float | None = None) -> IntentModel:
        from core.predictor import Predictor

        return cls(Predictor.load(folder, heads, precision=precision), Calibration.load(folder), margin, folder, threshold)

    @property
    def labels(self) -> list[str]:
        return list(self.predictor.head.labels)

    @property
    def threshold(self) -> float:
        return self.calibration.threshold if self.threshold_override is None else self.threshold_override

    @property
    def oos_label(self) -> str | None:
        return self.calibration.oos_label

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text."""
        logits, _ = self.predictor.logits([TextExample(t) for t in texts])
        return softmax(np.stack(logits), self.calibration.temperature)

    def classify(self, texts: Sequence[str]) -> list[IntentDecision]:
        labels = self.labels
        return [decide(row, labels, oos_label=self.oos_label, threshold=self.threshold, margin=self.margin)
                for row in self.probabilities(texts)]

    def explain(self, decision: IntentDecision) -> str:
        return decision.explain(self.threshold, self.margin)
