"""Load a fine-tuned model once and predict in batches: the one inference path of the suite.

Batches are sorted by length (little padding), run under ``torch.inference_mode`` and, where
the hardware supports it, bf16 autocast. Results come back in input order.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer

from core.errors import ModelNotFoundError, UsageError
from core.heads import STATE_FILE as HEAD_FILE
from core.heads import TaskHead
from core.registry import Registry
from core.streams import has_lone_surrogate
from core.training.engine import use_bf16


PRECISIONS = ("auto", "bf16", "fp32", "int8")
# A faster precision may cost at most 0.3 points of the head's metric, or one example where the
# held-out set is too small to tell 0.3 points (under 334 examples: PhraseBank's 226 validation
# sentences moved 0.44 points with one sentence, which ruled out bf16 and int8 by noise alone).
PRECISION_TOLERANCE = 0.003
# Padded sub-tokens per batch on the CPU: long texts go in smaller batches, so one long text pads
# fewer short ones. bench/batching.py: 1.2-1.5x the texts/s of 64-row batches in calls of 128
# texts (the monitor's batch), 0.9-1.1x on 1,024 at once, 2 cores.
CPU_BATCH_TOKENS = 1024


def save_model(model: torch.nn.Module, tokenizer: Any, head: TaskHead, folder: Path, max_length: int,
               *, inference: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Weights, tokenizer and the head's state in one folder a :class:`Predictor` can load;
    ``inference`` is the precision chosen by :func:`choose_precision`, ``extra`` what else the
    trainer records (the encoder and its languages)."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    state = (head.state() | {"max_length": max_length} | ({"inference": inference} if inference else {})
             | (extra or {}))
    (folder / HEAD_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    return folder


def record_with_model(folder: Path, key: str, value: Any) -> None:
    """Add ``key`` to a saved model's head state (e.g. the explanation method measured for
    it), replacing the file in one step."""
    from core.files import write_text_atomic

    state_file = folder / HEAD_FILE
    state = json.loads(state_file.read_text(encoding="utf-8"))
    write_text_atomic(state_file, json.dumps(state | {key: value}, indent=2))


class _InputGradient(torch.autograd.Function):
    """An int8 linear layer's output, with the gradient of its input taken through the
    dequantized weight (kept once, in bf16 where the CPU computes in bf16)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, layer: Int8Linear) -> torch.Tensor:  # type: ignore[override]
        ctx.layer = layer
        return layer.quantized_forward(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        weight = ctx.layer.backward_weight()
        return (grad.to(weight.dtype) @ weight).to(grad.dtype), None


class Int8Linear(torch.ao.nn.quantized.dynamic.Linear):
    """A dynamically quantized linear layer that also passes gradients to its input, so the
    gradient explanation runs on the int8 model that predicts, in the prediction's own pass
    (:meth:`Predictor.predict_explained`). Without a gradient to pass it is the stock layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _InputGradient.apply(x, self)
        return super().forward(x)

    def quantized_forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x)

    def backward_weight(self) -> torch.Tensor:
        weight = getattr(self, "_backward_weight", None)
        if weight is None:
            from core.devices import cpu_bf16_supported

            dtype = torch.bfloat16 if cpu_bf16_supported() else torch.float32
            weight = self._backward_weight = self.weight().dequantize().to(dtype)
        return weight


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers (CPU), per output channel: measured on
    Banking77 it keeps accuracy within 0.2 points where per-tensor scales lost 0.6."""
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(copy.deepcopy(model).float(), {torch.nn.Linear: per_channel_dynamic_qconfig},
                                mapping={torch.nn.Linear: Int8Linear})


def choose_precision(head: TaskHead, model: torch.nn.Module, tokenizer: Any, examples: Sequence[Any],
                     max_length: int, *, limit: int = 1000) -> dict[str, Any] | None:
    """Measure fp32, bf16 (where supported) and int8 on held-out examples and keep the fastest
    whose metric is within :data:`PRECISION_TOLERANCE` (or one example's share) of fp32. None
    for heads whose outputs vary in shape (token tagging) or that have no metric: they use bf16
    where supported."""
    from core.devices import detect_device

    examples = list(examples)[:limit]
    if head.primary_metric == "loss" or head.example_kind != "text" or not examples or torch.cuda.is_available():
        return None
    targets = np.asarray([row["labels"] for row in head.features(tokenizer, examples, max_length)])
    candidates = ["fp32", "int8"] + (["bf16"] if detect_device().bf16_supported else [])
    measured: dict[str, dict[str, float]] = {}
    metrics: dict[str, float] = {}
    for precision in candidates:
        predictor = Predictor(head, model, tokenizer, max_length=max_length, precision=precision)
        predictor.logits(examples[:64])  # warm-up
        started = time.perf_counter()
        logits, _ = predictor.logits(examples)
        seconds = time.perf_counter() - started
        metrics[precision] = float(head.metrics(np.stack(logits), targets)[head.primary_metric])
        measured[precision] = {head.primary_metric: round(metrics[precision], 5),
                               "texts_per_second": round(len(examples) / seconds, 1)}
    tolerance = max(PRECISION_TOLERANCE, 1 / len(examples))
    fine = [p for p in candidates if metrics[p] >= metrics["fp32"] - tolerance - 1e-9]
    best = max(fine, key=lambda p: measured[p]["texts_per_second"])
    return {"precision": best, "measured_on": len(examples), "tolerance": round(tolerance, 5), "measured": measured}


def token_batches(lengths: Sequence[int], rows: int, tokens: int = 0) -> Iterator[list[int]]:
    """Indices of ``lengths`` sorted by length, cut into batches of at most ``rows`` items and,
    with ``tokens``, at most that many padded tokens (one longer item still gets a batch)."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    chunk: list[int] = []
    for index in order:
        if chunk and (len(chunk) == rows or (tokens and (len(chunk) + 1) * lengths[index] > tokens)):
            yield chunk
            chunk = []
        chunk.append(index)
    if chunk:
        yield chunk


class Predictor:
    """``Predictor.load(path, heads).predict(examples)`` -> one dict per example."""

    def __init__(self, head: TaskHead, model: torch.nn.Module, tokenizer: Any, *, max_length: int = 128,
                 precision: str = "auto", batch_size: int = 64, batch_tokens: int | None = None,
                 explain_method: str = "occlusion") -> None:
        self.precision = precision
        self.head = head
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.bf16 = precision != "int8" and use_bf16(precision)
        self.float_model = self.model  # gradients (integrated gradients) need the unquantized model
        self.folder: Path | None = None  # where it was loaded from (Predictor.load)
        self.explain_method = explain_method
        if precision == "int8":
            self.model = quantize_int8(self.model)
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        if batch_tokens is None:  # a GPU is fastest with full batches (0: rows only)
            batch_tokens = 0 if self.device.type == "cuda" else CPU_BATCH_TOKENS
        self.batch_tokens = batch_tokens
        self.collate = head.collate(tokenizer)

    @classmethod
    def load(cls, folder: str | Path, heads: Registry[type[TaskHead]], **kwargs: Any) -> Predictor:
        folder = Path(folder)
        state_file = folder / HEAD_FILE
        if not state_file.is_file():
            raise ModelNotFoundError(f"{folder}: not a fine-tuned suite model (no {HEAD_FILE})")
        state = json.loads(state_file.read_text(encoding="utf-8"))
        head = heads.get(state["head"])(state["labels"], **state.get("options", {}))
        model = head.build_model(str(folder))
        if torch.cuda.is_available():
            model = model.to("cuda")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        if kwargs.get("precision", "auto") == "auto":  # what was measured fastest within tolerance
            kwargs["precision"] = state.get("inference", {}).get("precision", "auto")
        # the explanation method measured most faithful for its speed (suite evaluate --explanations)
        kwargs.setdefault("explain_method", (state.get("explanation") or {}).get("method", "occlusion"))
        predictor = cls(head, model, tokenizer, max_length=state.get("max_length", 128), **kwargs)
        predictor.folder = folder
        return predictor

    def features(self, examples: Sequence[Any]) -> list[dict[str, Any]]:
        """The head's model inputs for ``examples`` (a text that is not valid text is refused)."""
        for number, example in enumerate(examples, start=1):
            if any(isinstance(t, str) and has_lone_surrogate(t) for t in (getattr(example, "text", None), getattr(example, "text_pair", None))):
                raise UsageError(f"text {number}: not valid text (a lone surrogate: invalid UTF-8 or a \\ud800 escape)")
        return self.head.features(self.tokenizer, examples, self.max_length) if examples else []

    def batches(self, rows: Sequence[dict[str, Any]]) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        """Length-sorted batches of ``rows`` (little padding): their indices and model inputs."""
        for chunk in token_batches([len(row["input_ids"]) for row in rows], self.batch_size, self.batch_tokens):
            batch = self.collate([{k: v for k, v in rows[i].items() if k != "labels"} for i in chunk])
            yield chunk, {k: v.to(self.device) for k, v in batch.items()}

    def autocast(self) -> Any:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def logits(self, examples: Sequence[Any]) -> tuple[np.ndarray | list[np.ndarray], list[dict[str, Any]]]:
        rows = self.features(examples)
        outputs: list[np.ndarray | None] = [None] * len(rows)
        with torch.inference_mode(), self.autocast():
            for chunk, batch in self.batches(rows):
                logits = self.model(**batch)["logits"].float().cpu().numpy()
                for position, index in enumerate(chunk):
                    outputs[index] = logits[position]
        return outputs, rows  # type: ignore[return-value]

    def explain(self, example: Any, top_k: int = 5, method: str | None = None) -> list[dict[str, Any]]:
        """The words that drove the predicted label (:class:`core.explain.Explainer`), by the
        method recorded with the model (occlusion unless measured otherwise) or ``method``."""
        from core.explain import Explainer

        return Explainer(self, method or self.explain_method).explain(example, top_k=top_k)

    def explain_many(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]] | None = None,
                     top_k: int = 5) -> list[list[dict[str, Any]]]:
        """:meth:`explain` for many examples at once (occlusion batches all their variants)."""
        from core.explain import Explainer

        return Explainer(self, self.explain_method).explain_many(examples, predictions, top_k=top_k)

    def predict_explained(self, examples: Sequence[Any], top_k: int = 5) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        """:meth:`predict` and :meth:`explain_many` together; with the gradient method, in one
        pass (the prediction's forward pass, then a backward pass through the upper layers)."""
        from core.explain import Explainer

        return Explainer(self, self.explain_method).predict_explained(examples, top_k=top_k)

    def predict(self, examples: Sequence[Any]) -> list[dict[str, Any]]:
        outputs, rows = self.logits(examples)
        return self.decode(outputs, rows)

    def decode(self, outputs: Sequence[np.ndarray], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """The head's answers for the model's outputs, one per row."""
        if outputs and all(np.shape(o) == np.shape(outputs[0]) for o in outputs):
            return self.head.decode(np.stack(outputs), rows)  # one vectorised decode
        results: list[dict[str, Any]] = []
        for logits, row in zip(outputs, rows):  # token logits differ in length per example
            results.extend(self.head.decode(np.asarray(logits)[None, ...], [row]))
        return results
