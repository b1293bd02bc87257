"""The built-in feeds of :class:`core.streams.Source` and the helpers they share.

Each source lives in its own module and imports its driver (SQLAlchemy, redis-py) only when
it is read, so ``suite --help`` does not pay for drivers it never uses. A following source's
waiting loop (poll, empty batch on each idle poll, ``idle_timeout``) is :func:`follow`, so
every source honours it the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from core.errors import UsageError
from core.streams import RawItem, Source, SourceSpec

if TYPE_CHECKING:
    from core.app import Suite

DEFAULT_POLL = 1.0


def open_source(suite: Suite, spec: str, **options: Any) -> Source:
    """The source a ``SCHEME:TARGET`` spec names, built with ``options``; an unknown scheme
    is the registry's :class:`core.errors.UnknownNameError` listing the available ones."""
    parsed = SourceSpec.parse(spec, **options)
    return suite.sources.get(parsed.scheme)(parsed)


def option_float(spec: SourceSpec, name: str, default: float, *, minimum: float = 0.0) -> float:
    """Option ``name`` as a number (options may come from the command line as text)."""
    value = spec.options.get(name, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"source option '{name}': expected a number, got {value!r}") from None
    if number < minimum or number != number:
        raise UsageError(f"source option '{name}': must be at least {minimum}, got {value!r}")
    return number


def check_batch_size(batch_size: int) -> None:
    """A batch must hold at least one record, or a reader would never make progress."""
    if batch_size < 1:
        raise UsageError(f"batch size must be at least 1, got {batch_size}")


def follow(
    scan: Callable[[], Iterator[list[RawItem]]],
    *,
    poll: float,
    idle_timeout: float | None,
    stop: threading.Event,
    waits: bool = False,
) -> Iterator[list[RawItem]]:
    """Repeat ``scan`` (which yields the non-empty batches available now) until ``stop`` is
    set or ``idle_timeout`` seconds pass without a record; yield ``[]`` on each idle poll so
    the job can flush and tick. ``waits``: ``scan`` itself blocks up to ``poll`` seconds
    (a broker's blocking read), so no extra sleep is needed."""
    last_news = time.monotonic()
    while not stop.is_set():
        got = False
        for batch in scan():
            got = True
            yield batch
        if got:
            last_news = time.monotonic()
            continue
        idle = time.monotonic() - last_news
        if idle_timeout is not None and idle >= idle_timeout:
            return
        yield []
        if not waits:
            wait = poll if idle_timeout is None else min(poll, max(idle_timeout - idle, 0.0))
            stop.wait(wait)


__all__ = ["DEFAULT_POLL", "check_batch_size", "follow", "open_source", "option_float"]
