"""One encoder, two heads: sentiment and topic of a financial text in one forward pass.

The topic is either learned (a linear layer trained beside sentiment, when the training data
has a topic column) or zero-shot: the cosine similarity between the text's sentence vector
and each topic description's vector, computed by the same encoder (a sentence-transformer,
so its mean-pooled vectors are comparable). Either way the model's output row is
``[sentiment logits | topic logits]``, so the core's Predictor batches, quantizes and
decodes it like any classifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from core import TextExample
from core.evaluation.metrics import classification_metrics
from core.heads.classification import SequenceClassificationHead, softmax

if TYPE_CHECKING:
    import torch

SENTIMENTS = ["negative", "neutral", "positive"]
IGNORE = -100  # a row without a topic label trains sentiment only
ZERO_SHOT_SCALE = 20.0  # cosine -> logit, as in sentence-transformers' ranking losses
OTHER_TOPIC = "other"


class SentimentTopicHead(SequenceClassificationHead):
    """Sentiment (``labels``) and topic (``options["topics"]``) of a text.

    Options: ``topics`` (names), ``descriptions`` (one per topic, used zero-shot),
    ``topic_mode`` (``trained`` or ``zero-shot``), ``min_similarity`` (zero-shot: below it the
    topic is ``other``), ``prompts`` (the encoder's, as its catalogue entry records them: e5
    reads ``{"query": "query: "}``; every text and description is given the ``query`` one, as
    e5 asks for classification and similarity). Examples carry the topic in ``extras["topic"]``.
    """

    name = "sentiment-topic"
    description = "text -> sentiment and topic in one pass (topic trained or zero-shot)"

    @property
    def topics(self) -> list[str]:
        return list(self.options.get("topics", []))

    @property
    def zero_shot(self) -> bool:
        return self.options.get("topic_mode", "zero-shot") == "zero-shot"

    @property
    def primary_metric(self) -> str:  # type: ignore[override]
        return "accuracy"

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from plugins.finance_sentiment.modeling import SentimentTopicModel

        return SentimentTopicModel.from_encoder(encoder_path, len(self.labels), len(self.topics),
                                                zero_shot=self.zero_shot, dropout=dropout)

    @property
    def prompt(self) -> str:
        """The prefix every text is read with (empty for encoders trained without one)."""
        return str((self.options.get("prompts") or {}).get("query", ""))

    def features(self, tokenizer: Any, examples: Sequence[TextExample], max_length: int) -> list[dict[str, Any]]:
        prompt = self.prompt
        read = [replace(ex, text=prompt + ex.text) for ex in examples] if prompt else examples
        rows = super().features(tokenizer, read, max_length)
        topic_ids = {topic: i for i, topic in enumerate(self.topics)}
        for row, ex in zip(rows, examples):
            if "labels" in row:
                topic = ex.extras.get("topic")
                row["labels"] = [row["labels"], topic_ids.get(topic, IGNORE) if not self.zero_shot else IGNORE]
        return rows

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor | None:
        return None  # the model adds both losses

    def soft_loss(self, student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
        """Sentiment and (when learned) topic, each its own softmax; zero-shot topics are the
        student's own similarities and are not distilled."""
        from core.training.distill import softened_kl

        n = len(self.labels)
        loss = softened_kl(student[..., :n], teacher[..., :n], temperature)
        if self.topics and not self.zero_shot:
            loss = loss + softened_kl(student[..., n:], teacher[..., n:], temperature)
        return loss

    def split(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = np.asarray(logits, dtype=np.float32)
        return logits[..., : len(self.labels)], logits[..., len(self.labels) :]

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        sentiment, topic = self.split(logits)
        sentiment_p = softmax(sentiment)
        topic_p = softmax(topic) if self.topics else np.zeros((len(sentiment), 0))
        floor = float(self.options.get("min_similarity", 0.0))
        results = []
        for i, best in enumerate(sentiment_p.argmax(-1).tolist()):
            row = {"label": self.labels[best], "score": float(sentiment_p[i, best]),
                   "scores": dict(zip(self.labels, sentiment_p[i].tolist()))}
            if self.topics:
                t = int(topic_p[i].argmax())
                similarity = float(topic[i, t] / ZERO_SHOT_SCALE) if self.zero_shot else None
                off_topic = similarity is not None and similarity < floor
                row["topic"] = OTHER_TOPIC if off_topic else self.topics[t]
                row["topic_score"] = similarity if similarity is not None else float(topic_p[i, t])
            results.append(row)
        return results

    def topic_probability(self, logits: np.ndarray, topic: str) -> float:
        """How sure the model is of ``topic`` for one text (softmax over the topic outputs:
        trained logits, or zero-shot similarities scaled as in :meth:`decode`)."""
        _, topics = self.split(logits)
        return float(softmax(topics[None, ...])[0, self.topics.index(topic)])

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        sentiment, topic = self.split(logits)
        label_ids = np.asarray(label_ids).reshape(len(sentiment), -1)
        report = classification_metrics(label_ids[:, 0].tolist(), sentiment.argmax(-1).tolist(), self.labels)
        out = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
        if label_ids.shape[1] > 1 and self.topics and not self.zero_shot:
            known = label_ids[:, 1] >= 0
            if known.any():
                out["topic_accuracy"] = float((topic[known].argmax(-1) == label_ids[known, 1]).mean())
        return out
