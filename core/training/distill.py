"""Distillation: a fine-tuned teacher's soft decisions teach a smaller (faster) student.

The teacher's logits are computed once for every training text (not once per epoch) and
travel with the student's features; the loss is ``alpha * T^2 * soft + (1 - alpha) * hard``,
where ``soft`` is the head's divergence between temperature-softened outputs
(:meth:`core.heads.TaskHead.soft_loss`) and ``hard`` the model's own loss on the labels.
Unlabelled in-domain text is labelled by the teacher (its decisions become the hard labels,
its logits the soft ones), so it trains the student like labelled text; ``--augment N`` adds N
perturbed copies of each text (:mod:`core.training.augment`), labelled the same way. With
``--align-hidden W`` and a student as wide as the teacher, ``W`` times the mean squared
distance between each student block's output and the teacher block it stands for
(:class:`Alignment`) is added: the teacher then runs beside the student on every batch.

The student is another encoder with the teacher's head (labels, options) on it, or the
teacher itself with ``student_layers`` of its blocks kept (:func:`cut_layers`): the kept
blocks, embeddings and head start from the fine-tuned weights.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from core.errors import UsageError
from core.files import folder_mb
from core.training.augment import perturbed

if TYPE_CHECKING:
    import torch

    from core.heads import TaskHead
    from core.predictor import Predictor

STORED = "stored"  # --unlabelled stored: the texts the scenario met in production
STORED_LIMIT = 100_000
TEACHER_KEY = "teacher_logits"
TEACHER_MASK = "teacher_mask"


def _option(default: Any, flag: str, help: str) -> Any:
    return field(default=default, metadata={"option": flag, "help": help})


@dataclass
class Distillation:
    """What ``suite distill`` adds to a training run (each field one of its options); stored
    with the run's config."""

    teacher: Optional[str] = _option(None, "--teacher", "The fine-tuned model to learn from: a registered NAME or NAME:VERSION.")
    student_layers: Optional[int] = _option(None, "--student-layers", "The student is the teacher with this many of its layers kept (evenly spaced, the top one included, or see --layers).")
    layers: str = _option("spaced", "--layers", "Which layers --student-layers keeps: spaced (evenly, the top one included) or validation (dropped one at a time, first the one whose removal changes the model's outputs on the validation set least).")
    temperature: float = _option(2.0, "--temperature", "Softens both models' outputs before they are compared.")
    alpha: float = _option(0.5, "--alpha", "Weight of the teacher's soft outputs against the hard labels (1: teacher only).")
    align_hidden: float = _option(0.0, "--align-hidden", "Weight of matching each student layer's hidden states to the teacher layer it stands for (students as wide as the teacher: --student-layers, or an encoder of the same width; 0: off). The teacher runs beside the student on every batch.")
    unlabelled: Optional[str] = _option(None, "--unlabelled", "In-domain texts without labels (one per line, or a CSV/JSONL text column; 'stored': the monitor's items or the conversation log): the teacher labels them for the student.")
    augment: int = _option(0, "--augment", "Perturbed copies of each training and unlabelled text (words dropped, or swapped for other words of the corpus) for the teacher to label: more of its decisions for the student to learn where in-domain text is scarce (0: none).")

    def check(self) -> None:
        if not self.teacher:
            raise UsageError("suite distill needs --teacher NAME (a registered fine-tuned model of this scenario)")
        if self.student_layers is not None and self.student_layers < 1:
            raise UsageError(f"--student-layers: expected at least 1, got {self.student_layers}")
        if self.temperature <= 0:
            raise UsageError(f"--temperature: expected a positive number, got {self.temperature}")
        if self.layers not in ("spaced", "validation"):
            raise UsageError(f"--layers: expected spaced or validation, got '{self.layers}'")
        if not 0 <= self.alpha <= 1:
            raise UsageError(f"--alpha: expected a weight between 0 and 1, got {self.alpha}")
        if self.align_hidden < 0:
            raise UsageError(f"--align-hidden: expected a weight of 0 or more, got {self.align_hidden}")
        if self.augment < 0:
            raise UsageError(f"--augment: expected a number of copies, 0 or more, got {self.augment}")


@dataclass
class Alignment:
    """The teacher's model beside the student, which teacher block each student block stands
    for (``layer_map[i]``), and the weight of their hidden states' distance in the loss."""

    teacher: Any
    layer_map: list[int]
    weight: float


