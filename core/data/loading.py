"""Records to examples: the one place that validates data, so every scenario and command
reports a bad line the same way (``file:line: field 'x': reason``) and skips it the same way.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from core.data.adapters import redact_source
from core.data.base import DataAdapter
from core.data.types import (
    BadRecord,
    ColumnMapping,
    LoadResult,
    OnError,
    ReadOptions,
    Record,
    TextExample,
    TokenExample,
)
from core.errors import DataError, UsageError
from core.registry import Registry
from core.streams import has_lone_surrogate

Kind = Literal["rows", "tokens"]

MAX_LISTED_LABELS = 10
_KIND_NEEDS = {"rows": "rows of text and labels", "tokens": "token-tagged sentences"}
_COLUMN_OPTIONS = {
    "text": "--text-column",
    "label": "--label-column",
    "text_pair": "--text-pair-column",
    "id": "--id-column",
}
_SKIP_HINT = "fix the data, or pass --on-error skip to skip bad items and write a report"


# --------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------


def parse_label_map(spec: str) -> dict[str, str]:
    """``"0=negative,1=positive"`` as ``{"0": "negative", "1": "positive"}``."""
    malformed = UsageError(f"--label-map: expected FROM=TO[,FROM=TO...], got '{spec}'")
    mapping: dict[str, str] = {}
    for part in spec.split(","):
        raw, sep, new = (s.strip() for s in part.partition("="))
        if not sep or not raw or not new or "=" in new:
            raise malformed
        if raw in mapping:
            raise UsageError(f"--label-map: '{raw}' is mapped twice in '{spec}'")
        mapping[raw] = new
    return mapping


def resolve_adapter(source: str, adapters: Registry[DataAdapter], format: str | None = None) -> DataAdapter:
    """The adapter named by ``format``, else the first one that says it reads ``source``, else
    the first that recognises its content (CoNLL named ``weiboNER_2nd_conll.train``)."""
    if format:
        return adapters.get(format)
    for adapter in adapters:
        if adapter.can_read(source):
            return adapter
    if "://" not in source and not Path(source).exists():
        raise UsageError(f"{source}: no such file or folder")
    for adapter in adapters:
        if adapter.recognises(source):
            return adapter
    known = ", ".join(_describe(a) for a in sorted(adapters, key=lambda a: a.name)) or "none installed"
    raise UsageError(
        f"{redact_source(source)}: cannot tell the data format (known formats: {known})", hint="pass --format NAME"
    )


def _describe(adapter: DataAdapter) -> str:
    return f"{adapter.name} ({', '.join(adapter.suffixes)})" if adapter.suffixes else adapter.name


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def load_text_examples(
    source: str,
    adapters: Registry[DataAdapter],
    mapping: ColumnMapping,
    options: ReadOptions | None = None,
    *,
    format: str | None = None,
    on_error: OnError | None = "raise",
    report_path: Path | str | None = None,
) -> LoadResult:
    """Read ``source`` with a ``rows`` adapter into :class:`TextExample` items per ``mapping``."""
    outcome = _Outcome(source, on_error, report_path)
    adapter = _adapter_of_kind(source, adapters, format, "rows")
    checked = False
    for item in _items(adapter, source, options):
        if isinstance(item, Record) and not checked:
            _check_columns(item, mapping)
            checked = True
        outcome.add(item if isinstance(item, BadRecord) else text_example(item, mapping))
    return outcome.finish()


def load_token_examples(
    source: str,
    adapters: Registry[DataAdapter],
    options: ReadOptions | None = None,
    *,
    labels: frozenset[str] | None = None,
    format: str | None = None,
    on_error: OnError | None = "raise",
    report_path: Path | str | None = None,
) -> LoadResult:
    """Read ``source`` with a ``tokens`` adapter into :class:`TokenExample` items; with
    ``labels``, any other tag is an error."""
    outcome = _Outcome(source, on_error, report_path)
    adapter = _adapter_of_kind(source, adapters, format, "tokens")
    for item in _items(adapter, source, options):
        outcome.add(item if isinstance(item, BadRecord) else token_example(item, labels))
    return outcome.finish()


def _adapter_of_kind(source: str, adapters: Registry[DataAdapter], format: str | None, kind: Kind) -> DataAdapter:
    if format is None:  # the content decides when the name points elsewhere (CoNLL-2003 ships as train.txt)
        recognised = next((a for a in adapters if a.kind == kind and a.recognises(source)), None)
        if recognised is not None and not any(a.kind == kind and a.can_read(source) for a in adapters):
            return recognised
    adapter = resolve_adapter(source, adapters, format)
    if adapter.kind != kind:
        fitting = [a.name for a in adapters if a.kind == kind]
        raise UsageError(
            f"{redact_source(source)}: format '{adapter.name}' reads {_KIND_NEEDS[adapter.kind]}, "
            f"but this needs {_KIND_NEEDS[kind]}",
            hint=f"pass data in one of these formats: {', '.join(sorted(fitting)) or 'none installed'}",
        )
    return adapter


def _items(adapter: DataAdapter, source: str, options: ReadOptions | None) -> Iterator[Record | BadRecord]:
    """The adapter's items, closing its generator (a database connection) when we stop early."""
    items = adapter.read(source, options or ReadOptions())
    try:
        yield from items
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


