"""``suite keys create|list|revoke``: API keys of the HTTP server."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated

import typer

from core.cli import get_suite
from core.cli.options import JsonFlag
from core.cli.output import display_table, err, print_json

if TYPE_CHECKING:
    from core.store import ApiKeyEntry


def key_row(entry: ApiKeyEntry) -> dict[str, object]:
    return asdict(entry) | {"status": "active" if entry.active else "revoked"}


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="API keys for 'suite serve' (stored hashed).", no_args_is_help=True)
    app.add_typer(group, name="keys")

    @group.command("create")
    def create(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'crm-prod'.")],
        role: Annotated[str, typer.Option("--role", help=(
            "viewer: predictions, replies and reading the console; operator: also acknowledge and silence alerts, "
            "relabel turns; admin: also activate model versions."))] = "viewer",
        json_output: JsonFlag = False,
    ) -> None:
        """Make a key and print its secret: the only time it is shown (the store keeps a hash)."""
        entry, secret = get_suite(ctx).store.create_api_key(name, role)
        if json_output:
            print_json(key_row(entry) | {"key": secret})
            return
        err().print(f"created {entry.role} key {entry.id} '{entry.name}' ({entry.prefix}...). Save it now: it is not shown again.",
                    highlight=False, markup=False)
        typer.echo(secret)  # alone on stdout, so KEY=$(suite keys create NAME) works

    @group.command("list")
    def list_keys(ctx: typer.Context, json_output: JsonFlag = False) -> None:
        """Every key: id, name, prefix, created, revoked (never the secret)."""
        rows = [key_row(entry) for entry in get_suite(ctx).store.list_api_keys()]
        display_table(["id", "name", "role", "prefix", "status", "created_at", "revoked_at"], rows, json_output=json_output,
                      empty="no API keys yet: create one with 'suite keys create NAME'")

    @group.command("revoke")
    def revoke(
        ctx: typer.Context,
        id_or_name: Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="Key id, or the name of a live key.")],
    ) -> None:
        """Refuse a key from now on (servers notice within seconds)."""
        entry = get_suite(ctx).store.revoke_api_key(id_or_name)
        err().print(f"revoked key {entry.id} '{entry.name}' ({entry.prefix}...)", highlight=False, markup=False)
