"""``fine_tune``: examples + head + encoder -> a trained model, through ``transformers.Trainer``.

The Trainer brings the loop, dynamic padding through the head's collator, length-grouped
batches, bf16 autocast (CUDA, and CPUs with AVX-512 BF16/AMX), gradient accumulation,
warmup and linear decay, checkpoints and resume, DDP under ``torchrun``. The subclass only
lets the head own the loss and the metrics.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoTokenizer,
    PrinterCallback,
    ProgressCallback,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from core.devices import detect_device
from core.errors import UsageError
from core.heads import TaskHead
from core.training.config import TrainConfig
from core.training.distill import TEACHER_KEY, SoftTargets, distillation_loss, teacher_collate
from core.training.schedule import examples_per_second, plan_epochs

EpochLogger = Callable[[float, dict[str, float]], None]


class SuiteTrainer(Trainer):
    """Overrides only ``compute_loss``: the head may replace the model's loss (class weights,
    several heads); otherwise the model's own loss is used."""

    def __init__(self, *args: Any, head: TaskHead, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head = head

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        loss = None if return_outputs else self.head.compute_loss(model, dict(inputs))
        if loss is not None:
            return loss
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)


class DistillTrainer(SuiteTrainer):
    """Training batches carry the teacher's logits: the loss mixes the softened divergence to
    them with the hard labels (:func:`core.training.distill.distillation_loss`)."""

    def __init__(self, *args: Any, soft_targets: SoftTargets, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.soft_targets = soft_targets

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        if TEACHER_KEY not in inputs:  # validation batches
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
        return distillation_loss(self.head, model, dict(inputs), self.soft_targets.temperature, self.soft_targets.alpha,
                                 self.soft_targets.alignment)


class _EpochMetrics(TrainerCallback):
    """Sends each evaluation's metrics to the store (or any ``log_epoch`` callable)."""

    def __init__(self, log_epoch: EpochLogger) -> None:
        self.log_epoch = log_epoch

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
        if metrics and state.is_world_process_zero:
            self.log_epoch(float(state.epoch or 0), {k: float(v) for k, v in metrics.items()})


class _Progress(TrainerCallback):
    """A progress bar on stderr (stdout stays clean for ``--json``): loss, samples/s, ETA."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        from tqdm.auto import tqdm

        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, file=sys.stderr, unit="step",
                            desc="training", dynamic_ncols=True)
            self.started, self.first_step = time.perf_counter(), state.global_step

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.bar is not None:
            per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * args.world_size
            elapsed = max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix_str(f"{(state.global_step - self.first_step) * per_step / elapsed:.1f} samples/s", refresh=False)
            self.bar.update(1)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
        if self.bar is not None and logs:
            shown = {k: f"{v:.4g}" for k, v in logs.items() if isinstance(v, float) and "runtime" not in k}
            self.bar.write(f"epoch {state.epoch:.2f}: " + ", ".join(f"{k}={v}" for k, v in shown.items()), file=sys.stderr)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class _TimeLimit(TrainerCallback):
    """Stops training once ``--max-minutes`` is spent; the best epoch so far is kept."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = 0.0

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
        if time.perf_counter() - self.started > self.seconds:
            control.should_training_stop = True


def _throughput(model: torch.nn.Module, rows: list[dict[str, Any]], collate: Any, batch_size: int, bf16: bool,
                seed: int) -> float:
    """Training examples per second here: forward and backward on a few random batches, the
    gradients then dropped (no optimizer step: the weights are unchanged)."""
    rng = random.Random(seed)
    device = next(model.parameters()).device
    model.train()

    def step() -> int:
        picked = [rows[i] for i in rng.sample(range(len(rows)), min(batch_size, len(rows)))]
        batch = {k: v.to(device) for k, v in collate(picked).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(**batch)["logits"]
        logits.float().sum().backward()
        model.zero_grad(set_to_none=True)
        return len(picked)

    rate = examples_per_second(step)
    set_seed(seed)  # the measurement drew random numbers (dropout): training starts as without it
    return rate


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.rows[index]


@dataclass
class TrainOutcome:
    model: torch.nn.Module
    tokenizer: Any
    metrics: dict[str, float]
    train_seconds: float
    samples_per_second: float
    precision: str
    best_checkpoint: str | None
    schedule: str = ""


def use_bf16(precision: str) -> bool:
    plan = detect_device()
    if precision == "bf16":
        return True
    return precision == "auto" and plan.bf16_supported


def stratified_split(
    examples: Sequence[Any], label_of: Callable[[Any], Any], fraction: float, seed: int
) -> tuple[list[Any], list[Any], str]:
    """Hold out ``fraction`` for validation, stratified by label when every label allows it."""
    from sklearn.model_selection import train_test_split

    labels = [label_of(ex) for ex in examples]
    counts = {label: labels.count(label) for label in set(map(str, labels))} if labels else {}
    n_eval = max(1, round(len(examples) * fraction))
    stratify = [str(label) for label in labels] if counts and min(counts.values()) >= 2 and n_eval >= len(counts) else None
    train, held = train_test_split(list(examples), test_size=n_eval, random_state=seed, stratify=stratify)
    if stratify is None:  # a label seen only in the held-out part could not be learned: keep it in training
        known = {str(label_of(ex)) for ex in train}
        train += [ex for ex in held if str(label_of(ex)) not in known]
        held = [ex for ex in held if str(label_of(ex)) in known] or held
    how = "stratified" if stratify is not None else "random"
    return train, held, f"{how} {fraction:.0%} validation split of --train (seed {seed}): {len(train)} train, {len(held)} validation"


def fine_tune(
    head: TaskHead,
    encoder_path: str,
    train_examples: Sequence[Any],
    eval_examples: Sequence[Any],
    config: TrainConfig,
    output_dir: Path,
    *,
    log_epoch: EpochLogger | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: Sequence[TrainerCallback] = (),
    soft_targets: SoftTargets | None = None,
) -> TrainOutcome:
    """Train ``head`` on ``encoder_path``; the best epoch on ``eval_examples`` is restored.
    With ``soft_targets`` (the teacher's logits, one per training example) the model learns
    from them too: distillation."""
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(encoder_path)
    model = head.build_model(encoder_path, dropout=config.dropout)
    train_rows = head.features(tokenizer, train_examples, config.max_length)
    eval_rows = head.features(tokenizer, eval_examples, config.max_length)
    bf16 = use_bf16(config.precision)
    primary = head.primary_metric
    if config.strategy == "head-only":
        return _head_only(head, model, tokenizer, train_examples, eval_examples, config, bf16)
    lora_attr = apply_lora(model, config.lora_rank) if config.strategy == "lora" else None
    if config.freeze_layers:
        freeze_bottom(model, config.freeze_layers)
    if freeze_word_embeddings(model, config.freeze_embeddings) and progress:
        print("word embeddings frozen: they are most of the model's parameters (--train-embeddings to update them)",
              file=sys.stderr)
    collate = head.collate(tokenizer)
    schedule = plan_epochs(config, len(train_rows), len(eval_rows),
                           lambda: _throughput(model, train_rows, collate, config.batch_size, bf16, config.seed))
    if progress:
        print(f"schedule: {schedule.reason}", file=sys.stderr)
    trainer_class: Any = SuiteTrainer
    extra: dict[str, Any] = {}
    if soft_targets is not None:
        train_rows, collate = soft_targets.attach(train_rows), teacher_collate(collate)
        trainer_class, extra = DistillTrainer, {"soft_targets": soft_targets}

    args = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=schedule.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=primary,
        greater_is_better=primary != "loss",
        logging_strategy="epoch",
        report_to=report_targets(config.report_to),
        seed=config.seed,
        data_seed=config.seed,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
        save_only_model=False,
        ddp_find_unused_parameters=False,
        label_names=head.label_names,
    )
    callbacks = list(callbacks)
    if schedule.time_limit_s is not None:
        callbacks.append(_TimeLimit(schedule.time_limit_s))
    if config.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    epoch_logger = _EpochMetrics(log_epoch) if log_epoch is not None else None
    if epoch_logger is not None:
        callbacks.append(epoch_logger)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=_ListDataset(train_rows),
        eval_dataset=_ListDataset(eval_rows),
        data_collator=collate,
        processing_class=tokenizer,
        compute_metrics=lambda pred: head.metrics(_first(pred.predictions), pred.label_ids),
        callbacks=callbacks,
        head=head,
        **extra,
    )
    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    if progress:
        trainer.add_callback(_Progress())
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=_last_checkpoint(output_dir) if resume else None)
    seconds = time.perf_counter() - started
    if epoch_logger is not None:
        trainer.remove_callback(epoch_logger)  # the re-evaluation of the restored best is not an epoch
    final = trainer.evaluate()
    metrics = {k.removeprefix("eval_"): float(v) for k, v in final.items() if isinstance(v, (int, float))}
    if lora_attr is not None:  # saved models are plain encoders: no peft needed to load them
        setattr(trainer.model, lora_attr, getattr(trainer.model, lora_attr).merge_and_unload())
    # accelerate patched forward() with its autocast; give callers the plain module back.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    return TrainOutcome(
        model=model,
        tokenizer=tokenizer,
        metrics=metrics,
        train_seconds=seconds,
        samples_per_second=float(result.metrics.get("train_samples_per_second", 0.0)),
        precision="bf16" if bf16 else "fp32",
        best_checkpoint=trainer.state.best_model_checkpoint,
        schedule=schedule.reason,
    )


