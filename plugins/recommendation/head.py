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
    """Inputs: :class:`TextExample` groups: ``text`` (the user), ``text_pair`` (an item they
    liked), ``extras["negatives"]`` (item texts sampled as negatives) and ``label`` ``1``. The
    user's text is encoded once per group, not once per pair: on a CPU that halves the cost
    of an epoch. Without ``text_pair`` the model returns the text's unit vector, which is how
    the catalogue and users are embedded."""

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
        users = tokenizer([ex.text for ex in examples], truncation=True, max_length=max_length)
        rows = [{"input_ids": i, "attention_mask": m} for i, m in zip(users["input_ids"], users["attention_mask"])]
        for row, example in zip(rows, examples):
            if example.text_pair is None:
                continue
            candidates = [example.text_pair, *example.extras.get("negatives", ())]
            encoded = tokenizer(candidates, truncation=True, max_length=max_length)
            row["item_input_ids"], row["item_attention_mask"] = encoded["input_ids"], encoded["attention_mask"]
            if example.label is not None:  # the first candidate is the liked one
                row["labels"] = [1.0 if str(example.label) == POSITIVE else 0.0] + [0.0] * (len(candidates) - 1)
        return rows

    def collate(self, tokenizer: Any) -> Any:
        import torch
        from transformers import DataCollatorWithPadding

        pad = DataCollatorWithPadding(tokenizer)

        def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
            batch = dict(pad([{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"]} for r in rows]))
            if rows and "item_input_ids" in rows[0]:
                width = {len(r["item_input_ids"]) for r in rows}
                if len(width) != 1:
                    raise ValueError("every group needs the same number of candidates")
                items = pad([{"input_ids": i, "attention_mask": m} for r in rows
                             for i, m in zip(r["item_input_ids"], r["item_attention_mask"])])
                batch["pair_input_ids"], batch["pair_attention_mask"] = items["input_ids"], items["attention_mask"]
            if rows and "labels" in rows[0]:
                batch["labels"] = torch.tensor([r["labels"] for r in rows], dtype=torch.float32)
            return batch

        return collate

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
        import numpy as np

        if features and "item_input_ids" not in features[0]:  # one tower: vectors
            return super().decode(logits, features)
        probs = 1 / (1 + np.exp(-logits.astype(np.float32)))
        return [{"scores": [round(float(p), 6) for p in np.atleast_1d(row)]} for row in probs]

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        import numpy as np
        from sklearn.metrics import roc_auc_score

        scores, truth = logits.reshape(-1), np.asarray(label_ids).reshape(-1) >= 0.5
        auc = float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else 0.5
        first = (logits.reshape(len(label_ids), -1).argmax(axis=1) == 0).mean() if len(label_ids) else 0.0
        return {"auc": auc, "top1": float(first)}
