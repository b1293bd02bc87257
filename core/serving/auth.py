"""API keys: ``Authorization: Bearer <key>``, checked against hashes in the store.

Keys are made with ``suite keys create`` (the store keeps only their SHA-256). A check is
cached for ``cache_s`` seconds so a busy server does not ask the database on every
request; a revoked key is therefore refused by every worker and host within that time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
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


def key_dependency(store: Callable[[], Store], *, cache_s: float = 2.0) -> Callable[..., Awaitable[None]]:
    """A FastAPI dependency that admits live keys and puts the key's prefix on
    ``request.state.key_prefix`` for the access log."""
    cache = KeyCache(cache_s)

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

    return require_key
