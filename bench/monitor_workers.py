"""The finance monitor as several processes on one Redis stream (issue #20), side by side in
one run:

1. throughput: ``--workers 1`` (one process, all cores), ``--workers 1`` held to one thread
   (the per-core figure) and ``--workers 2`` (one thread each) reading the same stream at the
   precision training chose, items/s from the first to the last item stored (start-up and the
   idle timeout left out) and over the whole command;
2. the same alerts: the packaged demo feed and a replayed Financial PhraseBank feed with
   surges planted by ``suite finance plant``: the alerts (key, firing time, status, severity,
   resolution) of 1, 2 and 3 workers against the single-process monitor replaying the file,
   all at ``--precision fp32`` (bf16 and int8 scores move in their last digits with a text's
   batch neighbours, and which texts share a batch differs between runs);
3. faults: three worker processes on the PhraseBank feed; ``kill -9`` of a scoring worker at
   20% of the feed and of the detector's holder at 50%: the seconds until another holds the
   lease, items stored against distinct ids, alerts against one process's, the backlog at the end.

    python -m bench.monitor_workers --data ../shared/data/financial_phrasebank

Needs the local PostgreSQL and Redis (``--postgres-url``, ``--redis-url``; defaults from
SUITE_TEST_POSTGRES_URL / SUITE_TEST_REDIS_URL). The model is the default encoder
(all-MiniLM-L6-v2, 6 layers) fine-tuned on the demo data for one epoch: small enough that
the two cores, not memory, are the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from bench.common import cpu_name, table
from bench.finance_monitor import train_model
from bench.phrasebank import read

SAMPLES = Path(__file__).resolve().parent.parent / "plugins" / "finance_sentiment" / "samples"


def env_for(home: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")} | {"SUITE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return env | ({"SUITE_DATABASE_URL": database_url} if database_url else {}) | extra


def suite(home: Path, database_url: str | None, *args: str, **extra_env: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "core.cli.app", *args], env=env_for(home, database_url, **extra_env),
                          capture_output=True, text=True, check=False)
    if done.returncode not in (0, 3):
        raise SystemExit(f"suite {' '.join(args[:3])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout) if "--json" in args else {}


def make_home(folder: Path, config: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "suite.toml").write_text(config.replace(".demo/alerts.jsonl", str(folder / "alerts.jsonl"))
                                       .replace('type = "console"\n', 'type = "jsonl"\nname = "log"\npath = "'
                                                + str(folder / "log.jsonl") + '"\n'), encoding="utf-8")
    return folder


class Schemas:
    """A fresh PostgreSQL schema per run, dropped at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.engine = sa.create_engine(base, poolclass=sa.pool.NullPool)
        self.made: list[str] = []

    def new(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        self.made.append(name)
        return make_url(self.base).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self.engine.begin() as conn:
            for name in self.made:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))


def open_store(home: Path, database_url: str | None) -> Any:
    from core.app import Suite
    from core.settings import Settings
    from plugins.finance_sentiment.store import FinanceStore

    opened = Suite.create(Settings(home=home, **({"database_url": database_url} if database_url else {})))
    return opened, FinanceStore(opened.store)


def alerts(home: Path, database_url: str | None) -> list[tuple[Any, ...]]:
    opened, store = open_store(home, database_url)
    try:
        return sorted((a["id"], a["key"], a["status"], a["severity"], str(a["resolved_at"])) for a in store.list_alerts(limit=100_000))
    finally:
        opened.close()


def stored_rate(database_url: str) -> tuple[int, float]:
    """Items stored and items/s from the first to the last commit."""
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        count, first, last = conn.execute(sa.text("SELECT count(*), min(stored_at), max(stored_at) FROM finance_items")).one()
    engine.dispose()
    return count, count / max((last - first).total_seconds(), 1e-9)


def push(url: str, stream: str, feed: Path) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.delete(stream)
    with client.pipeline(transaction=False) as pipe:
        for line in feed.read_text(encoding="utf-8").splitlines():
            pipe.xadd(stream, {"data": line})
        pipe.execute()
    client.close()


def workers_command(url: str, stream: str, group: str, model: str, *extra: str) -> list[str]:
    return ["run", "finance-monitor", "--source", f"{url}#{stream}", "--source-option", f"group={group}",
            "--source-option", "claim_idle=5", "--model", model, "--idle-timeout", "5", "--json", "--no-live", *extra]


