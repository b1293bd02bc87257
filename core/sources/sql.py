"""``sql:URL#table``: a database table polled for new rows (any SQLAlchemy URL).

Rows are read in the order of an increasing column (``order_by``, default ``id``) behind the
last value seen, so the position is that value and a restart resumes exactly behind it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from core.errors import UsageError
from core.sources import DEFAULT_POLL, check_batch_size, follow, option_float
from core.streams import RawItem, Source, SourceSpec

if TYPE_CHECKING:
    from sqlalchemy import Column, Table
    from sqlalchemy.engine import Engine

SPEC_HINT = "expected sql:URL#TABLE, e.g. sql:sqlite:///news.db#items"


def _redact(url: str) -> str:
    from core.data.adapters import redact_source

    return redact_source(url)


def _one_line(exc: BaseException) -> str:
    """A driver error as one line (SQLAlchemy appends SQL and a link on further lines)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def parse_columns(value: Any) -> dict[str, str]:
    """The ``columns`` option: a mapping our-field -> their-column, or ``a=b,c=d`` text."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        pairs = [part.partition("=") for part in value.split(",") if part.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise UsageError(f"source option 'columns': expected FIELD=COLUMN,..., got {value!r}")
        return {ours.strip(): theirs.strip() for ours, _, theirs in pairs}
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise UsageError(f"source option 'columns': expected a mapping of field to column, got {value!r}")


def _column_type(column: Column[Any]) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:
        return str


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return value


class SqlSource(Source):
    """Polls a table for rows behind the last value of an increasing column.

    Spec: ``sql:URL#TABLE`` (``schema.table`` allowed). Position: ``str`` of the ``order_by``
    value of the row, converted back to the column's type on resume (so ints compare as
    ints). Rows with equal ``order_by`` values are never split across batches (a batch may
    exceed ``batch_size`` for that), but a row inserted later with a value not above the last
    one seen is missed: order by an auto-increment id for exactly-once reading.
    Options: ``order_by`` (default ``id``), ``columns`` (our field -> their column, e.g.
    ``{"text": "body", "time": "published_at"}``), ``poll`` (seconds, default 1.0).
    """

    name: ClassVar[str] = "sql"
    follows: ClassVar[bool] = True
    description: ClassVar[str] = "poll a database table for new rows"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        url, sep, table = spec.target.rpartition("#")
        if not sep or not url.strip() or not table.strip():
            raise UsageError(f"--source 'sql:{_redact(spec.target)}': {SPEC_HINT}")
        self.url, self.table_name = url.strip(), table.strip()
        self.order_by = str(spec.options.get("order_by") or "id")
        self.columns = parse_columns(spec.options.get("columns"))
        self.poll = option_float(spec, "poll", DEFAULT_POLL, minimum=0.001)
        self._engine: Engine | None = None
        self._table: Table | None = None
        self._stop = threading.Event()

    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        check_batch_size(batch_size)
        table = self._reflect()
        cursor: list[Any] = [self._typed(table, after)]

        def scan() -> Iterator[list[RawItem]]:
            while True:
                rows = self._fetch(table, cursor[0], batch_size)
                if not rows:
                    return
                cursor[0] = rows[-1][self.order_by]
                yield [self._item(row) for row in rows]
                if len(rows) < batch_size:
                    return

        yield from follow(scan, poll=self.poll, idle_timeout=idle_timeout, stop=self._stop)

    @property
    def key(self) -> str:
        """The spec without the URL's password (it is stored with the job's offsets)."""
        return f"sql:{_redact(self.url)}#{self.table_name}"

    def close(self) -> None:
        self._stop.set()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._table = None

    def _reflect(self) -> Table:
        """Connect and reflect the table once; every failure is a one-line usage error."""
        if self._table is not None:
            return self._table
        from sqlalchemy import MetaData, Table, create_engine
        from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

        where = _redact(self.url)
        try:
            engine = create_engine(self.url)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise UsageError(f"sql: cannot use database URL '{where}': {_one_line(exc)}") from None
        schema, _, name = self.table_name.rpartition(".")
        try:
            table = Table(name, MetaData(), schema=schema or None, autoload_with=engine)
        except NoSuchTableError:
            engine.dispose()
            raise UsageError(f"sql: no table '{self.table_name}' in {where}") from None
        except SQLAlchemyError as exc:
            engine.dispose()
            raise UsageError(f"sql: cannot read {where}: {_one_line(exc)}") from None
        self._check_columns(table)
        self._engine, self._table = engine, table
        return table

    def _check_columns(self, table: Table) -> None:
        known = set(table.c.keys())
        for column in [self.order_by, *self.columns.values()]:
            if column not in known:
                raise UsageError(
                    f"sql: table '{self.table_name}' has no column '{column}' (columns: {', '.join(sorted(known))})"
                )

    def _typed(self, table: Table, after: str | None) -> Any:
        """A stored position back in the order column's type, so it compares correctly."""
        if after is None or after == "":
            return None
        kind = _column_type(table.c[self.order_by])
        try:
            if kind is bool or not isinstance(kind, type):
                return after
            if issubclass(kind, datetime):
                return datetime.fromisoformat(after)
            if issubclass(kind, date):
                return date.fromisoformat(after)
            if issubclass(kind, (int, float, Decimal)):
                return kind(after)
        except (ValueError, ArithmeticError):
            raise UsageError(f"sql: position '{after}' is not a value of column '{self.order_by}'") from None
        return after

    def _fetch(self, table: Table, after: Any, limit: int) -> list[Mapping[str, Any]]:
        """The next ``limit`` rows behind ``after``, plus any rows tied with the last one."""
        from sqlalchemy import select

        column = table.c[self.order_by]
        keys = [column, *(c for c in table.primary_key.columns if c is not column)]
        query = select(table).where(column.is_not(None)).order_by(*keys)
        if after is not None:
            query = query.where(column > after)
        assert self._engine is not None
        with self._engine.connect() as conn:
            rows = list(conn.execute(query.limit(limit)).mappings())
            if len(rows) == limit:
                rows = list(conn.execute(query.where(column <= rows[-1][self.order_by])).mappings())
        return rows

    def _item(self, row: Mapping[str, Any]) -> RawItem:
        data = {key: _json_value(value) for key, value in row.items()}
        for ours, theirs in self.columns.items():
            data[ours] = data.get(theirs)
        entities = data.get("entities")
        if isinstance(entities, str) and entities.lstrip().startswith("["):
            try:
                data["entities"] = json.loads(entities)
            except json.JSONDecodeError:
                pass  # left as text: parse_item reports it
        position = row[self.order_by]
        return RawItem(str(position), json.dumps(data, default=str, ensure_ascii=False), data)


__all__ = ["SqlSource", "parse_columns"]
