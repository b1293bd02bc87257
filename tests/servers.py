"""A real ``suite serve`` in a subprocess on 127.0.0.1, for the serving and console tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def access_lines(self) -> list[dict]:
        lines = [json.loads(line) for line in self.logs().splitlines() if line.startswith("{")]
        return [line for line in lines if "method" in line]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def server_env(home: Path, *, plugins: bool = True) -> dict[str, str]:
    """The test's environment for a suite in ``home``; ``plugins=False``: the core alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITE_") or k.startswith("SUITE_TEST_")}
    return env | {"SUITE_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | (
        {} if plugins else {"SUITE_LOAD_PLUGINS": ""})


def start_suite_server(home: Path, *serve_args: str, root_args: tuple[str, ...] = (), ready_timeout: float = 90,
                       plugins: bool = True) -> Server:
    """``suite serve`` in a subprocess; returns once /ready answers 200."""
    port = free_port()
    log = home / f"server-{port}.log"
    command = [sys.executable, "-m", "core.cli.app", *root_args, "serve", "--port", str(port), *serve_args]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=server_env(home, plugins=plugins),
                                cwd=REPO)
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{server.logs()[-3000:]}")
        try:
            if httpx.get(server.url + "/ready", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    pytest.fail(f"server not ready after {ready_timeout} s:\n{server.logs()[-3000:]}")