def phrasebank_feed(data: Path, items: int, path: Path) -> Path:
    """PhraseBank sentences (shuffled, repeated) as news items 30 s apart: 50 hours for 6,000."""
    sentences = [text for text, _ in read(data / "Sentences_50Agree.txt")]
    random.Random(7).shuffle(sentences)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(items):
            handle.write(json.dumps({"id": f"pb{i}", "time": (start + timedelta(seconds=30 * i)).isoformat(),
                                     "text": sentences[i % len(sentences)], "source": "phrasebank"}) + "\n")
    return path


def one_process(work: Path, name: str, feed: Path, config: str, model: str) -> list[tuple[Any, ...]]:
    """The alerts of the embedded single-process monitor replaying ``feed`` from its file."""
    home = make_home(work / f"{name}-one-process", config)
    suite(home, None, "run", "finance-monitor", "--source", f"file:{feed}", "--model", model, "--precision", "fp32",
          "--json", "--no-live")
    return alerts(home, None)


def same_alerts(work: Path, name: str, feed: Path, config: str, model: str, url: str, schemas: Schemas) -> dict[str, Any]:
    """1, 2 and 3 workers against the single-process monitor on ``feed``."""
    expected = one_process(work, name, feed, config, model)
    stream = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    push(url, stream, feed)
    row: dict[str, Any] = {"feed": name, "alerts (one process)": len(expected)}
    for workers in (1, 2, 3):
        database = schemas.new()
        home = make_home(work / f"{name}-{workers}", config)
        suite(home, database, *workers_command(url, stream, f"g{workers}", model, "--workers", str(workers), "--precision", "fp32"))
        found = alerts(home, database)
        row[f"{workers} workers"] = "identical" if found == expected else f"DIFFERENT ({len(found)})"
    import redis

    redis.Redis.from_url(url).delete(stream)
    return row


def throughput(work: Path, feed: Path, config: str, model: str, url: str, schemas: Schemas) -> list[dict[str, Any]]:
    """Items/s of one process (all cores, then one thread) and of two (one thread each)."""
    stream = f"bench-rate-{uuid.uuid4().hex[:6]}"
    push(url, stream, feed)
    rows = []
    for label, workers, threads in (("1 worker, 2 threads", 1, None), ("1 worker, 1 thread", 1, "1"), ("2 workers, 1 thread each", 2, None)):
        database = schemas.new()
        home = make_home(work / f"rate-{len(rows)}", config)
        started = time.perf_counter()
        summary = suite(home, database, *workers_command(url, stream, f"r{len(rows)}", model, "--workers", str(workers)),
                        **({"OMP_NUM_THREADS": threads} if threads else {}))
        wall = time.perf_counter() - started
        count, rate = stored_rate(database)
        rows.append({"run": label, "stored": count, "items/s (stored)": rate, "items/s (command)": summary["items_read"] / wall})
    import redis

    redis.Redis.from_url(url).delete(stream)
    return rows


