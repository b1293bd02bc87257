"""Output helpers: data to stdout, messages to stderr, so ``--json`` output always parses."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Functions, not module-level consoles: tests capture stdout/stderr per invocation.


def out() -> Console:
    return Console(file=sys.stdout, soft_wrap=True)


def err() -> Console:
    return Console(file=sys.stderr, soft_wrap=True)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "as_dict"):
        return value.as_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default, ensure_ascii=False) + "\n")


def display_table(
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    *,
    json_output: bool = False,
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    """Every listing goes through here: a rich table, or the rows as a JSON list (``[]`` when empty)."""
    if json_output:
        print_json(list(rows))
        return
    if not rows:
        err().print(empty)
        return
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    table = Table(title=title)
    for number, column in enumerate(columns):
        if _identifier(column):  # what a user copies into the next command is never cut nor wrapped
            width = max(len(column), *(len(line[number]) for line in cells))
            table.add_column(column, no_wrap=True, min_width=width)
        else:  # the rest wraps rather than losing its end
            table.add_column(column, overflow="fold")
    for line in cells:
        table.add_row(*line)
    out().print(table)


def _identifier(column: str) -> bool:
    return column in ("id", "key", "name", "status", "source_key") or column.endswith("_id")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items())
    return _short(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_result(result: dict[str, Any] | None, *, json_output: bool) -> None:
    """A command's result: JSON, or one ``key: value`` line per top-level key."""
    if result is None:
        return
    if json_output:
        print_json(result)
        return
    console = out()
    for key, value in result.items():
        if key == "warnings":
            continue  # printed on stderr by the command
        if isinstance(value, dict):
            console.print(f"[bold]{escape(key)}[/bold]")
            for sub, subvalue in value.items():
                console.print(f"  {sub}: {_cell(subvalue)}", markup=False, highlight=False)
        elif isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            columns = list(dict.fromkeys(column for row in value for column in row))  # rows as a table, not a dict's repr
            console.print(f"[bold]{escape(key)}[/bold]")
            display_table(columns, value)
        else:
            console.print(f"[bold]{escape(key)}[/bold]: {escape(_cell(value))}", highlight=False)
