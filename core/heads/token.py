"""Token classification (NER): a tag per word, learned on each word's first sub-token, and
entities read from the tags per the data's tagging scheme (BIO, BIOES, BMES, BILOU)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from core.data.types import TokenExample
from core.errors import UsageError
from core.evaluation.metrics import OUTSIDE, STRICT_SCHEMES, TAG_SCHEMES, as_iobes, detect_tag_scheme, token_metrics
from core.heads import TaskHead
from core.heads.classification import softmax

if TYPE_CHECKING:
    import torch

IGNORE = -100


class TokenClassificationHead(TaskHead):
    """Inputs: :class:`TokenExample` (words, or Chinese characters, and one tag per word).

    The label sits on the first sub-token of each word and the other sub-tokens are ignored
    by the loss; predictions are read from first sub-tokens and mapped back to words. Words
    cut off by ``max_length``, or that the tokenizer drops (e.g. zero-width characters), are
    predicted as ``O``, so there is always one tag per word.

    Option ``tag_scheme`` (saved with the model): ``BIO``, ``BIOES``, ``BMES`` or ``BILOU``,
    how entities are read from tags when scoring (:func:`token_metrics`) and predicting
    (:func:`entities`). Tags are kept as the data spells them (a BMES model predicts ``M-``).
    Without it, the scheme is detected from the labels.
    """

    name = "token-classification"
    description = "words -> a tag per word (NER)"
    example_kind = "tokens"
    primary_metric = "entity_f1"

    def __init__(self, labels: Sequence[str], **options: Any) -> None:
        super().__init__(labels, **options)
        scheme = options.get("tag_scheme")
        if scheme is None:
            try:
                scheme = detect_tag_scheme(self.labels)
            except ValueError:
                scheme = "BIO"
        elif scheme not in TAG_SCHEMES:
            raise UsageError(f"unknown tag scheme '{scheme}' (known: {', '.join(TAG_SCHEMES)})")
        self.tag_scheme: str = scheme

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
        report = token_metrics(true_tags, pred_tags, self.tag_scheme)
        return {"entity_f1": report["entity_f1"], "token_accuracy": report["token_accuracy"]}


def first_subtoken_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """The word's label on its first sub-token; special tokens and continuations ignored."""
    labels, previous = [], None
    for word in word_ids:
        labels.append(IGNORE if word is None or word == previous else word_labels[word])
        previous = word
    return labels


def entities(words: Sequence[str], tags: Sequence[str], scheme: str = "BIO", *,
             text: str | None = None, spans: Sequence[tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    """Entities ``{"type", "start", "end", "text"}`` read from ``tags`` as ``scheme`` reads them
    (the same entities :func:`token_metrics` scores): ``start``/``end`` (exclusive) count words,
    or, given ``text`` and each word's ``(start, end)`` in it (``spans``), characters of ``text``.
    """
    chunks = strict_chunks(as_iobes(tags, scheme)) if scheme in STRICT_SCHEMES else lenient_chunks(tags)
    found = []
    for kind, first, last in chunks:
        if text is not None and spans is not None:
            start, end = spans[first][0], spans[last - 1][1]
            found.append({"type": kind, "start": start, "end": end, "text": text[start:end]})
        else:
            found.append({"type": kind, "start": first, "end": last, "text": " ".join(words[first:last])})
    return found


def _split(tag: str) -> tuple[str, str]:
    """(prefix, type) of a tag as seqeval splits it: ``B-PER.NAM`` -> (``B``, ``PER.NAM``)."""
    return tag[:1], tag[1:].split("-", maxsplit=1)[-1] or "_"


def lenient_chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` chunks as conlleval and seqeval's default mode read them: a chunk
    also begins at an ``I-`` after ``O`` or after another type (BIO, IOB1)."""
    chunks = []
    prev_prefix, prev_type, begin = OUTSIDE, "", 0
    for index, tag in enumerate(list(tags) + [OUTSIDE]):
        prefix, kind = _split(tag)
        ends = (prev_prefix in ("E", "S") or (prev_prefix in ("B", "I") and prefix in ("B", "S", OUTSIDE))
                or (prev_prefix != OUTSIDE and prev_type != kind))
        if ends and prev_prefix != OUTSIDE:
            chunks.append((prev_type, begin, index))
        begins = (prefix in ("B", "S") or (prev_prefix in ("E", "S", OUTSIDE) and prefix in ("E", "I"))
                  or (prefix != OUTSIDE and prev_type != kind))
        if begins:
            begin = index
        prev_prefix, prev_type = prefix, kind
    return chunks


def strict_chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` chunks of IOBES tags read strictly, as seqeval's ``mode="strict"``
    does: ``B- I-* E-`` of one type, or ``S-``; anything else is no entity."""
    chunks = []
    index = 0
    while index < len(tags):
        prefix, kind = _split(tags[index])
        if prefix not in ("B", "S"):
            index += 1
            continue
        end, last = index + 1, prefix
        while last in ("B", "I") and end < len(tags) and _split(tags[end]) in (("I", kind), ("E", kind)):
            last = tags[end][:1]
            end += 1
        if last in ("E", "S"):
            chunks.append((kind, index, end))
        index = end
    return chunks
