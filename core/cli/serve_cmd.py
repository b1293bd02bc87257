"""``suite serve``: the HTTP API on uvicorn (see ``core.serving``)."""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Annotated, Optional

import typer

from core.app import Suite
from core.cli import get_suite
from core.cli.output import err
from core.errors import UsageError

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", help="Interface to listen on; 0.0.0.0 for every one.")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", min=0, max=65535, help="TCP port.")] = 8000,
        workers: Annotated[int, typer.Option("--workers", min=1, help="Processes; each loads its own models.")] = 1,
        no_auth: Annotated[bool, typer.Option("--no-auth", help="Serve without API keys (loopback hosts only).")] = False,
        preload: Annotated[Optional[list[str]], typer.Option(
            "--preload", help="Load this model at start; /ready waits for it. Repeat, or separate with commas.")] = None,
        max_batch: Annotated[int, typer.Option("--max-batch", min=1, max=1024,
                                               help="Most texts in one forward pass (1: no micro-batching).")] = 32,
        max_wait_ms: Annotated[float, typer.Option("--max-wait-ms", min=0, max=1000,
                                                   help="Longest a request waits for others to share its batch.")] = 5.0,
        reload_interval: Annotated[float, typer.Option(
            "--reload-interval", min=0, help="Seconds between registry checks for a newly active version (0: never).")] = 2.0,
        threads: Annotated[Optional[int], typer.Option("--threads", min=1, help=(
            "torch threads per worker; default: the worker's share of the cores minus one for HTTP, at least 1."))] = None,
        read_timeout: Annotated[float, typer.Option("--read-timeout", min=0, help=(
            "Seconds a client may take to send a whole request; slower ones are disconnected. 0: no limit."))] = 10.0,
        rate_limit: Annotated[float, typer.Option("--rate-limit", min=0, help=(
            "Requests a second per API key and worker (bursts of twice that); beyond it 429 with Retry-After. 0: no limit."))] = 0.0,
    ) -> None:
        """Serve predictions over HTTP: /v1/models/NAME/predict, /health, /ready, /metrics, /docs."""
        if no_auth and not is_loopback(host):
            raise UsageError(f"--no-auth is allowed only on a loopback host (127.0.0.1, ::1, localhost), not '{host}'")
        suite = get_suite(ctx)
        names = [n.strip() for item in preload or [] for n in item.split(",") if n.strip()]
        check_ready_to_serve(suite, names, auth=not no_auth)
        options = {"auth": not no_auth, "max_batch": max_batch, "max_wait_ms": max_wait_ms, "preload": names,
                   "poll_interval_s": reload_interval, "threads": threads or default_threads(workers), "rate_limit": rate_limit,
                   "read_timeout_s": read_timeout}
        run_uvicorn(suite, options, host=host, port=port, workers=workers)


def default_threads(workers: int, cores: int | None = None) -> int:
    """torch threads per worker: its share of the cores, less one left to the HTTP event loop
    (threads spinning on a core the loop needs slow both down)."""
    return max(1, (cores or os.cpu_count() or 1) // workers - 1)


def check_ready_to_serve(suite: Suite, preload: list[str], *, auth: bool) -> None:
    """Fail before starting on what would only fail later: the database, unknown models."""
    store = suite.store
    for name in preload:
        store.get_model(name)  # UnknownNameError lists the registered names
    if auth and not any(key.active for key in store.list_api_keys()):
        err().print("warning: no API keys yet: every /v1 request will get 401 (create one with: suite keys create NAME)",
                    highlight=False, markup=False)


def run_uvicorn(suite: Suite, options: dict[str, object], *, host: str, port: int, workers: int) -> None:
    """Start uvicorn on the app factory; worker processes read the settings from the environment."""
    import uvicorn

    from core.serving.app import SERVE_CONFIG_ENV

    os.environ[SERVE_CONFIG_ENV] = json.dumps(options)
    os.environ["SUITE_HOME"] = str(suite.settings.home)
    if suite.settings.database_url:
        os.environ["SUITE_DATABASE_URL"] = suite.settings.database_url
    if suite.settings.verbose:
        os.environ["SUITE_VERBOSE"] = "1"
    suite.close()  # the workers open their own connections
    from core.serving.protocol import ReadTimeoutProtocol

    uvicorn.run("core.serving.app:app_from_env", factory=True, host=host, port=port, workers=workers, http=ReadTimeoutProtocol,
                access_log=False, server_header=False, log_level="info", timeout_graceful_shutdown=10, timeout_keep_alive=5)
