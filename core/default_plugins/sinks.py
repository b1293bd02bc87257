"""Registers the built-in alert sinks (console, jsonl, webhook, email) through the public hook,
so they are found, listed and overridden exactly like a plugin's."""

from __future__ import annotations

from collections.abc import Callable

from core.alerts import AlertSink
from core.hookspecs import hookimpl
from core.sinks import builtin_sinks


@hookimpl
def register_alert_sinks(register: Callable[[type[AlertSink]], None]) -> None:
    for sink in builtin_sinks():
        register(sink)
