"""``redis://host:port/db#stream``: a Redis stream read through a consumer group.

The group, not the job's stored offset, tracks what was delivered: an entry stays pending
until :meth:`RedisStreamSource.ack` is called after the job stored it, and a restarted reader
gets its pending entries again before new ones, so nothing is lost between read and store.
Several processes reading one group share the stream (``shared``): :meth:`settled` tells how
far every entry has been acknowledged, which is how far their stored items can be counted in
stream order. A connection lost once the source has started (a Redis restart, a failover) is
retried with exponential backoff for ``reconnect`` seconds; the first connection is not, so a
wrong URL is one line at once.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from core.errors import UsageError
from core.sources import DEFAULT_POLL, check_batch_size, follow, option_float
from core.streams import RawItem, Source, SourceSpec

if TYPE_CHECKING:
    import redis

SPEC_HINT = "expected redis://HOST:PORT/DB#STREAM, e.g. redis://127.0.0.1:6379/0#news"


def _redact(url: str) -> str:
    from core.data.adapters import redact_source

    return redact_source(url)


def entry_item(entry_id: str, fields: dict[str, str] | None) -> RawItem:
    """One stream entry as a RawItem: a single ``data`` field holding a JSON object, or flat
    fields (``entities`` a JSON list or ``|``-separated, a numeric ``time`` epoch seconds)."""
    if not fields:
        return RawItem(entry_id, "", None, f"entry {entry_id}: deleted from the stream before it was handled")
    if set(fields) == {"data"}:
        text = fields["data"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            return RawItem(entry_id, text, None, f"entry {entry_id}: invalid JSON: {exc.msg} (column {exc.colno})")
        if not isinstance(value, dict):
            kind = type(value).__name__
            return RawItem(entry_id, text, None, f"entry {entry_id}: expected a JSON object, got {kind}")
        return RawItem(entry_id, text, value)
    data: dict[str, Any] = dict(fields)
    if isinstance(data.get("entities"), str):
        data["entities"] = _entities(data["entities"])
    for name in ("time", "timestamp"):
        if isinstance(data.get(name), str):
            data[name] = _number_or_text(data[name])
    return RawItem(entry_id, json.dumps(fields, ensure_ascii=False), data)


def _entities(text: str) -> Any:
    if text.lstrip().startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass
    return [e.strip() for e in text.split("|") if e.strip()]


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value


def _entries(response: Any) -> list[tuple[str, dict[str, str] | None]]:
    """The (id, fields) pairs of an XREADGROUP reply (RESP2 list or RESP3 mapping)."""
    if not response:
        return []
    streams = response.values() if isinstance(response, dict) else (entries for _, entries in response)
    return [(entry_id, fields) for entries in streams for entry_id, fields in (entries or [])]


class RedisStreamSource(Source):
    """Reads a Redis stream with a consumer group, acknowledging entries once stored.

    When it starts, and every ``claim_every`` seconds while it runs, the consumer takes over
    entries that another consumer of the group left pending for ``claim_idle`` seconds (a
    crashed process: the default consumer name has the pid in it, so a restart is a new
    consumer) and gets its own pending entries again; otherwise it reads new ones, blocking
    ``poll`` seconds at a time. Position: the entry id. ``after`` is
    ignored: the group records delivery, and :meth:`ack` (XACK) is what marks entries done.
    Options: ``group`` (default ``suite``; created at the stream's start, with the stream if
    absent), ``consumer`` (default ``HOSTNAME-PID``), ``poll`` (seconds, default 1.0),
    ``claim_idle`` (seconds, default 60; 0 turns taking over off), ``claim_every`` (seconds,
    default a quarter of ``claim_idle``), ``reconnect`` (seconds a lost connection is retried
    with backoff, default 300).
    """

    name: ClassVar[str] = "redis"
    follows: ClassVar[bool] = True
    shared: ClassVar[bool] = True
    description: ClassVar[str] = "a Redis stream through a consumer group"

    def __init__(self, spec: SourceSpec) -> None:
        super().__init__(spec)
        url, sep, stream = spec.target.rpartition("#")
        if not sep or "://" not in url or not stream.strip():
            raise UsageError(f"--source '{_redact(spec.target)}': {SPEC_HINT}")
        self.url, self.stream = url, stream.strip()
        self.group = str(spec.options.get("group") or "suite")
        self.consumer = str(spec.options.get("consumer") or f"{socket.gethostname()}-{os.getpid()}")
        self.poll = option_float(spec, "poll", DEFAULT_POLL, minimum=0.001)
        self.claim_idle = option_float(spec, "claim_idle", 60.0)
        self.claim_every = option_float(spec, "claim_every", max(self.claim_idle / 4, self.poll), minimum=0.001)
        self.reconnect = option_float(spec, "reconnect", 300.0)
        self._client: redis.Redis | None = None
        self._stop = threading.Event()
        self._unacked: set[str] = set()  # handed out, not acknowledged yet: a claim does not hand them out again

    def read(self, after: str | None, batch_size: int, idle_timeout: float | None = None) -> Iterator[list[RawItem]]:
        check_batch_size(batch_size)
        client = self._connect()
        wait = self.poll if idle_timeout is None else min(self.poll, max(idle_timeout, 0.001))
        block_ms = max(1, int(1000 * wait))
        next_claim = [None]

        def scan() -> Iterator[list[RawItem]]:
            with self._guard():
                if next_claim[0] is None:  # on start: what others abandoned, then what this consumer had
                    list(self._claim_abandoned(client, batch_size))
                    yield from self._pending(client, batch_size)
                    next_claim[0] = time.monotonic() + self.claim_every
                elif time.monotonic() >= next_claim[0]:  # while running: what others abandoned since
                    yield from self._claim_abandoned(client, batch_size)
                    next_claim[0] = time.monotonic() + self.claim_every
                streams = {self.stream: ">"}
                reply = client.xreadgroup(self.group, self.consumer, streams, count=batch_size, block=block_ms)
            batch = [entry_item(entry_id, fields) for entry_id, fields in _entries(reply)]
            if batch:
                yield self._handed(batch)

        yield from follow(scan, poll=self.poll, idle_timeout=idle_timeout, stop=self._stop, waits=True)

    @property
    def key(self) -> str:
        """The spec without the URL's password (it is stored with the job's offsets)."""
        return f"redis:{_redact(self.url)}#{self.stream}"

    def ack(self, items: Sequence[RawItem]) -> None:
        """XACK the items: call only after they are durably stored."""
        ids = [item.position for item in items]
        if ids:
            with self._guard():
                self._connect().xack(self.stream, self.group, *ids)
            self._unacked.difference_update(ids)

    def order(self, position: str) -> str:
        """Entry ids (``MILLISECONDS-SEQUENCE``) as fixed-width text, so text order is stream order."""
        ms, _, seq = position.partition("-")
        return f"{int(ms):015d}-{int(seq or 0):010d}"

    def settled(self) -> str | None:
        """Every entry up to the group's last delivered one, and below its lowest pending one,
        is acknowledged."""
        group, pending = self._group_state()
        last = group.get("last-delivered-id") or "0-0"
        if last == "0-0":
            return None
        if not pending.get("pending"):
            return self.order(last)
        ms, _, seq = str(pending["min"]).partition("-")
        below = f"{int(ms)}-{int(seq) - 1}" if int(seq) else f"{int(ms) - 1}-{10**10 - 1}"
        return None if int(ms) == 0 and not int(seq) else min(self.order(below), self.order(last))

    def progress(self) -> dict[str, int]:
        group, pending = self._group_state()
        with self._guard():
            length = int(self._connect().xlen(self.stream))
        undelivered = group.get("lag")
        if undelivered is None:  # Redis cannot tell after entries were deleted: count them
            with self._guard():
                undelivered = len(self._connect().xrange(self.stream, f"({group.get('last-delivered-id') or '0-0'}", "+"))
        return {"length": length, "lag": int(undelivered) + int(pending.get("pending") or 0),
                "pending": int(pending.get("pending") or 0)}

    def _group_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        client = self._connect()
        with self._guard():
            group = next((g for g in client.xinfo_groups(self.stream) if g.get("name") == self.group), {})
            pending = client.xpending(self.stream, self.group)
        return group, pending

    def close(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connect(self) -> redis.Redis:
        """Connect and make sure the group exists (from the stream's first entry)."""
        if self._client is not None:
            return self._client
        import redis
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        try:
            probe = redis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=5, retry=Retry(ExponentialBackoff(), 0))
        except ValueError as exc:
            raise UsageError(f"redis: cannot use URL '{_redact(self.url)}': {exc}") from None
        with self._guard():
            probe.ping()  # the first connection fails at once: a wrong URL is the user's to fix
        probe.close()
        # from now on a lost connection is retried: about `reconnect` seconds of backoff, 5 s at most apart
        retry = Retry(ExponentialBackoff(cap=5.0, base=0.1), retries=max(1, int(self.reconnect / 5) + 6))
        client = redis.Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=5, retry=retry,
                                      retry_on_error=[redis.ConnectionError, redis.TimeoutError])
        self._client = client
        with self._guard():
            try:
                client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        return client

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Connection and server errors as one line naming the (password-free) URL."""
        import redis

        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise UsageError(f"redis: cannot reach {_redact(self.url)}: {exc}") from None
        except redis.ResponseError as exc:
            raise UsageError(f"redis: {_redact(self.url)}#{self.stream}: {exc}") from None

    def _claim_abandoned(self, client: redis.Redis, batch_size: int) -> Iterator[list[RawItem]]:
        """Take over entries other consumers left pending for ``claim_idle`` seconds; yield them."""
        if self.claim_idle <= 0:
            return
        start, idle_ms = "0-0", int(self.claim_idle * 1000)
        while True:  # not JUSTID: redis-py then drops the cursor needed to page
            reply = client.xautoclaim(self.stream, self.group, self.consumer, idle_ms, start, count=batch_size)
            claimed = _entries([[self.stream, reply[1]]]) if isinstance(reply, (list, tuple)) and len(reply) > 1 else []
            claimed = [(entry_id, fields) for entry_id, fields in claimed if entry_id not in self._unacked]
            if claimed:
                yield self._handed([entry_item(entry_id, fields) for entry_id, fields in claimed])
            start = reply[0] if isinstance(reply, (list, tuple)) and reply else "0-0"
            if start in ("0-0", b"0-0"):
                return

    def _pending(self, client: redis.Redis, batch_size: int) -> Iterator[list[RawItem]]:
        """This consumer's delivered but unacknowledged entries, oldest first."""
        last = "0"
        while True:
            entries = _entries(client.xreadgroup(self.group, self.consumer, {self.stream: last}, count=batch_size))
            if not entries:
                return
            last = entries[-1][0]
            yield self._handed([entry_item(entry_id, fields) for entry_id, fields in entries])

    def _handed(self, batch: list[RawItem]) -> list[RawItem]:
        self._unacked.update(item.position for item in batch)
        return batch


__all__ = ["RedisStreamSource", "entry_item"]
