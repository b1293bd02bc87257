"""Shared helpers for the benchmarks: data, peak memory, running a config in its own process."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
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


def cpu_name() -> str:
    """What the figures were measured on, e.g. "Intel(R) Xeon(R) Processor, 2 cores, AMX (bf16, int8)"."""
    import os
    import platform

    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        flags = ""
    features = ("AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags
                else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "")
    return f"{name}, {os.cpu_count()} cores{', ' + features if features else ''} (torch uses {torch.backends.cpu.get_cpu_capability()})"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(home: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[tuple[str, Path]]:
    """``suite serve`` for ``home`` in a subprocess: ``(url, log file)`` once /health answers."""
    import os
    import time

    import httpx

    port = free_port()
    log = home / f"server-{port}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")} | {
        "SUITE_HOME": str(home), "HF_HUB_OFFLINE": "1"} | (env or {})
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "core.cli.app", "serve", "--port", str(port), *args],
                                stdout=out, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}; see {log}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not up after {timeout:.0f} s; see {log}")
            time.sleep(0.2)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
