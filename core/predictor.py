"""Load a fine-tuned model once and predict in batches: the one inference path of the suite.

Batches are sorted by length (little padding), run under ``torch.inference_mode`` and, where
the hardware supports it, bf16 autocast. Results come back in input order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer

from core.errors import ModelNotFoundError
from core.heads import TaskHead
from core.registry import Registry
from core.training.engine import use_bf16

HEAD_FILE = "suite_head.json"


def save_model(model: torch.nn.Module, tokenizer: Any, head: TaskHead, folder: Path, max_length: int) -> Path:
    """Weights, tokenizer and the head's state in one folder a :class:`Predictor` can load."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    state = head.state() | {"max_length": max_length}
    (folder / HEAD_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    return folder


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization of the linear layers (CPU)."""
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.float(), {torch.nn.Linear}, dtype=torch.qint8)


class Predictor:
    """``Predictor.load(path, heads).predict(examples)`` -> one dict per example."""

    def __init__(self, head: TaskHead, model: torch.nn.Module, tokenizer: Any, *, max_length: int = 128,
                 precision: str = "auto", batch_size: int = 64) -> None:
        self.head = head
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.bf16 = precision != "int8" and use_bf16(precision)
        if precision == "int8":
            self.model = quantize_int8(self.model)
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
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
        return cls(head, model, tokenizer, max_length=state.get("max_length", 128), **kwargs)

    def logits(self, examples: Sequence[Any]) -> tuple[np.ndarray | list[np.ndarray], list[dict[str, Any]]]:
        rows = self.head.features(self.tokenizer, examples, self.max_length)
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        outputs: list[np.ndarray | None] = [None] * len(rows)
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        with torch.inference_mode(), autocast:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                batch = self.collate([{k: v for k, v in rows[i].items() if k != "labels"} for i in chunk])
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch)["logits"].float().cpu().numpy()
                for position, index in enumerate(chunk):
                    outputs[index] = logits[position]
        return outputs, rows  # type: ignore[return-value]

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        """The words that drove the predicted label, by occlusion: how much the label's
        probability drops when each word is left out (one batched pass over all variants)."""
        from dataclasses import replace

        words = example.text.split()
        base = self.predict([example])[0]
        label = base.get("label")
        if label is None or len(words) < 2:
            return []
        variants = [replace(example, text=" ".join(words[:i] + words[i + 1 :]), label=None) for i in range(len(words))]
        drops = [base["score"] - p["scores"][label] for p in self.predict(variants)]
        ranked = sorted(range(len(words)), key=lambda i: -drops[i])[:top_k]
        return [{"token": words[i], "position": i, "weight": round(drops[i], 4)} for i in ranked]

    def predict(self, examples: Sequence[Any]) -> list[dict[str, Any]]:
        outputs, rows = self.logits(examples)
        results: list[dict[str, Any]] = []
        for logits, row in zip(outputs, rows):  # per example: token logits differ in length
            results.extend(self.head.decode(np.asarray(logits)[None, ...], [row]))
        return results
