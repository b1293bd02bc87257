"""The ``suite`` command line. Plugins add commands through ``register_commands``."""

from __future__ import annotations

import typer

from core.app import Suite


def get_suite(ctx: typer.Context) -> Suite:
    """The :class:`core.Suite` of the running command (made by the root callback)."""
    suite = ctx.find_root().obj
    if not isinstance(suite, Suite):
        raise RuntimeError("get_suite() called outside a 'suite' command")
    return suite


__all__ = ["get_suite"]
