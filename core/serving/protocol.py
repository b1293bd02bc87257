"""uvicorn's HTTP protocol with a request read timeout: a client that takes longer than
``read_timeout_s`` to send a whole request (headers and body) is disconnected.

uvicorn times out idle keep-alive connections but not a request arriving one byte at a time
(slowloris): each such connection would hold a socket and a parser forever. The timer starts
when the connection opens and again when each request begins, and stops when the request is
complete. The timeout comes from the serve options in the environment (``SUITE_SERVE_CONFIG``),
so uvicorn's worker processes, which import this class by name, get it too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_READ_TIMEOUT_S = 10.0
log = logging.getLogger("suite.serving")


def read_timeout_s() -> float:
    from core.serving.app import SERVE_CONFIG_ENV

    options: dict[str, Any] = json.loads(os.environ.get(SERVE_CONFIG_ENV) or "{}")
    return float(options.get("read_timeout_s", DEFAULT_READ_TIMEOUT_S))


class ReadTimeoutProtocol(HttpToolsProtocol):
    """An ``HttpToolsProtocol`` that drops a client too slow to send its request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s = read_timeout_s()
        self._read_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        if self.read_timeout_s > 0:
            self._read_timer = self.loop.call_later(self.read_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        if not self.transport.is_closing():
            log.info("dropped a client that did not send its request within %.3g s", self.read_timeout_s)
            self.transport.close()
