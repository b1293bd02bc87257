"""Training hyperparameters, with defaults for small encoders (MiniLM-class, 2-core CPU).

A scenario verb that takes a ``TrainConfig`` parameter gets every field below as a CLI
option (``--epochs``, ``--lr``, ...), so all scenarios spell them the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Optional

from core.training.distill import Distillation

Precision = Literal["auto", "bf16", "fp32"]
Strategy = Literal["full", "lora", "head-only"]


def option(default, flag: str, help: str):  # noqa: ANN001, ANN201 - a dataclass field with CLI metadata
    return field(default=default, metadata={"option": flag, "help": help})


def setting(default, help: str):  # noqa: ANN001, ANN201 - a field a scenario sets, not a CLI option
    return field(default=default, metadata={"cli": False, "help": help})


@dataclass
class TrainConfig:
    """What ``suite train`` exposes; stored with every run.

    Small encoders tolerate (and need) a higher learning rate than BERT-base's 2e-5:
    the plain-loop measurement in the issue reached 92.5% on Banking77 at 2e-4.
    """

    epochs: Optional[float] = option(None, "--epochs", "Passes over the training data (default: the scenario's, fewer on large data; see 'schedule' in the output).")
    max_minutes: Optional[float] = option(None, "--max-minutes", "Time budget: the epochs are fitted to it (measured here first) and training stops at it.")
    auto_epochs: float = setting(3.0, "Epochs when --epochs is not given, for data up to example_budget examples.")
    example_budget: Optional[int] = setting(60_000, "Examples seen at most by default: larger data gets fewer epochs (at least one).")
    learning_rate: float = option(1e-4, "--lr", "Peak learning rate (linear warmup, then linear decay).")
    batch_size: int = option(32, "--batch-size", "Examples per step (per process).")
    max_length: int = option(128, "--max-length", "Longer inputs are truncated (sub-tokens).")
    warmup_ratio: float = option(0.06, "--warmup", "Fraction of steps spent warming up the learning rate.")
    weight_decay: float = option(0.01, "--weight-decay", "AdamW weight decay (L2 regularisation).")
    dropout: Optional[float] = option(None, "--dropout", "Dropout in the encoder and head (default: the model's).")
    gradient_accumulation: int = option(1, "--grad-accum", "Steps to accumulate before each update.")
    early_stopping_patience: int = option(2, "--patience", "Stop after this many epochs without improvement (0: never).")
    validation_fraction: float = option(0.1, "--val-fraction", "Held-out share of --train when no --eval is given.")
    seed: int = option(42, "--seed", "Seed for splits, shuffling and initialisation.")
    precision: Precision = option("auto", "--precision", "auto (bf16 where supported), bf16 or fp32.")
    eval_batch_size: int = option(64, "--eval-batch-size", "Examples per evaluation step.")
    strategy: Strategy = option("full", "--strategy", "full fine-tuning, lora (peft adapters) or head-only (frozen encoder).")
    freeze_layers: int = option(0, "--freeze-layers", "Keep the embeddings and this many bottom encoder layers fixed (less backward work).")
    freeze_embeddings: Optional[bool] = option(None, "--freeze-embeddings/--train-embeddings", "Keep the word embeddings fixed (default: when they are most of the model, as in a 250k multilingual vocabulary).")
    report_to: Optional[str] = option(None, "--report-to", "Also log to tensorboard or mlflow (their package must be installed).")
    lora_rank: int = option(16, "--lora-rank", "Rank of the LoRA adapters.")
    class_weights: bool = option(False, "--class-weights", "Weight the loss by inverse label frequency (imbalanced data).")
    baseline: bool = option(True, "--baseline/--no-baseline", "Also fit the untuned starting point (head-only) for a before/after report.")
    activate: Optional[bool] = option(None, "--activate/--no-activate", "Make the new version the one served (default: unless it is worse than its untuned baseline).")
    distillation: Optional[Distillation] = setting(None, "Learn from a fine-tuned teacher's outputs too (set by suite distill).")

    def as_dict(self) -> dict:
        return asdict(self)
