"""``suite cs feedback|export|turns|tickets``: the conversation log from the command line."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Optional

import typer

from core import UsageError
from core.cli import get_suite
from core.cli.output import display_table, print_json
from plugins.customer_service.store import EXPORT_COLUMNS, ConversationLog

cs = typer.Typer(help="Customer service: the conversation log, feedback, training-data export, tickets.",
                 no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _log(ctx: typer.Context) -> ConversationLog:
    return ConversationLog(get_suite(ctx).store)


@cs.command("feedback")
def feedback(ctx: typer.Context, turn: Annotated[int, typer.Argument(help="Turn id (shown under each reply).")],
             intent: Annotated[str, typer.Option("--intent", help="The intent the turn should have had (may be new).")],
             note: Annotated[Optional[str], typer.Option("--note", help="Why, for the reviewer.")] = None,
             json_output: JsonFlag = False) -> None:
    """Correct a turn's intent; 'suite cs export' then offers it as training data."""
    done = _log(ctx).add_feedback(turn, intent, note=note, source="cli")
    if json_output:
        print_json(done)
    else:
        typer.echo(f"turn {done['turn_id']}: intent '{done['intent']}' recorded")


@cs.command("export")
def export(ctx: typer.Context, out: Annotated[Path, typer.Option("--output", "--out", "-o", help="CSV file to write.")],
           below: Annotated[Optional[float], typer.Option("--below", help="Low confidence means under this (default: turns the model would not answer).")] = None,
           json_output: JsonFlag = False) -> None:
    """Corrected and low-confidence turns as training data (text,label,...); train with --train-extra."""
    if below is not None and not 0 <= below <= 1:
        raise UsageError(f"--below: expected a confidence in [0, 1], got {below}")
    rows = _log(ctx).export_rows(below)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=EXPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise UsageError(f"--out {out}: {exc.strerror or exc}") from None
    labelled = sum(1 for r in rows if r["label"])
    summary = {"out": str(out), "rows": len(rows), "labelled": labelled, "needs_label": len(rows) - labelled}
    if json_output:
        print_json(summary)
        return
    typer.echo(f"wrote {len(rows)} turn(s) to {out}: {labelled} labelled, {len(rows) - labelled} waiting for a label")
    if labelled:
        typer.echo(f"retrain with: suite train customer-service --train YOUR_DATA --train-extra {out}", err=True)


@cs.command("turns")
def turns(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit")] = 20,
          session: Annotated[Optional[str], typer.Option("--session", help="Only this session.")] = None,
          json_output: JsonFlag = False) -> None:
    """Recent turns, newest first: route, intent, confidence and latency."""
    rows = _log(ctx).list_turns(limit, session)
    for row in rows:
        row["confidence"] = None if row["confidence"] is None else round(row["confidence"], 3)
        row["latency_ms"] = round(row["latency_ms"], 1)
    display_table(["id", "session_id", "route", "intent", "confidence", "latency_ms", "text"], rows,
                  json_output=json_output, title="turns", empty="no turns yet")


@cs.command("tickets")
def tickets(ctx: typer.Context, status: Annotated[str, typer.Option("--status", help="open, or all.")] = "open",
            limit: Annotated[int, typer.Option("--limit")] = 50, json_output: JsonFlag = False) -> None:
    """Hand-off tickets, newest first, with the reason the assistant gave up."""
    if status not in ("open", "all"):
        raise UsageError(f"--status '{status}': expected open or all")
    rows = _log(ctx).list_tickets(None if status == "all" else status, limit)
    display_table(["id", "status", "session_id", "turn_id", "created_at", "text", "reason"], rows,
                  json_output=json_output, title="tickets", empty="no tickets")
