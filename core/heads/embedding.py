"""Embedding head (bi-encoder) for retrieval: texts to normalised vectors, fine-tuned on pairs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from core.data.types import TextExample
from core.heads import TaskHead

if TYPE_CHECKING:
    import numpy as np
    import torch


class EmbeddingHead(TaskHead):
    """Inputs: :class:`TextExample` with ``text`` (a query) and ``text_pair`` (a text that
    answers it); no labels. Other pairs of the batch serve as negatives, so use batches of
    16 or more. Predictions are unit vectors: their dot product is the cosine similarity.
    """

    name = "embedding"
    description = "text -> normalised vector; trained on (query, positive) pairs for retrieval"
    primary_metric = "loss"
    label_names: ClassVar[list[str] | None] = ["pair_input_ids"]  # tells Trainer a batch can give a loss

    def __init__(self, labels: Sequence[str] = (), **options: Any) -> None:
        super().__init__([], **options)

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from core.heads.modeling import PooledEncoder

        return PooledEncoder.from_encoder(encoder_path, dropout=dropout)

    def features(self, tokenizer: Any, examples: Sequence[TextExample], max_length: int) -> list[dict[str, Any]]:
        anchors = tokenizer([ex.text for ex in examples], truncation=True, max_length=max_length)
        rows = [{"input_ids": i, "attention_mask": m} for i, m in zip(anchors["input_ids"], anchors["attention_mask"])]
        if all(ex.text_pair is not None for ex in examples) and examples:
            pairs = tokenizer([ex.text_pair for ex in examples], truncation=True, max_length=max_length)
            for row, i, m in zip(rows, pairs["input_ids"], pairs["attention_mask"]):
                row["pair_input_ids"], row["pair_attention_mask"] = i, m
        return rows

    def collate(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorWithPadding

        pad = DataCollatorWithPadding(tokenizer)

        def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
            batch = dict(pad([{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"]} for r in rows]))
            if rows and "pair_input_ids" in rows[0]:
                pairs = pad([{"input_ids": r["pair_input_ids"], "attention_mask": r["pair_attention_mask"]} for r in rows])
                batch["pair_input_ids"], batch["pair_attention_mask"] = pairs["input_ids"], pairs["attention_mask"]
            return batch

        return collate

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        return [{"embedding": [round(float(x), 6) for x in row]} for row in logits]
