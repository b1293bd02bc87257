"""Input and output of batch verbs (``suite run SCENARIO --input F [--output O]``), so every
scenario reads texts and writes JSON Lines the same way."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from core.data.adapters import read_text, split_lines
from core.data.loading import load_text_examples
from core.data.types import ColumnMapping, ReadOptions, TextExample

if TYPE_CHECKING:
    from core.app import Suite

OutputFile = Annotated[
    Optional[Path], typer.Option("--output", "-o", help="Write the JSON Lines here (default: stdout).")
]
LINE_SUFFIXES = (".txt", ".text")


def read_texts(
    suite: Suite, source: str, *, text_column: str = "text", fmt: str | None = None, encoding: str = "utf-8"
) -> list[TextExample]:
    """One text per non-blank line of a ``.txt`` file or of stdin (``-``); any other source
    (JSONL, CSV, SQL) through the data adapters, reading ``text_column``."""
    if source == "-":
        return _lines(sys.stdin.read())
    if fmt is None and Path(source).suffix.lower() in LINE_SUFFIXES:
        return _lines(read_text(source, encoding))
    mapping = ColumnMapping(text=text_column, label=None)
    return load_text_examples(source, suite.adapters, mapping, ReadOptions(encoding=encoding), format=fmt).examples


def _lines(text: str) -> list[TextExample]:
    return [TextExample(line.strip(), line=number) for number, line in split_lines(text) if line.strip()]


def write_jsonl(rows: Iterable[dict[str, Any]], output: Path | None) -> int:
    """Each row as one JSON line, to ``output`` or stdout (data on stdout, as ``--json``); the
    count. A file is written beside ``output`` and renamed over it at the end, so a failure
    half-way leaves the previous file (or none), never half of the new one."""
    if output is None:
        count = _write(rows, sys.stdout)
        sys.stdout.flush()
        return count
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            count = _write(rows, handle)
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return count


def _write(rows: Iterable[dict[str, Any]], handle: Any) -> int:
    count = 0
    for row in rows:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count
