"""``suite models list|activate``: the model registry."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Optional

import typer

from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, err


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Fine-tuned models in the registry.", no_args_is_help=True)
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
            ["name", "version", "scenario", "active", "metrics", "path"],
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
