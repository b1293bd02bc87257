"""What a console page is (:class:`ConsolePage`), how it is drawn (:func:`render`) and how the
pages are put on the app (:func:`mount_console`)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape

from core.console.auth import COOKIE, ConsoleError, Sessions, User, console_secret

if TYPE_CHECKING:
    from core.app import Suite

HERE = Path(__file__).parent
PAGE_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")  # a URL segment and a template prefix
RESERVED_PAGES = frozenset({"login", "logout", "models", "audit", "static"})  # the core's own
ROLE_TITLES = {"viewer": "Viewer", "operator": "Operator", "admin": "Admin"}


@dataclass
class ConsolePage:
    """A plugin's part of the console: ``router``'s routes are served under ``/ui/<name>``,
    a navigation entry ``title`` points at ``/ui/<name>/``, and the templates in ``templates``
    are found as ``"<name>/<file>"`` (they extend ``"base.html"``)."""

    name: str
    title: str
    router: APIRouter
    templates: Path | None = None
    order: int = 50  # place in the navigation: lower first

    @property
    def url(self) -> str:
        return f"/ui/{self.name}/"


@dataclass
class Console:
    """What the console's routes share (``request.app.state.console``)."""

    suite: Suite
    sessions: Sessions
    env: Environment
    pages: list[ConsolePage] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def nav(self) -> list[dict[str, str]]:
        core = [{"title": "Overview", "url": "/ui/"}, {"title": "Models", "url": "/ui/models"}]
        return core + [{"title": p.title, "url": p.url} for p in self.pages] + [{"title": "Audit", "url": "/ui/audit"}]


def render(request: Request, template: str, *, status: int = 200, user: User | None = None, **context: Any) -> HTMLResponse:
    """A page from ``template`` with the layout's context: navigation, the user, their CSRF token."""
    console: Console = request.app.state.console
    if user is None:
        user = console.sessions.user(request.cookies.get(COOKIE))
    html = console.env.get_template(template).render(
        request=request, user=user, nav=console.nav(), path=request.url.path, roles=ROLE_TITLES,
        csrf=user.csrf if user else "", **context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def redirect(url: str, message: str | None = None) -> RedirectResponse:
    """After a form: back to ``url`` (303, so a reload does not post again), with a notice."""
    if message:
        from urllib.parse import quote

        url += ("&" if "?" in url else "?") + "notice=" + quote(message)
    return RedirectResponse(url, status_code=303)


def forbidden(message: str) -> ConsoleError:
    return ConsoleError(403, message)


def audit(request: Request, user: User, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Write a change made through the console to the audit log (shown at /ui/audit)."""
    request.app.state.console.suite.store.audit(user.key.label, user.role, action, target, detail, via="console")


def environment(pages: list[ConsolePage]) -> Environment:
    plugin_templates = {p.name: FileSystemLoader(str(p.templates)) for p in pages if p.templates}
    env = Environment(loader=ChoiceLoader([FileSystemLoader(str(HERE / "templates")), PrefixLoader(plugin_templates)]),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["num"] = _num
    return env


def plugin_pages(suite: Suite) -> list[ConsolePage]:
    pages: list[ConsolePage] = []
    suite.pm.hook.register_ui(register=pages.append, suite=suite)
    names = [p.name for p in pages]
    clash = sorted({n for n in names if names.count(n) > 1 or n in RESERVED_PAGES})
    if clash:
        raise ValueError(f"console pages with the same or a reserved name: {', '.join(clash)}")
    return sorted(pages, key=lambda p: (p.order, p.title))


def mount_console(app: FastAPI, suite: Suite) -> None:
    """Add ``/ui`` (the core's pages, then every plugin's) and its static files to ``app``."""
    from core.console.routes import core_routes

    pages = plugin_pages(suite)
    console = Console(suite, Sessions(lambda: suite.store, console_secret(suite.settings.home)), environment(pages), pages)
    app.state.console = console
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")
    app.include_router(core_routes(), prefix="/ui", include_in_schema=False)
    for page in pages:
        app.include_router(page.router, prefix=f"/ui/{page.name}", include_in_schema=False)
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    if exc.location:
        return RedirectResponse(exc.location, status_code=exc.status)
    return render(request, "error.html", status=exc.status, title="Not allowed" if exc.status == 403 else "Error",
                  message=exc.message)


def _when(value: Any) -> str:
    """A stored time as people read it in a table: ``2026-12-02 14:05 UTC``."""
    if value is None:
        return ""
    if isinstance(value, str):
        from datetime import datetime

        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M UTC")


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
