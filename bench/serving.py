"""Serving throughput and latency with and without micro-batching, side by side.

    python -m bench.serving --data ../shared/data/banking77

Fine-tunes the packaged all-MiniLM-L6-v2 for one epoch on a few hundred Banking77 texts (in
a temporary SUITE_HOME: nothing is written to the repository), then, for each configuration,
starts a real ``suite serve`` and sends one-text requests from 64 concurrent clients. The
clients speak HTTP/1.1 over raw keep-alive sockets: a full HTTP client would spend more CPU
than the server on this 2-core machine and measure itself.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import free_port, read_banking77, table

MODEL = "banking77"
HOST = "127.0.0.1"


# --------------------------------------------------------------------------------------
# The model and the servers
# --------------------------------------------------------------------------------------


def suite_cli(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")} | {"SUITE_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "core.cli.app", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"suite {' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout


def train_model(home: Path, data: Path, per_label: int, epochs: float) -> dict[str, Any]:
    """``per_label`` training texts of every intent (a few hundred in all) and two more each
    for validation, so every validation label is one the model was trained on."""
    rows = read_banking77(data, "train")
    random.Random(0).shuffle(rows)
    by_label: dict[str, list[Any]] = {}
    for ex in rows:
        by_label.setdefault(str(ex.label), []).append(ex)
    train = write_csv(home / "train.csv", [ex for group in by_label.values() for ex in group[:per_label]])
    held = write_csv(home / "eval.csv", [ex for group in by_label.values() for ex in group[per_label : per_label + 2]])
    out = suite_cli(home, "train", "text-classification", "--train", str(train), "--eval", str(held),
                    "--epochs", str(epochs), "--name", MODEL, "--no-baseline", "--json")
    return json.loads(out)


def write_csv(path: Path, examples: list[Any]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows((ex.text, ex.label) for ex in examples)
    return path


def start_server(home: Path, max_batch: int, max_wait_ms: float, threads: int | None) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_")} | {"SUITE_HOME": str(home)}
    command = [sys.executable, "-m", "core.cli.app", "serve", "--port", str(port), "--preload", MODEL,
               "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms), "--reload-interval", "0",
               *(["--threads", str(threads)] if threads else [])]
    log = (home / f"server-{max_batch}.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log.name}")
        if _get(port, "/ready")[0] == 200:
            return proc, port
        time.sleep(0.25)
    proc.terminate()
    raise SystemExit("server not ready after 120 s")


def _get(port: int, path: str) -> tuple[int, str]:
    import httpx

    try:
        answer = httpx.get(f"http://{HOST}:{port}{path}", timeout=5)
        return answer.status_code, answer.text
    except httpx.TransportError:
        return 0, ""


def batch_totals(port: int) -> tuple[float, float]:
    """(texts, forward passes) so far, from the server's /metrics."""
    text = _get(port, "/metrics")[1]
    values = {line.split("{")[0]: float(line.split()[-1]) for line in text.splitlines()
              if line.startswith(("suite_batch_size_sum{", "suite_batch_size_count{"))}
    return values.get("suite_batch_size_sum", 0.0), values.get("suite_batch_size_count", 0.0)


# --------------------------------------------------------------------------------------
# The load: raw HTTP/1.1 keep-alive clients
# --------------------------------------------------------------------------------------


def requests_for(texts: list[str], key: str, port: int) -> list[bytes]:
    head = (f"POST /v1/models/{MODEL}/predict HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\n")
    built = []
    for text in texts:
        body = json.dumps({"texts": [text]}).encode()
        built.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return built


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in lines[1:] if line.lower().startswith(b"content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _client(port: int, work: Iterator[bytes], latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        for request in work:
            started = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


async def load(port: int, requests: list[bytes], total: int, clients: int) -> dict[str, Any]:
    work = (requests[i % len(requests)] for i in range(total))
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(*(_client(port, work, latencies, errors) for _ in range(clients)))
    seconds = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    return {"requests": len(latencies), "errors": len(errors), "seconds": round(seconds, 2),
            "req_per_s": round(len(latencies) / seconds, 1), "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99)}


def measure(home: Path, key: str, texts: list[str], *, label: str, max_batch: int, max_wait_ms: float,
            total: int, clients: int, threads: int | None) -> dict[str, Any]:
    proc, port = start_server(home, max_batch, max_wait_ms, threads)
    try:
        requests = requests_for(texts, key, port)
        asyncio.run(load(port, requests, min(500, total), clients))  # warm-up: allocator, kernels, connections
        texts_before, passes_before = batch_totals(port)
        result = asyncio.run(load(port, requests, total, clients))
        texts_after, passes_after = batch_totals(port)
    finally:
        proc.terminate()
        proc.wait(30)
    mean_batch = (texts_after - texts_before) / max(1.0, passes_after - passes_before)
    return {"mode": label, "max_batch": max_batch, "max_wait_ms": max_wait_ms, "clients": clients, **result,
            "mean_batch": round(mean_batch, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="The banking77 folder (train.csv, test.csv).")
    parser.add_argument("--per-label", type=int, default=6, help="Training texts per intent (77 intents).")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=3000, help="Measured requests per configuration.")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    parser.add_argument("--threads", type=int, help="suite serve --threads (default: the server's own).")
    parser.add_argument("--out", type=Path, help="Also write the results as JSON here.")
    args = parser.parse_args(argv)

    texts = [ex.text for ex in read_banking77(args.data, "test")]
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as scratch:
        home = Path(scratch)
        trained = train_model(home, args.data, args.per_label, args.epochs)
        print(f"model: {MODEL} v{trained['version']}, accuracy {trained['metrics'].get('accuracy')}, "
              f"trained in {trained['train_seconds']} s", file=sys.stderr)
        key = suite_cli(home, "keys", "create", "bench").strip()
        common = dict(total=args.requests, clients=args.clients, threads=args.threads)
        rows = [
            measure(home, key, texts, label="micro-batching", max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, **common),
            measure(home, key, texts, label="one request per pass", max_batch=1, max_wait_ms=0, **common),
        ]
    ratio = rows[0]["req_per_s"] / rows[1]["req_per_s"]
    print(table(rows, ["mode", "max_batch", "clients", "requests", "errors", "req_per_s", "p50_ms", "p95_ms",
                       "p99_ms", "mean_batch"]))
    print(f"\nthroughput ratio: {ratio:.2f}x (target >= 3x)")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"rows": rows, "ratio": round(ratio, 2), "model": trained}, indent=2) + "\n")


if __name__ == "__main__":
    main()
