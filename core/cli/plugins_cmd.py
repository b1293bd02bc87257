"""``suite plugins list|enable|disable|new``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import tomlkit
import typer

from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, err, print_json
from core.errors import UnknownNameError, UsageError
from core.settings import CONFIG_FILENAME, load_settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Installed plugins: list, enable, disable; new scaffolds one.", no_args_is_help=True)
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

    @group.command("new")
    def new(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Plugin name: lowercase letters, digits and _ (e.g. acme_tickets).")],
        directory: Annotated[Optional[Path], typer.Option("--dir", help="Folder to create (default: ./suite-NAME).")] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Scaffold a plugin package: entry point, a working scenario, sample data, tests, README."""
        _scaffold(ctx, name, directory, json_output=json_output)


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


def _scaffold(ctx: typer.Context, name: str, directory: Path | None, *, json_output: bool) -> None:
    from core.cli.app import package_version
    from core.scaffold import PluginNames, scaffold_plugin

    names = PluginNames.of(name)
    suite = get_suite(ctx)
    if name in suite.pm.records:
        raise UsageError(f"a plugin named '{name}' is already installed", hint="choose another name")
    if names.scenario in suite.scenarios:
        raise UsageError(f"a scenario named '{names.scenario}' is already installed", hint="choose another name")
    target = directory or Path(names.distribution)
    version = package_version()
    files = scaffold_plugin(name, target, core_version=version if version[:1].isdigit() else "0.1")
    if json_output:
        shown = {k: v for k, v in vars(names).items() if k != "cls"}
        print_json({**shown, "path": str(target), "files": [str(f.relative_to(target)) for f in files]})
        return
    console = err()
    console.print(f"created plugin '{name}' ({names.distribution}) in {target}/: {len(files)} files", highlight=False)
    console.print("next:", highlight=False)
    for step in (f"pip install -e {target}", "suite plugins list",
                 f"suite train {names.scenario} --train {target / names.package / 'samples' / 'train.csv'}",
                 f"cd {target} && pytest"):
        console.print(f"  {step}", highlight=False, markup=False)
