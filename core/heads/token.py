"""Token classification (NER): a tag per word, learned on each word's first sub-token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.types import TokenExample
from core.evaluation.metrics import token_metrics
from core.heads import TaskHead
from core.heads.classification import softmax

if TYPE_CHECKING:
    import torch

IGNORE = -100
OUTSIDE = "O"


class TokenClassificationHead(TaskHead):
    """Inputs: :class:`TokenExample` (words and one tag per word, BIO or IOBES).

    The label sits on the first sub-token of each word and the other sub-tokens are ignored
    by the loss; predictions are read from first sub-tokens and mapped back to words. Words
    cut off by ``max_length``, or that the tokenizer drops (e.g. zero-width characters), are
    predicted as ``O``, so there is always one tag per word.
    """

    name = "token-classification"
    description = "words -> a tag per word (NER)"
    example_kind = "tokens"
    primary_metric = "entity_f1"

    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        from core.heads.modeling import encoder_config

        config = encoder_config(
            encoder_path, dropout, num_labels=len(self.labels), id2label=dict(enumerate(self.labels)), label2id=self.label2id
        )
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification.from_pretrained(encoder_path, config=config)

    def features(self, tokenizer: Any, examples: Sequence[TokenExample], max_length: int) -> list[dict[str, Any]]:
        encoded = tokenizer(
            [ex.tokens for ex in examples], is_split_into_words=True, truncation=True, max_length=max_length
        )
        rows = []
        for index, ex in enumerate(examples):
            word_ids = encoded.word_ids(index)
            row = {key: encoded[key][index] for key in encoded.keys()}
            row["word_ids"] = word_ids
            row["n_words"] = len(ex.tokens)  # words cut off or dropped by the tokenizer still get a tag
            if ex.tags is not None:
                row["labels"] = first_subtoken_labels(word_ids, [self.label2id[t] for t in ex.tags])
            rows.append(row)
        return rows

    def collate(self, tokenizer: Any) -> Any:
        from transformers import DataCollatorForTokenClassification

        pad = DataCollatorForTokenClassification(tokenizer, label_pad_token_id=IGNORE)

        def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
            return pad([{k: v for k, v in row.items() if k not in ("word_ids", "n_words")} for row in rows])

        return collate

    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        results = []
        for row_logits, row in zip(logits, features):
            probs = softmax(row_logits[: len(row["word_ids"])].astype(np.float32))
            n_words = row["n_words"]
            tags, scores = [OUTSIDE] * n_words, [1.0] * n_words
            previous = None
            for position, word in enumerate(row["word_ids"]):
                if word is not None and word != previous:
                    best = int(probs[position].argmax())
                    tags[word], scores[word] = self.labels[best], float(probs[position][best])
                previous = word
            results.append({"tags": tags, "scores": scores})
        return results

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        predicted = logits.argmax(-1)
        true_tags, pred_tags = [], []
        for pred_row, gold_row in zip(predicted, label_ids):
            keep = gold_row != IGNORE
            true_tags.append([self.labels[i] for i in gold_row[keep]])
            pred_tags.append([self.labels[i] for i in pred_row[keep]])
        report = token_metrics(true_tags, pred_tags)
        return {"entity_f1": report["entity_f1"], "token_accuracy": report["token_accuracy"]}


def first_subtoken_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """The word's label on its first sub-token; special tokens and continuations ignored."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE if word is None or word == previous else word_labels[word])
        previous = word
    return labels


def entities(words: Sequence[str], tags: Sequence[str]) -> list[dict[str, Any]]:
    """BIO tags as spans ``{"type", "start", "end", "text"}`` (``end`` exclusive, in words)."""
    spans: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for index, tag in enumerate(list(tags) + [OUTSIDE]):
        prefix, _, kind = tag.partition("-")
        continues = current is not None and prefix in ("I", "E") and kind == current["type"]
        if current is not None and not continues:
            current["text"] = " ".join(words[current["start"] : index])
            current["end"] = index
            spans.append(current)
            current = None
        if tag != OUTSIDE and not continues:
            current = {"type": kind or tag, "start": index}
    return spans
