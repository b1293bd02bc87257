"""``suite finance alerts list|ack|silence`` and ``suite finance dead-letters``."""

from __future__ import annotations

import getpass
import re
from datetime import timedelta
from typing import Annotated, Optional

import typer

from core import UsageError
from core.cli import get_suite
from core.cli.output import display_table, print_json
from core.store.schema import utcnow
from plugins.finance_sentiment.store import ALERT_STATUSES, FinanceStore

finance = typer.Typer(help="The finance monitor's alerts and dead letters.", no_args_is_help=True)
alerts_app = typer.Typer(help="List, acknowledge and silence alerts.", no_args_is_help=True)
finance.add_typer(alerts_app, name="alerts")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")


def _store(ctx: typer.Context) -> FinanceStore:
    return FinanceStore(get_suite(ctx).store)


def parse_duration(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise UsageError(f"--for '{text}': expected a duration such as 30m, 2h or 1d")
    value, unit = float(match.group(1)), match.group(2)
    return timedelta(seconds=value * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@alerts_app.command("list")
def list_alerts(ctx: typer.Context,
                status: Annotated[Optional[str], typer.Option("--status", help="firing or resolved.")] = None,
                limit: Annotated[int, typer.Option("--limit")] = 50, json_output: JsonFlag = False) -> None:
    """Alerts, newest first, with their delivery state."""
    if status and status not in ALERT_STATUSES:
        raise UsageError(f"--status '{status}': expected one of {', '.join(ALERT_STATUSES)}")
    rows = _store(ctx).list_alerts(status, limit)
    for row in rows:
        row["acknowledged"] = row["acknowledged_at"] is not None
        row["negative"] = f"{row['evidence'].get('negative', '?')}/{row['evidence'].get('total', '?')}"
    if json_output:
        print_json(rows)
        return
    display_table(["id", "status", "severity", "key", "fired_at", "negative", "acknowledged", "deliveries"], rows,
                  title="alerts", empty="no alerts")


@alerts_app.command("ack")
def ack(ctx: typer.Context, alert_id: Annotated[str, typer.Argument(help="Alert id (or a unique prefix).")],
        by: Annotated[Optional[str], typer.Option("--by", help="Who acknowledges (default: your user name).")] = None,
        json_output: JsonFlag = False) -> None:
    """Acknowledge an alert: it stays open, but its updates are no longer sent."""
    alert = _store(ctx).acknowledge(alert_id, by or getpass.getuser())
    if json_output:
        print_json(alert)
    else:
        typer.echo(f"acknowledged {alert['id']} ({alert['key']}) by {alert['acknowledged_by']}")


@alerts_app.command("silence")
def silence(ctx: typer.Context,
            target: Annotated[str, typer.Argument(help="An alert id (silences its key) or a key such as 'entity:Northwind Bank'.")],
            duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")] = "1h",
            reason: Annotated[Optional[str], typer.Option("--reason")] = None, json_output: JsonFlag = False) -> None:
    """Send nothing for a topic or entity for a while (alerts are still recorded)."""
    store = _store(ctx)
    key = target if ":" in target else store.get_alert(target)["key"]
    until = utcnow() + parse_duration(duration)
    store.silence(key, until, reason)
    if json_output:
        print_json({"key": key, "until": until.isoformat(), "reason": reason})
    else:
        typer.echo(f"silenced {key} until {until:%Y-%m-%d %H:%M} UTC")


@finance.command("dead-letters")
def dead_letters(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit")] = 50, json_output: JsonFlag = False) -> None:
    """Items the monitor could not use, with the reason."""
    rows = _store(ctx).dead_letters(limit)
    display_table(["id", "source_key", "position", "reason", "raw"], rows, json_output=json_output,
                  title="dead letters", empty="no dead letters")
