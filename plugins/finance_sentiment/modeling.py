"""The torch model behind :class:`~plugins.finance_sentiment.head.SentimentTopicHead`
(imported only when a model is built, so ``suite --help`` does not load torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.heads.modeling import PooledClassifier, load_encoder
from plugins.finance_sentiment.head import IGNORE, ZERO_SHOT_SCALE


class SentimentTopicModel(PooledClassifier):
    """``encoder -> mean pooling ->`` a sentiment layer and a topic layer (or topic prototypes)."""

    def __init__(self, encoder: nn.Module, n_sentiments: int, n_topics: int, *, zero_shot: bool,
                 dropout: float = 0.1) -> None:
        super().__init__(encoder, n_sentiments, problem="single", dropout=dropout)
        hidden = encoder.config.hidden_size
        self.zero_shot = zero_shot
        self.topic = nn.Linear(hidden, max(n_topics, 1))
        self.register_buffer("prototypes", torch.zeros(max(n_topics, 1), hidden))
        self.n_topics = n_topics

    @classmethod
    def from_encoder(cls, path: str | Path, n_sentiments: int, n_topics: int, *,  # type: ignore[override]
                     zero_shot: bool, dropout: float | None = None) -> Any:
        model = cls(load_encoder(path, dropout), n_sentiments, n_topics, zero_shot=zero_shot,
                    dropout=dropout if dropout is not None else 0.1)
        model.load_head(path)
        return model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        pooled = self.pooled(input_ids, attention_mask, token_type_ids)
        sentiment = self.classifier(self.dropout(pooled))
        if self.zero_shot:
            unit = nn.functional.normalize(pooled.float(), dim=-1)
            topic = unit @ self.prototypes.T.float() * ZERO_SHOT_SCALE
        else:
            topic = self.topic(self.dropout(pooled))
        output = {"logits": torch.cat([sentiment.float(), topic[:, : self.n_topics].float()], dim=-1)}
        if labels is not None:
            labels = labels.view(len(sentiment), -1)
            loss = nn.functional.cross_entropy(sentiment.float(), labels[:, 0])
            if not self.zero_shot and labels.shape[1] > 1 and bool((labels[:, 1] >= 0).any()):
                loss = loss + nn.functional.cross_entropy(topic.float(), labels[:, 1], ignore_index=IGNORE)
            output["loss"] = loss
        return output

    @torch.inference_mode()
    def embed_texts(self, tokenizer: Any, texts: Sequence[str], max_length: int = 128) -> torch.Tensor:
        was_training = self.training
        self.eval()
        batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
        batch = {k: v.to(self.classifier.weight.device) for k, v in batch.items()}
        vectors = nn.functional.normalize(self.pooled(**batch).float(), dim=-1)
        self.train(was_training)
        return vectors

    def set_prototypes(self, tokenizer: Any, descriptions: Sequence[str], prompt: str = "") -> None:
        """Embed the topic descriptions with this (fine-tuned) encoder: zero-shot topics
        compare texts and descriptions in the space the model now has. ``prompt`` is the
        prefix the texts are read with (e5: ``query: ``), given to the descriptions too."""
        if descriptions:
            vectors = self.embed_texts(tokenizer, [prompt + text for text in descriptions])
            self.prototypes = vectors.to(self.prototypes.dtype).clone()
