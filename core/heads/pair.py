"""Pair scoring (cross-encoder): a text pair in, the probability that it matches out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.data.types import TextExample
from core.heads.classification import SequenceClassificationHead

if TYPE_CHECKING:
    import numpy as np
    import torch

POSITIVE = {"1", "1.0", "true", "yes", "positive", "match"}


class PairScoringHead(SequenceClassificationHead):
    """Inputs: :class:`TextExample` with ``text`` and ``text_pair``; ``label`` is ``1``/``0``
    (or ``true``/``false``). One logit through a sigmoid: use it to rank candidates for a
    query (recommendation, retrieval re-ranking). Labels are fixed to ``["0", "1"]``.
    """

    name = "pair-scoring"
    description = "(text, text pair) -> probability of a match; for ranking"
    primary_metric = "auc"  # type: ignore[assignment]

    def __init__(self, labels: Sequence[str] = ("0", "1"), **options: Any) -> None:
        super().__init__(["0", "1"], **options)

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from core.heads.modeling import PooledClassifier

        return PooledClassifier.from_encoder(encoder_path, 1, problem="score", dropout=dropout)

    def _target(self, label: str | list[str]) -> float:  # type: ignore[override]
        value = label if isinstance(label, str) else label[0]
        return 1.0 if value.strip().lower() in POSITIVE else 0.0

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        import numpy as np

        return 1 / (1 + np.exp(-logits.astype(np.float32).reshape(-1)))

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        return [{"score": float(p), "label": "1" if p >= 0.5 else "0"} for p in self.probabilities(logits)]

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor | None:
        return None

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        from sklearn.metrics import roc_auc_score

        probs = self.probabilities(logits)
        truth = label_ids.reshape(-1) >= 0.5
        auc = float(roc_auc_score(truth, probs)) if 0 < truth.sum() < len(truth) else 0.5
        return {"auc": auc, "accuracy": float(((probs >= 0.5) == truth).mean())}


def pair(text: str, candidate: str, label: str | None = None) -> TextExample:
    return TextExample(text=text, text_pair=candidate, label=label)
