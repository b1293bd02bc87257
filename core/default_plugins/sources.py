"""Registers the built-in sources (file, dir, stdin, sql, redis) through the public hook, so
they are found, listed and overridden exactly like a plugin's. Their drivers are imported
only when a source is read."""

from __future__ import annotations

from collections.abc import Callable

from core.hookspecs import hookimpl
from core.sources.files import DirectorySource, FileReplaySource, StdinSource
from core.sources.redis import RedisStreamSource
from core.sources.sql import SqlSource
from core.streams import Source


@hookimpl
def register_sources(register: Callable[[type[Source]], None]) -> None:
    for source in (FileReplaySource, DirectorySource, StdinSource, SqlSource, RedisStreamSource):
        register(source)
