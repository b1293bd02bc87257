"""Bulk scoring: ``suite predict SCENARIO --input big.jsonl --output scored.jsonl --workers N``.

The input's records (lines of a ``.txt``, lines of a ``.jsonl``, rows of a ``.csv``) are cut
into chunks; N worker processes, each with its own suite and model, run the scenario's own
``predict`` on a chunk at a time; the predictions are written in input order, one JSON line
each, to ``OUTPUT.partial`` as chunks complete, which becomes ``OUTPUT`` at the end. After a
crash, ``--resume`` keeps the complete lines already written and scores only the rest. Torch's
threads are divided among the workers, so N processes use the cores once, not N times.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from core.errors import UsageError

SUFFIXES = (".txt", ".jsonl", ".csv")
CHUNK = 256  # records per task at least: big enough to batch well


@dataclass
class Records:
    """An input file's records as text, and how to write a chunk of them back."""

    suffix: str
    header: str | None
    items: list[str]

    def write(self, folder: Path, index: int, start: int, end: int) -> Path:
        path = folder / f"chunk-{index:06d}{self.suffix}"
        body = "".join(self.items[start:end])
        path.write_text((self.header or "") + body, encoding="utf-8")
        return path


def read_records(path: Path, encoding: str = "utf-8") -> Records:
    """The records of ``path``: non-blank lines (.txt, .jsonl) or CSV rows under the header."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"--workers/--output: {path}: expected a .txt, .jsonl or .csv input file")
    text = path.read_text(encoding=encoding)
    if suffix != ".csv":
        return Records(suffix, None, [line.rstrip("\r\n") + "\n" for line in text.splitlines() if line.strip()])
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return Records(suffix, None, [])

    def line(row: list[str]) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(row)
        return out.getvalue()

    return Records(suffix, line(rows[0]), [line(row) for row in rows[1:] if any(cell.strip() for cell in row)])


def completed_lines(partial: Path) -> int:
    """Complete JSON lines already written (a torn last line is cut off), for ``--resume``."""
    if not partial.is_file():
        return 0
    data = partial.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        partial.write_bytes(keep)
    return keep.count(b"\n")


def bulk_predict(scenario: str, settings: dict[str, Any], options: dict[str, Any], source: Path, output: Path,
                 *, workers: int, resume: bool, encoding: str = "utf-8", chunk: int = CHUNK,
                 progress: bool = True) -> dict[str, Any]:
    """Score ``source`` into ``output`` with ``workers`` processes (see the module docstring)."""
    records = read_records(source, encoding)
    with ResumableOutput(output, resume) as out:
        resumed_from = out.done
        if out.done > len(records.items):
            raise UsageError(f"--resume: {out.partial} has {out.done} lines but {source} only {len(records.items)} records")
        bounds = chunk_bounds(len(records.items), out.done, workers, chunk)
        threads = max(1, (os.cpu_count() or 1) // max(1, workers))
        bar = _bar(len(records.items), out.done, "record", progress)
        with tempfile.TemporaryDirectory(prefix="suite-bulk-") as scratch:
            chunks = [records.write(Path(scratch), i, a, b) for i, (a, b) in enumerate(bounds)]
            tasks = [(scenario, settings, options, str(path), threads) for path in chunks]
            for (a, b), predictions in zip(bounds, in_order(_predict_chunk, tasks, workers)):
                out.append(predictions, b - a, bar)
        if bar is not None:
            bar.close()
    return {"output": str(output), "records": len(records.items), "resumed_from": resumed_from, "workers": workers}


def chunk_bounds(total: int, done: int, workers: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """``(start, end)`` of the tasks covering records ``done..total``: a few tasks per worker,
    so each loads the model a few times only and ``--resume`` loses at most one task's work."""
    size = max(chunk, -(-(total - done) // (4 * max(1, workers))))
    return [(start, min(start + size, total)) for start in range(done, total, size)]


def in_order(function: Callable[..., list[dict[str, Any]]], tasks: list[tuple[Any, ...]],
             workers: int) -> Iterator[list[dict[str, Any]]]:
    """``function(*task)`` for each task, in ``workers`` spawned processes (or this one for 1),
    the results in task order whatever finishes first."""
    if workers <= 1:
        for task in tasks:
            yield function(*task)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        futures: list[Future[list[dict[str, Any]]]] = [pool.submit(function, *task) for task in tasks]
        for future in futures:
            yield future.result()


class ResumableOutput:
    """JSON lines written to ``OUTPUT.partial`` as they come (appended to with ``resume``,
    after the complete lines it holds: ``done``), renamed to ``OUTPUT`` when all is written."""

    def __init__(self, output: Path, resume: bool) -> None:
        self.output = output
        self.partial = output.with_name(output.name + ".partial")
        output.parent.mkdir(parents=True, exist_ok=True)
        self.done = completed_lines(self.partial) if resume else 0
        self.handle: Any = None

    def __enter__(self) -> ResumableOutput:
        self.handle = self.partial.open("a" if self.done else "w", encoding="utf-8")
        return self

    def append(self, rows: list[dict[str, Any]], expected: int, bar: Any = None) -> None:
        if len(rows) != expected:  # a scenario that drops records would misalign --resume
            raise UsageError(f"a chunk of {expected} records gave {len(rows)} results")
        self.handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        self.handle.flush()
        self.done += expected
        if bar is not None:
            bar.update(expected)

    def __exit__(self, kind: Any, *_: Any) -> None:
        self.handle.close()
        if kind is None:
            self.partial.replace(self.output)


def _bar(total: int, done: int, unit: str, progress: bool) -> Any:
    if not progress:
        return None
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit=unit, desc="scoring", file=sys.stderr, dynamic_ncols=True)


def _predict_chunk(scenario: str, settings: dict[str, Any], options: dict[str, Any], path: str,
                   threads: int) -> list[dict[str, Any]]:
    """One chunk in a worker: the scenario's own ``predict`` on it (the same code as one process)."""
    import torch

    from core.app import Suite
    from core.models import quiet_transformers
    from core.settings import load_settings

    torch.set_num_threads(threads)
    quiet_transformers()
    suite = Suite.create(load_settings(**settings))
    try:
        return list(suite.scenarios.get(scenario).predict(suite, input=path, **options)["predictions"])
    finally:
        suite.close()


def settings_for_workers(settings: Any) -> dict[str, Any]:
    """What a worker process needs to open the same suite as the command (home, database...)."""
    return {"home": str(settings.home), "database_url": settings.database_url, "model": settings.model,
            "offline": settings.offline, "load_plugins": settings.load_plugins,
            "disable_plugins": settings.disable_plugins}
