"""Heads beyond single-label classification: pair scoring, embeddings, multi-label, and a
plugin's own head (one encoder, two classification heads trained together)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from core import TaskHead, hookimpl
from core.app import Suite
from core.data.types import TextExample
from core.heads.embedding import EmbeddingHead
from core.heads.modeling import PooledClassifier, load_encoder
from core.heads.pair import PairScoringHead, pair
from core.heads.classification import SequenceClassificationHead
from core.plugins import make_plugin_manager
from core.predictor import Predictor, save_model
from core.training.config import TrainConfig
from core.training.engine import fine_tune

FAST = dict(epochs=2, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)


def roundtrip(head: TaskHead, examples: list[TextExample], tiny_model: Path, tmp_path: Path, settings) -> Predictor:
    outcome = fine_tune(head, str(tiny_model), examples, examples, TrainConfig(**FAST), tmp_path / "run", progress=False)
    folder = save_model(outcome.model, outcome.tokenizer, head, tmp_path / "model", 64)
    return Predictor.load(folder, Suite(settings, make_plugin_manager(settings, load_entrypoints=False)).heads)


def test_pair_scoring(tiny_model: Path, tmp_path: Path, settings):
    pairs = [pair("lost card", "how to block a card", "1"), pair("lost card", "opening hours", "0"),
             pair("refund", "how refunds work", "1"), pair("refund", "change my address", "0")] * 3
    predictor = roundtrip(PairScoringHead(), pairs, tiny_model, tmp_path, settings)
    scores = predictor.predict([pair("lost card", "how to block a card"), pair("refund", "opening hours")])
    assert all(0.0 <= s["score"] <= 1.0 for s in scores)


def test_embedding_head_gives_unit_vectors(tiny_model: Path, tmp_path: Path, settings):
    pairs = [pair("where is my card", "card delivery times"), pair("reset my pin", "changing your PIN"),
             pair("fees abroad", "foreign transaction charges"), pair("close account", "closing an account")] * 2
    predictor = roundtrip(EmbeddingHead(), pairs, tiny_model, tmp_path, settings)
    vectors = np.array([p["embedding"] for p in predictor.predict([TextExample("pin"), TextExample("card")])])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_multi_label(tiny_model: Path, tmp_path: Path, settings):
    data = [TextExample("refund for a double charge", ["billing", "refund"]), TextExample("card stuck in atm", ["card"]),
            TextExample("charged twice on my card", ["billing", "card"])] * 3
    head = SequenceClassificationHead(["billing", "card", "refund"], multi_label=True)
    predictor = roundtrip(head, data, tiny_model, tmp_path, settings)
    predicted = predictor.predict([TextExample("refund please")])[0]
    assert set(predicted["labels"]) <= {"billing", "card", "refund"} and len(predicted["scores"]) == 3


class TwoHeadModel(PooledClassifier):
    """Sentiment and topic from one forward pass."""

    def __init__(self, encoder: torch.nn.Module, n_sentiment: int, n_topic: int) -> None:
        super().__init__(encoder, n_sentiment)
        self.topic = torch.nn.Linear(encoder.config.hidden_size, n_topic)

    def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None, topic_labels=None):
        pooled = self.dropout(self.pooled(input_ids, attention_mask, token_type_ids))
        logits = torch.cat([self.classifier(pooled), self.topic(pooled)], dim=-1)
        output = {"logits": logits}
        if labels is not None:
            n = self.classifier.out_features
            output["loss"] = torch.nn.functional.cross_entropy(logits[:, :n].float(), labels) + \
                torch.nn.functional.cross_entropy(logits[:, n:].float(), topic_labels)
        return output


class SentimentTopicHead(SequenceClassificationHead):
    """A plugin's head: ``label`` is "sentiment/topic"; two softmaxes share the encoder."""

    name = "sentiment-topic"
    primary_metric = "loss"

    def split(self) -> tuple[list[str], list[str]]:
        return self.options["sentiments"], self.options["topics"]

    def build_model(self, encoder_path: str, *, dropout=None):
        sentiments, topics = self.split()
        model = TwoHeadModel(load_encoder(encoder_path), len(sentiments), len(topics))
        model.load_head(encoder_path)  # a saved model's task layers; nothing for a pretrained encoder
        return model

    def features(self, tokenizer, examples, max_length):
        rows = super().features(tokenizer, [TextExample(ex.text) for ex in examples], max_length)
        sentiments, topics = self.split()
        for row, ex in zip(rows, examples):
            if ex.label:
                sentiment, topic = ex.label.split("/")
                row["labels"], row["topic_labels"] = sentiments.index(sentiment), topics.index(topic)
        return rows

    def collate(self, tokenizer):
        from transformers import DataCollatorWithPadding

        pad = DataCollatorWithPadding(tokenizer)

        def collate(rows):
            topic = [r["topic_labels"] for r in rows if "topic_labels" in r]
            batch = pad([{k: v for k, v in r.items() if k != "topic_labels"} for r in rows])
            if topic:
                batch["topic_labels"] = torch.tensor(topic)
            return batch

        return collate

    def decode(self, logits: np.ndarray, features=()) -> list[dict[str, Any]]:
        sentiments, topics = self.split()
        n = len(sentiments)
        return [{"sentiment": sentiments[int(row[:n].argmax())], "topic": topics[int(row[n:].argmax())]} for row in logits]

    def metrics(self, logits, label_ids):
        return {}


