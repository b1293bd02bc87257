"""The contract between the core and its plugins.

Every hook is a *registration callback* (as in simonw/llm): the core calls the hook once
per process with a ``register`` function and keeps what plugins hand it in one registry,
so duplicate names and lookups are handled in one place. Hooks must be implemented with
keyword-compatible parameter names; an implementation may accept any subset of them.

Implement a hook in a plugin module with ``@core.hookimpl``::

    from core import hookimpl

    @hookimpl
    def register_data_adapters(register):
        register(MyAdapter())
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from core.alerts import AlertSink
    from core.app import Suite
    from core.console import ConsolePage
    from core.data.base import DataAdapter
    from core.heads import TaskHead
    from core.scenarios import Scenario
    from core.streams import Source

PROJECT_NAME = "suite"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------


@hookspec
def register_data_adapters(register: Callable[[DataAdapter], None]) -> None:
    """Register readers for data sources (files, tables, formats).

    Called the first time the core needs an adapter: reading ``--train``/``--eval``/
    ``--data``/``--input`` files or ``suite data inspect``.

    :param register: call ``register(adapter)`` with a :class:`core.DataAdapter` instance
        per format; its ``name`` must be unique (it is what ``--format`` selects).
    :returns: nothing; registration is through the callback.
    """


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


@hookspec
def register_task_heads(register: Callable[[type[TaskHead]], None]) -> None:
    """Register task heads: the layers and loss put on top of a pretrained encoder.

    Called when the engine builds or loads a model, and by ``suite plugins list``.

    :param register: call ``register(HeadClass)`` with a :class:`core.TaskHead` subclass;
        its ``name`` must be unique and is stored with every model that uses it, so a saved
        model finds its head again when it is loaded.
    :returns: nothing.
    """


# --------------------------------------------------------------------------------------
# Scenarios and jobs
# --------------------------------------------------------------------------------------


@hookspec
def register_scenarios(register: Callable[[Scenario], None]) -> None:
    """Register business scenarios, the units behind ``suite train|evaluate|predict|run``.

    Called while the CLI is built (each scenario becomes a sub-command of the verbs it
    implements) and when the server assembles its routes.

    :param register: call ``register(scenario)`` with a :class:`core.Scenario` instance;
        its ``name`` (kebab-case, e.g. ``finance-monitor``) must be unique.
    :returns: nothing.
    """


@hookspec
def register_sources(register: Callable[[type[Source]], None]) -> None:
    """Register feeds that long-running jobs read items from (files, folders, tables, brokers).

    Called when a job such as ``suite run finance-monitor`` resolves its ``--source`` spec,
    and by ``suite plugins list``.

    :param register: call ``register(SourceClass)`` with a :class:`core.Source` subclass; its
        ``name`` is the scheme that selects it in a source spec (``redis`` for
        ``redis://host/0#stream``, ``file`` for ``file:feed.jsonl``). A source that several
        processes can read together (a broker's consumer group) sets ``shared = True`` and
        implements ``order``, ``settled`` and ``progress``: the finance monitor then runs it as
        ``--workers N``.
    :returns: nothing.
    """


# --------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------


@hookspec
def register_routes(register: Callable[[APIRouter], None], suite: Suite) -> None:
    """Add HTTP routes to the app ``suite serve`` runs.

    Called once per server process while the FastAPI app is assembled, after the core's
    own routes. Load models lazily or in the router's startup, not here. To predict with a
    registered text model through the shared micro-batcher (and hot reload), await
    ``request.app.state.serving.models.predict(name, texts)`` -> ``(version, predictions)``.

    :param register: call ``register(router)`` with a ``fastapi.APIRouter``; give it a
        versioned prefix such as ``/v1/<scenario>``. Its routes require an API key unless
        the server runs with ``--no-auth``.
    :param suite: the running :class:`core.Suite` (settings, store, registries).
    :returns: nothing.
    """


@hookspec
def register_ui(register: Callable[[ConsolePage], None], suite: Suite) -> None:
    """Add pages to the operations console (``/ui``) that ``suite serve`` runs.

    Called once per server process while the app is assembled, after the core's pages. A
    page's routes are server-rendered HTML: render with ``core.console.render(request,
    "<name>/page.html", ...)`` (templates extend ``"base.html"``), take the signed-in user with
    the ``core.console.SignedIn`` dependency, and guard changes with
    ``core.console.requires_role("operator")`` (which also checks the form's CSRF token) and
    record them with ``core.console.audit``. See docs/plugins.md.

    :param register: call ``register(page)`` with a :class:`core.console.ConsolePage`: its
        ``name`` is the URL segment (``/ui/<name>/``) and the template prefix, ``title`` the
        navigation entry, ``router`` a ``fastapi.APIRouter`` with paths relative to it.
    :param suite: the running :class:`core.Suite`.
    :returns: nothing.
    """


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands or command groups to the ``suite`` CLI.

    Called once while the CLI is built, after the core's commands. Inside a command, get
    the :class:`core.Suite` with ``core.cli.get_suite(ctx)`` from a ``typer.Context``.

    :param cli: the root ``typer.Typer``; use ``cli.command()`` or ``cli.add_typer()``.
    :returns: nothing.
    """


# --------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------


@hookspec
def register_alert_sinks(register: Callable[[type[AlertSink]], None]) -> None:
    """Register places alerts are delivered to (console, file, webhook, e-mail, ...).

    Called when a job that raises alerts starts, and by ``suite plugins list``.

    :param register: call ``register(SinkClass)`` with a :class:`core.AlertSink` subclass;
        its ``name`` is what the configuration refers to.
    :returns: nothing.
    """


# --------------------------------------------------------------------------------------
# Store
# --------------------------------------------------------------------------------------


@hookspec
def register_migrations(register: Callable[[Path], None]) -> None:
    """Add a plugin's own tables to the store through versioned (Alembic) migrations.

    Called every time the store is opened, before it is upgraded to its newest schema.

    :param register: call ``register(path)`` with the folder of the plugin's Alembic
        revision files. The plugin's first revision has ``down_revision = None``, a
        ``branch_labels = ("<plugin>",)`` and ``depends_on = "core_0001"`` (or a later
        core revision), so the plugin's branch upgrades after the core tables it needs.
    :returns: nothing.
    """
