"""The interest model: (user text, item text) -> probability the user engages with the item.

A two-tower pair scorer: one shared encoder reads the user's text and the item's text
separately, and a small layer scores the pair from the two sentence vectors. A cross-encoder
reads both texts together and would be a little more accurate, but it must run the encoder
once per candidate (about a second for 100 candidates on a 2-core CPU); the two towers run it
once per user, item vectors are computed once per catalogue, and the same vectors are the
retriever's index. So ranking 100 candidates costs one short encoder pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core import TaskHead, TextExample
from core.heads.embedding import EmbeddingHead

if TYPE_CHECKING:
    import numpy as np
    import torch

POSITIVE = "1"


class InterestHead(EmbeddingHead):
    """Inputs: :class:`TextExample` with ``text`` (the user), ``text_pair`` (the item) and
    ``label`` ``1`` (engaged) or ``0`` (a sampled negative). Without ``text_pair`` the model
    returns the text's unit vector, which is how the catalogue and users are embedded."""

    name = "interest-pair"
    description = "(user text, item text) -> probability of engagement; two towers, for ranking"
    primary_metric = "auc"
    label_names = ["labels"]

    def __init__(self, labels: Sequence[str] = ("0", "1"), **options: Any) -> None:
        TaskHead.__init__(self, ["0", "1"], **options)

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from plugins.recommendation.modeling import TwoTowerScorer

        return TwoTowerScorer.from_encoder(encoder_path, dropout=dropout)

    def features(self, tokenizer: Any, examples: Sequence[TextExample], max_length: int) -> list[dict[str, Any]]:
        rows = super().features(tokenizer, examples, max_length)
        for row, example in zip(rows, examples):
            if example.label is not None:
                row["labels"] = 1.0 if str(example.label) == POSITIVE else 0.0
        return rows

    def collate(self, tokenizer: Any) -> Any:
        import torch

        pad = super().collate(tokenizer)

        def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
            batch = pad([{k: v for k, v in r.items() if k != "labels"} for r in rows])
            if rows and "labels" in rows[0]:
                batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.float32)
            return batch

        return collate

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        import numpy as np

        if logits.ndim == 2 and logits.shape[1] > 1:  # one tower: vectors
            return super().decode(logits, features)
        probs = 1 / (1 + np.exp(-logits.astype(np.float32).reshape(-1)))
        return [{"score": float(p), "label": POSITIVE if p >= 0.5 else "0"} for p in probs]

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        import numpy as np
        from sklearn.metrics import roc_auc_score

        scores, truth = logits.reshape(-1), np.asarray(label_ids).reshape(-1) >= 0.5
        auc = float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else 0.5
        return {"auc": auc, "accuracy": float(((scores >= 0) == truth).mean())}