class HeadPlugin:
    @hookimpl
    def register_task_heads(self, register):
        register(SentimentTopicHead)


def test_a_plugin_head_with_two_outputs_trains_and_predicts(tiny_model: Path, tmp_path: Path, settings):
    pm = make_plugin_manager(settings, load_entrypoints=False)
    pm.register_plugin(HeadPlugin(), "two-heads")
    heads = Suite(settings, pm).heads
    head = heads.get("sentiment-topic")(["x"], sentiments=["neg", "pos"], topics=["earnings", "legal"])
    data = [TextExample("profits beat forecasts", "pos/earnings"), TextExample("regulator fines the bank", "neg/legal"),
            TextExample("revenue collapsed", "neg/earnings"), TextExample("court clears the merger", "pos/legal")] * 3
    config = TrainConfig(**(FAST | {"early_stopping_patience": 0}))
    outcome = fine_tune(head, str(tiny_model), data, data, config, tmp_path / "run", progress=False)
    folder = save_model(outcome.model, outcome.tokenizer, head, tmp_path / "model", 64)
    state = (folder / "suite_head.json").read_text()
    assert '"sentiment-topic"' in state
    # Reload through the registry, as the Predictor does for any registered head.
    loaded = heads.get("sentiment-topic")(["x"], sentiments=["neg", "pos"], topics=["earnings", "legal"])
    model = loaded.build_model(str(folder))
    predictor = Predictor(loaded, model, outcome.tokenizer)
    result = predictor.predict([TextExample("profits beat forecasts")])[0]
    assert result["sentiment"] in {"neg", "pos"} and result["topic"] in {"earnings", "legal"}


def test_token_predictions_have_one_tag_per_word_even_when_cut(tiny_model: Path):
    from transformers import AutoTokenizer

    from core.data.types import TokenExample
    from core.heads.token import TokenClassificationHead

    head = TokenClassificationHead(["O", "B-PER", "I-PER"])
    predictor = Predictor(head, head.build_model(str(tiny_model)), AutoTokenizer.from_pretrained(tiny_model), max_length=6)
    words = ["Ada", "\u200b", "visited", "the", "Royal", "Institution", "in", "London"]  # a dropped word, then truncation
    tags = predictor.predict([TokenExample(words), TokenExample(["Bob"])])
    assert [len(t["tags"]) for t in tags] == [len(words), 1]
    assert tags[0]["tags"][1] == "O" and tags[0]["tags"][-1] == "O"