@dataclass
class SoftTargets:
    """The teacher's logits for each training example, in the order of the examples, and how
    the soft and hard losses are weighed. For token heads each item is one row per word."""

    logits: list[np.ndarray]
    temperature: float
    alpha: float
    alignment: Alignment | None = None

    def attach(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The student's feature rows with the teacher's logits beside them (per position of
        the student's own tokens for token heads: a word's first sub-token gets its row)."""
        out = []
        for row, logits in zip(rows, self.logits, strict=True):
            if "word_ids" not in row:
                out.append(row | {TEACHER_KEY: np.asarray(logits, dtype=np.float32)})
                continue
            width = np.shape(logits)[-1]
            per_position = np.zeros((len(row["input_ids"]), width), dtype=np.float32)
            mask = np.zeros(len(row["input_ids"]), dtype=np.float32)
            previous = None
            for position, word in enumerate(row["word_ids"]):
                if word is not None and word != previous and word < len(logits):
                    per_position[position], mask[position] = logits[word], 1.0
                previous = word
            out.append(row | {TEACHER_KEY: per_position, TEACHER_MASK: mask})
        return out


def teacher_collate(collate: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """The head's collator, plus the teacher's logits (and mask) padded to the batch; rows
    without them (validation) are collated as the head collates them."""
    import torch

    def wrapped(rows: list[dict[str, Any]]) -> dict[str, Any]:
        if TEACHER_KEY not in rows[0]:
            return collate(rows)
        batch = collate([{k: v for k, v in row.items() if k not in (TEACHER_KEY, TEACHER_MASK)} for row in rows])
        if TEACHER_MASK not in rows[0]:
            batch[TEACHER_KEY] = torch.from_numpy(np.stack([row[TEACHER_KEY] for row in rows]))
            return batch
        length = batch["input_ids"].shape[1]
        width = rows[0][TEACHER_KEY].shape[-1]
        logits = np.zeros((len(rows), length, width), dtype=np.float32)
        mask = np.zeros((len(rows), length), dtype=np.float32)
        for i, row in enumerate(rows):
            n = min(length, len(row[TEACHER_MASK]))
            logits[i, :n], mask[i, :n] = row[TEACHER_KEY][:n], row[TEACHER_MASK][:n]
        batch[TEACHER_KEY], batch[TEACHER_MASK] = torch.from_numpy(logits), torch.from_numpy(mask)
        return batch

    return wrapped


def distillation_loss(head: TaskHead, model: torch.nn.Module, inputs: dict[str, Any], temperature: float,
                      alpha: float, alignment: Alignment | None = None) -> torch.Tensor:
    """``alpha * T^2 * soft + (1 - alpha) * hard`` for one batch (one forward pass), plus the
    hidden states' distance to the teacher's with an ``alignment``."""
    import torch

    teacher = inputs.pop(TEACHER_KEY)
    mask = inputs.pop(TEACHER_MASK, None)
    teacher_states: list[torch.Tensor] = []
    if alignment is not None:
        with torch.no_grad(), block_outputs(alignment.teacher) as teacher_states:
            alignment.teacher(**inputs)
    with block_outputs(model) if alignment is not None else nullcontext([]) as student_states:
        outputs = model(**inputs)
    soft = head.soft_loss(outputs["logits"], teacher, temperature, mask) * temperature**2
    hard = outputs["loss"] if "labels" in inputs else None
    loss = soft if hard is None or alpha >= 1 else alpha * soft + (1 - alpha) * hard
    if alignment is not None:
        loss = loss + alignment.weight * hidden_distance(student_states, [teacher_states[i] for i in alignment.layer_map],
                                                         inputs.get("attention_mask"))
    return loss


@contextmanager
def block_outputs(model: torch.nn.Module) -> Iterator[list[torch.Tensor]]:
    """The hidden states each transformer block of ``model`` outputs during the forward passes
    run inside the block, in order (forward hooks, removed after)."""
    _, blocks = _block_stack(model, fewest=1)  # a one-layer student too
    captured: list[torch.Tensor] = []

    def keep(module: Any, args: Any, output: Any) -> None:
        captured.append(output[0] if isinstance(output, tuple) else output)

    handles = [block.register_forward_hook(keep) for block in blocks]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def hidden_distance(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor],
                    attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean squared distance between paired hidden states, over real (unpadded) tokens."""
    import torch

    distances = []
    for s, t in zip(student, teacher, strict=True):
        weight = (torch.ones(s.shape[:-1], device=s.device) if attention_mask is None else attention_mask.float())[..., None]
        distances.append(((s.float() - t.float()) ** 2 * weight).sum() / (weight.sum() * s.shape[-1]).clamp(min=1.0))
    return torch.stack(distances).mean()


def layer_map(teacher: torch.nn.Module, student_depth: int) -> list[int]:
    """Which teacher block a student of ``student_depth`` blocks matches: evenly spaced, the
    top one included (:func:`keep_layers`), or each its own when the depths are equal."""
    _, blocks = _block_stack(teacher)
    return list(range(len(blocks))) if student_depth >= len(blocks) else keep_layers(len(blocks), student_depth)


def softened_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                mask: torch.Tensor | None = None) -> torch.Tensor:
    """KL(teacher || student) of softmax(logits / T) over the last axis, averaged over the rows
    (or over the positions where ``mask`` is 1)."""
    import torch.nn.functional as F

    log_student = F.log_softmax(student.float() / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher.float() / temperature, dim=-1)
    per_row = (log_teacher.exp() * (log_teacher - log_student)).sum(-1)
    if mask is None:
        return per_row.mean()
    mask = mask.to(per_row.dtype)
    return (per_row * mask).sum() / mask.sum().clamp(min=1.0)