def report_targets(report_to: str | None) -> list[str]:
    """Experiment trackers for Trainer, checked up front so a missing package is one clear line."""
    import importlib.util

    if not report_to:
        return []
    packages = {"tensorboard": "tensorboard", "mlflow": "mlflow"}
    if report_to not in packages:
        raise UsageError(f"--report-to: expected tensorboard or mlflow, got '{report_to}'")
    if importlib.util.find_spec(packages[report_to]) is None:
        raise UsageError(f"--report-to {report_to}: the '{packages[report_to]}' package is not installed",
                         hint=f"pip install {packages[report_to]}")
    return [report_to]


def freeze_bottom(model: torch.nn.Module, layers: int) -> None:
    """Fix the embeddings and the ``layers`` lowest transformer blocks: backward stops below them."""
    for module in (model.get_input_embeddings(), *_encoder_blocks(model)[:layers]):
        for param in module.parameters():
            param.requires_grad_(False)


EMBEDDING_SHARE = 0.5  # word embeddings above this share of the parameters are frozen by default


def freeze_word_embeddings(model: torch.nn.Module, wanted: bool | None) -> bool:
    """Fix the word embeddings when asked, or (``None``) when they hold most of the parameters:
    multilingual-e5-small's 250k-token vocabulary is 96M of its 118M, and updating it costs every
    step an optimizer pass and state over the whole matrix for the few rows a batch touches."""
    embeddings = model.get_input_embeddings().weight
    total = sum(p.numel() for p in model.parameters())
    freeze = wanted if wanted is not None else embeddings.numel() > EMBEDDING_SHARE * total
    if freeze:
        embeddings.requires_grad_(False)
    return freeze