def faults(work: Path, feed: Path, config: str, model: str, url: str, schemas: Schemas) -> dict[str, Any]:
    """Three workers; kill -9 a scoring worker at 20% and the detector's holder at 50%."""
    expected = one_process(work, "faults", feed, config, model)
    total = sum(1 for _ in feed.open(encoding="utf-8"))
    stream = f"bench-faults-{uuid.uuid4().hex[:6]}"
    push(url, stream, feed)
    database = schemas.new()
    home = make_home(work / "faults", config)
    command = [sys.executable, "-m", "core.cli.app", *workers_command(url, stream, "fleet", model, "--precision", "fp32")]
    processes = [subprocess.Popen(command, env=env_for(home, database), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for _ in range(3)]
    opened, store = open_store(home, database)
    from core.sources import open_source
    from plugins.finance_sentiment.workers import fleet_status

    source = open_source(opened, f"{url}#{stream}", group="fleet")
    lease = f"detector:{source.key}"

    def wait(condition: Any, what: str, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            time.sleep(0.05)

    try:
        wait(lambda: store.counts()["items"] >= total // 5, "20% stored")
        pids = {w["name"]: w["pid"] for w in store.workers()}
        holder = pids[store.lease(lease)["holder"]]
        victim = next(p for p in processes if p.pid != holder)
        victim.send_signal(signal.SIGKILL)
        killed_worker_at = store.counts()["items"]
        wait(lambda: store.counts()["items"] >= total // 2, "50% stored")
        token = store.lease(lease)["token"]
        killed_holder_at = store.counts()["items"]
        next(p for p in processes if p.pid == holder).send_signal(signal.SIGKILL)
        killed = time.monotonic()
        wait(lambda: store.lease(lease)["token"] > token, "a new detector", timeout=120)
        takeover = time.monotonic() - killed
        survivor = next(p for p in processes if p.pid not in (holder, victim.pid))
        survivor.wait(timeout=1800)
        status = fleet_status(store, source)
        with store.store.read() as s:
            deliveries = s.execute(sa.text("SELECT count(*) FROM finance_deliveries")).scalar_one()
        sent = [json.loads(line) for line in (home / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
        sent_keys = [(x["id"], x["status"], x["severity"], x["evidence"]["event"]) for x in sent]
        result = {
            "killed a scoring worker at": f"{killed_worker_at:,} of {total:,} stored",
            "killed the detector's holder at": f"{killed_holder_at:,} of {total:,} stored",
            "detector taken over after": f"{takeover:.1f} s",
            "stored (distinct ids in the feed)": f"{store.counts()['items']:,} ({total:,})",
            "alerts vs one process": "identical" if alerts(home, database) == expected else "DIFFERENT",
            "deliveries queued / sent to the jsonl sink / distinct": f"{deliveries} / {len(sent_keys)} / {len(set(sent_keys))}",
            "lag, pending, detector lag at the end": f"{status['stream']['lag']}, {status['stream']['pending']}, "
                                                     f"{status['detector']['lag_items']}",
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        source.close()
        opened.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Financial PhraseBank folder")
    parser.add_argument("--items", type=int, default=6000, help="PhraseBank items in the replayed feed")
    parser.add_argument("--model", help="A trained finance-sentiment model folder (default: train one)")
    parser.add_argument("--redis-url", default=os.environ.get("SUITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--postgres-url", default=os.environ.get("SUITE_TEST_POSTGRES_URL",
                                                                "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--skip-faults", action="store_true")
    args = parser.parse_args()
    schemas = Schemas(args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        work = Path(tmp)
        model = args.model or train_model(work / "train")
        demo_config = (SAMPLES / "suite.toml").read_text(encoding="utf-8")
        plain_config = '[[finance_sentiment.sinks]]\ntype = "jsonl"\npath = ".demo/alerts.jsonl"\n'
        calm = phrasebank_feed(args.data, args.items, work / "phrasebank.jsonl")
        planted = work / "phrasebank-planted.jsonl"
        suite(make_home(work / "plant", plain_config), None, "finance", "plant", "--source", str(calm), "--out", str(planted),
              "--truth", str(work / "truth.json"), "--model", model, "--surges", "8", "--json")
        try:
            demo = same_alerts(work, "demo", SAMPLES / "feed.jsonl", demo_config, model, args.redis_url, schemas)
            phrasebank = same_alerts(work, "phrasebank", planted, plain_config, model, args.redis_url, schemas)
            rates = throughput(work, planted, plain_config, model, args.redis_url, schemas)
            fault = None if args.skip_faults else faults(work, planted, plain_config, model, args.redis_url, schemas)
            chosen = json.loads((Path(model) / "suite_head.json").read_text(encoding="utf-8")).get("inference", {}).get("precision")
        finally:
            schemas.drop()
    print(f"CPU: {cpu_name()}; {os.cpu_count()} cores; model: all-MiniLM-L6-v2 fine-tuned (finance-sentiment), "
          f"the precision training chose: {chosen}\n")
    print("Throughput on the PhraseBank stream at the precision training chose (items/s from the first to the last item "
          "stored; the command's own, start-up and the 5 s idle timeout included):")
    base, single = rates[0]["items/s (stored)"], rates[1]["items/s (stored)"]
    rows = [{"run": r["run"], "stored": r["stored"], "items/s (stored)": f"{r['items/s (stored)']:.1f}",
             "vs 1 worker": f"{r['items/s (stored)'] / base:.2f}x", "vs 1 thread": f"{r['items/s (stored)'] / single:.2f}x",
             "items/s (command)": f"{r['items/s (command)']:.1f}"} for r in rates]
    print(table(rows, ["run", "stored", "items/s (stored)", "vs 1 worker", "vs 1 thread", "items/s (command)"]))
    print("\nAlerts of N workers against the single-process monitor on the same feed (--precision fp32):")
    print(table([demo, phrasebank], ["feed", "alerts (one process)", "1 workers", "2 workers", "3 workers"]))
    if fault:
        print("\nFaults (three workers on the PhraseBank stream):")
        print(table([{"measure": k, "value": v} for k, v in fault.items()], ["measure", "value"]))


if __name__ == "__main__":
    main()