def keep_layers(total: int, kept: int) -> list[int]:
    """Evenly spaced blocks, the top one always kept (the head was trained on its output):
    6 -> 3 keeps 1, 3, 5; 12 -> 6 keeps every other one."""
    if kept >= total:
        raise UsageError(f"--student-layers {kept}: the teacher has {total} layers; keep fewer")
    return [round((i + 1) * total / kept) - 1 for i in range(kept)]


def cut_layers(model: torch.nn.Module, kept: int, chosen: Sequence[int] | None = None) -> list[int]:
    """Keep ``kept`` of the encoder's transformer blocks in place (``chosen``, or evenly
    spaced: :func:`keep_layers`) and record the new depth in its config, so the saved folder
    loads as a shallower encoder."""
    name, blocks = _block_stack(model)
    picked = list(chosen) if chosen is not None else keep_layers(len(blocks), kept)
    _set_blocks(model, name, [blocks[i] for i in picked])
    return picked


def choose_layers(model: torch.nn.Module, head: TaskHead, tokenizer: Any, examples: Sequence[Any], kept: int,
                  max_length: int = 128) -> list[int]:
    """The ``kept`` blocks whose cut model's outputs on ``examples`` stay nearest the whole
    model's: drop, one at a time, the block whose removal moves them least (the head's
    divergence at temperature 1, as distillation measures it; greedy, N + (N-1) + ...
    passes). A divergence, not the metric: on a few hundred examples the metric moves in steps
    of one example, so most candidates tie and the choice fell to the tie-break. The model is
    left whole."""
    from core.predictor import Predictor

    name, blocks = _block_stack(model)
    keep_layers(len(blocks), kept)  # the same check: fewer than the teacher has
    examples = list(examples)

    def outputs() -> list[np.ndarray]:
        return Predictor(head, model, tokenizer, max_length=max_length, precision="fp32").logits(examples)[0]

    whole = outputs()
    keep = list(range(len(blocks)))
    try:
        while len(keep) > kept:
            scores = []
            for dropped in keep:
                _set_blocks(model, name, [blocks[j] for j in keep if j != dropped])
                scores.append((output_divergence(head, outputs(), whole), dropped))
            keep.remove(min(scores)[1])
    finally:
        _set_blocks(model, name, list(blocks))
    return keep


def output_divergence(head: TaskHead, outputs: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """Mean of the head's divergence of ``outputs`` from ``reference``, example by example (a
    token head's rows differ in length)."""
    import torch

    return float(np.mean([head.soft_loss(torch.as_tensor(np.asarray(o)), torch.as_tensor(np.asarray(r)), 1.0).item()
                          for o, r in zip(outputs, reference, strict=True)]))


def _block_stack(model: torch.nn.Module, fewest: int = 2) -> tuple[str, Any]:
    """The encoder's stack of transformer blocks (the longest ModuleList of at least ``fewest``)
    and its name."""
    import torch

    lists = [(name, module) for name, module in model.named_modules()
             if isinstance(module, torch.nn.ModuleList) and len(module) >= fewest]
    if not lists:
        raise UsageError("--student-layers: this model has no stack of transformer layers to cut")
    return max(lists, key=lambda item: len(item[1]))


def _set_blocks(model: torch.nn.Module, name: str, blocks: list[Any]) -> None:
    """Replace the stack ``name`` with ``blocks``, and the config's depth to match."""
    import torch

    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], torch.nn.ModuleList(blocks))
    for config in {id(c): c for c in _configs(model)}.values():
        config.num_hidden_layers = len(blocks)


