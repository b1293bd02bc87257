"""The two-tower pair scorer behind the ``interest-pair`` head (imported when a model is built)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from core.heads.modeling import PooledClassifier, load_encoder, mean_pool


class TwoTowerScorer(PooledClassifier):
    """``logit = scale * cos(u, v) + mlp([u * v, |u - v|]) + w . v`` over the unit vectors u
    (user) and v (item): the cosine starts it from the pretrained similarity, the MLP learns
    which dimensions of agreement matter, ``w . v`` an item's general appeal."""

    def __init__(self, encoder: nn.Module, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__(encoder, 1, problem="score", dropout=dropout)
        size = encoder.config.hidden_size
        self.classifier = nn.Sequential(nn.Linear(2 * size, hidden), nn.GELU(), nn.Linear(hidden, 1))
        self.appeal = nn.Linear(size, 1)
        self.scale = nn.Parameter(torch.tensor(10.0))
        nn.init.zeros_(self.classifier[2].weight)
        nn.init.zeros_(self.appeal.weight)
        nn.init.constant_(self.appeal.bias, -5.0)

    @classmethod
    def from_encoder(cls, path: str | Path, num_outputs: int = 1, *, problem: str = "score",
                     dropout: float | None = None) -> TwoTowerScorer:
        model = cls(load_encoder(path, dropout), dropout=dropout if dropout is not None else 0.1)
        model.load_head(path)
        return model

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return nn.functional.normalize(mean_pool(hidden, attention_mask).float(), dim=-1)

    def interact(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of row-aligned (user, item) vectors; one user broadcasts over many items."""
        users, items = torch.broadcast_tensors(users.float(), items.float())
        pair = torch.cat([users * items, (users - items).abs()], dim=-1)
        cosine = (users * items).sum(-1)
        return self.scale * cosine + self.classifier(self.dropout(pair)).squeeze(-1) + self.appeal(items).squeeze(-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                pair_input_ids: torch.Tensor | None = None, pair_attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        users = self.embed(input_ids, attention_mask)
        if pair_input_ids is None or pair_attention_mask is None:
            return {"logits": users}  # one tower: the text's vector (a user, or a catalogue item)
        items = self.embed(pair_input_ids, pair_attention_mask).view(len(users), -1, users.shape[-1])
        logits = self.interact(users[:, None, :], items)  # (users, candidates): each user's own group
        output = {"logits": logits}
        if labels is not None:
            output["loss"] = nn.functional.binary_cross_entropy_with_logits(logits.float(), labels.float())
        return output
