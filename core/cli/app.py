"""Builds the ``suite`` CLI from a plugin manager, so tests never reload modules."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.app import Suite
from core.cli import data_cmd, doctor, keys_cmd, models_cmd, plugins_cmd, serve_cmd, verbs
from core.cli.errors import SuiteGroup, debug_enabled, show_error
from core.errors import SuiteError
from core.models import quiet_transformers
from core.plugins import SuitePluginManager, make_plugin_manager
from core.settings import Settings, load_settings


def package_version() -> str:
    try:
        return version("industry-suite")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"suite {package_version()}")
        raise typer.Exit()


def build_app(pm: SuitePluginManager, settings: Settings | None = None) -> typer.Typer:
    """The whole CLI for the plugins in ``pm``; ``settings`` are the base the flags override."""
    base = settings or load_settings()
    app = typer.Typer(
        cls=SuiteGroup,
        name="suite",
        help="Industry Suite: fine-tune transformer encoders for business scenarios and run them.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
        add_completion=False,
        # Plain click help: it wraps the help text and never cuts an option's name, where
        # rich's table shrinks every column at 80 columns ("--target-precis…").
        rich_markup_mode=None,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        db: Annotated[Optional[str], typer.Option("--db", help="Database URL (default: SQLite under SUITE_HOME).")] = None,
        home: Annotated[Optional[Path], typer.Option("--home", help="Folder for models, runs and the database.")] = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show library logs and load tables.")] = False,
        show_version: Annotated[
            bool, typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version)
        ] = False,
    ) -> None:
        overrides = {"database_url": db, "home": home, "verbose": verbose or None}
        settings = base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
        quiet_transformers(settings.verbose)  # load reports and warnings only with --verbose, in every command
        suite = Suite(settings, pm)
        ctx.obj = suite
        ctx.call_on_close(suite.close)

    plugins_cmd.register(app)
    doctor.register(app)
    models_cmd.register(app)
    data_cmd.register(app)
    serve_cmd.register(app)
    keys_cmd.register(app)
    verbs.register(app, Suite(base, pm))
    pm.hook.register_commands(cli=app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        settings = load_settings()
        app = build_app(make_plugin_manager(settings), settings)
    except SuiteError as exc:
        if debug_enabled():
            raise
        show_error(exc)
        sys.exit(exc.exit_code)
    app(args=argv, prog_name="suite")


if __name__ == "__main__":
    main()
