"""Generic scenarios in the core, so the engine is usable without a plugin:
``text-classification`` and ``token-classification``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from core.app import Suite
from core.cli import options as opt
from core.data import load_text_examples, load_token_examples
from core.data.adapters import join_tokens, text_tokens
from core.data.types import ColumnMapping, TokenExample
from core.errors import DataError, UnknownNameError, UsageError
from core.evaluation.metrics import classification_metrics, detect_tag_scheme, token_metrics
from core.heads.token import entities
from core.hookspecs import hookimpl
from core.languages import ReadingCheck, example_text, reading_check
from core.models import ModelSource, quiet_transformers
from core.scenarios import Scenario
from core.training.config import TrainConfig

if TYPE_CHECKING:
    from core.predictor import Predictor
    from core.training.distill import Teacher

Name = Annotated[Optional[str], typer.Option("--name", help="Registry name of the trained model (default: the scenario).")]
Texts = Annotated[Optional[list[str]], typer.Argument(help="Texts to predict (or use --input).")]
AllScores = Annotated[bool, typer.Option("--verbose-scores", help="Include every label's probability.")]


# Measured on WNUT-17 with the default model (docs/benchmarks.md): lr 2e-4, batch 16 peaked at
# epoch 1 with test entity F1 0.368; lr 5e-5, batch 8 peaked at epoch 5 with 0.447.
# 8 epochs measured on WNUT-17 (3,400 sentences); CoNLL-2003 (14,000) gets 2 by the example budget.
TAGGING_DEFAULTS = TrainConfig(learning_rate=5e-5, batch_size=8, auto_epochs=8, example_budget=30_000,
                               early_stopping_patience=3)


class ClassificationScenario(Scenario):
    """What text and token classification share: train, evaluate and predict through a head."""

    head_name: str
    distillable = True

    # Data ---------------------------------------------------------------------------
    def load(self, suite: Suite, source: str, *, labelled: bool, labels: frozenset[str] | None = None,
             fmt: str | None = None, encoding: str = "utf-8", on_error: str | None = None,
             error_report: Path | None = None, mapping: ColumnMapping | None = None) -> list[Any]:
        """Examples from ``source``; ``on_error`` is the command's --on-error (None: it has none)."""
        mode = opt.on_error_mode(on_error) if on_error is not None else None
        report = opt.error_report_path(suite.settings.home, source, error_report) if mode == "skip" else None
        read = opt.read_options(encoding)
        if self.head_name == "token-classification":
            result = load_token_examples(source, suite.adapters, read, labels=labels, format=fmt, on_error=mode, report_path=report)
        else:
            assert mapping is not None
            mapping.labels = labels
            if not labelled:
                mapping.label = None
            result = load_text_examples(source, suite.adapters, mapping, read, format=fmt, on_error=mode, report_path=report)
        return result.examples

    @staticmethod
    def label_of(example: Any) -> Any:
        return tuple(example.tags) if isinstance(example, TokenExample) else example.label

    @staticmethod
    def label_set(examples: list[Any]) -> list[str]:
        seen: set[str] = set()
        for ex in examples:
            value = ex.tags if isinstance(ex, TokenExample) else ex.label
            seen.update(value if isinstance(value, list) else [value])
        return sorted(seen)

    # Verbs --------------------------------------------------------------------------
    def _check_trainable(self, suite: Suite, train_examples: list[Any], eval_examples: list[Any] | None,
                         head_options: dict[str, Any]) -> None:
        """What no training can use, said before a run is recorded or a file written."""
        from core.heads.classification import SequenceClassificationHead

        if eval_examples is None and len(train_examples) < 2:
            raise UsageError(f"--train has {len(train_examples)} usable example(s): at least 2 are needed "
                             "(one is held out for validation), or pass --eval")
        if issubclass(suite.heads.get(self.head_name), SequenceClassificationHead) and not head_options.get("multi_label"):
            labels = sorted({str(self.label_of(ex)) for ex in train_examples})
            if len(labels) < 2:
                raise UsageError(f"--train has one label ({', '.join(repr(label) for label in labels)}): "
                                 "a classifier needs examples of at least two")

    def _reading_check(self, encoder: ModelSource, examples: list[Any], seed: int) -> ReadingCheck:
        """Whether the encoder can read the training texts: said before training (never
        silently train an English model on Chinese), recorded with the model."""
        from transformers import AutoTokenizer

        check = reading_check(AutoTokenizer.from_pretrained(encoder.path), [example_text(ex) for ex in examples],
                              encoder.path, seed=seed)
        if (warning := check.warning(encoder.spec)) is not None:
            typer.echo(f"warning: {warning}", err=True)
        return check

    def fit(self, suite: Suite, train_examples: list[Any], eval_examples: list[Any] | None, *, model: str | None,
            name: str | None, config: TrainConfig, resume: bool, head_options: dict[str, Any],
            validation: str | None = None) -> dict[str, Any]:
        """Fine-tune, measure, register. ``validation`` says where ``eval_examples`` come from
        when the scenario derived them itself (default: --eval, or a split of the training data)."""
        from core.evaluation.faithfulness import choose_at_training
        from core.predictor import choose_precision, save_model
        from core.training.engine import fine_tune, stratified_split

        quiet_transformers(suite.settings.verbose)
        self._check_trainable(suite, train_examples, eval_examples, head_options)
        store = suite.store
        note = validation or "--eval"
        if eval_examples is None:
            key = (lambda ex: ex.tags[0]) if self.head_name == "token-classification" else self.label_of
            train_examples, eval_examples, note = stratified_split(train_examples, key, config.validation_fraction, config.seed)
            typer.echo(note, err=True)
        labels = self.label_set(train_examples)
        if config.class_weights and self.head_name != "token-classification" and not head_options.get("multi_label"):
            head_options = head_options | {"class_weights": inverse_frequency(train_examples, labels)}
        teacher = self._teacher(suite, config, labels) if config.distillation else None
        if teacher is None:
            head = suite.heads.get(self.head_name)(labels, **head_options)
        else:  # the student answers in the teacher's labels; a new encoder reads with its own prompts
            options = teacher.head.options if config.distillation.student_layers else teacher.head.options | head_options
            head = type(teacher.head)(teacher.head.labels, **{k: v for k, v in options.items() if k != "class_weights"})
        encoder = teacher.encoder if teacher and config.distillation.student_layers else self.encoder(suite, model)
        reading = self._reading_check(encoder, train_examples, config.seed)
        name = name or self.name
        rank, world = distributed_rank()
        if rank > 0:  # DDP: the other processes train alongside rank 0, which alone records
            start, examples, soft_targets = str(encoder.path), train_examples, None
            if teacher is not None:  # each process labels the same data the same way
                start, examples, soft_targets = teacher.prepare(suite, self, head, train_examples, start,
                                                                ddp_checkpoints(suite, name) / f"rank-{rank}", eval_examples)
            fine_tune(head, start, examples, eval_examples, config, ddp_checkpoints(suite, name), resume=resume,
                      soft_targets=soft_targets)
            return {"model": name, "rank": rank}
        run_id = self._resumable_run(suite, name) if resume else None
        if run_id is None:
            run_id = store.start_run(self.name, {"model": name, "encoder": encoder.spec, "processes": world, **config.as_dict()})
        checkpoints = ddp_checkpoints(suite, name) if world > 1 else suite.settings.runs_dir / f"run-{run_id}"
        try:  # whatever fails, the run is recorded as failed, never left 'running'
            start, soft_targets = str(encoder.path), None
            if teacher is not None:
                start, train_examples, soft_targets = teacher.prepare(suite, self, head, train_examples, start, checkpoints,
                                                                      eval_examples)
            outcome = fine_tune(
                head, start, train_examples, eval_examples, config, checkpoints,
                log_epoch=lambda epoch, metrics: store.log_epoch(run_id, epoch, metrics),
                resume=resume, soft_targets=soft_targets,
            )
            self.before_save(head, outcome.model, outcome.tokenizer, config)
            before = (self.baseline(head, str(encoder.path), train_examples, eval_examples, config)
                      if config.baseline and teacher is None else None)
            inference = choose_precision(head, outcome.model, outcome.tokenizer, eval_examples, config.max_length)
            explanation = choose_at_training(head, outcome.model, outcome.tokenizer, eval_examples, config.max_length,
                                             (inference or {}).get("precision", "auto"))
            path = save_model(outcome.model, outcome.tokenizer, head, suite.settings.models_dir / name / f"run-{run_id}",
                              config.max_length, inference=inference,
                              extra={"encoder": {"spec": encoder.spec, **reading.as_dict()}}
                              | ({"explanation": explanation} if explanation else {})
                              | ({"teacher": teacher.spec} if teacher else {})
                              | ({"baseline": before} if before else {}))  # the console's before/after table
            compared = teacher.compare(suite, path, eval_examples) if teacher else None
        except KeyboardInterrupt:
            store.finish_run(run_id, "interrupted", error="stopped by the user; continue with --resume")
            raise
        except Exception as exc:
            store.finish_run(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
            raise
        metrics = {k: v for k, v in outcome.metrics.items() if k not in ("runtime", "samples_per_second", "steps_per_second")}
        primary = head.primary_metric
        regressed = (bool(before) and primary != "loss" and primary in before and primary in metrics
                     and metrics[primary] < before[primary])
        activate = config.activate if config.activate is not None else not regressed
        entry = store.register_model(name, self.name, str(path), metrics, run_id=run_id, activate=activate,
                                     teacher=teacher.spec if teacher else None)
        store.finish_run(run_id, "completed", metrics=metrics, model_path=str(path), train_seconds=outcome.train_seconds)
        warnings = [w for w in [reading.warning(encoder.spec)] if w]
        if regressed:
            warnings.append(f"the fine-tuned model ({primary} {metrics[primary]:.3f}) is worse than its untuned baseline "
                            f"({before[primary]:.3f})" + ("; it is active because of --activate" if activate else
                            f": registered as {entry.name} version {entry.version} but not made active (suite models "
                            f"activate {entry.name} {entry.version}, or train again with --activate)"))
        baseline = {} if "baseline" in self.unused_train_options else {
            "baseline": "measured" if before else ("not measured: only single-label text classification has an untuned "
                                                   "baseline" if config.baseline else "off (--no-baseline)"),
            **({"before": before} if before else {})}
        return {
            "active": activate,
            "warnings": warnings,
            **baseline,
            "model": entry.name,
            "version": entry.version,
            "path": str(path),
            "run_id": run_id,
            "validation": note,
            "schedule": outcome.schedule,
            "precision": outcome.precision,
            "train_seconds": round(outcome.train_seconds, 2),
            "train_samples_per_second": round(outcome.samples_per_second, 2),
            "processes": world,
            "metrics": metrics,
            "inference": inference,
            "explanation": explanation,
            **({"distillation": compared} if compared else {}),
        }

    def _teacher(self, suite: Suite, config: TrainConfig, labels: list[str]) -> Teacher:
        """The registered model ``--teacher`` names ("name" or "name:version"), checked to be
        one of this scenario's that knows every training label."""
        from core.predictor import Predictor
        from core.training.distill import Teacher

        distillation = config.distillation
        assert distillation is not None
        distillation.check()
        if config.strategy == "head-only":
            raise UsageError("--strategy head-only cannot distil: the student's encoder must learn (full or lora)")
        entry = suite.store.find_model(distillation.teacher)
        if entry.scenario != self.name:
            raise UsageError(f"--teacher {distillation.teacher}: a {entry.scenario} model, not a {self.name} one")
        predictor = Predictor.load(entry.path, suite.heads)
        unknown = sorted(set(labels) - set(predictor.head.labels))
        if unknown:
            raise UsageError(f"--train has labels the teacher {entry.name} v{entry.version} does not know: "
                             + ", ".join(unknown[:10]))
        return Teacher(f"{entry.name} v{entry.version}", Path(entry.path), predictor, distillation)

    def before_save(self, head: Any, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        """Last changes to the trained model before it is measured and saved (a scenario may
        embed reference texts with the fine-tuned encoder, say). Default: none."""

    @staticmethod
    def baseline(head: Any, encoder: str, train: list[Any], held: list[Any], config: TrainConfig) -> dict[str, float] | None:
        """Validation metrics of the untuned starting point: the frozen encoder with a fitted
        linear head (step 5 of the design document: evaluate before and after fine-tuning)."""
        from dataclasses import replace

        from core.training.engine import fine_tune

        if config.strategy == "head-only" or head.example_kind != "text" or head.name != "sequence-classification":
            return None
        with tempfile.TemporaryDirectory() as scratch:
            outcome = fine_tune(head, encoder, train, held, replace(config, strategy="head-only"), Path(scratch), progress=False)
        return outcome.metrics

    def _resumable_run(self, suite: Suite, name: str) -> int | None:
        for run in suite.store.list_runs(self.name):
            if run.config.get("model") == name and run.status in ("running", "interrupted", "failed"):
                return run.id
        return None

    def explanation_report(self, predictor: Predictor, examples: list[Any], sample: int) -> dict[str, Any]:
        """``--explanations``: faithfulness of each method on a seeded sample of ``examples``,
        and the global view (words per class, confusions, shortcut words) by the method chosen,
        which is recorded with the model, so ``--explain`` uses it from then on."""
        import random

        from core.evaluation.faithfulness import faithfulness
        from core.evaluation.global_view import global_view
        from core.predictor import record_with_model

        picked = random.Random(13).sample(list(examples), min(sample, len(examples)))
        report = faithfulness(predictor, picked)
        report["global"] = global_view(predictor, picked, report["chosen"])
        if predictor.folder is not None:
            record_with_model(predictor.folder, "explanation", {"method": report["chosen"], "measured_on": report["texts"]})
        return report

    def record_evaluation(self, suite: Suite, model: str | None, data: str, examples: int,
                          metrics: dict[str, Any], labels: list[str] | None) -> dict[str, Any]:
        """Store the evaluation as a run and write its report files beside the run's other files."""
        from core.evaluation.report import write_report

        spec = model or self.name
        run_id = suite.store.start_run(self.name, {"verb": "evaluate", "model": spec, "data": data})
        report: dict[str, Any] = {"model": spec, "examples": examples, "run_id": run_id, "metrics": metrics}
        report["files"] = write_report(suite.settings.runs_dir / f"run-{run_id}", report, labels)
        headline = {k: v for k, v in metrics.items() if isinstance(v, float)}
        suite.store.finish_run(run_id, "completed", metrics=headline)
        return report

    def render(self, verb: str, result: dict[str, Any]) -> str | None:
        if verb == "evaluate":
            from core.evaluation.report import render_text

            return render_text(result)
        return None

    def predictor(self, suite: Suite, model: str | None, precision: str = "auto") -> Predictor:
        from core.predictor import PRECISIONS, Predictor

        quiet_transformers(suite.settings.verbose)
        spec = model or self.name
        folder = Path(spec)
        if not folder.is_dir():
            try:
                folder = Path(suite.store.get_model(spec).path)
            except UnknownNameError as exc:
                raise UnknownNameError(str(exc), hint=f"train one with: suite train {self.name} --train FILE") from None
        if precision not in PRECISIONS:
            raise UsageError(f"--precision: expected auto, bf16, fp32 or int8, got '{precision}'")
        return Predictor.load(folder, suite.heads, precision=precision)


class TextClassification(ClassificationScenario):
    name = "text-classification"
    help = "Classify texts into your labels (intents, topics, sentiment)."
    head_name = "sequence-classification"

    def train(self, suite: Suite, train: opt.TrainFile, eval: opt.EvalFile = None, format: opt.Format = None,
              text_column: opt.TextColumn = "text", text_pair_column: opt.TextPairColumn = None,
              label_column: opt.LabelColumn = "label", label_map: opt.LabelMap = None,
              multi_label: Annotated[Optional[str], typer.Option("--multi-label", help="Split labels on this separator, e.g. '|'.")] = None,
              encoding: opt.Encoding = "utf-8", on_error: opt.OnErrorOption = "raise", error_report: opt.ReportFile = None,
              model: opt.ModelOption = None, name: Name = None, resume: opt.Resume = False,
              training: TrainConfig = TrainConfig()) -> dict[str, Any]:
        """Fine-tune a text classifier on labelled data and register it."""
        def mapping() -> ColumnMapping:
            m = opt.column_mapping(text_column, label_column, text_pair_column=text_pair_column, label_map=label_map)
            m.label_separator = multi_label
            return m

        kw = dict(fmt=format, encoding=encoding, on_error=on_error, error_report=error_report)
        train_examples = self.load(suite, train, labelled=True, mapping=mapping(), **kw)
        known = frozenset(self.label_set(train_examples))
        eval_examples = self.load(suite, eval, labelled=True, labels=known, mapping=mapping(), **kw) if eval else None
        return self.fit(suite, train_examples, eval_examples, model=model, name=name, config=training, resume=resume,
                        head_options={"multi_label": True} if multi_label else {})

    def evaluate(self, suite: Suite, data: opt.DataFile, model: opt.ModelOption = None, format: opt.Format = None,
                 text_column: opt.TextColumn = "text", text_pair_column: opt.TextPairColumn = None,
                 label_column: opt.LabelColumn = "label", label_map: opt.LabelMap = None,
                 encoding: opt.Encoding = "utf-8", explanations: opt.ExplanationsFlag = False,
                 explain_sample: opt.ExplainSample = 100) -> dict[str, Any]:
        """Accuracy, macro F1, per-class scores, confusion matrix and calibration on labelled data."""
        predictor = self.predictor(suite, model)
        labels = predictor.head.labels
        mapping = opt.column_mapping(text_column, label_column, text_pair_column=text_pair_column, label_map=label_map)
        examples = self.load(suite, data, labelled=True, labels=frozenset(labels), fmt=format, encoding=encoding, mapping=mapping)
        predictions = predictor.predict(examples)
        index = {label: i for i, label in enumerate(labels)}
        report = classification_metrics(
            [index[ex.label] for ex in examples], [index[p["label"]] for p in predictions], labels,
            confidences=[p["score"] for p in predictions],
        )
        if explanations:
            report["explanations"] = self.explanation_report(predictor, examples, explain_sample)
        return self.record_evaluation(suite, model, data, len(examples), report, labels)

    def predict(self, suite: Suite, texts: Texts = None, input: opt.InputFile = None, model: opt.ModelOption = None,
                format: opt.Format = None, text_column: opt.TextColumn = "text", encoding: opt.Encoding = "utf-8",
                verbose_scores: AllScores = False,
                explain: opt.ExplainFlag = False,
                precision: Annotated[str, typer.Option("--precision", help="auto, bf16, fp32 or int8.")] = "auto",
                ) -> dict[str, Any]:
        """Label texts given as arguments or read from --input."""
        from core.data.types import TextExample

        if not texts and not input:
            raise UsageError("give texts to predict, or --input FILE")
        examples = [TextExample(t) for t in texts or []]
        if input:
            examples += self.load(suite, input, labelled=False, fmt=format, encoding=encoding,
                                  mapping=opt.column_mapping(text_column, None))
        predictor = self.predictor(suite, model, precision)
        if explain:  # one pass where the model's explanation method allows it
            predictions, explanations = predictor.predict_explained(examples)
            for p, explanation in zip(predictions, explanations):
                p["explanation"] = explanation
        else:
            predictions = predictor.predict(examples)
        if not verbose_scores:
            for p in predictions:
                p.pop("scores", None)
        return {"predictions": [{"text": ex.text, **p} for ex, p in zip(examples, predictions)]}


    def tune(self, suite: Suite, train: opt.TrainFile, eval: opt.EvalFile = None, format: opt.Format = None,
             text_column: opt.TextColumn = "text", label_column: opt.LabelColumn = "label", label_map: opt.LabelMap = None,
             encoding: opt.Encoding = "utf-8", model: opt.ModelOption = None,
             budget: Annotated[float, typer.Option("--budget", help="Seconds to spend searching.")] = 600,
             trials: Annotated[Optional[int], typer.Option("--trials", help="Stop after this many trials.")] = None,
             training: TrainConfig = TrainConfig()) -> dict[str, Any]:
        """Search learning rate, epochs, batch size and strategy (Optuna) within --budget seconds."""
        from core.training.engine import stratified_split
        from core.training.tuning import tune

        quiet_transformers(suite.settings.verbose)
        mapping = opt.column_mapping(text_column, label_column, label_map=label_map)
        kw = dict(fmt=format, encoding=encoding)
        examples = self.load(suite, train, labelled=True, mapping=mapping, **kw)
        labels = self.label_set(examples)
        if eval:
            held = self.load(suite, eval, labelled=True, labels=frozenset(labels),
                             mapping=opt.column_mapping(text_column, label_column, label_map=label_map), **kw)
        else:
            examples, held, note = stratified_split(examples, self.label_of, training.validation_fraction, training.seed)
            typer.echo(note, err=True)
        encoder = self.encoder(suite, model)
        run_id = suite.store.start_run(self.name, {"verb": "tune", "encoder": encoder.spec, "budget": budget, **training.as_dict()})

        def report(number: int, params: dict[str, Any], value: float) -> None:
            suite.store.log_epoch(run_id, float(number), {"value": value, **params}, split="trial")
            typer.echo(f"trial {number}: {params} -> {value:.4f}", err=True)

        result = tune(lambda: suite.heads.get(self.head_name)(labels), str(encoder.path), examples, held, training,
                      budget_seconds=budget, max_trials=trials, on_trial=report)
        suite.store.finish_run(run_id, "completed", metrics={"best_" + result["metric"]: result["best_value"], **result["best_params"]})
        best = result["best_params"]
        result["run_id"] = run_id
        result["train_command"] = (f"suite train {self.name} --train {train} --lr {best['learning_rate']:.2e} "
                                   f"--epochs {best['epochs']} --batch-size {best['batch_size']} --strategy {best['strategy']}")
        return result


class TokenClassification(ClassificationScenario):
    name = "token-classification"
    help = "Tag words in sentences (named entities) from CoNLL, BIOES/BMES or CLUE NER data."
    head_name = "token-classification"

    def train(self, suite: Suite, train: opt.TrainFile, eval: opt.EvalFile = None, format: opt.Format = None,
              encoding: opt.Encoding = "utf-8", on_error: opt.OnErrorOption = "raise", error_report: opt.ReportFile = None,
              model: opt.ModelOption = None, name: Name = None, resume: opt.Resume = False,
              training: TrainConfig = TAGGING_DEFAULTS) -> dict[str, Any]:
        """Fine-tune a tagger (NER) on CoNLL (BIO, BIOES, BMES) or CLUE NER files and register it."""
        kw = dict(fmt=format, encoding=encoding, on_error=on_error, error_report=error_report)
        train_examples = self.load(suite, train, labelled=True, **kw)
        known = frozenset(self.label_set(train_examples))
        eval_examples = self.load(suite, eval, labelled=True, labels=known, **kw) if eval else None
        scheme = tag_scheme(train, sorted(known))
        typer.echo(f"tag scheme: {scheme} (from the tags of {train})", err=True)
        result = self.fit(suite, train_examples, eval_examples, model=model, name=name, config=training, resume=resume,
                          head_options={"tag_scheme": scheme})
        return result | {"tag_scheme": scheme}

    def load(self, suite: Suite, source: str, *, labelled: bool, **kw: Any) -> list[Any]:
        examples = super().load(suite, source, labelled=labelled, **kw)
        if labelled:
            unlabelled = next((ex for ex in examples if ex.tags is None), None)
            if unlabelled is not None:
                raise DataError(source, "no tags: an unlabelled sentence in labelled data", line=unlabelled.line,
                                field="label", hint="label every row (CLUE NER: a 'label' object, {} for none)")
        return examples

    def evaluate(self, suite: Suite, data: opt.DataFile, model: opt.ModelOption = None, format: opt.Format = None,
                 encoding: opt.Encoding = "utf-8") -> dict[str, Any]:
        """Entity-level precision/recall/F1 (seqeval, per the model's tag scheme) and token accuracy."""
        predictor = self.predictor(suite, model)
        examples = self.load(suite, data, labelled=True, labels=frozenset(predictor.head.labels), fmt=format, encoding=encoding)
        predictions = predictor.predict(examples)
        scheme = head_scheme(predictor.head)
        report = token_metrics([ex.tags for ex in examples], [p["tags"] for p in predictions], scheme)
        return self.record_evaluation(suite, model, data, len(examples), report, None)

    def predict(self, suite: Suite, texts: Texts = None, input: opt.InputFile = None, model: opt.ModelOption = None,
                format: opt.Format = None, encoding: opt.Encoding = "utf-8",
                explain: opt.ExplainFlag = False) -> dict[str, Any]:
        """Tag sentences given as arguments (split at spaces; Chinese and Japanese text into
        characters) or read from a CoNLL or CLUE NER --input. Entities are character spans
        (``end`` exclusive) of each prediction's ``text``; ``--explain`` adds to each entity the
        words around it that made it one (leave-one-word-out)."""
        if not texts and not input:
            raise UsageError("give sentences to tag, or --input FILE")
        sentences = []  # (text, each token's span in it)
        for text in texts or []:
            sentences.append((text, text_tokens(text)))
        examples = [TokenExample([text[a:b] for a, b in spans]) for text, spans in sentences]
        if input:
            read = self.load(suite, input, labelled=False, fmt=format, encoding=encoding)
            sentences += [join_tokens(ex.tokens) for ex in read]
            examples += read
        predictor = self.predictor(suite, model)
        scheme = head_scheme(predictor.head)
        tagged = [i for i, ex in enumerate(examples) if ex.tokens]
        predictions: list[dict[str, Any]] = [{"tags": []} for _ in examples]
        for i, p in zip(tagged, predictor.predict([examples[i] for i in tagged])):
            predictions[i] = p
        out = []
        for (text, spans), ex, p in zip(sentences, examples, predictions):
            found = entities(ex.tokens, p["tags"], scheme, text=text, spans=spans)
            if explain:
                from core.explain import entity_reasons

                for entity, words_at in zip(found, entities(ex.tokens, p["tags"], scheme)):
                    entity["explanation"] = entity_reasons(predictor, ex.tokens, p["tags"],
                                                           (words_at["start"], words_at["end"]), spans)
            out.append({"text": text, "tokens": ex.tokens, "tags": p["tags"], "entities": found})
        return {"predictions": out}


def tag_scheme(source: str, tags: list[str]) -> str:
    """The tagging scheme of ``source``'s tags; mixed schemes are a data error."""
    try:
        return detect_tag_scheme(tags)
    except ValueError as exc:
        raise DataError(source, str(exc), hint="tag every entity in one scheme") from None


def head_scheme(head: Any) -> str:
    """The tagging scheme a token head reads entities with (a plugin's head may not say)."""
    scheme = getattr(head, "tag_scheme", None)
    if scheme is None:
        try:
            scheme = detect_tag_scheme(head.labels)
        except ValueError:
            scheme = "BIO"
    return scheme


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) under ``torchrun``/``accelerate launch``; (0, 1) otherwise."""
    import os

    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def ddp_checkpoints(suite: Suite, name: str) -> Path:
    """One checkpoint folder every process of a DDP run agrees on without talking."""
    return suite.settings.runs_dir / f"ddp-{name}"


def inverse_frequency(examples: list[Any], labels: list[str]) -> list[float]:
    """Class weights n / (k * count): a balanced loss for imbalanced labels."""
    counts = {label: 0 for label in labels}
    for ex in examples:
        counts[ex.label] += 1
    return [len(examples) / (len(labels) * max(counts[label], 1)) for label in labels]


@hookimpl
def register_scenarios(register):
    register(TextClassification())
    register(TokenClassification())
