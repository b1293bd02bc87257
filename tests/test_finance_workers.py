"""The finance monitor as several real processes on one Redis stream and one PostgreSQL
database (#20): the same alerts as one process whatever the number of workers, a ``kill -9``
of a worker and of the detector's holder, a Redis restart mid-stream. A one-layer model
trained on the packaged samples scores; the feed is the packaged demo feed (its surges fire
with that model too)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import fresh_schema, service_url
from servers import free_port

from core import Suite
from core.settings import Settings
from core.sources import open_source
from plugins.finance_sentiment.store import FinanceStore
from plugins.finance_sentiment.workers import fleet_status

SAMPLES = Path(__file__).resolve().parents[1] / "plugins" / "finance_sentiment" / "samples"
TAKEOVER_LIMIT_S = 10.0


def demo_records(copies: int = 1) -> list[dict[str, Any]]:
    """The demo feed's valid records; ``copies`` > 1 repeats it two days later each time (new ids)."""
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line in (SAMPLES / "feed.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            moment = datetime.fromisoformat(record["time"].replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # the demo's malformed lines: dead letters are tested elsewhere
        if not isinstance(record.get("text"), str) or not record["text"].strip() or record["id"] in seen:
            continue
        seen.add(record["id"])
        records.append(record | {"time": moment})
    feed = []
    for copy in range(copies):
        shift = timedelta(days=2 * copy)
        feed += [r | {"id": f"{r['id']}-{copy}", "time": (r["time"] + shift).isoformat()} for r in records]
    return feed


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("finance-workers-model")
    done = suite_cli(home, "train", "finance-sentiment", "--train", str(SAMPLES / "train.csv"), "--model", str(tiny_model),
                     "--epochs", "2", "--lr", "3e-4", "--no-baseline", "--json")
    return Path(json.loads(done.stdout)["path"])


def suite_cli(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "core.cli.app", *args], env=os.environ | {"SUITE_HOME": str(home)} | (env or {}),
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def home_with_config(path: Path, database_url: str | None = None) -> tuple[Path, dict[str, str]]:
    path.mkdir(parents=True, exist_ok=True)
    config = (SAMPLES / "suite.toml").read_text(encoding="utf-8").replace(".demo/alerts.jsonl", str(path / "alerts.jsonl"))
    config = config.replace('type = "console"', 'type = "jsonl"\nname = "log"\npath = "' + str(path / "log.jsonl") + '"')
    (path / "suite.toml").write_text(config, encoding="utf-8")
    return path, ({"SUITE_DATABASE_URL": database_url} if database_url else {})


@pytest.fixture
def schemas() -> Iterator[Any]:
    """Fresh PostgreSQL schemas on demand (skipped without SUITE_TEST_POSTGRES_URL)."""
    base = service_url("SUITE_TEST_POSTGRES_URL")
    opened: list[Iterator[str]] = []

    def new() -> str:
        opened.append(fresh_schema(base))
        return next(opened[-1])

    yield new
    for generator in opened:
        next(generator, None)


def alerts_of(home: Path, env: dict[str, str]) -> list[tuple[Any, ...]]:
    """Every alert a store holds: (id (key and firing time), key, status, severity, resolved)."""
    suite = Suite.create(Settings(home=home, **({"database_url": env["SUITE_DATABASE_URL"]} if env else {})))
    try:
        return sorted((a["id"], a["key"], a["status"], a["severity"], str(a["resolved_at"]))
                      for a in FinanceStore(suite.store).list_alerts(limit=10_000))
    finally:
        suite.close()


@pytest.fixture(scope="module")
def long_feed(trained: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The demo feed three times over, and the alerts one process fires on it."""
    records = demo_records(copies=3)
    return records, reference(tmp_path_factory.mktemp("long-feed"), trained, records)


def reference(tmp: Path, trained: Path, records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The alerts of the embedded, single-process monitor replaying ``records`` from a file."""
    feed = tmp / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    home, env = home_with_config(tmp / "reference")
    suite_cli(home, "run", "finance-monitor", "--source", f"file:{feed}", "--model", str(trained), "--json", "--no-live")
    found = alerts_of(home, env)
    assert len(found) >= 3, "the demo feed fires with the tiny model: the comparisons below need alerts"
    return found


def push(url: str, stream: str, records: list[dict[str, Any]]) -> None:
    import redis

    client = redis.Redis.from_url(url)
    with client.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.xadd(stream, {"data": json.dumps(record)})
        pipe.execute()
    client.close()


def monitor_command(url: str, stream: str, group: str, trained: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "core.cli.app", "run", "finance-monitor", "--source", f"{url}#{stream}",
            "--source-option", f"group={group}", "--source-option", "claim_idle=2", "--source-option", "poll=0.2",
            "--model", str(trained), "--idle-timeout", "4", "--json", "--no-live", *extra]


def sent_once(home: Path) -> None:
    """Each (alert, event) reached each sink once (the jsonl sinks write what they were given)."""
    for name in ("alerts.jsonl", "log.jsonl"):
        lines = [json.loads(line) for line in (home / name).read_text(encoding="utf-8").splitlines()]
        keys = [(line["id"], line["status"], line["severity"], line["evidence"]["event"]) for line in lines]
        assert len(keys) == len(set(keys)) > 0, name


def test_one_two_three_workers_fire_the_alerts_of_one_process(trained: Path, schemas: Any, tmp_path: Path) -> None:
    url = service_url("SUITE_TEST_REDIS_URL")
    records = demo_records()
    expected = reference(tmp_path, trained, records)
    stream = f"suite-test-workers-{uuid.uuid4().hex[:8]}"
    push(url, stream, records)
    try:
        for workers in (1, 2, 3):
            home, env = home_with_config(tmp_path / f"workers-{workers}", schemas())
            done = suite_cli(home, *monitor_command(url, stream, f"g{workers}", trained, "--workers", str(workers))[3:], env=env)
            summary = json.loads(done.stdout)
            assert summary["stored"] == len(records) and summary["items_read"] == len(records)
            assert len(summary["workers"] if workers > 1 else [summary]) == workers
            assert alerts_of(home, env) == expected, f"{workers} workers"
            sent_once(home)
    finally:
        import redis

        redis.Redis.from_url(url).delete(stream)


def _store(env: dict[str, str], home: Path) -> tuple[Suite, FinanceStore]:
    suite = Suite.create(Settings(home=home, database_url=env["SUITE_DATABASE_URL"]))
    return suite, FinanceStore(suite.store)


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_kill_9_of_a_worker_and_of_the_detector_holder_loses_nothing_and_fires_nothing_twice(
        trained: Path, long_feed: Any, schemas: Any, tmp_path: Path) -> None:
    url = service_url("SUITE_TEST_REDIS_URL")
    records, expected = long_feed
    stream = f"suite-test-kill-{uuid.uuid4().hex[:8]}"
    push(url, stream, records)
    home, env = home_with_config(tmp_path / "fleet", schemas())
    suite, store = _store(env, home)
    command = monitor_command(url, stream, "fleet", trained)
    processes = [subprocess.Popen(command, env=os.environ | {"SUITE_HOME": str(home)} | env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    source = open_source(suite, f"{url}#{stream}", group="fleet")

    def count() -> int:
        return store.counts()["items"]

    try:
        _wait(lambda: count() >= len(records) // 5, 240, "a fifth of the feed stored")
        holder = (store.lease(f"detector:{source.key}") or {}).get("holder")
        assert holder, "one worker holds the detector's lease"
        by_pid = {p.pid: p for p in processes}
        pids = {w["name"]: w["pid"] for w in store.workers()}
        victim = next(p for p in processes if p.pid != pids[holder])  # a scoring worker that does not detect
        assert victim.poll() is None and count() < len(records)
        victim.send_signal(signal.SIGKILL)
        _wait(lambda: count() >= len(records) // 2, 240, "half of the feed stored")
        token = store.lease(f"detector:{source.key}")["token"]
        assert by_pid[pids[holder]].poll() is None and count() < len(records), "make the feed longer"
        by_pid[pids[holder]].send_signal(signal.SIGKILL)  # the detector's holder
        killed = time.monotonic()
        _wait(lambda: store.lease(f"detector:{source.key}")["token"] > token, 60, "a new detector")
        takeover = time.monotonic() - killed
        assert takeover <= TAKEOVER_LIMIT_S, f"the detector was taken over in {takeover:.1f} s"
        survivor = next(p for p in processes if p.pid not in (victim.pid, pids[holder]))
        _out, err = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, err[-3000:]
        assert store.counts()["items"] == len(records)  # stored = distinct ids: each once, none lost
        status = fleet_status(store, source)
        assert status["stream"]["lag"] == 0 and status["stream"]["pending"] == 0 and status["detector"]["lag_items"] == 0
        assert alerts_of(home, env) == expected
        sent_once(home)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()
        source.close()
        suite.close()
        import redis

        redis.Redis.from_url(url).delete(stream)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of the test's own, keeping its data in an append-only file, so it can be
    restarted mid-stream without losing the stream (skipped without redis-server)."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server not installed")
    port = free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    arguments = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--appendonly", "yes",
                 "--appendfsync", "always", "--save", ""]

    class Server:
        url = f"redis://127.0.0.1:{port}/0"
        process: subprocess.Popen[bytes] | None = None

        def start(self) -> None:
            import redis

            self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait(lambda: _pings(redis, self.url), 20, "redis-server to start")

        def stop(self) -> None:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)  # appendfsync always: every acknowledged write is on disk
            self.process.wait(timeout=30)

    server = Server()
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait()


def _pings(redis: Any, url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.ConnectionError:
        return False


def test_a_redis_restart_mid_stream_loses_nothing(trained: Path, long_feed: Any, schemas: Any, own_redis: Any,
                                                   tmp_path: Path) -> None:
    records, expected = long_feed
    stream = "news"
    push(own_redis.url, stream, records)
    home, env = home_with_config(tmp_path / "fleet", schemas())
    suite, store = _store(env, home)
    port = free_port()
    worker = subprocess.Popen(monitor_command(own_redis.url, stream, "fleet", trained, "--workers", "2", "--metrics-port", str(port)),
                              env=os.environ | {"SUITE_HOME": str(home)} | env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _wait(lambda: store.counts()["items"] >= len(records) // 4, 240, "a quarter of the feed stored")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
        assert "suite_finance_stream_lag" in metrics and "suite_finance_worker_items_per_second{" in metrics
        assert worker.poll() is None and store.counts()["items"] < len(records), "make the feed longer"
        own_redis.stop()
        time.sleep(3)  # the workers retry with backoff meanwhile
        own_redis.start()
        _out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        assert store.counts()["items"] == len(records)
        source = open_source(suite, f"{own_redis.url}#{stream}", group="fleet")
        try:
            assert fleet_status(store, source)["stream"]["lag"] == 0
        finally:
            source.close()
        assert alerts_of(home, env) == expected
        sent_once(home)
        status = suite_cli(home, "finance", "status", "--source", f"{own_redis.url}#{stream}", "--group", "fleet", "--json", env=env)
        shown = json.loads(status.stdout)
        assert len(shown["workers"]) >= 2 and sum(w["items"] for w in shown["workers"]) >= len(records)
        assert shown["stream"]["lag"] == 0 and shown["detector"]["lag_items"] == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
        suite.close()


def test_the_detector_lease_goes_to_one_process_and_fences_the_one_that_lost_it(settings: Settings) -> None:
    from plugins.finance_sentiment.store import LeaseLost

    suite = Suite.create(settings)
    store = FinanceStore(suite.store)
    try:
        first = store.take_lease("detector:x", "a", 0.3)
        assert first is not None and first.token == 1
        assert store.take_lease("detector:x", "b", 0.3) is None  # held
        assert store.take_lease("detector:x", "a", 0.3) == first  # renewed, same token
        time.sleep(0.4)
        second = store.take_lease("detector:x", "b", 30)  # expired: taken over, a new token
        assert second is not None and second.token == 2
        with pytest.raises(LeaseLost):  # the old holder, back from a pause, cannot commit
            store.commit_counted(first, 5, "detector:x", "000000000000001-0000000000", 1, {}, [])
        assert store.offset("detector:x") is None
        store.commit_counted(second, 5, "detector:x", "000000000000001-0000000000", 1, {}, [])
        assert store.offset("detector:x") == "000000000000001-0000000000"
        store.release_lease(second)
        assert store.take_lease("detector:x", "a", 5).token == 3  # released: taken at once
    finally:
        suite.close()
