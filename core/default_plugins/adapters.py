"""Registers the built-in data adapters (CSV/TSV, JSONL, CoNLL, SQL) through the public hook,
so they are found, listed and overridden exactly like a plugin's."""

from __future__ import annotations

from collections.abc import Callable

from core.data.adapters import builtin_adapters
from core.data.base import DataAdapter
from core.hookspecs import hookimpl


@hookimpl
def register_data_adapters(register: Callable[[DataAdapter], None]) -> None:
    for adapter in builtin_adapters():
        register(adapter)
