"""Console sign-in: an API key exchanged for a signed session cookie.

The cookie holds the key's id and a CSRF token, signed with a secret kept in
``SUITE_HOME/console.secret`` (or ``SUITE_CONSOLE_SECRET``), so every worker and host that
shares the home accepts it. It is HttpOnly and SameSite=Strict; every form carries the CSRF
token. Each request re-reads the key (cached for two seconds): revoking a key, or changing
nothing but its role, ends or changes every session made with it within that time.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.serving.auth import KeyCache

if TYPE_CHECKING:
    from core.store import ApiKeyEntry, Store

COOKIE = "suite_console"
SESSION_HOURS = 12
SECRET_ENV = "SUITE_CONSOLE_SECRET"


class ConsoleError(Exception):
    """Answered as a page (or a redirect) by the console's exception handler, never as JSON."""

    def __init__(self, status: int, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.location = location


@dataclass(frozen=True)
class User:
    """Who is signed in: their key (name, prefix, role) and the session's CSRF token."""

    key: ApiKeyEntry
    csrf: str

    @property
    def role(self) -> str:
        return self.key.role

    def can(self, role: str) -> bool:
        return self.key.can(role)


def console_secret(home: Path) -> bytes:
    """The signing secret: ``SUITE_CONSOLE_SECRET``, else a random one made once in the home
    (created with O_EXCL and mode 0600, so two workers starting together agree on it)."""
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV].encode()
    path = home / "console.secret"
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_bytes().strip()


class Sessions:
    """Signs and reads session cookies; looks their keys up in the store."""

    def __init__(self, store: Any, secret: bytes, cache_s: float = 2.0) -> None:
        self._store = store  # a callable returning the Store: opened lazily by the app
        self.serializer = URLSafeTimedSerializer(secret, salt="suite-console-session")
        self.keys = KeyCache(cache_s)

    @property
    def store(self) -> Store:
        return self._store()

    def sign_in(self, key: ApiKeyEntry) -> str:
        return self.serializer.dumps({"k": key.id, "c": secrets.token_urlsafe(24)})

    def user(self, cookie: str | None) -> User | None:
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=SESSION_HOURS * 3600)
        except BadSignature:
            return None
        digest = f"id:{data['k']}"
        known, key = self.keys.get(digest)
        if not known:
            key = self.store.get_api_key(int(data["k"]))
            self.keys.put(digest, key)
        return User(key, str(data["c"])) if key is not None else None


def current_user(request: Request) -> User:
    """The signed-in user; anyone else is sent to the sign-in page (and back afterwards)."""
    user = request.app.state.console.sessions.user(request.cookies.get(COOKIE))
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise ConsoleError(303, "sign in first", location=f"/ui/login?next={_quote(target)}")
    return user


async def check_csrf(request: Request, user: Annotated[User, Depends(current_user)]) -> User:
    """For every POST: the form's ``csrf`` field (or an ``X-CSRF-Token`` header) must be the
    session's token; a page on another site cannot know it."""
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()  # Starlette keeps the parsed form for the route's own Form()s
        sent = str(form.get("csrf") or "")
    if not secrets.compare_digest(sent.encode(), user.csrf.encode()):
        raise ConsoleError(403, "the form's security token is missing or stale: reload the page and try again")
    return user


def requires_role(role: str) -> Any:
    """A dependency for actions: the user, when their key's role includes ``role`` and the
    request carries the session's CSRF token; else a 403 page saying what is needed."""

    async def allowed(user: Annotated[User, Depends(check_csrf)]) -> User:
        if not user.can(role):
            raise ConsoleError(403, f"your key ({user.key.label}) has the {user.role} role; this needs {role}")
        return user

    return allowed


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


SignedIn = Annotated[User, Depends(current_user)]
Operator = Annotated[User, Depends(requires_role("operator"))]
