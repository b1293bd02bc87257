"""Sequence classification (single- and multi-label) and pair scoring, on HF auto-models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.types import TextExample
from core.evaluation.metrics import classification_metrics
from core.heads import TaskHead
from core.heads.encoding import encode

if TYPE_CHECKING:  # torch loads with the first model, not with `suite --help`
    import torch


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class SequenceClassificationHead(TaskHead):
    """One label per text (softmax), or any number with ``multi_label=True`` (sigmoid).

    Inputs: :class:`TextExample` with ``text`` (and optional ``text_pair``); ``label`` a
    string, or a list of strings for multi-label. Options: ``multi_label`` (bool),
    ``class_weights`` (list of floats, one per label, for imbalanced data).
    """

    name = "sequence-classification"
    description = "text (or text pair) -> one label, or several with multi_label"

    @property
    def multi_label(self) -> bool:
        return bool(self.options.get("multi_label"))

    @property
    def primary_metric(self) -> str:  # type: ignore[override]
        return "micro_f1" if self.multi_label else "accuracy"

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from core.heads.modeling import PooledClassifier

        problem = "multi" if self.multi_label else "single"
        return PooledClassifier.from_encoder(encoder_path, len(self.labels), problem=problem, dropout=dropout)

    def features(self, tokenizer: Any, examples: Sequence[TextExample], max_length: int) -> list[dict[str, Any]]:
        texts = [ex.text for ex in examples]
        pairs = [ex.text_pair for ex in examples]
        rows = encode(tokenizer, texts, pairs if any(p is not None for p in pairs) else None, max_length)
        for row, ex in zip(rows, examples):
            if ex.label is not None:
                row["labels"] = self._target(ex.label)
        return rows

    def _target(self, label: str | list[str]) -> int | list[float]:
        if self.multi_label:
            hot = [0.0] * len(self.labels)
            for item in [label] if isinstance(label, str) else label:
                hot[self.label2id[item]] = 1.0
            return hot
        return self.label2id[label if isinstance(label, str) else label[0]]

    def collate(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorWithPadding

        return DataCollatorWithPadding(tokenizer)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        logits = logits.astype(np.float32)
        return 1 / (1 + np.exp(-logits)) if self.multi_label else softmax(logits)

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        probs = self.probabilities(logits)
        results = []
        for row, best in zip(probs.tolist(), probs.argmax(-1).tolist()):
            scores = dict(zip(self.labels, row))
            if self.multi_label:
                results.append({"labels": [label for label, p in scores.items() if p >= 0.5], "scores": scores})
            else:
                results.append({"label": self.labels[best], "score": row[best], "scores": scores})
        return results

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor | None:
        weights = self.options.get("class_weights")
        if not weights or self.multi_label:
            return None
        import torch

        labels = inputs.pop("labels")
        logits = model(**inputs)["logits"]
        weight = torch.tensor(weights, dtype=torch.float32, device=logits.device)
        return torch.nn.functional.cross_entropy(logits.float(), labels, weight=weight)

    def soft_loss(self, student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
        """Multi-label: binary cross-entropy to the teacher's softened sigmoids, label by label."""
        if not self.multi_label:
            return super().soft_loss(student, teacher, temperature, mask)
        import torch

        target = torch.sigmoid(teacher.float() / temperature)
        return torch.nn.functional.binary_cross_entropy_with_logits(student.float() / temperature, target)

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        if self.multi_label:
            predicted = (self.probabilities(logits) >= 0.5).astype(int)
            from sklearn.metrics import f1_score

            return {
                "micro_f1": float(f1_score(label_ids.astype(int), predicted, average="micro", zero_division=0)),
                "macro_f1": float(f1_score(label_ids.astype(int), predicted, average="macro", zero_division=0)),
            }
        report = classification_metrics(label_ids.tolist(), logits.argmax(-1).tolist(), self.labels)
        return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