def _configs(model: torch.nn.Module) -> list[Any]:
    return [m.config for m in model.modules() if hasattr(m, "config") and hasattr(m.config, "num_hidden_layers")]


def teacher_logits(teacher: Predictor, examples: Sequence[Any]) -> list[np.ndarray]:
    """The teacher's logits per example; for token heads, one row per word (its first
    sub-token's), so a student with another tokenizer reads them word by word."""
    return example_logits(*teacher.logits(examples))


def example_logits(outputs: Sequence[Any], rows: Sequence[dict[str, Any]]) -> list[np.ndarray]:
    """:func:`teacher_logits` from a pass already made (its outputs and feature rows)."""
    if not rows or "word_ids" not in rows[0]:
        return [np.asarray(o, dtype=np.float32) for o in outputs]
    per_word = []
    for logits, row in zip(outputs, rows):
        words = np.zeros((row["n_words"], np.shape(logits)[-1]), dtype=np.float32)
        seen: set[int] = set()
        for position, word in enumerate(row["word_ids"]):
            if word is not None and word not in seen:
                words[word] = logits[position]
                seen.add(word)
        per_word.append(words)
    return per_word


def pseudo_labelled(examples: Sequence[Any], predictions: Sequence[dict[str, Any]]) -> list[Any]:
    """Unlabelled examples with the teacher's decisions as their labels (tags for words)."""
    labelled = []
    for example, prediction in zip(examples, predictions):
        if "tags" in prediction:
            labelled.append(replace(example, tags=list(prediction["tags"])))
        elif "labels" in prediction:
            labelled.append(replace(example, label=list(prediction["labels"])))
        else:
            extras = dict(example.extras) | ({"topic": prediction["topic"]} if "topic" in prediction else {})
            labelled.append(replace(example, label=prediction["label"], extras=extras))
    return labelled


def measure(predictor: Predictor, examples: Sequence[Any]) -> dict[str, Any]:
    """The head's metrics and texts/s of ``predictor`` on labelled ``examples`` (a warm-up
    batch first), so teacher and student are compared on one set, one machine, one run."""
    head = predictor.head
    predictor.logits(list(examples)[:32])
    started = time.perf_counter()
    logits, rows = predictor.logits(examples)
    seconds = time.perf_counter() - started
    targets = [row["labels"] for row in rows]
    if rows and "word_ids" in rows[0]:  # pad per-token logits and labels to one length
        length = max(len(t) for t in targets)
        stacked = np.zeros((len(rows), length, np.shape(logits[0])[-1]), dtype=np.float32)
        labels = np.full((len(rows), length), -100)
        for i, (row_logits, row_labels) in enumerate(zip(logits, targets)):
            stacked[i, : len(row_logits)], labels[i, : len(row_labels)] = row_logits, row_labels
        metrics = head.metrics(stacked, labels)
    else:
        metrics = head.metrics(np.stack(logits), np.asarray(targets))
    return {**{k: round(float(v), 5) for k, v in metrics.items()},
            "texts_per_second": round(len(examples) / max(seconds, 1e-9), 1), "precision": predictor.precision}


