"""The built-in data adapters: CSV/TSV, JSON Lines, CoNLL and SQL (any SQLAlchemy URL).

File adapters read the whole file as bytes first, so a decoding error can name the line of
the bad byte, and share one decoding helper so every format reports it the same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path, PurePath
from typing import Any, ClassVar, Literal

from core.data.base import DataAdapter
from core.data.types import BadRecord, ReadOptions, Record
from core.errors import DataError, UsageError

ENCODING_HINT = "pass --encoding latin-1 (or the file's encoding)"
_URL_PASSWORD = re.compile(r"^([\w+.-]+://[^:/@]*):[^/]*@")


def is_url(source: str) -> bool:
    """Whether ``source`` is a URL (a database) rather than a file path."""
    return "://" in source


def redact_source(source: str) -> str:
    """``source`` as it may appear in messages and reports: a URL's password hidden."""
    if not is_url(source):
        return source
    try:
        from sqlalchemy.engine import make_url

        return make_url(source).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a SQLAlchemy URL: hide what looks like a password
        return _URL_PASSWORD.sub(r"\1:***@", source)


def read_text(source: str, encoding: str) -> str:
    """The decoded contents of file ``source``, without a BOM; :class:`DataError` says why not."""
    try:
        data = Path(source).read_bytes()
    except FileNotFoundError:
        raise DataError(source, "no such file") from None
    except IsADirectoryError:
        raise DataError(source, "is a folder, not a file") from None
    except OSError as exc:
        raise DataError(source, f"cannot read: {exc.strerror or exc}") from None
    try:
        codecs.lookup(encoding)
        text = data.decode(encoding)
    except LookupError:
        hint = "pass --encoding utf-8 or latin-1"
        raise DataError(source, f"unknown encoding '{encoding}'", hint=hint) from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        reason = f"cannot decode byte 0x{data[exc.start]:02x} as {encoding}"
        raise DataError(source, reason, line=line, hint=ENCODING_HINT) from None
    return text.removeprefix("\ufeff")


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines split on ``\\n`` only (``str.splitlines`` also splits on characters
    that JSON strings may contain raw, which would shift line numbers)."""
    for number, line in enumerate(text.split("\n"), 1):
        yield number, line.removesuffix("\r")


class FileAdapter(DataAdapter):
    """An adapter for local files, chosen by suffix and never for a URL."""

    def can_read(self, source: str) -> bool:
        return not is_url(source) and super().can_read(source)


# --------------------------------------------------------------------------------------
# CSV / TSV
# --------------------------------------------------------------------------------------


class CsvAdapter(FileAdapter):
    """Comma- or tab-separated rows under a header row; quoted fields may span lines."""

    name = "csv"
    suffixes = (".csv", ".tsv")
    description = "CSV/TSV with a header row (comma-separated; tab for .tsv)"

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        text = read_text(source, options.encoding)
        try:
            delimiter = self._delimiter(source, options)
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
        except TypeError as exc:
            raise UsageError(f"--delimiter: {exc}") from None
        header: list[str] | None = None
        for line, row, error in _csv_rows(reader):
            if error is not None and header is None:
                raise DataError(source, f"malformed header row: {error}", line=line)
            if error is not None:
                yield BadRecord(source, line, None, f"malformed CSV: {error}")
            elif header is None:
                header = _header(source, line, row)
            elif len(row) != len(header):
                reason = f"malformed row: expected {len(header)} fields, got {len(row)}"
                yield BadRecord(source, line, None, reason, raw=reader.dialect.delimiter.join(row))
            else:
                yield Record(source, line, dict(zip(header, row)))
        if header is None:
            raise DataError(source, "empty file: expected a header row")

    @staticmethod
    def _delimiter(source: str, options: ReadOptions) -> str:
        if options.delimiter:
            return "\t" if options.delimiter == "\\t" else options.delimiter
        return "\t" if PurePath(source).suffix.lower() == ".tsv" else ","


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str], str | None]]:
    """Non-blank rows with the line each starts on (``reader.line_num`` counts physical
    lines, so a quoted field spanning lines does not shift later numbers)."""
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, [], str(exc)
            continue
        if row and not (len(row) == 1 and not row[0].strip()):
            yield start, row, None


def _header(source: str, line: int, row: list[str]) -> list[str]:
    names = [name.strip() for name in row]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(source, f"duplicate column '{name}' in the header row", line=line)
        seen.add(name)
    return names


# --------------------------------------------------------------------------------------
# JSON Lines (and JSON arrays)
# --------------------------------------------------------------------------------------

_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


class JsonlAdapter(FileAdapter):
    """One JSON object per line; a ``.json`` file may also hold one array of objects."""

    name = "jsonl"
    suffixes = (".jsonl", ".ndjson", ".json")
    description = "JSON Lines (one object per line) or a JSON array of objects"

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        text = read_text(source, options.encoding)
        if text.lstrip().startswith("["):
            yield from _json_array(source, text)
            return
        for line, raw in split_lines(text):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                yield BadRecord(source, line, None, f"invalid JSON: {exc.msg} (column {exc.colno})", raw=raw)
                continue
            yield _json_record(source, line, value, raw)


def _json_array(source: str, text: str) -> Iterator[Record | BadRecord]:
    """The objects of a top-level array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        pos = _skip_space(text, pos)
        if text.startswith("]", pos):
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # The array's structure is lost: nothing after this point can be located.
            yield BadRecord(source, exc.lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
            return
        yield _json_record(source, line, value, text[pos:end])
        pos = _skip_space(text, end)
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            yield BadRecord(source, text.count("\n", 0, pos) + 1, None, "invalid JSON: expected ',' or ']'")
            return


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _json_record(source: str, line: int, value: Any, raw: str) -> Record | BadRecord:
    if isinstance(value, dict):
        return Record(source, line, value)
    kind = "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)
    return BadRecord(source, line, None, f"expected a JSON object, got {kind}", raw=raw)


# --------------------------------------------------------------------------------------
# CoNLL
# --------------------------------------------------------------------------------------


_BIO_TAG = re.compile(r"^(?:O|[BIESLU]-\S+)$")


class ConllAdapter(FileAdapter):
    """Token-per-line files (CoNLL-2003, BIO/IOB): first column the token, last the tag;
    a blank line ends a sentence and ``-DOCSTART-`` lines are skipped."""

    name = "conll"
    kind: ClassVar[Literal["rows", "tokens"]] = "tokens"
    suffixes = (".conll", ".bio", ".iob")
    description = "CoNLL/BIO: token ... tag per line, blank line between sentences"

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        for block in _sentence_blocks(split_lines(read_text(source, options.encoding))):
            yield _sentence(source, block)

    def recognises(self, source: str) -> bool:
        """CoNLL as distributed (``train.txt``): a ``-DOCSTART-`` line, or token lines whose last
        column is a BIO tag, blank lines between sentences."""
        try:
            with open(source, encoding="utf-8", errors="replace") as handle:
                head = [line.strip() for _, line in zip(range(200), handle)]
        except OSError:
            return False
        lines = [line for line in head if line]
        if lines and lines[0].startswith("-DOCSTART-"):
            return True
        tagged = [line for line in lines if len(line.split()) >= 2 and _BIO_TAG.match(line.split()[-1])]
        return len(lines) >= 3 and len(tagged) >= 0.9 * len(lines) and len(lines) < len(head)


def _sentence_blocks(lines: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Runs of token lines, split at blank lines and ``-DOCSTART-`` lines."""
    block: list[tuple[int, str]] = []
    for line, raw in lines:
        if raw.strip() and not raw.startswith("-DOCSTART-"):
            block.append((line, raw))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _sentence(source: str, block: list[tuple[int, str]]) -> Record | BadRecord:
    """One sentence; a line without a tag makes the whole sentence unusable."""
    tokens: list[str] = []
    tags: list[str] = []
    for line, raw in block:
        # Tab-separated files may have spaces inside a token; others split on any whitespace.
        columns = [c.strip() for c in raw.split("\t") if c.strip()] if "\t" in raw else raw.split()
        if len(columns) < 2:
            return BadRecord(source, line, None, "malformed line: expected token and tag", raw=raw)
        tokens.append(columns[0])
        tags.append(columns[-1])
    return Record(source, block[0][0], {"tokens": tokens, "tags": tags})


# --------------------------------------------------------------------------------------
# SQL
# --------------------------------------------------------------------------------------


class SqlAdapter(DataAdapter):
    """Rows of a table or query from any database SQLAlchemy reaches, given as a URL."""

    name = "sql"
    description = "a SQLAlchemy URL with --table NAME or --query SQL"

    def can_read(self, source: str) -> bool:
        return is_url(source)

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SQLAlchemyError

        shown = redact_source(source)
        statement = _statement(shown, options)
        try:
            engine = create_engine(_checked_url(source, shown))
        except ImportError as exc:
            hint = "install the database driver (for PostgreSQL: pip install 'industry-suite[postgres]')"
            raise DataError(shown, f"cannot open: {_one_line(exc, source)}", hint=hint) from None
        except SQLAlchemyError as exc:
            raise DataError(shown, f"cannot open: {_one_line(exc, source)}") from None
        try:
            with engine.connect() as conn:
                for number, row in enumerate(conn.execute(statement), 1):
                    yield Record(shown, number, dict(row._mapping))
        except SQLAlchemyError as exc:
            raise DataError(shown, _one_line(exc, source)) from None
        finally:
            engine.dispose()


def _statement(shown: str, options: ReadOptions) -> Any:
    """The query to run: ``options.query`` as given, or every row of ``options.table``
    (``schema.table`` names a schema; the dialect quotes both names)."""
    from sqlalchemy import literal_column, select, table, text

    if options.query:
        return text(options.query)
    if options.table:
        schema, _, name = options.table.rpartition(".")
        return select(literal_column("*")).select_from(table(name, schema=schema or None))
    raise DataError(shown, "a SQL source needs a table or a query", hint="pass --table NAME or --query SQL")


def _checked_url(source: str, shown: str) -> Any:
    """The parsed URL; a SQLite file must exist (SQLite would silently create it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(source)
    except ArgumentError:
        raise DataError(shown, "not a valid SQLAlchemy URL", hint="e.g. sqlite:///data.db") from None
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not database.startswith("file:"):
        if not Path(database).is_file():
            raise DataError(shown, "no such file")
    return url


def _one_line(exc: BaseException, source: str) -> str:
    """The driver's own message, first line only, never showing the URL's password."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    try:
        from sqlalchemy.engine import make_url

        password = make_url(source).password
    except Exception:  # noqa: BLE001 - an unparsable URL has no password to hide
        password = None
    return message.replace(str(password), "***") if password else message


def builtin_adapters() -> list[DataAdapter]:
    """Fresh instances of every built-in adapter, in the order auto-detection tries them."""
    return [CsvAdapter(), JsonlAdapter(), ConllAdapter(), SqlAdapter()]
