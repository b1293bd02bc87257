"""``suite plugins list|enable|disable``."""

from __future__ import annotations

from typing import Annotated, Optional

import tomlkit
import typer

from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, err
from core.errors import UnknownNameError
from core.settings import CONFIG_FILENAME, load_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Installed plugins: list, enable, disable.", no_args_is_help=True)
    app.add_typer(group, name="plugins")

    @group.command("list")
    def list_plugins(
        ctx: typer.Context,
        json_output: JsonFlag = False,
        all_: Annotated[bool, typer.Option("--all", help="Include the core's default plugins.")] = False,
        hook: Annotated[Optional[str], typer.Option("--hook", help="Only plugins implementing this hook.")] = None,
    ) -> None:
        """Name, version, hooks implemented and status (ok, disabled, broken) of each plugin."""
        records = get_suite(ctx).pm.plugins_info(include_defaults=all_)
        rows = [r.as_dict() for r in records if hook is None or hook in r.hooks]
        display_table(["name", "version", "status", "hooks", "error"], rows, json_output=json_output, empty="no plugins")

    @group.command("disable")
    def disable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Plugin (entry-point) name.")]) -> None:
        """Stop loading a plugin (recorded in $SUITE_HOME/suite.toml)."""
        _set_enabled(ctx, name, enabled=False)

    @group.command("enable")
    def enable(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Plugin (entry-point) name.")]) -> None:
        """Load a disabled plugin again (recorded in $SUITE_HOME/suite.toml)."""
        _set_enabled(ctx, name, enabled=True)


def _set_enabled(ctx: typer.Context, name: str, *, enabled: bool) -> None:
    suite = get_suite(ctx)
    if name not in suite.pm.records:
        known = ", ".join(r.name for r in suite.pm.plugins_info()) or "none installed"
        raise UnknownNameError(f"unknown plugin '{name}' (installed: {known})")
    path = suite.settings.home / CONFIG_FILENAME
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    disabled = [n for n in doc.get("disable_plugins", []) if n != name]
    if not enabled:
        disabled.append(name)
    doc["disable_plugins"] = disabled
    if enabled and "load_plugins" in doc and name not in doc["load_plugins"]:
        doc["load_plugins"].append(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.replace(path)
    err().print(f"{'enabled' if enabled else 'disabled'} plugin '{name}' in {path}", highlight=False)
    if load_settings(home=suite.settings.home).plugin_enabled(name) != enabled:
        err().print(
            f"note: SUITE_LOAD_PLUGINS / SUITE_DISABLE_PLUGINS or ./{CONFIG_FILENAME} override this",
            highlight=False,
        )
