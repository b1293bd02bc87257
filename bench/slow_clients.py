"""Slow clients (slowloris) against ``suite serve``: are they dropped, and do other clients notice?

    python -m bench.slow_clients                      # 300 slow clients, --read-timeout 10 against 0
    python -m bench.slow_clients --slow 300 --seconds 30 --byte-every 5

A real ``suite serve`` (uvicorn, one worker, loopback, no key) answers ``GET /v1/models`` (a
database read) to 8 clients in a loop. The p95 of their requests is measured idle, then while
``--slow`` connections each send a request one byte every ``--byte-every`` seconds and open a
new connection whenever the server drops one (an attacker keeps the pressure). Each server
configuration runs in the same process of this script, one after the other: ``--read-timeout``
10 (the default) and 0 (no read timeout: uvicorn as it comes). Printed: p95 idle and under
load, their ratio, how many slow connections were dropped and after how long.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import free_port, table

REPO = Path(__file__).resolve().parent.parent
REQUEST = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 500 + b"\r\n\r\n"


def start(home: Path, read_timeout: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"SUITE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "core.cli.app", "serve", "--port", str(port), "--no-auth", "--read-timeout", str(read_timeout)]
    proc = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


async def normal_clients(url: str, seconds: float, clients: int = 8) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def one(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            answer = await client.get(url + "/v1/models")
            answer.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(clients)))
    return latencies


async def slow_client(port: int, every: float, deadline: float, drops: list[float]) -> None:
    while time.monotonic() < deadline:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        opened = time.monotonic()
        try:
            for byte in range(len(REQUEST)):
                writer.write(REQUEST[byte : byte + 1])
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), timeout=every) == b"":
                        break  # the server closed it
                except asyncio.TimeoutError:
                    pass
                if time.monotonic() >= deadline:
                    return
            drops.append(time.monotonic() - opened)
        except (ConnectionError, OSError):
            drops.append(time.monotonic() - opened)
        finally:
            writer.close()


async def under_load(url: str, slow: int, every: float, seconds: float) -> tuple[list[float], list[float], int]:
    port = int(url.rsplit(":", 1)[1])
    drops: list[float] = []
    deadline = time.monotonic() + seconds
    attackers = [asyncio.create_task(slow_client(port, every, deadline, drops)) for _ in range(slow)]
    await asyncio.sleep(min(5.0, seconds / 4))  # let them all connect
    latencies = await normal_clients(url, deadline - time.monotonic())
    await asyncio.gather(*attackers, return_exceptions=True)
    return latencies, drops, slow


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=300)
    parser.add_argument("--byte-every", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as home:
        for read_timeout in (10.0, 0.0):
            proc, url = start(Path(home), read_timeout)
            try:
                idle = asyncio.run(normal_clients(url, 10))
                loaded, drops, slow = asyncio.run(under_load(url, args.slow, args.byte_every, args.seconds))
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            rows.append({"--read-timeout": read_timeout, "slow clients": slow, "requests idle": len(idle),
                         "p95 idle ms": round(p95(idle), 2), "requests under load": len(loaded),
                         "p95 under load ms": round(p95(loaded), 2), "ratio": round(p95(loaded) / p95(idle), 2),
                         "slow connections dropped": len(drops),
                         "dropped after s (median, max)": f"{statistics.median(drops):.1f}, {max(drops):.1f}" if drops else "-"})
            print(json.dumps(rows[-1]), flush=True)
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