def _encoder_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated transformer blocks, whatever the architecture calls them."""
    lists = [m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) > 1]
    return list(max(lists, key=len)) if lists else []


def apply_lora(model: torch.nn.Module, rank: int) -> str:
    """Wrap the model's encoder with LoRA adapters (peft); the task layer stays fully trainable.
    Returns the attribute name of the wrapped encoder."""
    from peft import LoraConfig, get_peft_model

    attr = "encoder" if hasattr(model, "pooled") else model.base_model_prefix
    encoder = getattr(model, attr)
    names = {name.rsplit(".", 1)[-1] for name, module in encoder.named_modules() if isinstance(module, torch.nn.Linear)}
    targets = sorted(names & {"query", "key", "value", "dense", "q_proj", "k_proj", "v_proj", "o_proj"})
    config = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets)
    setattr(model, attr, get_peft_model(encoder, config))
    return attr


def _head_only(head: TaskHead, model: torch.nn.Module, tokenizer: Any, train_examples: Sequence[Any],
               eval_examples: Sequence[Any], config: TrainConfig, bf16: bool) -> TrainOutcome:
    from core.predictor import Predictor
    from core.training.head_only import fit_head_only

    seconds = fit_head_only(head, model, tokenizer, train_examples, max_length=config.max_length, bf16=bf16, seed=config.seed)
    predictor = Predictor(head, model, tokenizer, max_length=config.max_length, precision=config.precision)
    logits, rows = predictor.logits(eval_examples)
    metrics = head.metrics(np.stack(logits), np.asarray([row["labels"] for row in rows]))
    return TrainOutcome(model=model, tokenizer=tokenizer, metrics=metrics, train_seconds=seconds,
                        samples_per_second=len(train_examples) / seconds, precision="bf16" if bf16 else "fp32",
                        best_checkpoint=None)


def _first(predictions: Any) -> np.ndarray:
    return predictions[0] if isinstance(predictions, tuple) else predictions


def _last_checkpoint(output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
