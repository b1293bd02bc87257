"""File-based sources: a file replayed in time order, a watched folder, stdin.

Files are read as bytes, record by record, so a position can be a byte offset and memory
stays bounded however large the file is. A CSV record may span lines (a quoted newline): a
record ends at a newline outside quotes, i.e. when its count of ``"`` is even.
"""

from __future__ import annotations

import csv
import io
import json
import math
import queue
import sys
import threading
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, NamedTuple

from core.errors import DataError, UsageError
from core.sources import DEFAULT_POLL, check_batch_size, follow, option_float
from core.streams import RawItem, Source, SourceSpec, parse_time

FEED_SUFFIXES = (".jsonl", ".csv")


class Record(NamedTuple):
    """One record's bytes (trailing newline removed) and where it lies in its file."""

    offset: int  # byte offset of its first line
    end: int  # byte offset behind its last line
    line: int  # its first line number (1-based)
    next_line: int  # the line number behind it
    data: bytes


def iter_records(fh: IO[bytes], *, csv_mode: bool, line: int = 1, complete_only: bool = False) -> Iterator[Record]:
    """The non-blank records from ``fh``'s current position, whose first line is ``line``.

    ``complete_only``: stop before a record that does not end in a newline yet (a file still
    being written), so it is read whole on a later call."""
    offset = fh.tell()
    while True:
        start, first, chunks, quotes = offset, line, [], 0
        while True:
            chunk = fh.readline()
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            line += 1
            quotes += chunk.count(b'"') if csv_mode else 0
            if not chunk.endswith(b"\n") or quotes % 2 == 0:
                break
        if not chunks:
            return
        data = b"".join(chunks)
        if complete_only and (not data.endswith(b"\n") or quotes % 2):
            fh.seek(start)
            return
        data = data.rstrip(b"\r\n")
        if data.strip():
            yield Record(start, offset, first, line, data)


def decode_text(data: bytes, line: int) -> tuple[str, str | None]:
    """The record's text, and an error when it is not UTF-8 (the raw text is kept either way)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", errors="replace"), f"line {line}: not UTF-8 (byte {exc.start + 1})"


def decode_json_record(data: bytes, line: int) -> RawItem:
    """One JSON line as a RawItem (position left empty for the caller to set)."""
    text, error = decode_text(data, line)
    if error:
        return RawItem("", text, None, error)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return RawItem("", text, None, f"line {line}: invalid JSON: {exc.msg} (column {exc.colno})")
    if not isinstance(value, dict):
        return RawItem("", text, None, f"line {line}: expected a JSON object, got {type(value).__name__}")
    return RawItem("", text, value)


def csv_header(data: bytes) -> list[str]:
    """Column names from a CSV header record (a BOM and spaces removed)."""
    text = data.decode("utf-8-sig", errors="replace")
    return [name.strip() for name in next(csv.reader(io.StringIO(text)), [])]


def decode_csv_record(data: bytes, header: list[str], line: int) -> RawItem:
    """One CSV record as a RawItem: empty cells are missing fields, ``entities`` split on
    ``|``, a numeric ``time`` is epoch seconds."""
    text, error = decode_text(data, line)
    if error:
        return RawItem("", text, None, error)
    try:
        values = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        return RawItem("", text, None, f"line {line}: invalid CSV: {exc}")
    if len(values) != len(header):
        return RawItem("", text, None, f"line {line}: expected {len(header)} fields, got {len(values)}")
    record: dict[str, Any] = {name: value for name, value in zip(header, values) if value.strip()}
    if "entities" in record:
        record["entities"] = [e.strip() for e in record["entities"].split("|") if e.strip()]
    for name in ("time", "timestamp"):
        if name in record:
            record[name] = _number_or_text(record[name])
    return RawItem("", text, record)


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def time_key(item: RawItem) -> float:
    """Sort key of a record: its epoch seconds, or +inf when its time does not parse (such
    records go to the end of a replay, in file order, and are dead-lettered there)."""
    if item.data is None:
        return math.inf
    try:
        return parse_time(item.data.get("time", item.data.get("timestamp"))).timestamp()
    except (ValueError, TypeError, OverflowError, OSError):
        return math.inf


def is_csv(path: Path, fmt: str | None = None) -> bool:
    """Whether ``path`` is read as CSV (by suffix unless ``format`` says)."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise UsageError(f"source option 'format': expected csv or jsonl, got {fmt!r}")
        return fmt == "csv"
    return path.suffix.lower() == ".csv"


