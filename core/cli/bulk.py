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
from collections.abc import Callable
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
    partial = output.with_name(output.name + ".partial")
    output.parent.mkdir(parents=True, exist_ok=True)
    done = completed_lines(partial) if resume else 0
    if done > len(records.items):
        raise UsageError(f"--resume: {partial} has {done} lines but {source} only {len(records.items)} records")
    # a few tasks per worker: each loads the model once, and --resume loses at most one task's work
    size = max(chunk, -(-(len(records.items) - done) // (4 * max(1, workers))))
    bounds = [(start, min(start + size, len(records.items))) for start in range(done, len(records.items), size)]
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    bar = _bar(len(records.items), done, progress)
    with tempfile.TemporaryDirectory(prefix="suite-bulk-") as scratch, partial.open("a" if resume else "w",
                                                                                     encoding="utf-8") as out:
        chunks = [records.write(Path(scratch), i, a, b) for i, (a, b) in enumerate(bounds)]
        if workers <= 1:
            run = _predict_chunk
            results: list[Callable[[], list[dict[str, Any]]]] = [
                (lambda p=p: run(scenario, settings, options, str(p), threads)) for p in chunks]
            for (a, b), result in zip(bounds, results):
                _append(out, result(), b - a, bar)
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
                futures: list[Future[list[dict[str, Any]]]] = [
                    pool.submit(_predict_chunk, scenario, settings, options, str(p), threads) for p in chunks]
                for (a, b), future in zip(bounds, futures):  # in input order, whatever finishes first
                    _append(out, future.result(), b - a, bar)
    if bar is not None:
        bar.close()
    partial.replace(output)
    return {"output": str(output), "records": len(records.items), "resumed_from": done, "workers": workers}


def _append(out: Any, predictions: list[dict[str, Any]], expected: int, bar: Any) -> None:
    if len(predictions) != expected:  # a scenario that drops records would misalign --resume
        raise UsageError(f"a chunk of {expected} records gave {len(predictions)} predictions")
    out.write("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions))
    out.flush()
    if bar is not None:
        bar.update(expected)


def _bar(total: int, done: int, progress: bool) -> Any:
    if not progress:
        return None
    import sys

    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="record", desc="scoring", file=sys.stderr, dynamic_ncols=True)


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
