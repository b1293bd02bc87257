"""API keys: ``Authorization: Bearer <key>``, checked against hashes in the store.

Keys are made with ``suite keys create`` (the store keeps only their SHA-256). A check is
cached for ``cache_s`` seconds so a busy server does not ask the database on every
request; a revoked key is therefore refused by every worker and host within that time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.store import hash_api_key

if TYPE_CHECKING:
    from core.store import ApiKeyEntry, Store

CACHE_LIMIT = 10_000  # distinct keys remembered before the cache starts over
MISSING = "missing API key: send the header 'Authorization: Bearer <key>' (create one with: suite keys create NAME)"
INVALID = "invalid or revoked API key"

bearer = HTTPBearer(auto_error=False, description="A key from `suite keys create NAME`.")


class KeyCache:
    """Results of recent key checks (valid or not) by hash, each for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[ApiKeyEntry | None, float]] = {}

    def get(self, digest: str) -> tuple[bool, ApiKeyEntry | None]:
        hit = self._entries.get(digest)
        if hit is None or hit[1] < time.monotonic():
            return False, None
        return True, hit[0]

    def put(self, digest: str, entry: ApiKeyEntry | None) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= CACHE_LIMIT:
            self._entries.clear()
        self._entries[digest] = (entry, time.monotonic() + self.ttl)


def unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts of ``burst``.
    Per worker process (each counts its own requests); ``rate`` 0 admits everything."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = max(burst if burst is not None else 2 * rate, 1.0)
        self.buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)

    def wait(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0 when admitted, else the seconds until one is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


def requires(role: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency for routes that change things: 403 unless the caller's key has ``role``
    (viewer < operator < admin). Servers run with ``--no-auth`` (loopback only) admit all."""

    async def check_role(request: Request) -> None:
        key: ApiKeyEntry | None = getattr(request.state, "api_key", None)
        if key is not None and not key.can(role):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"key {key.prefix}... has the {key.role} role; this needs {role} "
                                                           f"(suite keys create NAME --role {role})")

    return check_role


def audit(request: Request, store: Store, action: str, target: str, detail: dict | None = None) -> None:
    """Write a change made through the JSON API to the audit log, with the calling key."""
    key: ApiKeyEntry | None = getattr(request.state, "api_key", None)
    actor, role = (key.label, key.role) if key is not None else ("no key (--no-auth)", "admin")
    store.audit(actor, role, action, target, detail, via="api")


def key_dependency(store: Callable[[], Store], *, cache_s: float = 2.0,
                   rate_limit: float = 0.0) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits live keys within their rate (429 with Retry-After
    beyond it) and puts the key's prefix on ``request.state.key_prefix`` for the access log."""
    cache = KeyCache(cache_s)
    limiter = RateLimiter(rate_limit)

    async def require_key(request: Request,
                          credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if credentials is None:
            raise unauthorized(MISSING)
        digest = hash_api_key(credentials.credentials)
        known, entry = cache.get(digest)
        if not known:
            entry = await run_in_threadpool(store().verify_api_key, credentials.credentials)
            cache.put(digest, entry)
        if entry is None:
            raise unauthorized(INVALID)
        request.state.key_prefix = entry.prefix
        request.state.api_key = entry
        wait = limiter.wait(entry.prefix)
        if wait:
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, f"key {entry.prefix}: over {limiter.rate:g} requests a second",
                                headers={"Retry-After": str(max(1, math.ceil(wait)))})

    return require_key