class _Invalid(Exception):
    """Why a record cannot become an example; turned into a BadRecord where the record is known."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def text_example(record: Record, mapping: ColumnMapping) -> TextExample | BadRecord:
    """``record`` as a text example, or why it cannot be one."""
    fields = record.fields
    try:
        return TextExample(
            text=_required_text(fields, mapping.text),
            label=_label(fields.get(mapping.label), mapping) if mapping.label else None,
            text_pair=_required_text(fields, mapping.text_pair) if mapping.text_pair else None,
            id=_as_str(fields.get(mapping.id)) if mapping.id else None,
            line=record.line,
            extras={name: fields[name] for name in mapping.extras if fields.get(name) not in (None, "")},
        )
    except _Invalid as exc:
        return _bad(record, exc)


def token_example(record: Record, labels: frozenset[str] | None) -> TokenExample | BadRecord:
    """``record`` as a tagged sentence, or why it cannot be one."""
    try:
        tokens = [str(t) for t in record.fields.get("tokens") or ()]
        tags = record.fields.get("tags")
        if not tokens:
            raise _Invalid(None, "empty sentence")
        if tags is None:
            return TokenExample(tokens=tokens, line=record.line)
        tags = [str(t) for t in tags]
        if len(tags) != len(tokens):
            raise _Invalid(None, f"{len(tokens)} tokens but {len(tags)} tags")
        for token, tag in zip(tokens, tags):
            if labels is not None and tag not in labels:
                raise _Invalid(None, unknown("tag", tag, labels) + f" on token '{token}'")
        return TokenExample(tokens=tokens, tags=tags, line=record.line)
    except _Invalid as exc:
        return _bad(record, exc)


def _bad(record: Record, exc: _Invalid) -> BadRecord:
    raw = json.dumps(record.fields, ensure_ascii=False, default=str)
    return BadRecord(record.source, record.line, exc.field, exc.reason, raw=raw)


def _required_text(fields: dict[str, Any], column: str) -> str:
    value = _as_str(fields.get(column))
    if not value or not value.strip():
        raise _Invalid(column, "empty text")
    if has_lone_surrogate(value):
        raise _Invalid(column, "not valid text (a lone surrogate, e.g. a \\ud800 escape)")
    return value


def _label(value: Any, mapping: ColumnMapping) -> str | list[str]:
    """The label after ``label_map``; a list for multi-label data (a separator or a JSON list)."""
    parts = _label_parts(value, mapping.label_separator)
    if not parts:
        raise _Invalid(mapping.label, "empty label")
    if any(has_lone_surrogate(part) for part in parts):
        raise _Invalid(mapping.label, "not valid text (a lone surrogate, e.g. a \\ud800 escape)")
    mapped = list(dict.fromkeys(mapping.label_map.get(p, p) for p in parts))
    allowed = _allowed_labels(mapping)
    for name in mapped:
        if allowed is not None and name not in allowed:
            raise _Invalid(mapping.label, unknown("label", name, allowed))
    multi = isinstance(value, list) or mapping.label_separator is not None
    return mapped if multi else mapped[0]


def _label_parts(value: Any, separator: str | None) -> list[str]:
    parts: list[str] = []
    for v in value if isinstance(value, list) else [value]:
        text = _as_str(v) or ""
        parts.extend(text.split(separator) if separator else [text])
    return [p.strip() for p in parts if p.strip()]


def _allowed_labels(mapping: ColumnMapping) -> set[str] | None:
    """Labels a row may have, or None when any label goes (no map and no label set)."""
    if not mapping.label_map and mapping.labels is None:
        return None
    return set(mapping.label_map.values()) | set(mapping.labels or ())


def unknown(what: str, name: str, known: Iterable[str]) -> str:
    """``unknown label 'x' (known: a, b, ...)``, listing at most a handful of names."""
    names = sorted(known)
    listed = ", ".join(names[:MAX_LISTED_LABELS])
    if len(names) > MAX_LISTED_LABELS:
        listed += f", ... ({len(names) - MAX_LISTED_LABELS} more)"
    return f"unknown {what} '{name}' (known: {listed or 'none'})"


def _check_columns(record: Record, mapping: ColumnMapping) -> None:
    """Fail once for a misnamed column instead of reporting every row as bad."""
    wanted = {"text": mapping.text, "label": mapping.label, "text_pair": mapping.text_pair, "id": mapping.id}
    for role, column in wanted.items():
        if column and column not in record.fields:
            columns = ", ".join(map(str, record.fields)) or "none"
            raise DataError(
                record.source,
                f"column '{column}' not found (columns: {columns})",
                line=record.line,
                field=column,
                hint=f"choose the column with {_COLUMN_OPTIONS[role]} NAME",
            )


def _as_str(value: Any) -> str | None:
    """A cell as text: JSON numbers and database values become their string form."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