@dataclass
class Teacher:
    """A registered fine-tuned model teaching one training run: loaded once, it labels the
    unlabelled text, gives the soft targets, and is measured beside the student at the end."""

    spec: str  # "name vN", as the registry records it
    path: Path
    predictor: Predictor
    distillation: Distillation
    kept_layers: list[int] | None = None  # the teacher's blocks a layer-cut student kept
    added: dict[str, int] = field(default_factory=dict)  # texts the teacher labelled for the student, by kind

    @property
    def head(self) -> TaskHead:
        return self.predictor.head

    @property
    def encoder(self) -> Any:
        from core.models import ModelSource

        return ModelSource(self.spec, self.path, "registered")

    def prepare(self, suite: Any, scenario: Any, head: TaskHead, examples: list[Any], start: str,
                scratch: Path, validation: Sequence[Any] = ()) -> tuple[str, list[Any], SoftTargets]:
        """Where the student starts (an encoder, or a layer-cut copy of the teacher written to
        ``scratch``), its training examples (``examples`` plus the teacher-labelled unlabelled
        text and perturbed copies) and the teacher's logits for each of them."""
        extra = self.unlabelled(suite, scenario)
        copies = perturbed(list(examples) + extra, self.distillation.augment)
        self.added = {"unlabelled_texts": len(extra), "perturbed_copies": len(copies)}
        extra += copies
        logits = teacher_logits(self.predictor, examples)
        if extra:  # one pass of the teacher gives their labels and soft targets
            outputs, rows = self.predictor.logits(extra)
            extra = pseudo_labelled(extra, self.predictor.decode(outputs, rows))
            logits += example_logits(outputs, rows)
        examples = list(examples) + extra
        soft = SoftTargets(logits, self.distillation.temperature, self.distillation.alpha)
        if self.distillation.student_layers:
            start = str(self.cut(head, scratch / "student-start", validation))
        if self.distillation.align_hidden:
            soft.alignment = self.alignment(start)
        return start, examples, soft

    def alignment(self, start: str) -> Alignment:
        """The teacher's blocks a student starting from ``start`` is matched to; a student of
        another width cannot be (its hidden states live in another space)."""
        from transformers import AutoConfig

        teacher = self.predictor.float_model
        student, own = AutoConfig.from_pretrained(start), _configs(teacher)[0]
        if getattr(student, "hidden_size", None) != getattr(own, "hidden_size", None):
            raise UsageError(f"--align-hidden: the student is {getattr(student, 'hidden_size', '?')} wide, the teacher "
                             f"{getattr(own, 'hidden_size', '?')}: hidden states align only at equal widths (use "
                             "--student-layers K, or an encoder as wide as the teacher)")
        mapped = self.kept_layers or layer_map(teacher, int(student.num_hidden_layers))
        return Alignment(teacher, list(mapped), float(self.distillation.align_hidden))

    def unlabelled(self, suite: Any, scenario: Any) -> list[Any]:
        """The ``--unlabelled`` texts as the scenario's examples (words for token heads)."""
        if not self.distillation.unlabelled:
            return []
        from core.cli.batch import read_texts
        from core.data.adapters import text_tokens
        from core.data.types import TextExample, TokenExample

        if self.distillation.unlabelled == STORED:
            stored = scenario.stored_texts(suite, STORED_LIMIT)
            if not stored:
                raise UsageError(f"--unlabelled {STORED}: the {scenario.name} scenario has no stored texts in this "
                                 "store (the monitor's items, the conversation log); give a file instead")
            texts = [TextExample(text) for text in stored]
        else:
            texts = read_texts(suite, self.distillation.unlabelled)
        if self.head.example_kind != "tokens":
            return texts
        return [TokenExample([t.text[a:b] for a, b in text_tokens(t.text)], line=t.line) for t in texts
                if text_tokens(t.text)]

    def cut(self, head: TaskHead, folder: Path, validation: Sequence[Any] = ()) -> Path:
        """The teacher's fine-tuned model with ``student_layers`` blocks kept (``--layers
        validation``: chosen on up to 500 ``validation`` examples), saved as a starting point
        the engine loads like any encoder (its head weights included)."""
        model = head.build_model(str(self.path))
        kept = int(self.distillation.student_layers or 0)
        chosen = None
        if self.distillation.layers == "validation" and validation:
            chosen = choose_layers(model, head, self.predictor.tokenizer, list(validation)[:500], kept,
                                   self.predictor.max_length)
        self.kept_layers = cut_layers(model, kept, chosen)
        folder.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(folder)
        self.predictor.tokenizer.save_pretrained(folder)
        return folder

    def compare(self, suite: Any, student: Path, examples: Sequence[Any]) -> dict[str, Any]:
        """Teacher and student on the same validation examples: metrics, texts/s, size."""
        from core.predictor import Predictor

        student_predictor = Predictor.load(student, suite.heads)
        return {
            "teacher": {"model": self.spec, **measure(self.predictor, examples), "size_mb": folder_mb(self.path)},
            "student": {**measure(student_predictor, examples), "size_mb": folder_mb(student)},
            "on": f"{len(examples)} validation examples",
            "unlabelled": self.distillation.unlabelled,
            "augment": self.distillation.augment,
            **self.added,
            **({"layers_kept": self.kept_layers, "layers_chosen_by": self.distillation.layers}
               if self.kept_layers is not None else {}),
        }
