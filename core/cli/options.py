"""Reusable typed CLI options, so every scenario spells data options the same way.

Scenario authors annotate their verb parameters with these::

    def train(self, suite, train: options.TrainFile, text_column: options.TextColumn = "text"): ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from core.data.loading import parse_label_map
from core.data.types import ColumnMapping, OnError, ReadOptions

TrainFile = Annotated[str, typer.Option("--train", help="Training data: a file or a SQLAlchemy URL.")]
EvalFile = Annotated[Optional[str], typer.Option("--eval", help="Validation data (default: a split of --train).")]
DataFile = Annotated[str, typer.Option("--data", help="Data to read: a file or a SQLAlchemy URL.")]
InputFile = Annotated[Optional[str], typer.Option("--input", "-i", help="Read inputs from this file.")]
Format = Annotated[Optional[str], typer.Option("--format", help="Adapter name; default: from the file suffix.")]
TextColumn = Annotated[str, typer.Option("--text-column", help="Field holding the text.")]
TextPairColumn = Annotated[Optional[str], typer.Option("--text-pair-column", help="Field holding the second text of a pair.")]
LabelColumn = Annotated[str, typer.Option("--label-column", help="Field holding the label.")]
LabelMap = Annotated[Optional[str], typer.Option("--label-map", help="Rename labels: 0=negative,1=positive.")]
Encoding = Annotated[str, typer.Option("--encoding", help="File encoding, e.g. utf-8 or latin-1.")]
Table = Annotated[Optional[str], typer.Option("--table", help="SQL sources: the table to read.")]
Query = Annotated[Optional[str], typer.Option("--query", help="SQL sources: the query to run.")]
OnErrorOption = Annotated[
    str, typer.Option("--on-error", help="raise: stop at the first bad line; skip: skip it and write a report.")
]
ReportFile = Annotated[Optional[Path], typer.Option("--error-report", help="Where --on-error skip writes skipped lines.")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the last unfinished run of this model from its checkpoint.")]
ModelOption = Annotated[
    Optional[str], typer.Option("--model", "-m", help="Encoder: HF id, folder or registered name; default: packaged.")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ExplainFlag = Annotated[bool, typer.Option(
    "--explain", help="Add the words that drove each decision: [{word, start, end, weight}].")]
ExplanationsFlag = Annotated[bool, typer.Option(
    "--explanations", help="Also measure how faithful each explanation method is (comprehensiveness, sufficiency, "
    "time) on a sample, and record the method chosen with the model.")]
ExplainSample = Annotated[int, typer.Option(
    "--explain-sample", min=1, help="--explanations: texts measured (a seeded random sample of --data).")]


def column_mapping(
    text_column: str = "text",
    label_column: str | None = "label",
    *,
    text_pair_column: str | None = None,
    label_map: str | None = None,
) -> ColumnMapping:
    return ColumnMapping(
        text=text_column,
        label=label_column,
        text_pair=text_pair_column,
        label_map=parse_label_map(label_map) if label_map else {},
    )


def read_options(encoding: str = "utf-8", table: str | None = None, query: str | None = None) -> ReadOptions:
    return ReadOptions(encoding=encoding, table=table, query=query)


def on_error_mode(value: str) -> OnError:
    if value not in ("raise", "skip"):
        raise typer.BadParameter(f"expected 'raise' or 'skip', got '{value}'", param_hint="--on-error")
    return value  # type: ignore[return-value]


def error_report_path(home: Path, source: str, given: Path | None) -> Path:
    """Where ``--on-error skip`` writes skipped lines: the given path, else under SUITE_HOME."""
    if given is not None:
        return given
    stem = Path(source.split("?")[0]).stem or "data"
    return home / "reports" / f"{stem}.skipped.jsonl"
