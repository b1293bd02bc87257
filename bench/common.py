"""Shared helpers for the benchmarks: data, peak memory, running a config in its own process."""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.data.types import TextExample


def read_banking77(folder: Path, split: str, limit: int | None = None) -> list[TextExample]:
    path = folder / f"{split}.csv"
    if not path.is_file():
        sys.exit(f"error: {path} not found (pass --data pointing at the banking77 folder)")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [TextExample(r["text"], r["category"]) for r in csv.DictReader(handle)]
    return rows[:limit] if limit else rows


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_subprocess(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args`` and parse the JSON it prints last: separate processes keep
    each configuration's peak memory its own."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{module} {' '.join(args)} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table, so the output pastes into docs/benchmarks.md as is."""
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def ensure_installed(model: str, home: Path) -> None:
    """Install a catalogue encoder into ``home`` unless it is there (other specs pass through)."""
    from core.catalogue import find_entry, install_model, installed_path

    entry = find_entry(model)
    if entry is not None and installed_path(entry, home) is None:
        install_model(entry, home)
