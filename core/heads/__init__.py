"""Task heads: the layers, loss, features and decoding a task puts on a pretrained encoder.

A head turns examples into model features, builds (or reloads) the model, and turns the
model's logits back into predictions. The engine (:mod:`core.training`) and the
:class:`core.predictor.Predictor` only talk to heads through this interface, so a plugin's
head (e.g. one encoder with two classification heads) trains and predicts like a built-in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # torch is imported by the heads that build models, not by `import core`
    import numpy as np
    import torch


STATE_FILE = "suite_head.json"  # a fine-tuned model's head state, beside its weights


class TaskHead(ABC):
    """Base of every task head.

    Subclasses set ``name`` (saved with every model, so loading finds the head again) and
    implement :meth:`build_model`, :meth:`features`, :meth:`collate` and :meth:`decode`.
    They may override :meth:`compute_loss` (default: the model's own loss) and
    :meth:`metrics` (default: none).

    ``labels`` is the ordered label set; ``options`` are head-specific and saved with the
    model (they must be JSON-serialisable).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    example_kind: ClassVar[str] = "text"  # "text" or "tokens": which loader feeds this head
    primary_metric: str = "loss"  # selects the best epoch; any name but "loss" is maximised
    label_names: ClassVar[list[str] | None] = None  # batch keys that mean "a loss can be computed"

    def __init__(self, labels: Sequence[str], **options: Any) -> None:
        self.labels = list(labels)
        self.label2id = {label: i for i, label in enumerate(self.labels)}
        self.options = options

    def state(self) -> dict[str, Any]:
        """What is saved beside the weights to rebuild this head."""
        return {"head": self.name, "labels": self.labels, "options": self.options}

    @abstractmethod
    def build_model(self, encoder_path: str, *, dropout: float | None = None) -> torch.nn.Module:
        """A model with this head on the encoder at ``encoder_path`` (pretrained or fine-tuned)."""

    @abstractmethod
    def features(self, tokenizer: Any, examples: Sequence[Any], max_length: int) -> list[dict[str, Any]]:
        """Tokenize ``examples``; labelled examples also get their training targets."""

    @abstractmethod
    def collate(self, tokenizer: Any) -> Any:
        """A collator that pads a batch of :meth:`features` dynamically (to its longest item)."""

    @abstractmethod
    def decode(self, logits: np.ndarray, features: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Predictions from logits, one dict per example (labels, scores, spans...)."""

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor | None:
        """Return a loss to override the model's own, or None to use ``outputs.loss``."""
        return None

    def metrics(self, logits: np.ndarray, label_ids: np.ndarray) -> dict[str, float]:
        """Validation metrics computed by the trainer after each epoch."""
        return {}

    def soft_loss(self, student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                  mask: torch.Tensor | None = None) -> torch.Tensor:
        """Distillation: how far the student's logits are from the teacher's, both softened
        by ``temperature`` (``mask``: the positions that count, for per-token logits).
        Default: KL divergence of the softmax over the last axis."""
        from core.training.distill import softened_kl

        return softened_kl(student, teacher, temperature, mask)
