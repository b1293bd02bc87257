"""What every request goes through: the body size limit, metrics and the JSON access log.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): no extra task per request,
and the body is counted as it streams in, so a huge upload is cut off, not buffered.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import datetime, timezone
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.serving.metrics import Metrics

access_log = logging.getLogger("suite.access")


class JsonLines(logging.Formatter):
    """One JSON object per line: an access record as is, anything else as level + message."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "access", None)
        if fields is None:
            fields = {"level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
            if record.exc_info:
                fields["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps({"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **fields})


def configure_logging(level: int = logging.INFO) -> None:
    """Serving logs as JSON lines on stderr (idempotent: several apps in one process)."""
    for name in ("suite.access", "suite.serving"):
        logger = logging.getLogger(name)
        if not any(getattr(h, "_suite", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonLines())
            handler._suite = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


JSON_BODY_TYPES = {b"", b"application/x-www-form-urlencoded", b"text/plain"}  # what curl -d and bare clients send


def _json_by_default(scope: Scope) -> Scope:
    """Every route takes JSON: a POST whose content type is missing, curl -d's form default or
    text/plain is read as JSON, so `curl -d '{"text": ...}'` works as the README shows. The
    console's HTML forms (under /ui) keep their form encoding."""
    if scope.get("method") != "POST" or scope.get("path", "").startswith("/ui/"):
        return scope
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-type"]
    declared = next((v.split(b";")[0].strip().lower() for k, v in scope.get("headers", []) if k == b"content-type"), b"")
    if declared not in JSON_BODY_TYPES:
        return scope
    return scope | {"headers": [*headers, (b"content-type", b"application/json")]}


class ServingMiddleware:
    """Refuse bodies over ``max_body_bytes`` (413), count and time every request, log it."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.pid = os.getpid()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500  # what it is if the app raises before answering

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        scope = _json_by_default(scope)
        try:
            if self._declared_length(scope) > self.max_body_bytes:
                await self._too_large(send_and_watch)
            else:
                await self.app(scope, self._limited(receive), send_and_watch)
        finally:
            self._record(scope, state, status, time.perf_counter() - started)

    def _declared_length(self, scope: Scope) -> int:
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that stops a chunked body as soon as it passes the limit."""
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise HTTPException(413, detail=self._too_large_message())
            return message

        return limited

    def _too_large_message(self) -> str:
        return f"request body over {self.max_body_bytes:,} bytes: send fewer or shorter texts"

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"error": self._too_large_message(), "detail": []}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        self.metrics.observe_request(template, scope["method"], status, seconds)
        client = scope.get("client")
        access_log.info("", extra={"access": {
            "method": scope["method"],
            "path": scope["path"],  # never the query string: it may carry tokens
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "client": client[0] if client else None,
            "key_prefix": state.get("key_prefix"),
            "pid": self.pid,
        }})
