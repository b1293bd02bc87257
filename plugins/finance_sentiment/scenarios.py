"""``finance-sentiment`` (train, evaluate, predict the two-headed model) and
``finance-monitor`` (run it over a stream, detect surges, raise alerts)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from core import ClassificationScenario, ColumnMapping, Scenario, Suite, TextExample, UsageError
from core.cli import options as opt
from core.evaluation.metrics import classification_metrics
from core.lexical import has_cjk
from core.training.config import TrainConfig
from plugins.finance_sentiment.config import MonitorConfig, Watchlist
from plugins.finance_sentiment.head import SENTIMENTS, SentimentTopicHead
from plugins.finance_sentiment.text import TextProfile, normalise

PLUGIN = "finance_sentiment"
MODEL_NAME = "finance-sentiment"
SAMPLES = Path(__file__).resolve().parent / "samples"

TopicColumn = Annotated[str, typer.Option("--topic-column", help="Column with the topic label (optional; without it topics are zero-shot).")]
Texts = Annotated[Optional[list[str]], typer.Argument(help="Texts to score (or use --input).")]

# Measured on Financial PhraseBank (docs/benchmarks.md, bench/phrasebank.py).
FINANCE_DEFAULTS = TrainConfig(learning_rate=1e-4, batch_size=16, auto_epochs=4, example_budget=40_000,
                               early_stopping_patience=2)


def monitor_config(suite: Suite) -> MonitorConfig:
    return MonitorConfig.from_table(suite.settings.plugin_config(PLUGIN))


class FinanceSentiment(ClassificationScenario):
    name = MODEL_NAME
    help = "Sentiment and topic of financial news and comments (one model, two heads)."
    head_name = SentimentTopicHead.name
    config_table = PLUGIN

    def stored_texts(self, suite: Suite, limit: int) -> list[str]:
        """The finance monitor's stored news and comments."""
        from plugins.finance_sentiment.store import FinanceStore

        return FinanceStore(suite.store).texts(limit)

    def _examples(self, suite: Suite, source: str, *, text_column: str, label_column: str | None, topic_column: str,
                  label_map: Optional[str], fmt: Optional[str], encoding: str, on_error: Optional[str] = None,
                  error_report: Optional[Path] = None) -> list[TextExample]:
        mapping = opt.column_mapping(text_column, label_column, label_map=label_map)
        mapping.extras = (topic_column,)
        if label_column is None:
            mapping.label = None
        examples = self.load(suite, source, labelled=label_column is not None, labels=frozenset(SENTIMENTS) if label_column else None,
                             fmt=fmt, encoding=encoding, on_error=on_error, error_report=error_report, mapping=mapping)
        for ex in examples:
            ex.extras["raw_text"], ex.text = ex.text, normalise(ex.text)
            if topic_column in ex.extras:
                ex.extras["topic"] = str(ex.extras.pop(topic_column)).strip()
        return examples

    def _head_options(self, config: MonitorConfig, examples: list[TextExample], encoder: Path | None = None) -> dict[str, Any]:
        topics = dict(config.topics)
        labelled = sorted({ex.extras["topic"] for ex in examples if ex.extras.get("topic")})
        for topic in labelled:
            topics.setdefault(topic, topic)
        return {"topics": list(topics), "descriptions": [describe(name, text) for name, text in topics.items()],
                "topic_mode": "trained" if labelled else "zero-shot", "min_similarity": config.min_topic_similarity,
                "prompts": encoder_prompts(encoder) if encoder else {},
                "text_profile": TextProfile.of(ex.extras.get("raw_text", ex.text) for ex in examples).as_dict()}

    def before_save(self, head: Any, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        model.set_prototypes(tokenizer, head.options["descriptions"], head.prompt)

    def train(self, suite: Suite, train: opt.TrainFile, eval: opt.EvalFile = None, format: opt.Format = None,
              text_column: opt.TextColumn = "text", label_column: opt.LabelColumn = "label", topic_column: TopicColumn = "topic",
              label_map: opt.LabelMap = None, encoding: opt.Encoding = "utf-8", on_error: opt.OnErrorOption = "raise",
              error_report: opt.ReportFile = None, model: opt.ModelOption = None,
              name: Annotated[Optional[str], typer.Option("--name", help="Registry name of the model.")] = None,
              resume: opt.Resume = False,
              training: TrainConfig = FINANCE_DEFAULTS) -> dict[str, Any]:
        """Fine-tune sentiment (negative/neutral/positive) and, with a topic column, topics too."""
        kw = dict(text_column=text_column, label_column=label_column, topic_column=topic_column, label_map=label_map,
                  fmt=format, encoding=encoding, on_error=on_error, error_report=error_report)
        train_examples = self._examples(suite, train, **kw)
        eval_examples = self._examples(suite, eval, **kw) if eval else None
        head_options = self._head_options(monitor_config(suite), train_examples, self.encoder(suite, model).path)
        result = self.fit(suite, train_examples, eval_examples, model=model, name=name, config=training,
                          resume=resume, head_options=head_options)
        result["topic_mode"] = head_options["topic_mode"]
        return result

    def evaluate(self, suite: Suite, data: opt.DataFile, model: opt.ModelOption = None, format: opt.Format = None,
                 text_column: opt.TextColumn = "text", label_column: opt.LabelColumn = "label", topic_column: TopicColumn = "topic",
                 label_map: opt.LabelMap = None, encoding: opt.Encoding = "utf-8",
                 explanations: opt.ExplanationsFlag = False, explain_sample: opt.ExplainSample = 100) -> dict[str, Any]:
        """Sentiment accuracy, macro F1, per-class scores, confusion matrix; topic accuracy where labelled."""
        predictor = self.predictor(suite, model)
        examples = self._examples(suite, data, text_column=text_column, label_column=label_column, topic_column=topic_column,
                                  label_map=label_map, fmt=format, encoding=encoding)
        predictions = predictor.predict(examples)
        labels = predictor.head.labels
        index = {label: i for i, label in enumerate(labels)}
        report = classification_metrics([index[ex.label] for ex in examples], [index[p["label"]] for p in predictions],
                                        labels, confidences=[p["score"] for p in predictions])
        topical = [(ex.extras["topic"], p.get("topic")) for ex, p in zip(examples, predictions) if ex.extras.get("topic")]
        if topical:
            report["topic_accuracy"] = sum(gold == guess for gold, guess in topical) / len(topical)
            report["topic_examples"] = len(topical)
        if explanations:
            report["explanations"] = self.explanation_report(predictor, examples, explain_sample)
        return self.record_evaluation(suite, model, data, len(examples), report, labels)

    def predict(self, suite: Suite, texts: Texts = None, input: opt.InputFile = None, model: opt.ModelOption = None,
                format: opt.Format = None, text_column: opt.TextColumn = "text", encoding: opt.Encoding = "utf-8",
                explain: opt.ExplainFlag = False,
                ) -> dict[str, Any]:
        """Sentiment, topic and watched entities of texts given as arguments or read from --input."""
        if not texts and not input:
            raise UsageError("give texts to score, or --input FILE")
        examples = [TextExample(t) for t in texts or []]
        if input:
            examples += self.load(suite, input, labelled=False, fmt=format, encoding=encoding,
                                  mapping=ColumnMapping(text=text_column, label=None))
        raw = [ex.text for ex in examples]
        for ex in examples:
            ex.text = normalise(ex.text)
        predictor = self.predictor(suite, model)
        watchlist = Watchlist(monitor_config(suite).watchlist)
        out = []
        if explain:  # one pass where the model's explanation method allows it
            predictions, explained = predictor.predict_explained(examples)
        else:
            predictions, explained = predictor.predict(examples), [None] * len(examples)
        for text, ex, p, explanation in zip(raw, examples, predictions, explained):
            row = {"text": text, "sentiment": p["label"], "label": p["label"], "score": round(p["score"], 4), "topic": p.get("topic"),
                   "topic_score": round(p.get("topic_score", 0.0), 4), "entities": watchlist.find(text)}
            if explain:
                row["explanation"] = explanation  # why this sentiment
                row["topic_explanation"] = topic_reasons(predictor, ex, p.get("topic"))  # why this topic
            out.append(row)
        return {"predictions": out}


def topic_reasons(predictor: Any, example: TextExample, topic: str | None) -> list[dict[str, Any]]:
    """The words behind the topic: how much its probability drops without each (occlusion)."""
    from core.explain import occlusion

    head = predictor.head
    if not topic or topic not in head.topics:
        return []

    def score(texts: Any) -> list[float]:
        logits, _ = predictor.logits([replace(example, text=t, label=None) for t in texts])
        return [head.topic_probability(row, topic) for row in logits]

    return occlusion(example.text, score)


class FinanceMonitor(Scenario):
    name = "finance-monitor"
    help = "Score a stream of news and comments, detect negative surges per topic and company, raise alerts."

    def run(self, suite: Suite,
            source: Annotated[Optional[str], typer.Option("--source", help="file:F.jsonl|F.csv, dir:FOLDER, sql:URL#TABLE, stdin:, redis://HOST:PORT/DB#STREAM (default: the packaged demo feed).")] = None,
            feed: Annotated[Optional[Path], typer.Option("--feed", help="A JSONL/CSV file of items: --source file:F.")] = None,
            follow: Annotated[bool, typer.Option("--follow", help="With --feed: keep reading the file as it grows.")] = False,
            since: Annotated[Optional[str], typer.Option("--since", help="Skip items before this time (ISO 8601, or a duration back from now: 6h, 2d).")] = None,
            watchlist: Annotated[Optional[Path], typer.Option("--watchlist", help="TOML with [[watchlist]] tables of name and aliases (added to suite.toml's).")] = None,
            window: Annotated[Optional[str], typer.Option("--window", help="The surge window, e.g. 30m or 1h (default: suite.toml, 1h).")] = None,
            threshold: Annotated[Optional[float], typer.Option("--threshold", min=0.5, help="Fire at this surprise (z; default: suite.toml, 3.0).")] = None,
            model: Annotated[Optional[str], typer.Option("--model", "-m", help="Registered model name or folder (default: finance-sentiment).")] = None,
            backtest: Annotated[bool, typer.Option("--backtest", help="Replay the source and list the alerts that would have fired; store nothing, send nothing.")] = False,
            truth: Annotated[Optional[Path], typer.Option("--truth", help="With --backtest: labelled surges (JSON) to measure the alerts against.")] = None,
            from_start: Annotated[bool, typer.Option("--from-start", help="Read the source from its beginning, not from where the last run stopped (items already stored are not counted again).")] = False,
            report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here.")] = None,
            batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Items per micro-batch (default: config, 128).")] = None,
            idle_timeout: Annotated[Optional[float], typer.Option("--idle-timeout", help="Stop after this many seconds without new items (following sources).")] = None,
            max_items: Annotated[Optional[int], typer.Option("--max-items", help="Stop after reading this many items.")] = None,
            source_option: Annotated[Optional[list[str]], typer.Option("--source-option", help="KEY=VALUE for the source (e.g. group=risk, poll=0.5).")] = None,
            live: Annotated[Optional[bool], typer.Option("--live/--no-live", help="Live console view (default: when stderr is a terminal).")] = None,
            precision: Annotated[str, typer.Option("--precision", help="auto (what training measured fastest), bf16, fp32 or int8. bf16 and int8 scores vary in their last digits with a text's batch neighbours: fp32 when runs must agree exactly.")] = "auto",
            workers: Annotated[int, typer.Option("--workers", min=1, help="Processes on this host sharing a Redis stream's consumer group (one of them, or of any host's, detects surges).")] = 1,
            metrics_port: Annotated[Optional[int], typer.Option("--metrics-port", min=1, max=65535, help="Serve Prometheus /metrics on this port (a shared source: workers, rates, lag, alerts).")] = None,
            ) -> dict[str, Any]:
        """Monitor a feed: store every item once, track negativity, alert on surges.

        Without --source or --feed it replays the packaged demo feed (training the model on the
        packaged samples first if there is none), so the first run shows what the monitor does.
        """
        from plugins.finance_sentiment.backtest import load_truth
        from plugins.finance_sentiment.job import run_monitor
        from plugins.finance_sentiment.run_options import apply_run_options, parse_since

        if truth and not backtest:
            raise UsageError("--truth measures a replay: add --backtest (or use suite finance backtest)")
        if source and feed:
            raise UsageError("give --source or --feed, not both")
        if follow and not feed:
            raise UsageError("--follow goes with --feed FILE (other sources say themselves whether they follow)")
        surges = load_truth(truth) if truth else None
        options = parse_options(source_option or [])
        demo = source is None and feed is None
        if feed is not None:
            source = f"dir:{feed.parent}" if follow else f"file:{feed}"
            options |= {"only": feed.name} if follow else {}
        config = apply_run_options(monitor_config(suite), watchlist=watchlist, window=window, threshold=threshold, demo=demo)
        if demo:
            source = f"file:{SAMPLES / 'feed.jsonl'}"
            typer.echo(f"no --source: replaying the packaged demo feed ({SAMPLES / 'feed.jsonl'}); "
                       "give --source or --feed for your own", err=True)
            if model is None and not _registered(suite, MODEL_NAME):
                typer.echo("no finance-sentiment model yet: training one on the packaged samples (about a minute)", err=True)
                FinanceSentiment().train(suite, train=str(SAMPLES / "train.csv"),
                                         training=replace(FINANCE_DEFAULTS, epochs=3, baseline=False))
        if batch_size:
            config.batch_size = batch_size
        if not backtest and (workers > 1 or metrics_port or _shared(suite, str(source))):
            from plugins.finance_sentiment.job import run_shared

            if not _shared(suite, str(source)):
                raise UsageError(f"--workers and --metrics-port need a shared source: a Redis stream read through its consumer "
                                 f"group (--source redis://HOST:PORT/DB#STREAM), not {str(source).partition(':')[0]}:")
            return run_shared(suite, config, model, str(source), options, workers=workers, metrics_port=metrics_port, precision=precision,
                              report=report, idle_timeout=idle_timeout, max_items=max_items,
                              since=parse_since(since) if since else None)
        show = sys.stderr.isatty() if live is None else live
        return run_monitor(suite, config, FinanceSentiment().predictor(suite, model, precision), str(source), options,
                           backtest=backtest, report=report, idle_timeout=idle_timeout, max_items=max_items, live=show,
                           truth=surges, from_start=from_start, since=parse_since(since) if since else None)

    def render(self, verb: str, result: dict[str, Any]) -> str | None:
        from plugins.finance_sentiment.job import render_summary

        return render_summary(result)


def describe(name: str, text: str) -> str:
    """What a topic's prototype embeds: ``name: description`` when both are in one script, the
    description alone when not (an English name in front of a Chinese description pulls
    Chinese texts towards the wrong topic: measured with multilingual-e5-small)."""
    if has_cjk(name) != has_cjk(text):
        return text
    return f"{name}: {text}"


def encoder_prompts(folder: Path) -> dict[str, str]:
    """The prefixes an encoder was trained with: what the suite's catalogue recorded when it
    installed it (``suite-catalogue.json``), else the sentence-transformers configuration's
    ``prompts``, else (a model this scenario fine-tuned, trained on further) its head's; empty
    when none names any."""
    from core.catalogue.status import RECORD_FILE
    from core.predictor import HEAD_FILE

    for name, field in ((RECORD_FILE, ()), ("config_sentence_transformers.json", ()), (HEAD_FILE, ("options",))):
        try:
            data = json.loads((Path(folder) / name).read_text(encoding="utf-8"))
            for key in field:
                data = data[key]
            prompts = data.get("prompts")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(prompts, dict) and prompts:
            return {str(k): v for k, v in prompts.items() if isinstance(v, str)}
    return {}


def _shared(suite: Suite, spec: str) -> bool:
    """Whether the source ``spec`` names is read by several processes (a consumer group)."""
    from core import SourceSpec

    return suite.sources.get(SourceSpec.parse(spec).scheme).shared


def _registered(suite: Suite, name: str) -> bool:
    return any(entry.name == name for entry in suite.store.list_models())


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; numbers become numbers."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--source-option '{pair}': expected KEY=VALUE")
        try:
            options[key.strip()] = float(value) if "." in value else int(value)
        except ValueError:
            options[key.strip()] = value
    return options
