"""The sentence encoder the knowledge base and the familiarity index read messages with.

One encoder per service: a message is embedded once and the same vector is searched in the
knowledge base and compared with the intent model's training texts.

An encoder trained on English (the packaged all-MiniLM-L6-v2) cannot read Chinese: most
characters are its unknown token, and ``我的银行卡丢了`` lands closer to an unrelated Chinese FAQ
than English texts ever come to each other. :meth:`SentenceEncoder.reads` says when its vectors
are worth searching, so the knowledge base can search such a message by its words instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from plugins.customer_service.language import is_cjk_language

DEFAULT = "default"  # the packaged model, wherever this installation keeps it
UNKNOWN_MAX = 0.1  # share of a message's tokens an encoder may not know and still be said to read it


@dataclass
class SentenceEncoder:
    """A sentence-transformers model that returns L2-normalised float32 vectors."""

    model: Any
    spec: str  # as configured: a folder, a catalogue name, a Hugging Face id, or "default"
    precision: str  # int8 or fp32
    languages: frozenset[str] | None = None  # the ones its catalogue entry lists; None: not listed, or many

    @classmethod
    def load(cls, spec: str | None, *, precision: str = "int8") -> SentenceEncoder:
        """``spec`` None or "default" is the packaged model; a catalogue name (``suite models
        install``) its installed folder. ``int8`` quantizes the linear layers (CPU): one query
        embeds in about two thirds of the time, and similarities move by about 0.02."""
        from sentence_transformers import SentenceTransformer

        from core.models import resolve_model

        spec = spec or DEFAULT
        source = resolve_model(spec, offline=True)
        model = SentenceTransformer(str(source.path), device="cpu", local_files_only=True)
        if precision == "int8":
            from core.predictor import quantize_int8

            model = quantize_int8(model)
        return cls(model, spec, precision, declared_languages(source.path, packaged=source.kind == "packaged"))

    def reads(self, text: str, language: str | None) -> bool:
        """Whether this encoder's vector of ``text`` means something. ``language`` is the one its
        script shows (:func:`~.language.detect_language`); None (Latin and other scripts) is
        taken as read, as before. A CJK language is read when the catalogue lists it for this
        model, or, when the catalogue lists nothing, when the tokenizer knows at least nine in
        ten of the text's tokens (an English vocabulary maps most Chinese characters to its
        unknown token)."""
        if not is_cjk_language(language):
            return True
        if self.languages is not None:
            return language.split("-")[0].split("_")[0].lower() in self.languages  # type: ignore[union-attr]
        return self.unknown_share(text) <= UNKNOWN_MAX

    def unknown_share(self, text: str) -> float:
        """Share of ``text``'s tokens that are the tokenizer's unknown token."""
        tokenizer = getattr(self.model, "tokenizer", None)
        unknown = getattr(tokenizer, "unk_token_id", None)
        if tokenizer is None or unknown is None:
            return 0.0
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids.count(unknown) / len(ids) if ids else 0.0

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                    show_progress_bar=progress)
        return np.asarray(vectors, dtype=np.float32)


def declared_languages(folder: Path, *, packaged: bool = False) -> frozenset[str] | None:
    """The languages the catalogue lists for the model in ``folder``, when it lists them by code
    (``en``); None for a folder the catalogue did not install, or a model of many languages
    (``~100 incl. zh, en``), whose tokenizer then decides (:meth:`SentenceEncoder.reads`)."""
    from core.catalogue.entries import CATALOGUE, find_entry
    from core.catalogue.status import read_record

    name = next((e.name for e in CATALOGUE if e.builder == "packaged"), None) if packaged else read_record(folder).get("name")
    entry = find_entry(str(name)) if name else None
    if entry is None or not re.fullmatch(r"[a-z]{2,3}(,\s*[a-z]{2,3})*", entry.languages.strip()):
        return None
    return frozenset(code.strip() for code in entry.languages.split(","))


def cosine(queries: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``queries @ vectors.T`` for normalised rows, in torch rather than numpy: numpy's BLAS
    threads spin after a product and starve the encoders' threads on the next message
    (measured with 15,000 vectors: reply p95 127 ms with numpy, 22 ms with torch)."""
    import torch

    with torch.inference_mode():
        product = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)) @ torch.from_numpy(
            np.ascontiguousarray(vectors, dtype=np.float32)).T
    return product.numpy()
