"""How errors reach the user: one line on stderr, a hint, and the right exit code."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup

from core.cli.output import err
from core.errors import SuiteError


def show_error(exc: SuiteError) -> None:
    console = err()
    from rich.markup import escape

    # the message is the user's data (file names, fields such as surges[0]): never read as markup
    console.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", highlight=False, markup=True)
    if exc.hint:
        console.print(f"  hint: {exc.hint}", highlight=False, markup=False)


def debug_enabled() -> bool:
    return os.environ.get("SUITE_DEBUG", "").lower() in {"1", "true", "yes"}


class SuiteGroup(TyperGroup):
    """Root group: a :class:`SuiteError` from any command becomes a message and an exit code.

    Doing this in the group (not only in ``main``) means ``CliRunner`` tests see exactly what
    a user sees. ``SUITE_DEBUG=1`` re-raises for the full traceback.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except SuiteError as exc:
            if debug_enabled():
                raise
            show_error(exc)
            raise typer.Exit(exc.exit_code) from None
