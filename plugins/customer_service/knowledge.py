"""The knowledge base: FAQ pairs (YAML, CSV) and Markdown documents split by heading, searched
by meaning with a sentence-transformers encoder when the answer book has no answer.

FAQ YAML is a list (or ``faq:`` list) of ``{question, answer}``; FAQ CSV has ``question`` and
``answer`` columns; each Markdown section (a heading and the text under it) is one entry whose
title is the heading path (``Cards > Travelling abroad``). A folder means every such file in it.

A message is searched among the entries in its own script's language (a Chinese question among
the Chinese entries, any other among the rest; all of them when its language has none), so a
reply stays in one language. It is searched by meaning (the sentence encoder's cosine) when the
encoder reads it, and by its words otherwise (:mod:`.lexical`: TF-IDF over words, and character
bigrams of Chinese, Japanese and Korean), each with its own threshold.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from core import DataError
from plugins.customer_service import yamlnodes as yn
from plugins.customer_service.encoder import SentenceEncoder, cosine
from plugins.customer_service.language import Detection, detect_language
from plugins.customer_service.lexical import WordIndex

SUFFIXES = (".yml", ".yaml", ".csv", ".md", ".markdown")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
EMBED_CHARS = 600  # of a document section: the heading and its opening carry the meaning


@dataclass(frozen=True)
class Entry:
    title: str  # the FAQ question or the heading path
    answer: str
    source: str
    line: int

    @property
    def ref(self) -> str:
        return f"{Path(self.source).name}:{self.line}"

    @property
    def embed_text(self) -> str:
        if self.source.endswith((".md", ".markdown")):
            return f"{self.title.split(' > ')[-1]}. {self.answer}"[:EMBED_CHARS]
        return self.title


def load_entries(paths: list[Path], encoding: str = "utf-8") -> list[Entry]:
    """Every entry of the given files and folders, in a stable order."""
    entries: list[Entry] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.exists():
            files = [path]
        else:
            raise DataError(str(path), "no such file or folder", hint="check 'knowledge' in suite.toml [customer_service]")
        for file in files:
            entries.extend(read_file(file, encoding))
    return entries


def read_file(path: Path, encoding: str = "utf-8") -> list[Entry]:
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return _read_yaml(path, encoding)
    if suffix == ".csv":
        return _read_csv(path, encoding)
    if suffix in (".md", ".markdown"):
        return _read_markdown(path, encoding)
    raise DataError(str(path), f"unknown knowledge-base format '{suffix}' (expected {', '.join(SUFFIXES)})")


def _read_yaml(path: Path, encoding: str) -> list[Entry]:
    source = str(path)
    root = yn.compose(path, encoding)
    listing = yn.value(root, "faq") if isinstance(root, yaml.MappingNode) else root
    if not isinstance(listing, yaml.SequenceNode):
        raise DataError(source, "expected a list of {question, answer} (or 'faq:' with such a list)", field="faq")
    entries = []
    for node in listing.value:
        if not isinstance(node, yaml.MappingNode):
            raise DataError(source, "expected question: and answer:", line=yn.line(node))
        question = yn.text(yn.value(node, "question"), source, "question", where=node)
        answer = yn.text(yn.value(node, "answer"), source, "answer", where=node)
        entries.append(Entry(question, answer, source, yn.line(node)))
    return entries


def _read_csv(path: Path, encoding: str) -> list[Entry]:
    source = str(path)
    try:
        with path.open(encoding=encoding, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"question", "answer"} - set(reader.fieldnames or ())
            if missing:
                raise DataError(source, f"column '{sorted(missing)[0]}' not found (columns: {', '.join(reader.fieldnames or ()) or 'none'})",
                                line=1, field=sorted(missing)[0])
            entries = []
            for row in reader:
                line = reader.line_num
                for field in ("question", "answer"):
                    if not (row.get(field) or "").strip():
                        raise DataError(source, "empty text", line=line, field=field)
                entries.append(Entry(row["question"].strip(), row["answer"].strip(), source, line))
            return entries
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(source, f"cannot decode as {encoding}: {exc}") from None


def _read_markdown(path: Path, encoding: str) -> list[Entry]:
    """One entry per heading with text under it; headings inside code fences are text."""
    source = str(path)
    try:
        lines = path.read_text(encoding=encoding).splitlines()
    except (UnicodeDecodeError, LookupError) as exc:
        raise DataError(source, f"cannot decode as {encoding}: {exc}") from None
    entries: list[Entry] = []
    trail: list[tuple[int, str]] = []  # (level, heading) of the current section and its parents
    body: list[str] = []
    start = 1
    fenced = False

    def flush() -> None:
        text = "\n".join(body).strip()
        if trail and text:  # the document's own title (a lone top heading) is left out of the path
            path = trail[1:] if len(trail) > 1 and trail[0][0] == 1 else trail
            entries.append(Entry(" > ".join(h for _, h in path), text, source, start))

    for number, raw in enumerate(lines, 1):
        if FENCE.match(raw):
            fenced = not fenced
        match = None if fenced else HEADING.match(raw)
        if match is None:
            body.append(raw)
            continue
        flush()
        level = len(match.group(1))
        trail = [(lv, h) for lv, h in trail if lv < level] + [(level, match.group(2))]
        body, start = [], number
    flush()
    return entries


MEANING, WORDS = "meaning", "words"


@dataclass(frozen=True)
class Hit:
    entry: Entry
    similarity: float
    by: str = MEANING  # meaning (the encoder's cosine) or words (TF-IDF cosine)
    language: str | None = None  # the entry's, when its script shows one (zh, ja, ko)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.entry.title, "ref": self.entry.ref, "similarity": round(self.similarity, 4), "by": self.by}


class Retriever:
    """Entries embedded once (normalised) and indexed by their words; see the module docstring."""

    def __init__(self, entries: list[Entry], encoder: SentenceEncoder) -> None:
        self.entries = entries
        self.encoder = encoder
        self.matrix = encoder.embed([e.embed_text for e in entries]) if entries else np.zeros((0, 1), dtype=np.float32)
        # by words: the better of an entry's title (its question, or heading path) and its text,
        # so a long section is still found by the few words of its heading
        self.titles, self.texts = WordIndex([e.title for e in entries]), WordIndex([e.embed_text for e in entries])
        self.languages = [detect_language(f"{e.title}\n{e.answer}").language for e in entries]

    @classmethod
    def load(cls, paths: list[Path], encoder: SentenceEncoder) -> Retriever:
        return cls(load_entries(paths), encoder)

    def search(self, text: str, k: int, vector: np.ndarray | None = None, *, detected: Detection | None = None) -> list[Hit]:
        """The ``k`` closest entries in ``text``'s language, by meaning or by words (each hit says
        which); ``vector`` is ``text`` already embedded by this encoder, ``detected`` its
        :func:`~.language.detect_language` when the caller has it."""
        if not self.entries:
            return []
        language = (detected or detect_language(text)).language
        same = np.array([lang == language for lang in self.languages])
        by = MEANING if self.encoder.reads(text, language) else WORDS
        if by == MEANING:
            scores = cosine((self.encoder.embed([text]) if vector is None else vector[None]), self.matrix)[0]
        else:
            scores = np.maximum(self.titles.scores(text), self.texts.scores(text))
        if same.any():
            scores = np.where(same, scores, -np.inf)
        top = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if np.isfinite(scores[i])]
        return [Hit(self.entries[i], float(scores[i]), by, self.languages[i]) for i in top]
