"""The ``ner`` scenario: named entities with the suite's token-classification head.

``suite train ner --train train.conll`` fine-tunes a tagger on CoNLL files (a token and its
BIO tag per line, a blank line between sentences); ``suite run ner --input texts.txt`` finds
the entities of every text and writes ``{"text", "entities": [{text, label, start, end,
score}]}`` per line; ``suite evaluate ner --data test.conll`` reports entity-level F1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from core import ClassificationScenario, DataError, Suite, TokenExample, UsageError
from core.cli import options as opt
from core.cli.batch import OutputFile, read_texts, write_jsonl
from core.evaluation.metrics import token_metrics
from core.training.config import TrainConfig
from suite_ner.spans import entity_spans, words

SAMPLES = Path(__file__).parent / "samples"

# The suite's measured tagging defaults (WNUT-17 in its docs/benchmarks.md): taggers want a
# lower learning rate, smaller batches and more epochs than text classifiers.
NER_DEFAULTS = TrainConfig(learning_rate=5e-5, batch_size=8, auto_epochs=8, example_budget=30_000, early_stopping_patience=3)

ModelName = Annotated[Optional[str], typer.Option("--name", help="Registry name of the trained model (default: ner).")]


class Ner(ClassificationScenario):
    name = "ner"
    help = "Find named entities (people, organisations, places...) in text."
    head_name = "token-classification"
    # Tiny data for the train -> run round trip of core.testing.check_plugin.
    samples = {"train": SAMPLES / "train.conll", "input": SAMPLES / "input.txt"}

    def train(self, suite: Suite, train: opt.TrainFile, eval: opt.EvalFile = None, format: opt.Format = None,
              encoding: opt.Encoding = "utf-8", on_error: opt.OnErrorOption = "raise",
              error_report: opt.ReportFile = None, model: opt.ModelOption = None, name: ModelName = None,
              training: TrainConfig = NER_DEFAULTS) -> dict[str, Any]:
        """Fine-tune the tagger on CoNLL files (token and BIO tag per line) and register it."""
        kw = dict(fmt=format, encoding=encoding, on_error=on_error, error_report=error_report)
        examples = self.load(suite, train, labelled=True, **kw)
        known = frozenset(self.label_set(examples))
        held = self.load(suite, eval, labelled=True, labels=known, **kw) if eval else None
        return self.fit(suite, examples, held, model=model, name=name, config=training, resume=False,
                        head_options={})

    def evaluate(self, suite: Suite, data: opt.DataFile, model: opt.ModelOption = None, format: opt.Format = None,
                 encoding: opt.Encoding = "utf-8") -> dict[str, Any]:
        """Entity-level precision, recall and F1 (seqeval) and token accuracy on a CoNLL file."""
        predictor = self.predictor(suite, model)
        examples = self.load(suite, data, labelled=True, labels=frozenset(predictor.head.labels), fmt=format,
                             encoding=encoding)
        predictions = predictor.predict(examples)
        report = token_metrics([ex.tags for ex in examples], [p["tags"] for p in predictions])
        return self.record_evaluation(suite, model, data, len(examples), report, None)

    def run(self, suite: Suite, input: opt.InputFile = None, output: OutputFile = None,
            text_column: opt.TextColumn = "text", format: opt.Format = None, encoding: opt.Encoding = "utf-8",
            model: opt.ModelOption = None) -> dict[str, Any] | None:
        """Find the entities of every text of --input (lines of .txt or stdin '-', or JSONL/CSV
        with a text field); one JSON line per text: text and entities."""
        if not input:
            raise UsageError("give --input FILE: one text per line (.txt, or - for stdin), or JSONL/CSV with a text field")
        texts = read_texts(suite, input, text_column=text_column, fmt=format, encoding=encoding)
        if not texts:
            raise DataError(input, "no texts to tag")
        tokens = [words(ex.text) for ex in texts]
        predictions = self.predictor(suite, model).predict([TokenExample([w for w, _, _ in t]) for t in tokens])
        rows = ({"text": ex.text, "entities": entity_spans(ex.text, t, p["tags"], p["scores"])}
                for ex, t, p in zip(texts, tokens, predictions))
        count = write_jsonl(rows, output)
        return {"output": str(output), "texts": count} if output else None