# --------------------------------------------------------------------------------------
# Errors and the skip report
# --------------------------------------------------------------------------------------


class _Outcome:
    """Examples kept and items skipped; raises at the first bad item unless skipping."""

    def __init__(self, source: str, on_error: OnError | None, report_path: Path | str | None) -> None:
        self.skippable = on_error is not None  # None: the command offers no --on-error, so no hint of it
        on_error = on_error or "raise"
        if on_error not in ("raise", "skip"):
            raise UsageError(f"--on-error: expected 'raise' or 'skip', got '{on_error}'")
        if on_error == "skip" and report_path is None:
            raise UsageError(
                "--on-error skip needs a report file for the skipped items", hint="pass --error-report PATH"
            )
        self.source = redact_source(source)
        self.on_error = on_error
        self.report_path = Path(report_path) if report_path is not None else None
        self.examples: list[TextExample | TokenExample] = []
        self.skipped: list[BadRecord] = []

    def add(self, item: TextExample | TokenExample | BadRecord) -> None:
        if not isinstance(item, BadRecord):
            self.examples.append(item)
        elif self.on_error == "raise":
            raise DataError(item.source, item.reason, line=item.line, field=item.field,
                            hint=_SKIP_HINT if self.skippable else "fix the data")
        else:
            self.skipped.append(item)

    def finish(self) -> LoadResult:
        if self.report_path is not None:
            write_report(self.report_path, self.skipped)
        if not self.examples:
            hint = f"{len(self.skipped)} item(s) skipped; see {self.report_path}" if self.skipped else None
            raise DataError(self.source, "no usable examples", hint=hint)
        report = str(self.report_path) if self.report_path is not None else None
        return LoadResult(self.source, self.examples, self.skipped, report)


def write_report(path: Path, skipped: list[BadRecord]) -> None:
    """Write skipped items as JSON Lines, atomically so a reader never sees half a report."""
    lines = (
        json.dumps(
            {"source": b.source, "line": b.line, "field": b.field, "reason": b.reason, "raw": b.raw},
            ensure_ascii=False,
        )
        + "\n"
        for b in skipped
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.writelines(lines)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write the error report {path}: {exc.strerror or exc}") from None
