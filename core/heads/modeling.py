"""Encoder + pooling + linear layer: the model behind the classification and pair heads.

Sentence-transformer checkpoints (the default all-MiniLM-L6-v2 included) were trained to be
read by mean pooling, not through BERT's untrained pooler on [CLS], so a mean-pooled head
starts from a meaningful sentence vector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

HEAD_FILE = "head.safetensors"


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


def encoder_config(path: str | Path, dropout: float | None = None, **kwargs: Any) -> Any:
    """The model's config, with every dropout it has set to ``dropout`` when given."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(path, **kwargs)
    if dropout is not None:
        for attr in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout"):
            if hasattr(config, attr):
                setattr(config, attr, dropout)
    return config


def load_encoder(path: str | Path, dropout: float | None = None) -> nn.Module:
    """A Hugging Face encoder (no task layer, no BERT pooler), with dropout set if asked."""
    from transformers import AutoModel

    config = encoder_config(path, dropout)
    extra = {"add_pooling_layer": False} if config.model_type == "bert" else {}
    return AutoModel.from_pretrained(path, config=config, **extra)


class EncoderModule(nn.Module):
    """What both pooled models share: a Hugging Face encoder and access to its embeddings."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config  # what Trainer and accelerate look for

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()


class PooledClassifier(EncoderModule):
    """``encoder -> mean pooling -> dropout -> linear``; returns ``loss`` (with labels) and ``logits``.

    ``problem`` is ``single`` (cross-entropy), ``multi`` (binary cross-entropy per label) or
    ``score`` (one logit, binary cross-entropy: pair scoring).
    """

    def __init__(self, encoder: nn.Module, num_outputs: int, *, problem: str = "single", dropout: float = 0.1) -> None:
        super().__init__(encoder)
        self.problem = problem
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_outputs)

    @classmethod
    def from_encoder(cls, path: str | Path, num_outputs: int, *, problem: str = "single",
                     dropout: float | None = None) -> PooledClassifier:
        """A pretrained encoder with a new head, or a saved model with its trained head."""
        model = cls(load_encoder(path, dropout), num_outputs, problem=problem, dropout=dropout if dropout is not None else 0.1)
        model.load_head(path)
        return model

    def load_head(self, folder: str | Path) -> None:
        """Load every weight outside the encoder (saved by :meth:`save_pretrained`), if saved."""
        head_file = Path(folder) / HEAD_FILE
        if head_file.is_file():
            from safetensors.torch import load_file

            missing = self.load_state_dict(load_file(head_file), strict=False).missing_keys
            absent = [key for key in missing if not key.startswith("encoder.")]
            if absent:
                raise ValueError(f"{head_file}: no weights for {', '.join(absent)}")

    def save_pretrained(self, folder: str | Path, **kwargs: Any) -> None:
        """The encoder as a Hugging Face model, the rest (the task layers) beside it."""
        from safetensors.torch import save_file

        self.encoder.save_pretrained(folder)
        head = {k: v.contiguous() for k, v in self.state_dict().items() if not k.startswith("encoder.")}
        save_file(head, str(Path(folder) / HEAD_FILE))

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
               token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        return mean_pool(hidden, attention_mask)

    # No **kwargs on purpose: Trainer then averages the loss itself (no num_items_in_batch).
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.classifier(self.dropout(self.pooled(input_ids, attention_mask, token_type_ids)))
        output = {"logits": logits}
        if labels is not None:
            output["loss"] = self.loss(logits, labels)
        return output

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        logits = logits.float()
        if self.problem == "single":
            return nn.functional.cross_entropy(logits, labels, weight=weight)
        if self.problem == "score":
            return nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), labels.float())
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.float())


class PooledEncoder(EncoderModule):
    """A bi-encoder: mean-pooled, L2-normalised sentence vectors. Trained on (anchor, positive)
    pairs with in-batch negatives (the other positives of the batch), the loss
    sentence-transformers calls MultipleNegativesRankingLoss."""

    def __init__(self, encoder: nn.Module, *, scale: float = 20.0) -> None:
        super().__init__(encoder)
        self.scale = scale

    @classmethod
    def from_encoder(cls, path: str | Path, *, dropout: float | None = None) -> PooledEncoder:
        return cls(load_encoder(path, dropout))

    def save_pretrained(self, folder: str | Path, **kwargs: Any) -> None:
        self.encoder.save_pretrained(folder)

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return nn.functional.normalize(mean_pool(hidden, attention_mask).float(), dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                pair_input_ids: torch.Tensor | None = None, pair_attention_mask: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        anchors = self.embed(input_ids, attention_mask)
        output = {"logits": anchors}
        if pair_input_ids is not None and pair_attention_mask is not None:
            positives = self.embed(pair_input_ids, pair_attention_mask)
            scores = anchors @ positives.T * self.scale
            output["loss"] = nn.functional.cross_entropy(scores, torch.arange(len(scores), device=scores.device))
        return output
