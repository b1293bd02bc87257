"""Writing the parts of a Hugging Face / sentence-transformers folder that need no transformers import.

``model.safetensors`` is streamed tensor by tensor (chunk by chunk for the embedding), so
converting a 450 MB model never holds it twice in memory, as ``safetensors.numpy.save_file``
would (it copies every array to bytes first).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TensorPlan:
    """A float32 tensor to write: its name, shape and a callable yielding its rows in order."""

    name: str
    shape: tuple[int, ...]
    chunks: Callable[[], Iterator[np.ndarray]]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * 4


def write_safetensors(path: Path, plans: Iterable[TensorPlan], metadata: dict[str, str] | None = None) -> int:
    """Write ``plans`` as one float32 safetensors file; returns the number of parameters."""
    ordered = sorted(plans, key=lambda plan: plan.name)
    header: dict[str, Any] = {"__metadata__": {"format": "pt", **(metadata or {})}}
    offset = 0
    for plan in ordered:
        header[plan.name] = {"dtype": "F32", "shape": list(plan.shape), "data_offsets": [offset, offset + plan.nbytes]}
        offset += plan.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)))
        handle.write(encoded)
        for plan in ordered:
            written = 0
            for chunk in plan.chunks():
                array = np.ascontiguousarray(chunk, dtype="<f4")
                handle.write(memoryview(array).cast("B"))
                written += array.nbytes
            if written != plan.nbytes:
                raise ValueError(f"{plan.name}: wrote {written} bytes, expected {plan.nbytes}")
    return sum(math.prod(plan.shape) for plan in ordered)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_sentence_transformers_files(
    folder: Path, *, dimension: int, max_seq_length: int, prompts: dict[str, str], normalize: bool = True
) -> None:
    """modules.json, mean pooling and the prompts, so ``SentenceTransformer(folder)`` embeds as
    the model was trained: mean of the token vectors, then (``normalize``) unit length. The
    checkpoint has no BERT pooler, so sentence-transformers is told not to build one."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    write_json(folder / "modules.json", modules)
    write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": dimension,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    write_json(
        folder / "sentence_bert_config.json",
        {"max_seq_length": max_seq_length, "do_lower_case": False, "model_args": {"add_pooling_layer": False}},
    )
    write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": prompts, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )
