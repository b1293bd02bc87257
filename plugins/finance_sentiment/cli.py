"""``suite finance alerts list|ack|silence``, ``suite finance dead-letters``, ``suite finance status``, and measuring the
surge detector: ``suite finance plant`` (labelled surges into a feed), ``suite finance backtest``."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from core import UsageError
from core.cli import get_suite
from core.cli.output import display_table, print_json
from core.store.schema import utcnow
from plugins.finance_sentiment.store import ALERT_STATUSES, FinanceStore

finance = typer.Typer(help="The finance monitor's alerts, dead letters, and surge backtests.", no_args_is_help=True)
alerts_app = typer.Typer(help="List, acknowledge and silence alerts.", no_args_is_help=True)
finance.add_typer(alerts_app, name="alerts")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
MAX_SILENCE = timedelta(days=3650)


def _store(ctx: typer.Context) -> FinanceStore:
    return FinanceStore(get_suite(ctx).store)


def parse_duration(text: str) -> timedelta:
    from plugins.finance_sentiment.run_options import duration

    length = duration(text, "--for")
    if length > MAX_SILENCE:
        raise UsageError(f"--for '{text}': at most {MAX_SILENCE.days} days")
    return length


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
    store = _store(ctx)
    before = store.get_alert(alert_id)
    if before["acknowledged_at"] is not None:
        if json_output:
            print_json(before | {"already_acknowledged": True})
        else:
            typer.echo(f"{before['id']} ({before['key']}) was already acknowledged by {before['acknowledged_by']} "
                       f"at {before['acknowledged_at']:%Y-%m-%d %H:%M} UTC; nothing changed")
        return
    alert = store.acknowledge(before["id"], by or getpass.getuser())
    if json_output:
        print_json(alert | {"already_acknowledged": False})
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
    known = _known_keys(ctx, store)
    if key not in known:
        shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
        raise UsageError(f"no topic or entity '{key}' is watched or has alerts (known: {shown or 'none yet'})",
                         hint="keys look like 'entity:Northwind Bank' or 'topic:earnings'")
    until = utcnow() + parse_duration(duration)
    store.silence(key, until, reason)
    if json_output:
        print_json({"key": key, "until": until.isoformat(), "reason": reason})
    else:
        typer.echo(f"silenced {key} until {until:%Y-%m-%d %H:%M} UTC")


@alerts_app.command("silences")
def silences(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """The silences in force: key, until when, why."""
    rows = [row | {"until": row["until"].isoformat(), "created_at": row["created_at"].isoformat()} for row in _store(ctx).silences()]
    display_table(["key", "until", "reason"], rows, json_output=json_output, title="silences", empty="no silences in force")


@alerts_app.command("unsilence")
def unsilence(ctx: typer.Context, key: Annotated[str, typer.Argument(help="The silenced key, e.g. 'entity:Northwind Bank'.")],
              json_output: JsonFlag = False) -> None:
    """Lift a silence: the key's next alert events are sent again."""
    if not _store(ctx).unsilence(key):
        raise UsageError(f"'{key}' is not silenced", hint="see the silences with: suite finance alerts silences")
    if json_output:
        print_json({"key": key, "silenced": False})
    else:
        typer.echo(f"lifted the silence on {key}")


def _known_keys(ctx: typer.Context, store: FinanceStore) -> set[str]:
    """Keys a silence can name: the configured topics and watchlist, and every key with an alert."""
    from plugins.finance_sentiment.scenarios import monitor_config

    config = monitor_config(get_suite(ctx))
    return ({f"topic:{t}" for t in [*config.topics, "other"]} | {f"entity:{e}" for e in config.watchlist}
            | {a["key"] for a in store.list_alerts(limit=10_000)})


offsets_app = typer.Typer(help="Where each source's next run resumes.", no_args_is_help=True)
finance.add_typer(offsets_app, name="offsets")


@offsets_app.command("list")
def list_offsets(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Each source read by the monitor: the position its next run resumes after, items stored."""
    rows = [row | {"updated_at": row["updated_at"].isoformat()} for row in _store(ctx).offsets()]
    display_table(["source_key", "position", "items", "updated_at"], rows, json_output=json_output, title="offsets",
                  empty="no source read yet")


@offsets_app.command("reset")
def reset_offset(ctx: typer.Context, source: Annotated[str, typer.Argument(help="The source as listed, e.g. 'file:news.jsonl'.")],
                 json_output: JsonFlag = False) -> None:
    """Make the next run read a source from its beginning (items already stored are not counted again)."""
    store = _store(ctx)
    if not store.reset_offset(source):
        known = ", ".join(row["source_key"] for row in store.offsets()) or "none"
        raise UsageError(f"no offset for '{source}' (sources with one: {known})")
    if json_output:
        print_json({"source": source, "reset": True})
    else:
        typer.echo(f"the next run reads {source} from its beginning")


@finance.command("dead-letters")
def dead_letters(ctx: typer.Context, limit: Annotated[int, typer.Option("--limit")] = 50, json_output: JsonFlag = False) -> None:
    """Items the monitor could not use, with the reason."""
    rows = _store(ctx).dead_letters(limit)
    display_table(["id", "source_key", "position", "reason", "raw"], rows, json_output=json_output,
                  title="dead letters", empty="no dead letters")


@finance.command("status")
def status(ctx: typer.Context,
           source: Annotated[Optional[str], typer.Option("--source", help="The shared source (redis://HOST:PORT/DB#STREAM) whose backlog and detector to show.")] = None,
           group: Annotated[str, typer.Option("--group", help="The consumer group the workers read with.")] = "suite",
           json_output: JsonFlag = False) -> None:
    """The monitor's workers (last heartbeat, items, items/s, which one detects) and, with
    --source, the stream's lag and pending entries and the detector's lag."""
    from core.sources import open_source
    from plugins.finance_sentiment.workers import fleet_status, render_status

    suite = get_suite(ctx)
    opened = open_source(suite, source, group=group) if source else None
    if opened is not None and not opened.shared:
        raise UsageError(f"--source {source}: status is for a shared source (redis://HOST:PORT/DB#STREAM)")
    try:
        result = fleet_status(FinanceStore(suite.store), opened)
    finally:
        if opened is not None:
            opened.close()
    if json_output:
        print_json(result)
    else:
        typer.echo(render_status(result) if result["workers"] or source else "no monitor workers seen yet")


def _source_spec(source: str) -> str:
    """A path is a file source; anything else is a source spec (``redis://…``, ``sql:…``)."""
    return f"file:{source}" if Path(source).exists() else source


SourceArg = Annotated[str, typer.Option("--source", help="The feed: a JSONL/CSV file, or a source spec such as file:F or dir:FOLDER.")]
ModelArg = Annotated[Optional[str], typer.Option("--model", "-m", help="Registered model name or folder (default: finance-sentiment).")]


@finance.command("backtest")
def backtest(ctx: typer.Context, source: SourceArg,
             truth: Annotated[Path, typer.Option("--truth", help="JSON with the labelled surges: {\"surges\": [{\"key\", \"start\", \"end\"}]}.")],
             model: ModelArg = None,
             report: Annotated[Optional[Path], typer.Option("--report", help="Also write the HTML report here.")] = None,
             json_output: JsonFlag = False) -> None:
    """Measure the surge detector against labelled surges: found or missed, delay, false alarms a day.

    The feed is replayed through the monitor as `suite run finance-monitor --backtest` does:
    nothing is stored or sent.
    """
    from plugins.finance_sentiment.backtest import load_truth, render_backtest
    from plugins.finance_sentiment.job import run_monitor
    from plugins.finance_sentiment.scenarios import FinanceSentiment, monitor_config

    suite = get_suite(ctx)
    surges = load_truth(truth)
    summary = run_monitor(suite, monitor_config(suite), FinanceSentiment().predictor(suite, model), _source_spec(source), {},
                          backtest=True, report=report, idle_timeout=None, max_items=None, live=False, truth=surges)
    result = summary["backtest"] | {"source": summary["source"], "items_read": summary["items_read"],
                                    "alerts": summary["alerts"], "text_drift": summary["text_drift"]}
    if json_output:
        print_json(result)
    else:
        typer.echo(f"backtest of {summary['source']}: {summary['items_read']} items, "
                   f"{len([a for a in summary['alerts'] if a['event'] == 'fire'])} alerts fired")
        typer.echo(render_backtest(result))


@finance.command("plant")
def plant_surges(ctx: typer.Context, source: SourceArg,
                 out: Annotated[Path, typer.Option("--output", "--out", "-o", help="The feed with the surges planted (JSON Lines).")],
                 truth: Annotated[Path, typer.Option("--truth", help="Where to write the labelled surges (JSON).")],
                 surges: Annotated[int, typer.Option("--surges", min=1, help="How many surges to plant.")] = 20,
                 key: Annotated[Optional[list[str]], typer.Option("--key", help="Plant into this key (repeatable; default: watched entities and topics, alternating).")] = None,
                 rates: Annotated[str, typer.Option("--rates", help="MIN-MAX: each surge's negatives per hour as a multiple of the key's usual.")] = "3-30",
                 hours: Annotated[float, typer.Option("--hours", min=0.1, help="How long each surge lasts.")] = 2.0,
                 min_items: Annotated[int, typer.Option("--min-items", min=1, help="Items a surge has at least.")] = 5,
                 history_hours: Annotated[float, typer.Option("--history-hours", min=0, help="Hours at the start of the feed left without surges.")] = 24.0,
                 seed: Annotated[int, typer.Option("--seed")] = 13,
                 model: ModelArg = None, json_output: JsonFlag = False) -> None:
    """Plant labelled surges of negative items into a feed, with their truth file for backtest.

    Each surge copies the feed's own negative items about one key (a watched company or a
    topic) into a burst at --rates times the key's usual negatives per hour.
    """
    import json

    from core import write_text_atomic
    from core.sources import open_source
    from plugins.finance_sentiment.config import Watchlist
    from plugins.finance_sentiment.monitor import score
    from plugins.finance_sentiment.plant import PlantPlan, ScoredItem, plant, read_feed
    from plugins.finance_sentiment.scenarios import FinanceSentiment, monitor_config
    from plugins.finance_sentiment.surge import item_keys

    low, sep, high = rates.partition("-")
    try:
        rate_min, rate_max = float(low), float(high if sep else low)
    except ValueError:
        raise UsageError(f"--rates '{rates}': expected MIN-MAX such as 3-30") from None
    suite = get_suite(ctx)
    config = monitor_config(suite)
    feed = open_source(suite, _source_spec(source))
    try:
        items = read_feed([raw for batch in feed.read(None, 1024) for raw in batch], feed.name)
    finally:
        feed.close()
    predictor = FinanceSentiment().predictor(suite, model)
    scored = [ScoredItem(item, p["label"] == "negative", item_keys(p.get("topic", "other"), entities))
              for item, (p, entities) in zip(items, score(predictor, Watchlist(config.watchlist), items))]
    plan = PlantPlan(surges=surges, keys=tuple(key or ()), rate_min=rate_min, rate_max=rate_max, hours=hours,
                     min_items=min_items, history_hours=history_hours, seed=seed)
    records, labelled = plant(scored, plan)
    labelled["feed"] = str(out)
    write_text_atomic(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    write_text_atomic(truth, json.dumps(labelled, indent=2, ensure_ascii=False) + "\n")
    if json_output:
        print_json(labelled)
        return
    typer.echo(f"planted {labelled['planted_items']} items in {len(labelled['surges'])} surges into {len(items)} items: "
               f"{out}; truth: {truth}")
    for row in labelled["surges"]:
        rate = f"{row['rate']:g}x" if row["rate"] else "new"
        typer.echo(f"  {row['start']}  {row['key']}: {row['planted']} items over {hours:g} h ({rate} its usual negatives)")
