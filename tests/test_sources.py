"""Built-in sources: file replay, watched folder, stdin, SQL table, Redis stream."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from core.app import Suite
from core.errors import DataError, UnknownNameError, UsageError
from core.sources import open_source
from core.sources.files import DirectorySource, FileReplaySource, StdinSource
from core.streams import Malformed, RawItem, SourceSpec, StreamItem, parse_item

from conftest import service_url

FAST = {"poll": 0.02}


def items(batches) -> list[RawItem]:
    return [item for batch in batches for item in batch]


def ids(raw: list[RawItem]) -> list[str]:
    return [item.data["id"] if item.data else None for item in raw]


def jsonl(path: Path, records: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def rec(item_id: str, t: str | float, text: str = "news") -> dict:
    return {"id": item_id, "time": t, "text": text}


@pytest.fixture
def suite(settings) -> Suite:
    return Suite.create(settings, load_entrypoints=False)


# ------------------------------------------------------------------------ file


UNSORTED = [
    rec("c", "2024-01-01T10:02:00Z"),
    rec("a", "2024-01-01T10:00:00Z"),
    "",
    rec("b1", "2024-01-01T11:01:00+01:00"),  # 10:01 UTC, tied with b2: file order
    rec("d", 1704103380),  # 10:03 UTC as epoch seconds
    rec("b2", "2024-01-01T10:01:00"),
]


def test_file_replays_unsorted_file_in_time_order(tmp_path: Path):
    source = FileReplaySource(SourceSpec.parse(f"file:{jsonl(tmp_path / 'feed.jsonl', UNSORTED)}"))
    batches = list(source.read(None, batch_size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    got = items(batches)
    assert ids(got) == ["a", "b1", "b2", "c", "d"]
    assert [item.position for item in got] == ["0", "1", "2", "3", "4"]
    assert all(isinstance(parse_item(item, "feed"), StreamItem) for item in got)


def test_file_resumes_after_a_position(tmp_path: Path):
    source = FileReplaySource(SourceSpec("file", str(jsonl(tmp_path / "feed.jsonl", UNSORTED))))
    got = items(source.read("2", batch_size=10))
    assert ids(got) == ["c", "d"]
    assert got[0].position == "3"
    assert list(source.read("4", batch_size=10)) == []


def test_file_bad_lines_are_dead_lettered_at_the_end(tmp_path: Path):
    path = jsonl(tmp_path / "feed.jsonl", [rec("b", 20), "{not json", rec("x", "yesterday"), rec("a", 10)])
    got = items(FileReplaySource(SourceSpec("file", str(path))).read(None, batch_size=10))
    assert [item.position for item in got] == ["0", "1", "2", "3"]
    assert ids(got[:2]) == ["a", "b"]
    broken, untimed = got[2], got[3]
    assert broken.data is None and broken.raw == "{not json"
    assert broken.error is not None and broken.error.startswith("line 2: invalid JSON:")
    malformed = parse_item(broken, "feed")
    assert isinstance(malformed, Malformed) and malformed.position == "2" and "invalid JSON" in malformed.reason
    assert untimed.data is not None and untimed.data["id"] == "x"
    assert isinstance(parse_item(untimed, "feed"), Malformed)


def test_file_csv_with_header_entities_and_quoted_newlines(tmp_path: Path):
    path = tmp_path / "feed.csv"
    path.write_text(
        "id,time,text,source,url,entities\n"
        '2,2024-01-01T10:05:00Z,"two lines\nof text",wire,,ACME|Globex\n'
        "1,1704103200,first,,https://x.test/1,\n"
    )
    got = items(FileReplaySource(SourceSpec("file", str(path))).read(None, batch_size=10))
    assert ids(got) == ["1", "2"]
    first, second = (parse_item(item, "feed") for item in got)
    assert isinstance(first, StreamItem) and isinstance(second, StreamItem)
    assert first.url == "https://x.test/1" and first.entities == () and first.source == "feed"
    assert second.text == "two lines\nof text" and second.entities == ("ACME", "Globex") and second.source == "wire"
    assert second.time.isoformat() == "2024-01-01T10:05:00+00:00"


def test_file_sorted_file_streams_without_an_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "big.jsonl"
    with path.open("w") as fh:
        for n in range(20_000):
            fh.write(json.dumps(rec(f"i{n}", 1_700_000_000 + n // 3)) + "\n")

    def no_index(*args, **kwargs):
        raise AssertionError("a sorted file must be streamed, not indexed")

    monkeypatch.setattr(FileReplaySource, "_indexed", no_index)
    source = FileReplaySource(SourceSpec("file", str(path)))
    count, last = 0, None
    for batch in source.read("9", batch_size=500):
        count += len(batch)
        last = batch[-1]
    assert count == 19_990 and last is not None and last.position == "19999" and last.data["id"] == "i19999"


def test_file_missing_is_a_data_error(tmp_path: Path):
    source = FileReplaySource(SourceSpec("file", str(tmp_path / "nope.jsonl")))
    with pytest.raises(DataError, match="nope.jsonl: no such file"):
        next(source.read(None, batch_size=10))
    with pytest.raises(UsageError, match="position"):
        next(FileReplaySource(SourceSpec("file", str(tmp_path / "nope.jsonl"))).read("x:1", batch_size=10))


# ------------------------------------------------------------------------- dir


def test_dir_picks_up_new_and_growing_files(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jsonl(inbox / "a.jsonl", [rec("a1", 1), rec("a2", 2)])
    (inbox / "ignored.txt").write_text("not a feed\n")
    source = DirectorySource(SourceSpec("dir", str(inbox), dict(FAST)))

    def producer() -> None:
        time.sleep(0.15)
        with (inbox / "b.csv").open("w") as fh:
            fh.write("id,time,text\nb1,3,hello\n")
            fh.write("b2,4,unfinish")  # no newline yet: not read
            fh.flush()
            time.sleep(0.15)
            fh.write("ed\n")

    worker = threading.Thread(target=producer)
    worker.start()
    got, empty_polls = [], 0
    for batch in source.read(None, batch_size=10, idle_timeout=0.6):
        empty_polls += not batch
        got.extend(batch)
    worker.join()
    assert [item.position for item in got] == ["a.jsonl:1", "a.jsonl:2", "b.csv:2", "b.csv:3"]
    assert got[-1].data == {"id": "b2", "time": 4.0, "text": "unfinished"}
    assert empty_polls > 0


def test_dir_resumes_after_file_and_line(tmp_path: Path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    jsonl(inbox / "a.jsonl", [rec("a1", 1)])
    jsonl(inbox / "b.jsonl", [rec("b1", 1), "", rec("b3", 3), "{broken"])
    jsonl(inbox / "c.jsonl", [rec("c1", 1)])
    source = DirectorySource(SourceSpec("dir", str(inbox), dict(FAST)))
    got = items(source.read("b.jsonl:2", batch_size=10, idle_timeout=0.05))
    assert [item.position for item in got] == ["b.jsonl:3", "b.jsonl:4", "c.jsonl:1"]
    assert got[1].error == "line 4: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    with pytest.raises(DataError, match="no such folder"):
        next(DirectorySource(SourceSpec("dir", str(tmp_path / "none"))).read(None, 10))


# ----------------------------------------------------------------------- stdin


def test_stdin_reads_lines_until_end_of_input(suite: Suite):
    stream = io.StringIO("\n".join([json.dumps(rec("1", 1)), "", "[1]", json.dumps(rec("4", 4))]) + "\n")
    source = open_source(suite, "stdin:", stream=stream, **FAST)
    assert isinstance(source, StdinSource)
    got = items(source.read(None, batch_size=10))
    assert [item.position for item in got] == ["1", "3", "4"]
    assert got[1].error == "line 3: expected a JSON object, got list"
    # a later run reads a new pipe from its first line, whatever the last run's offset (#15)
    fresh = items(open_source(suite, "-", stream=io.StringIO(json.dumps(rec("9", 9)) + "\n"), **FAST).read("3", 10))
    assert ids(fresh) == ["9"]


# ------------------------------------------------------------------------- sql


def make_table(url: str, table: str):
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine

    engine = create_engine(url)
    news = Table(
        table,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("published", DateTime),
        Column("body", String),
        Column("entities", String),
    )
    news.create(engine)
    return engine, news


def insert(engine, table, *rows: tuple[int, str, str]) -> None:
    from datetime import datetime

    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"id": i, "published": datetime.fromisoformat(t), "body": body, "entities": "ACME|Globex"}
                for i, t, body in rows
            ],
        )


def check_sql_source(suite: Suite, url: str, table_name: str) -> None:
    engine, table = make_table(url, table_name)
    try:
        insert(engine, table, (2, "2024-01-01 10:02", "two"), (1, "2024-01-01 10:01", "one"))
        insert(engine, table, (3, "2024-01-01 10:03", "three"))
        columns = {"text": "body", "time": "published"}
        source = open_source(suite, f"sql:{url}#{table_name}", columns=columns, **FAST)
        reader = source.read(None, batch_size=2, idle_timeout=2)
        assert [i.position for i in next(reader)] == ["1", "2"]
        assert [i.position for i in next(reader)] == ["3"]
        insert(engine, table, (10, "2024-01-01 10:10", "ten"))  # between polls
        batch = next(reader)
        while not batch:
            batch = next(reader)
        assert [i.position for i in batch] == ["10"]
        parsed = parse_item(batch[0], "db")
        assert isinstance(parsed, StreamItem) and parsed.id == "10" and parsed.text == "ten"
        assert parsed.entities == ("ACME", "Globex") and parsed.time.isoformat() == "2024-01-01T10:10:00+00:00"
        reader.close()
        source.close()
        # a restart resumes behind the stored position, compared as an int (10 > 9 > 3)
        again = open_source(suite, f"sql:{url}#{table_name}", columns=columns, **FAST)
        insert(engine, table, (9, "2024-01-01 10:09", "nine"))
        assert [i.position for i in items(again.read("3", 10, idle_timeout=0.05))] == ["9", "10"]
        by_time = open_source(suite, f"sql:{url}#{table_name}", columns=columns, order_by="published", **FAST)
        got = items(by_time.read("2024-01-01 10:02:00", 10, idle_timeout=0.05))
        assert [i.data["id"] for i in got] == [3, 9, 10]
        again.close()
        by_time.close()
    finally:
        table.drop(engine)
        engine.dispose()


def test_sql_source_on_sqlite(suite: Suite, tmp_path: Path):
    check_sql_source(suite, f"sqlite:///{tmp_path / 'news.db'}", "news")


def test_sql_source_on_postgres(suite: Suite):
    url = service_url("SUITE_TEST_POSTGRES_URL")
    check_sql_source(suite, url, f"news_{uuid.uuid4().hex[:8]}")


def test_sql_source_usage_errors(suite: Suite, tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(UsageError, match="no table 'missing'"):
        next(open_source(suite, f"sql:{url}#missing").read(None, 10))
    with pytest.raises(UsageError, match="cannot use database URL"):
        next(open_source(suite, "sql:nosuchdb://x/y#news").read(None, 10))
    with pytest.raises(UsageError, match="expected sql:URL#TABLE"):
        open_source(suite, f"sql:{url}")
    make_table(url, "news")[0].dispose()
    with pytest.raises(UsageError, match="no column 'seq'"):
        next(open_source(suite, f"sql:{url}#news", order_by="seq").read(None, 10))


# ----------------------------------------------------------------------- redis


@pytest.fixture
def redis_stream():
    url = service_url("SUITE_TEST_REDIS_URL")
    import redis

    client = redis.Redis.from_url(url, decode_responses=True)
    stream = f"suite-test-{uuid.uuid4().hex}"
    yield url, stream, client
    client.delete(stream)
    client.close()


def test_redis_redelivers_unacked_entries_after_a_restart(suite: Suite, redis_stream):
    url, stream, client = redis_stream
    client.xadd(stream, {"data": json.dumps(rec("1", "2024-01-01T10:00:00Z"))})
    client.xadd(stream, {"id": "2", "time": "1704103200", "text": "flat", "entities": '["ACME"]'})
    client.xadd(stream, {"id": "3", "time": "1704103200", "text": "pipes", "entities": "A|B"})
    client.xadd(stream, {"data": "{oops"})
    spec = f"{url}#{stream}"

    first = open_source(suite, spec, consumer="worker", poll=0.05)
    got = items(first.read(None, batch_size=10, idle_timeout=0.1))
    assert len(got) == 4
    parsed = [parse_item(item, "redis") for item in got]
    assert [p.id for p in parsed[:3]] == ["1", "2", "3"]
    assert parsed[1].entities == ("ACME",) and parsed[2].entities == ("A", "B")
    assert isinstance(parsed[3], Malformed) and "invalid JSON" in parsed[3].reason
    first.close()  # crashed before storing: nothing acked

    restarted = open_source(suite, spec, consumer="worker", poll=0.05)
    again = items(restarted.read(None, batch_size=3, idle_timeout=0.1))
    assert [item.position for item in again] == [item.position for item in got]
    restarted.ack(again)
    assert client.xpending(stream, "suite")["pending"] == 0
    assert items(restarted.read(None, batch_size=10, idle_timeout=0.1)) == []
    restarted.close()


def test_redis_new_consumer_takes_over_abandoned_entries(suite: Suite, redis_stream):
    url, stream, client = redis_stream
    client.xadd(stream, {"id": "1", "time": "1", "text": "t"})
    old = open_source(suite, f"{url}#{stream}", consumer="old-pid", poll=0.05)
    assert len(items(old.read(None, 10, idle_timeout=0.05))) == 1
    new = open_source(suite, f"{url}#{stream}", consumer="new-pid", poll=0.05, claim_idle=0.001)
    time.sleep(0.01)
    taken = items(new.read(None, 10, idle_timeout=0.05))
    assert ids(taken) == ["1"]
    new.ack(taken)
    assert client.xpending(stream, "suite")["pending"] == 0
    old.close()
    new.close()


def test_redis_connection_refused_is_one_line(suite: Suite):
    source = open_source(suite, "redis://:secret@127.0.0.1:1/0#news")
    with pytest.raises(UsageError) as info:
        next(source.read(None, 10))
    message = str(info.value)
    assert "127.0.0.1:1" in message and "secret" not in message and "\n" not in message
    with pytest.raises(UsageError, match="#STREAM"):
        open_source(suite, "redis://127.0.0.1:6379/0")


# -------------------------------------------------------------------- registry


def test_every_registered_source_is_named_and_documented(suite: Suite):
    assert set(suite.sources.names()) >= {"file", "dir", "stdin", "sql", "redis"}
    for cls in suite.sources:
        assert isinstance(cls.name, str) and cls.name
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} needs a docstring"
        assert isinstance(cls.follows, bool)


def test_unknown_scheme_lists_the_available_ones(suite: Suite):
    with pytest.raises(UnknownNameError, match=r"unknown source 'kafka' \(available: dir, file, redis, sql, stdin"):
        open_source(suite, "kafka:topic")


def test_offset_keys_hide_passwords(suite: Suite):
    sql = open_source(suite, "sql:postgresql+psycopg://app:secret@db:5432/news#items")
    redis = open_source(suite, "redis://:secret@cache:6379/0#news")
    assert "secret" not in sql.key and sql.key.startswith("sql:postgresql+psycopg://app:") and sql.key.endswith("#items")
    assert "secret" not in redis.key and redis.key.endswith("@cache:6379/0#news")


def test_stdin_that_is_not_text_is_a_data_error(suite: Suite):
    stream = io.TextIOWrapper(io.BytesIO(b'{"id": 1}\n\xff\xfe\n'), encoding="utf-8")
    with pytest.raises(DataError, match="stdin: cannot read: 'utf-8' codec"):
        items(open_source(suite, "stdin:", stream=stream, **FAST).read(None, 10))


def test_redis_running_consumer_claims_entries_a_dead_one_left(suite: Suite, redis_stream):
    """A worker killed mid-stream: a consumer already running takes over its pending entries
    once they are idle ``claim_idle``, without a restart (#15)."""
    url, stream, client = redis_stream
    for i in range(5):
        client.xadd(stream, {"id": str(i), "time": "1", "text": "t"})
    dead = open_source(suite, f"{url}#{stream}", consumer="dead-pid", poll=0.05)
    assert len(items(dead.read(None, 3, idle_timeout=0.05))) >= 3  # delivered, never acknowledged
    alive = open_source(suite, f"{url}#{stream}", consumer="alive-pid", poll=0.05, claim_idle=0.3, claim_every=0.1)
    seen = []
    for batch in alive.read(None, 10, idle_timeout=1.5):
        seen += batch
        alive.ack(batch)
    assert sorted(ids(seen)) == ["0", "1", "2", "3", "4"]
    assert client.xpending(stream, "suite")["pending"] == 0
    dead.close()
    alive.close()


def test_dir_source_can_follow_one_file(suite: Suite, tmp_path: Path):
    """`suite run finance-monitor --feed F --follow` is the folder source on F's folder, only F."""
    (tmp_path / "news.jsonl").write_text(json.dumps(rec("1", 1)) + "\n", encoding="utf-8")
    (tmp_path / "other.jsonl").write_text(json.dumps(rec("2", 2)) + "\n", encoding="utf-8")
    source = open_source(suite, f"dir:{tmp_path}", only="news.jsonl", **FAST)
    assert ids(items(source.read(None, 10, idle_timeout=0.2))) == ["1"]