def parse_position(after: str | None, what: str) -> int:
    """An integer position, -1 for none; a wrong stored offset is a usage error."""
    if after is None or after == "":
        return -1
    try:
        return int(after)
    except ValueError:
        raise UsageError(f"{what}: position '{after}' is not a {what} position (expected a number)") from None


def batched(items: Iterator[RawItem], size: int) -> Iterator[list[RawItem]]:
    """Lists of at most ``size`` items; the last one may be shorter."""
    batch: list[RawItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------------------
# file: a file replayed in time order
# --------------------------------------------------------------------------------------


class FileReplaySource(Source):
    """Replays a JSON Lines or CSV file in timestamp order, to backtest a job on history.

    Position: the record's ordinal (0-based) in time order, ties in file order. Records whose
    time does not parse are replayed after all others, in file order, so that ``parse_item``
    dead-letters them. Memory stays bounded: a first pass only checks whether the file is
    already sorted (then it is streamed); otherwise it keeps (time, offset, line) per record
    in compact arrays, sorts that index and seeks to each record.
    Options: ``format`` (``csv``/``jsonl``; default by suffix, ``.csv`` or else JSON Lines).
    """

    name: ClassVar[str] = "file"
    follows: ClassVar[bool] = False
    description: ClassVar[str] = "replay a JSONL/CSV file in time order"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        self.path = Path(spec.target)
        self.csv = is_csv(self.path, spec.options.get("format"))

    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        check_batch_size(batch_size)
        skip = parse_position(after, "file")
        with self._open() as fh:
            header, line = self._header(fh)
            in_order = self._is_sorted(fh, header, line)
            ordered = self._streamed(fh, header, line) if in_order else self._indexed(fh, header, line)
            ordinal_items = (
                RawItem(str(n), item.raw, item.data, item.error) for n, item in enumerate(ordered) if n > skip
            )
            yield from batched(ordinal_items, batch_size)

    def _open(self) -> IO[bytes]:
        try:
            return self.path.open("rb")
        except FileNotFoundError:
            raise DataError(str(self.path), "no such file") from None
        except IsADirectoryError:
            raise DataError(str(self.path), "is a folder, not a file (use dir: to watch a folder)") from None
        except OSError as exc:
            raise DataError(str(self.path), f"cannot read: {exc.strerror or exc}") from None

    def _header(self, fh: IO[bytes]) -> tuple[list[str] | None, int]:
        """The CSV header (None for JSON Lines) and the first line behind it; ``fh`` is left there."""
        if not self.csv:
            return None, 1
        for record in iter_records(fh, csv_mode=True):
            fh.seek(record.end)
            return csv_header(record.data), record.next_line
        return [], 1

    def _decode(self, record: Record, header: list[str] | None) -> RawItem:
        if header is None:
            return decode_json_record(record.data, record.line)
        return decode_csv_record(record.data, header, record.line)

    def _streamed(self, fh: IO[bytes], header: list[str] | None, line: int) -> Iterator[RawItem]:
        for record in iter_records(fh, csv_mode=self.csv, line=line):
            yield self._decode(record, header)

    def _is_sorted(self, fh: IO[bytes], header: list[str] | None, line: int) -> bool:
        """One pass that keeps nothing but the previous time: already sorted files stream."""
        start, previous = fh.tell(), -math.inf
        try:
            for item in self._streamed(fh, header, line):
                key = time_key(item)
                if key < previous:
                    return False
                previous = key
            return True
        finally:
            fh.seek(start)

    def _indexed(self, fh: IO[bytes], header: list[str] | None, line: int) -> Iterator[RawItem]:
        """Sort a compact (time, offset, line) index, then seek to each record in turn."""
        times, offsets, lines = array("d"), array("q"), array("q")
        for record in iter_records(fh, csv_mode=self.csv, line=line):
            times.append(time_key(self._decode(record, header)))
            offsets.append(record.offset)
            lines.append(record.line)
        order = sorted(range(len(times)), key=times.__getitem__)  # stable: ties keep file order
        for index in order:
            fh.seek(offsets[index])
            record = next(iter_records(fh, csv_mode=self.csv, line=lines[index]))
            yield self._decode(record, header)


# --------------------------------------------------------------------------------------
# dir: a watched folder
# --------------------------------------------------------------------------------------


@dataclass
class _FileState:
    """How far one file of a watched folder has been read."""

    offset: int = 0
    next_line: int = 1
    skip_through: int = 0  # records whose first line is <= this were handled before a restart
    header: list[str] | None = None
    header_read: bool = False


@dataclass
class _Resume:
    name: str = ""
    line: int = 0


class DirectorySource(Source):
    """Watches a folder for ``*.jsonl``/``*.csv`` files that another process drops there.

    Files are read in name order, each line once, and a file is followed as it grows: only
    complete lines (ending in a newline) are read, the rest on a later poll. Position:
    ``filename:line`` (the record's first line). Resuming after ``b.jsonl:7`` skips every
    file named before ``b.jsonl`` and its lines up to 7, so name files so that they sort in
    arrival order (timestamps); a file that appears with an earlier name while running is
    still read, and resuming from it re-reads later files, which idempotent storage absorbs.
    Write files elsewhere and move them in, or append whole lines. Options: ``poll`` (seconds
    between scans, default 1.0), ``only`` (one file name: follow that file as it grows).
    """

    name: ClassVar[str] = "dir"
    follows: ClassVar[bool] = True
    description: ClassVar[str] = "watch a folder for new JSONL/CSV files"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        self.folder = Path(spec.target or ".")
        self.only: str | None = spec.options.get("only")  # one file of the folder (``--feed F --follow``)
        self.poll = option_float(spec, "poll", DEFAULT_POLL, minimum=0.001)
        self._stop = threading.Event()

    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        check_batch_size(batch_size)
        if not self.folder.is_dir():
            raise DataError(str(self.folder), "no such folder")
        resume, states = self._resume(after), {}

        def scan() -> Iterator[list[RawItem]]:
            return batched(self._new_items(resume, states), batch_size)

        yield from follow(scan, poll=self.poll, idle_timeout=idle_timeout, stop=self._stop)

    def close(self) -> None:
        self._stop.set()

    @staticmethod
    def _resume(after: str | None) -> _Resume:
        if not after:
            return _Resume()
        name, sep, line = after.rpartition(":")
        if not sep or not name or not line.isdigit():
            raise UsageError(f"dir: position '{after}' is not a folder position (expected FILENAME:LINE)")
        return _Resume(name, int(line))

    def _feed_files(self) -> list[Path]:
        return sorted(
            (p for p in self.folder.iterdir() if p.suffix.lower() in FEED_SUFFIXES and not p.name.startswith(".")
             and (self.only is None or p.name == self.only)),
            key=lambda p: p.name,
        )

    def _new_items(self, resume: _Resume, states: dict[str, _FileState]) -> Iterator[RawItem]:
        for path in self._feed_files():
            if path.name < resume.name or not path.is_file():
                continue
            state = states.get(path.name)
            if state is None:
                state = states[path.name] = _FileState(skip_through=resume.line if path.name == resume.name else 0)
            yield from self._read_file(path, state)

    def _read_file(self, path: Path, state: _FileState) -> Iterator[RawItem]:
        csv_mode = path.suffix.lower() == ".csv"
        try:
            fh = path.open("rb")
        except OSError:  # removed between listing and opening: nothing to read
            return
        with fh:
            fh.seek(state.offset)
            for record in iter_records(fh, csv_mode=csv_mode, line=state.next_line, complete_only=True):
                state.offset, state.next_line = record.end, record.next_line
                if csv_mode and not state.header_read:
                    state.header, state.header_read = csv_header(record.data), True
                    continue
                if record.line <= state.skip_through:
                    continue
                yield self._item(path.name, record, state.header if csv_mode else None)

    @staticmethod
    def _item(name: str, record: Record, header: list[str] | None) -> RawItem:
        item = decode_json_record(record.data, record.line) if header is None else decode_csv_record(
            record.data, header, record.line
        )
        return RawItem(f"{name}:{record.line}", item.raw, item.data, item.error)


# --------------------------------------------------------------------------------------
# stdin
# --------------------------------------------------------------------------------------

_EOF = object()


class StdinSource(Source):
    """Reads JSON Lines piped to the process (``producer | suite run ... --source stdin:``).

    A reader thread feeds a queue, so a slow producer still gets its lines handled promptly
    (a partial batch is handed out when no line arrived for ``poll`` seconds) and idle polls
    and ``idle_timeout`` work as for other following sources. Ends at end of input.
    Position: the line number. A pipe has no offset across runs: each run reads its input from
    the first line (``after`` is ignored; items stored by an earlier run are known by their id).
    Options: ``stream`` (a text stream instead of ``sys.stdin``, e.g. in tests), ``poll``.
    """

    name: ClassVar[str] = "stdin"
    follows: ClassVar[bool] = True
    description: ClassVar[str] = "JSON Lines from standard input"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        self.stream: IO[str] = spec.options.get("stream") or sys.stdin
        self.poll = option_float(spec, "poll", DEFAULT_POLL, minimum=0.001)
        self._stop = threading.Event()

    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        check_batch_size(batch_size)
        skip = 0  # a new pipe, not the rest of an earlier one
        lines: queue.Queue[Any] = queue.Queue(maxsize=batch_size * 4)  # bounded: backpressure on the reader
        done, finished = threading.Event(), _Flag()
        threading.Thread(target=self._pump, args=(lines, done), name="suite-stdin", daemon=True).start()

        def scan() -> Iterator[list[RawItem]]:
            return self._drain(lines, skip, batch_size, finished)

        try:
            for batch in follow(scan, poll=self.poll, idle_timeout=idle_timeout, stop=self._stop, waits=True):
                if batch or not finished.set:
                    yield batch
                if finished.set:
                    return
        finally:
            done.set()

    def close(self) -> None:
        self._stop.set()

    def _pump(self, lines: queue.Queue[Any], done: threading.Event) -> None:
        """Reader thread: lines into the queue until end of input or the reader is gone; a read
        error (e.g. bytes that are not text) is handed over to be raised in the reader."""
        end: object = _EOF
        try:
            for entry in enumerate(self.stream, start=1):
                if not _put(lines, entry, done):
                    return
        except (OSError, ValueError) as exc:
            end = exc
        finally:
            _put(lines, end, done)

    def _drain(self, lines: queue.Queue[Any], skip: int, batch_size: int, finished: _Flag) -> Iterator[list[RawItem]]:
        """Batches of the lines available now, waiting up to ``poll`` for the first one."""
        batch: list[RawItem] = []
        wait = True
        while not finished.set:
            try:
                entry = lines.get(timeout=self.poll) if wait else lines.get_nowait()
            except queue.Empty:
                break
            wait = False
            if entry is _EOF or isinstance(entry, Exception):
                finished.set = True
                if isinstance(entry, Exception):
                    raise DataError("stdin", f"cannot read: {entry}")
                break
            number, text = entry
            if number <= skip or not text.strip():
                continue
            item = decode_json_record(text.rstrip("\r\n").encode("utf-8", errors="surrogateescape"), number)
            batch.append(RawItem(str(number), item.raw, item.data, item.error))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _put(lines: queue.Queue[Any], entry: Any, done: threading.Event) -> bool:
    """Put ``entry`` unless the reader went away (then the thread may end)."""
    while not done.is_set():
        try:
            lines.put(entry, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


@dataclass
class _Flag:
    set: bool = False


__all__ = ["DirectorySource", "FileReplaySource", "StdinSource"]