def test_batches_hold_at_most_the_token_budget_and_predictions_keep_their_order(tiny_model: Path):
    from transformers import AutoTokenizer

    from core.predictor import token_batches

    lengths = [5, 40, 3, 40, 12, 200, 7]
    cut = list(token_batches(lengths, rows=3, tokens=80))
    assert sorted(i for chunk in cut for i in chunk) == list(range(len(lengths)))
    assert all(len(chunk) <= 3 and (len(chunk) == 1 or len(chunk) * max(lengths[i] for i in chunk) <= 80) for chunk in cut)
    assert cut[-1] == [5]  # longer than the budget: a batch of its own
    assert list(token_batches(lengths, rows=4)) == [[2, 0, 6, 4], [1, 3, 5]]  # no budget: rows only

    head = SequenceClassificationHead(["a", "b"])
    predictor = Predictor(head, head.build_model(str(tiny_model)), AutoTokenizer.from_pretrained(tiny_model),
                          precision="fp32", batch_size=4)
    texts = [TextExample(" ".join(["word"] * n)) for n in (1, 30, 2, 60, 5, 3, 45, 8)]
    predictor.batch_tokens = 0
    by_rows = predictor.predict(texts)
    predictor.batch_tokens = 64
    by_tokens = predictor.predict(texts)
    assert [p["label"] for p in by_tokens] == [p["label"] for p in by_rows]
    assert np.allclose([p["score"] for p in by_tokens], [p["score"] for p in by_rows], atol=1e-5)


def test_encode_gives_the_tokenizers_own_rows(tiny_model: Path):
    from transformers import AutoTokenizer

    from core.heads.encoding import encode

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    texts = ["The refund arrived", "", "émoji 😀 and 中文", " ".join(["long"] * 80)]
    pairs = ["a question?", "b", "", "short"]
    for max_length in (64, 8):
        for second in (None, pairs):
            expected = tokenizer(texts, second, truncation=True, max_length=max_length)
            assert encode(tokenizer, texts, second, max_length) == [dict(zip(expected.keys(), v)) for v in zip(*expected.values())]


def test_a_faster_precision_may_miss_one_example_only_where_the_set_cannot_tell_less(tiny_model: Path, monkeypatch):
    """choose_precision keeps the fastest precision within 0.3 points of fp32, or within one
    example on a held-out set too small to resolve 0.3 points."""
    import time
    from types import SimpleNamespace

    from transformers import AutoTokenizer

    import core.devices
    import core.predictor

    wrong = {"fp32": 0, "bf16": 0, "int8": 1}  # examples each precision gets wrong
    delay = {"fp32": 0.03, "bf16": 0.02, "int8": 0.01}  # seconds per call: int8 fastest

    class Measured:
        def __init__(self, head: Any, model: Any, tokenizer: Any, *, max_length: int, precision: str) -> None:
            self.precision = precision

        def logits(self, examples: list[Any]) -> tuple[list[np.ndarray], None]:
            time.sleep(delay[self.precision])
            return [np.array([0.0, 1.0] if i >= wrong[self.precision] else [1.0, 0.0]) for i in range(len(examples))], None

    monkeypatch.setattr(core.predictor, "Predictor", Measured)
    monkeypatch.setattr(core.devices, "detect_device", lambda: SimpleNamespace(bf16_supported=True))
    head = SequenceClassificationHead(["a", "b"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    small = [TextExample(f"text {i}", label="b") for i in range(200)]
    chosen = core.predictor.choose_precision(head, torch.nn.Linear(1, 1), tokenizer, small, 16)
    assert chosen["precision"] == "int8" and chosen["tolerance"] == 0.005  # one of 200 is below resolution

    wrong["int8"] = 4  # 0.4 points on 1,000 examples: more than the tolerance
    large = [TextExample(f"text {i}", label="b") for i in range(1000)]
    chosen = core.predictor.choose_precision(head, torch.nn.Linear(1, 1), tokenizer, large, 16)
    assert chosen["precision"] == "bf16" and chosen["tolerance"] == 0.003
    assert chosen["measured"]["int8"]["accuracy"] == 0.996
