"""The built-in data adapters: CSV/TSV, JSON Lines, CoNLL, CLUE NER and SQL (any SQLAlchemy URL).

File adapters read the whole file as bytes first, so a decoding error can name the line of
the bad byte, and share one decoding helper so every format reports it the same way.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any, ClassVar, Literal

from core.data.base import DataAdapter
from core.data.types import BadRecord, ReadOptions, Record
from core.errors import DataError, UsageError
from core.lexical import HAN, KANA

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


_BIO_TAG = re.compile(r"^(?:O|[BIMESLU]-\S+)$")
# Weibo NER's revised files give each character with its position in its word ("科0", "技1"):
# a character (or, for emoji the corpus mangled, a run of non-digits) and one or two digits.
_CHAR_POSITION = re.compile(r"^(.|\D+)(\d{1,2})$")
CHAR_POSITION_SHARE = 0.99  # of tokens whose position is 0 or follows the previous one


class ConllAdapter(FileAdapter):
    """Token-per-line files (CoNLL-2003, BIO/IOB, BIOES, BMES): first column the token, last the
    tag; a blank line ends a sentence and ``-DOCSTART-`` lines are skipped.

    Character-per-line Chinese files read the same way. A file whose every token is a character
    followed by its position in a segmented word (Weibo NER's revised ``weiboNER_2nd_conll``:
    ``科0``, ``技1``) is read as the characters alone, the text a model sees when predicting.
    """

    name = "conll"
    kind: ClassVar[Literal["rows", "tokens"]] = "tokens"
    suffixes = (".conll", ".bio", ".iob", ".bioes", ".bmes")
    description = "CoNLL/BIO/BIOES/BMES: token ... tag per line, blank line between sentences"

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        blocks = list(_sentence_blocks(split_lines(read_text(source, options.encoding))))
        positions = _char_positions(blocks)
        for block in blocks:
            yield _sentence(source, block, positions)

    def recognises(self, source: str) -> bool:
        """CoNLL as distributed (``train.txt``, ``weiboNER_2nd_conll.train``): a ``-DOCSTART-``
        line, or token lines whose last column is a tag, blank lines between sentences."""
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


def _columns(raw: str) -> list[str]:
    # Tab-separated files may have spaces inside a token; others split on any whitespace.
    return [c.strip() for c in raw.split("\t") if c.strip()] if "\t" in raw else raw.split()


def _char_positions(blocks: list[list[tuple[int, str]]]) -> bool:
    """Whether every token is a character and its position in its word (``科0``): all tokens
    have that shape and nearly all positions count up from 0 within a word."""
    tokens = counted = 0
    for block in blocks:
        previous = None
        for _, raw in block:
            columns = _columns(raw)
            if len(columns) < 2:
                continue
            match = _CHAR_POSITION.match(columns[0])
            if match is None:
                return False
            position = int(match.group(2))
            tokens += 1
            counted += position == 0 or (previous is not None and position == previous + 1)
            previous = position
    return tokens > 0 and counted >= CHAR_POSITION_SHARE * tokens


def _sentence(source: str, block: list[tuple[int, str]], positions: bool = False) -> Record | BadRecord:
    """One sentence; a line without a tag makes the whole sentence unusable."""
    tokens: list[str] = []
    tags: list[str] = []
    for line, raw in block:
        columns = _columns(raw)
        if len(columns) < 2:
            return BadRecord(source, line, None, "malformed line: expected token and tag", raw=raw)
        match = _CHAR_POSITION.match(columns[0]) if positions else None
        tokens.append(match.group(1) if match else columns[0])
        tags.append(columns[-1])
    return Record(source, block[0][0], {"tokens": tokens, "tags": tags})


# --------------------------------------------------------------------------------------
# CLUE NER (span-annotated JSON Lines)
# --------------------------------------------------------------------------------------


class CluenerAdapter(FileAdapter):
    """CLUE NER's JSON Lines, one object per line::

        {"text": "浙商银行企业信贷部叶老桂博士...", "label": {"name": {"叶老桂": [[9, 11]]},
                                                         "company": {"浙商银行": [[0, 3]]}}}

    Each ``[start, end]`` is a character span, ``end`` inclusive. The text becomes tokens as
    :func:`text_tokens` splits it for prediction (a character per CJK character, Latin letters
    and digits in runs, whitespace dropped), cut further where a span starts or ends inside a
    run, and the spans become BIO tags. A row without ``label`` is unlabelled (for prediction).
    A span out of range, or whose text is not its mention, makes its row a located bad item.

    Chosen for a ``.json``/``.jsonl`` file whose first row has ``text`` and a ``label`` object
    of objects; ``--format cluener`` reads any (an unlabelled test file).
    """

    name = "cluener"
    kind: ClassVar[Literal["rows", "tokens"]] = "tokens"
    suffixes = (".json", ".jsonl")
    description = "CLUE NER JSON Lines: text and label {type: {mention: [[start, end], ...]}} (end inclusive)"

    def can_read(self, source: str) -> bool:
        return super().can_read(source) and self.recognises(source)

    def recognises(self, source: str) -> bool:
        if is_url(source) or PurePath(source).suffix.lower() not in self.suffixes:
            return False
        try:
            with open(source, encoding="utf-8", errors="replace") as handle:
                head = handle.read(1 << 16)
        except OSError:
            return False
        text = head.lstrip().removeprefix("\ufeff").lstrip()
        try:
            row, _ = json.JSONDecoder().raw_decode(text[1:].lstrip() if text.startswith("[") else text)
        except (json.JSONDecodeError, ValueError):
            return False
        label = row.get("label") if isinstance(row, dict) else None
        return (isinstance(row, dict) and isinstance(row.get("text"), str) and isinstance(label, dict)
                and all(isinstance(mentions, dict) for mentions in label.values()))

    def read(self, source: str, options: ReadOptions) -> Iterator[Record | BadRecord]:
        for item in JsonlAdapter().read(source, options):
            yield item if isinstance(item, BadRecord) else _clue_sentence(item)


class _BadSpan(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _clue_sentence(record: Record) -> Record | BadRecord:
    """A CLUE row as ``{"tokens", "tags"}`` (BIO), or why it cannot be one."""
    raw = json.dumps(record.fields, ensure_ascii=False)
    try:
        text = record.fields.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _BadSpan("text", "expected a non-empty string" if not isinstance(text, str) else "empty text")
        if record.fields.get("label") is None:
            tokens = [text[s:e] for s, e in text_tokens(text)]
            return Record(record.source, record.line, {"tokens": tokens, "text": text})
        spans = _clue_spans(text, record.fields["label"])
        tokens = text_tokens(text, cuts={point for _, start, end in spans for point in (start, end)})
        tags = ["O"] * len(tokens)
        for kind, start, end in spans:
            inside = [i for i, (s, _) in enumerate(tokens) if start <= s < end]
            tags[inside[0]] = f"B-{kind}"
            for i in inside[1:]:
                tags[i] = f"I-{kind}"
    except _BadSpan as exc:
        return BadRecord(record.source, record.line, exc.field, exc.reason, raw=raw)
    return Record(record.source, record.line, {"tokens": [text[s:e] for s, e in tokens], "tags": tags, "text": text})


def _clue_spans(text: str, label: Any) -> list[tuple[str, int, int]]:
    """``(type, start, end)`` of every mention, ``end`` exclusive, checked against ``text``."""
    shape = "expected an object {type: {mention: [[start, end], ...]}}"
    if not isinstance(label, dict):
        raise _BadSpan("label", shape)
    spans: dict[tuple[int, int], tuple[str, str]] = {}
    for kind, mentions in label.items():
        field = f"label.{kind}"
        if not isinstance(mentions, dict):
            raise _BadSpan(field, "expected an object {mention: [[start, end], ...]}")
        for mention, pairs in mentions.items():
            if not isinstance(pairs, list) or not pairs or not all(_is_pair(p) for p in pairs):
                got = json.dumps(pairs, ensure_ascii=False)
                raise _BadSpan(field, f"'{mention}': expected a list of [start, end] pairs, got {got}")
            for start, last in pairs:
                where = f"'{mention}' at [{start}, {last}]"
                if start > last:
                    raise _BadSpan(field, f"{where}: the start is after the end")
                if start < 0 or last >= len(text):
                    raise _BadSpan(field, f"{where} is out of range: the text has {len(text)} characters, "
                                          f"so spans lie within [0, {len(text) - 1}] (end inclusive)")
                found = text[start : last + 1]
                if found != mention:
                    exclusive = "" if text[start:last] != mention else " (the end looks exclusive; CLUE's end is inclusive)"
                    raise _BadSpan(field, f"{where} is '{found}' in the text, not the mention{exclusive}")
                if not found.strip():
                    raise _BadSpan(field, f"{where} is only whitespace")
                other = spans.setdefault((start, last + 1), (str(kind), mention))
                if other != (str(kind), mention):
                    raise _BadSpan(field, f"{where} is also labelled {other[0]}")
    ordered = sorted((start, end, kind) for (start, end), (kind, _) in spans.items())
    for (start, end, kind), (next_start, next_end, next_kind) in zip(ordered, ordered[1:]):
        if next_start < end:
            raise _BadSpan(f"label.{next_kind}", f"'{text[next_start:next_end]}' at [{next_start}, {next_end - 1}] "
                                                 f"overlaps {kind} '{text[start:end]}' at [{start}, {end - 1}]: "
                                                 "BIO tags cannot nest")
    return [(kind, start, end) for start, end, kind in ordered]


def _is_pair(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))


# --------------------------------------------------------------------------------------
# Text to tokens (prediction) and tokens to text
# --------------------------------------------------------------------------------------

# Scripts written without spaces between words: each character is a token.
_CJK = (
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3000-\u303f"  # CJK symbols and punctuation (、。「」)
    "\u3040-\u30ff"  # hiragana, katakana
    "\u3100-\u312f\u3190-\u31ff"  # bopomofo, kanbun, strokes, katakana extensions
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs (extension A, unified, compatibility)
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # full-width punctuation (，：（）)
    "\uff66-\uff9f"  # half-width katakana
    "\U00020000-\U0003134f"  # ideographs, extensions B to G
)
_HAS_CJK = re.compile(f"[{HAN}{KANA}]")  # written without spaces (Korean has them)
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A CJK character; else a run of letters and digits (with combining accents); else one symbol.
_CJK_TOKEN = re.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[^\W_]|[\u0300-\u036f])+|\S")
_WORD = re.compile(r"\S+")


def text_tokens(text: str, cuts: Iterable[int] = ()) -> list[tuple[int, int]]:
    """The ``(start, end)`` character span of each token of ``text``, ``end`` exclusive.

    Text without Chinese or Japanese characters is split on whitespace, as before. Text with
    them is split into one token per CJK character (and CJK punctuation), one per run of
    letters and digits (``iPhone15``), and one per other symbol; whitespace is dropped.
    ``cuts`` are offsets where a token must end (a span boundary inside a run).
    """
    pattern = _CJK_TOKEN if _HAS_CJK.search(text) else _WORD
    spans = [match.span() for match in pattern.finditer(text)]
    points = sorted(set(cuts))
    if not points:
        return spans
    cut: list[tuple[int, int]] = []
    for start, end in spans:
        for point in points:
            if start < point < end:
                cut.append((start, point))
                start = point
        cut.append((start, end))
    return cut


def join_tokens(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Tokens as one text, with each token's ``(start, end)`` in it: a space between two
    tokens unless one of them is CJK (``叶老桂`` not ``叶 老 桂``)."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    offset = 0
    for index, token in enumerate(tokens):
        if index and token and parts[-1] and not (_CJK_CHAR.match(token[0]) or _CJK_CHAR.match(parts[-1][-1])):
            parts.append(" ")
            offset += 1
        parts.append(token)
        spans.append((offset, offset + len(token)))
        offset += len(token)
    return "".join(parts), spans


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
    return [CsvAdapter(), CluenerAdapter(), JsonlAdapter(), ConllAdapter(), SqlAdapter()]
