"""``suite serve`` end to end: a real uvicorn server on 127.0.0.1 with a one-layer model.

One server (and one trained model) is shared by the module; the PostgreSQL test starts its
own two-worker server when ``SUITE_TEST_POSTGRES_URL`` is set.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core import hookimpl
from core.app import Suite
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.store import Store
from core.testing import check_explanation
from servers import Server, start_suite_server

POSITIVE = ["the refund arrived quickly", "thanks for the fast help", "great app and kind staff",
            "my card works perfectly now", "lovely service today", "quick and friendly answer"]
NEGATIVE = ["my card was declined again", "the transfer is still missing", "awful wait on the phone",
            "nobody answers my emails", "the app keeps crashing", "i was charged twice"]
TEXTS = POSITIVE + NEGATIVE
MODEL = "moods"
PREDICT = f"/v1/models/{MODEL}/predict"


# --------------------------------------------------------------------------------------
# A trained model, a server, keys
# --------------------------------------------------------------------------------------


def sqlite_url(home: Path) -> str:
    return f"sqlite:///{home / 'suite.db'}"


def cli(home: Path, *args: str, db: str | None = None):
    """The CLI in-process against ``home`` (entry points skipped: the core is enough here)."""
    settings = Settings(home=home, database_url=db or sqlite_url(home))
    return CliRunner().invoke(build_app(make_plugin_manager(settings, load_entrypoints=False), settings), list(args))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Path:
    """A SUITE_HOME with the tiny model fine-tuned for one epoch and registered as 'moods'."""
    home = tmp_path_factory.mktemp("serving-home")
    data = home / "train.csv"
    data.write_text("text,label\n" + "".join(f"{t},{'happy' if t in POSITIVE else 'unhappy'}\n" for t in TEXTS * 3))
    trained = cli(home, "train", "text-classification", "--train", str(data), "--model", str(tiny_model),
                  "--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--name", MODEL, "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    return home


def start_server(home: Path, *serve_args: str, root_args: tuple[str, ...] = (), ready_timeout: float = 90) -> Server:
    """``suite serve`` on the core's routes only: installed plugins' routes are their own tests' business."""
    return start_suite_server(home, *serve_args, root_args=root_args, ready_timeout=ready_timeout, plugins=False)


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    server = start_server(home, "--preload", MODEL, "--reload-interval", "0.5")
    yield server
    server.stop()


def create_key(home: Path, name: str, db: str | None = None) -> str:
    result = cli(home, "keys", "create", name, db=db)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


@pytest.fixture(scope="module")
def key(home: Path) -> str:
    return create_key(home, "tests")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --------------------------------------------------------------------------------------
# Probes, metrics, the registry
# --------------------------------------------------------------------------------------


def test_health_ready_and_models(server: Server, key: str):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/ready").json()
    assert ready["status"] == "ready" and MODEL in ready["models"] and ready["missing"] == []
    models = httpx.get(server.url + "/v1/models", headers=bearer(key))
    assert models.status_code == 200, models.text
    (entry,) = [m for m in models.json()["models"] if m["active"]]
    assert (entry["name"], entry["scenario"], entry["loaded"]) == (MODEL, "text-classification", True)
    assert "accuracy" in entry["metrics"]


def test_predict_and_metrics(server: Server, key: str):
    answer = httpx.post(server.url + PREDICT, json={"texts": TEXTS[:3]}, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == MODEL and isinstance(body["version"], int)
    assert [set(p) for p in body["predictions"]] == [{"label", "score"}] * 3
    assert all(p["label"] in {"happy", "unhappy"} and 0 <= p["score"] <= 1 for p in body["predictions"])
    scored = httpx.post(server.url + PREDICT, json={"texts": TEXTS[:1], "scores": True}, headers=bearer(key)).json()
    assert set(scored["predictions"][0]["scores"]) == {"happy", "unhappy"}
    explained = httpx.post(server.url + PREDICT, json={"texts": TEXTS[:2], "explain": True}, headers=bearer(key)).json()
    for text, prediction in zip(TEXTS[:2], explained["predictions"]):
        check_explanation(text, prediction["explanation"])  # the shape of the CLI's --explain

    metrics = httpx.get(server.url + "/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'suite_http_requests_total{method="POST",route="/v1/models/{name}/predict",status="200"}' in text
    assert 'suite_http_request_duration_seconds_bucket{' in text
    assert f'suite_batch_size_count{{model="{MODEL}"}}' in text
    assert f'suite_model_version{{model="{MODEL}"}}' in text


def test_openapi_documents_every_route_with_examples(server: Server):
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/health", "/ready", "/metrics", "/v1/models", "/v1/models/{name}/predict"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    for name in ("Health", "Ready", "ModelList", "PredictRequest", "PredictResponse", "ErrorBody"):
        assert schemas[name].get("examples"), f"{name} has no examples"
    assert spec["paths"]["/v1/models/{name}/predict"]["post"]["security"] == [{"HTTPBearer": []}]


def test_docs_load_nothing_from_a_cdn(server: Server):
    """#14 item 9: /docs was blank offline (Swagger UI from a CDN); its assets come from the package now."""
    import re

    for page in ("/docs", "/redoc"):
        html = httpx.get(server.url + page).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
        assert assets and not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets
        for asset in assets:
            if asset.startswith("/docs-assets/"):
                assert httpx.get(server.url + asset).status_code == 200, asset


# --------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------


def test_missing_unknown_and_revoked_keys_get_401(server: Server, home: Path):
    missing = httpx.post(server.url + PREDICT, json={"texts": ["hi"]})
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in missing.json()["error"]
    for header in ({"Authorization": "Bearer sk-not-a-key"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        assert httpx.post(server.url + PREDICT, json={"texts": ["hi"]}, headers=header).status_code == 401
    assert httpx.get(server.url + "/v1/models").status_code == 401

    doomed = create_key(home, "doomed")
    assert httpx.post(server.url + PREDICT, json={"texts": ["hi"]}, headers=bearer(doomed)).status_code == 200
    revoked = cli(home, "keys", "revoke", "doomed")
    assert revoked.exit_code == 0, revoked.output
    deadline = time.monotonic() + 10  # servers cache a key check for 2 s
    while (status := httpx.post(server.url + PREDICT, json={"texts": ["hi"]}, headers=bearer(doomed)).status_code) == 200:
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.2)
    assert status == 401


def test_keys_cli_stores_only_hashes(home: Path):
    created = cli(home, "keys", "create", "ci-bot", "--json")
    assert created.exit_code == 0, created.output
    secret = json.loads(created.stdout)["key"]
    listed = cli(home, "keys", "list", "--json")
    row = next(k for k in json.loads(listed.stdout) if k["name"] == "ci-bot")
    assert secret not in listed.stdout and secret.startswith(row["prefix"]) and row["status"] == "active"
    engine = sa.create_engine(sqlite_url(home), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM api_keys"))]
    engine.dispose()
    assert secret not in repr(stored)
    assert cli(home, "keys", "create", "ci-bot").exit_code == 2  # one live key per name
    assert cli(home, "keys", "revoke", str(row["id"])).exit_code == 0
    unknown = cli(home, "keys", "revoke", "no-such-key")
    assert unknown.exit_code == 2 and "no live API key" in unknown.stderr and "Traceback" not in unknown.output


def test_no_auth_is_refused_off_loopback(home: Path):
    result = cli(home, "serve", "--host", "0.0.0.0", "--no-auth")
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "loopback" in result.stderr
    unknown = cli(home, "serve", "--preload", "nope")
    assert unknown.exit_code == 2 and "unknown model 'nope'" in unknown.stderr


def test_access_log_is_json_without_secrets(server: Server, key: str):
    httpx.post(server.url + PREDICT, json={"texts": ["where is my refund"]}, headers=bearer(key))
    lines = [line for line in server.access_lines() if line["path"] == PREDICT and line["status"] == 200]
    assert lines, server.logs()[-2000:]
    assert set(lines[-1]) >= {"ts", "method", "path", "status", "duration_ms", "client", "key_prefix"}
    assert lines[-1]["key_prefix"] == key[:10] and lines[-1]["client"] == "127.0.0.1"
    assert key not in server.logs() and "where is my refund" not in server.logs()


# --------------------------------------------------------------------------------------
# Bad input: always 4xx JSON with a clear message
# --------------------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param({"texts": []}, 422, "texts: List should have at least 1 item", id="empty-list"),
    pytest.param({"texts": "hello"}, 422, "texts: Input should be a valid list", id="string-not-list"),
    pytest.param({"texts": [1, 2]}, 422, "texts.0: Input should be a valid string", id="numbers"),
    pytest.param({"texts": ["x" * 10_001]}, 422, "texts.0: String should have at most 10000 characters", id="too-long"),
    pytest.param({"texts": ["a"] * 65}, 422, "texts: List should have at most 64 items", id="too-many"),
    pytest.param({"text": ["a"]}, 422, "texts: Field required", id="misspelt-field"),
    pytest.param([["a"]], 422, "Input should be a valid dictionary", id="array-body"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_BODIES)
def test_bad_json_bodies(server: Server, key: str, body: object, status: int, message: str):
    answer = httpx.post(server.url + PREDICT, json=body, headers=bearer(key))
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"] and answer.json()["detail"]


@pytest.mark.parametrize(("content", "status", "message"), [
    pytest.param(b"{not json", 422, "request body is not valid JSON", id="invalid-json"),
    pytest.param(b"", 422, "request body is required", id="no-body"),
    pytest.param(b'{"texts": ["\\ud800"]}', 422, "unable to parse raw data as a unicode string", id="lone-surrogate"),
    pytest.param(b'{"texts": ["' + b"a" * 1_100_000 + b'"]}', 413, "over 1,000,000 bytes", id="body-too-big"),
])
def test_bad_raw_bodies(server: Server, key: str, content: bytes, status: int, message: str):
    headers = bearer(key) | {"Content-Type": "application/json"}
    answer = httpx.post(server.url + PREDICT, content=content, headers=headers)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]


def test_chunked_body_too_big_is_cut_off(server: Server, key: str):
    def chunks() -> Iterator[bytes]:
        yield b'{"texts": ["'
        for _ in range(20):
            yield b"a" * 100_000
        yield b'"]}'

    answer = httpx.post(server.url + PREDICT, content=chunks(), headers=bearer(key) | {"Content-Type": "application/json"})
    assert answer.status_code == 413 and "over 1,000,000 bytes" in answer.json()["error"]


def test_unknown_model_and_route_are_404(server: Server, key: str):
    answer = httpx.post(server.url + "/v1/models/nope/predict", json={"texts": ["hi"]}, headers=bearer(key))
    assert answer.status_code == 404 and "unknown model 'nope'" in answer.json()["error"]
    assert MODEL in answer.json()["error"]  # the message names what is available
    assert httpx.get(server.url + "/v2/nothing").json()["error"] == "Not Found: GET /v2/nothing"


def test_schemathesis_finds_no_server_errors(server: Server, key: str, tmp_path: Path):
    """Every check, not only "no 5xx": statuses, content types and bodies match the spec,
    auth is enforced, schema-valid bodies are accepted and invalid ones refused."""
    schemathesis = Path(sys.executable).with_name("schemathesis")
    result = subprocess.run(
        [str(schemathesis), "run", server.url + "/openapi.json", "--checks", "all",
         "--header", f"Authorization: Bearer {key}", "--max-examples", "25", "--seed", "7", "--workers", "2",
         "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all", "--no-color"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


# --------------------------------------------------------------------------------------
# Load and hot reload
# --------------------------------------------------------------------------------------


def send_many(url: str, key: str, total: int, clients: int) -> tuple[list[str], list[int]]:
    """``total`` one-text requests from ``clients`` threads, each on its own keep-alive
    connection (stdlib ``http.client``: an async client pool costs more CPU than the server
    on 2 cores, and would measure itself): (errors, versions)."""
    errors: list[str] = []
    versions: list[int] = []
    remaining = iter(range(total))
    lock = threading.Lock()
    port = int(url.rsplit(":", 1)[1])
    headers = bearer(key) | {"Content-Type": "application/json"}

    def one_client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            while (i := _next(remaining, lock)) is not None:
                try:
                    connection.request("POST", PREDICT, json.dumps({"texts": [TEXTS[i % len(TEXTS)]]}), headers)
                    answer = connection.getresponse()
                    body = answer.read()
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    connection.close()
                    continue
                if answer.status != 200:
                    errors.append(f"{answer.status}: {body[:200]!r}")
                else:
                    versions.append(json.loads(body)["version"])
        finally:
            connection.close()

    threads = [threading.Thread(target=one_client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, versions


def _next(items: Iterator[int], lock: threading.Lock) -> int | None:
    with lock:
        return next(items, None)


def test_64_clients_5000_requests_without_errors(server: Server, key: str):
    started = time.perf_counter()
    errors, versions = send_many(server.url, key, total=5000, clients=64)
    seconds = time.perf_counter() - started
    print(f"\n5000 requests from 64 clients in {seconds:.1f} s ({5000 / seconds:.0f} req/s)")
    assert errors == [] and len(versions) == 5000
    metrics = httpx.get(server.url + "/metrics").text
    count = float(_metric(metrics, f'suite_batch_size_count{{model="{MODEL}"}}'))
    total = float(_metric(metrics, f'suite_batch_size_sum{{model="{MODEL}"}}'))
    assert total / count > 2, "concurrent requests should share forward passes"


def _metric(text: str, name: str) -> str:
    return next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " "))


def test_hot_reload_swaps_versions_without_dropping_requests(server: Server, key: str, home: Path):
    store = Store.open(sqlite_url(home))
    try:
        current = store.get_model(MODEL)
        copy = shutil.copytree(current.path, Path(current.path).parent / "copy-for-reload")
        new = store.register_model(MODEL, current.scenario, str(copy), current.metrics, activate=False)

        async def traffic() -> tuple[list[str], list[int]]:
            sending = asyncio.create_task(_until_version(server.url, key, new.version))
            await asyncio.sleep(0.5)
            await asyncio.to_thread(store.activate_model, MODEL, new.version)
            return await sending

        errors, versions = asyncio.run(traffic())
    finally:
        store.close()
    assert errors == [] and len(versions) > 100
    assert versions[0] == current.version and versions[-1] == new.version


async def _until_version(url: str, key: str, version: int, clients: int = 8, timeout: float = 60) -> tuple[list[str], list[int]]:
    """Requests from ``clients`` clients until ``version`` has answered for a while."""
    errors: list[str] = []
    versions: list[int] = []
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=url, headers=bearer(key), timeout=60) as client:

        async def one_client() -> None:
            seen_new = 0
            while seen_new < 20 and time.monotonic() < deadline:
                try:
                    answer = await client.post(PREDICT, json={"texts": TEXTS[:2]})
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if answer.status_code != 200:
                    errors.append(f"{answer.status_code}: {answer.text[:200]}")
                    continue
                versions.append(answer.json()["version"])
                seen_new += versions[-1] == version

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return errors, versions


# --------------------------------------------------------------------------------------
# The micro-batcher on its own
# --------------------------------------------------------------------------------------


def test_batcher_shares_one_call_and_isolates_failures():
    from core.serving.batching import BatcherClosed, MicroBatcher

    calls: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("bad item")
        time.sleep(0.01)
        return [item.upper() for item in items]

    async def scenario() -> None:
        batcher = MicroBatcher(run, max_batch=4, max_wait_ms=50)
        results = await asyncio.gather(*(batcher.submit([c]) for c in "abcdef"), batcher.submit(list("vwxyz")))
        assert results[:6] == [[c.upper()] for c in "abcdef"] and results[6] == list("VWXYZ")
        assert sorted(len(c) for c in calls) == [2, 4, 5]  # full batches of 4, the 5-item request alone
        calls.clear()
        outcome = await asyncio.gather(batcher.submit(["ok"]), batcher.submit(["bad"]), return_exceptions=True)
        assert outcome[0] == ["OK"] and isinstance(outcome[1], RuntimeError)  # the neighbour is re-run alone
        pending = [asyncio.ensure_future(batcher.submit([c])) for c in "gh"]
        await asyncio.sleep(0)
        await batcher.drain()  # a hot swap: what is queued still finishes
        assert [p.result() for p in pending] == [["G"], ["H"]]
        with pytest.raises(BatcherClosed):
            await batcher.submit(["late"])

    asyncio.run(scenario())


# --------------------------------------------------------------------------------------
# Plugin routes, models activate
# --------------------------------------------------------------------------------------


def test_plugin_routes_are_mounted_behind_auth(settings: Settings):
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from core.serving import create_app

    class RoutesPlugin:
        @hookimpl
        def register_routes(self, register, suite):
            router = APIRouter(prefix="/v1/echo")

            @router.get("/ping")
            def ping() -> dict[str, str]:
                return {"pong": suite.settings.home.name}

            register(router)

    pm = make_plugin_manager(settings, load_entrypoints=False)
    pm.register_plugin(RoutesPlugin(), "echo")
    suite = Suite(settings, pm)
    _, secret = suite.store.create_api_key("plugin-test")
    with TestClient(create_app(suite, poll_interval_s=0)) as client:
        assert client.get("/v1/echo/ping").status_code == 401
        assert client.get("/v1/echo/ping", headers=bearer(secret)).json() == {"pong": settings.home.name}
    with TestClient(create_app(Suite(settings, pm), auth=False, poll_interval_s=0)) as client:
        assert client.get("/v1/echo/ping").status_code == 200


def test_models_activate_command(settings: Settings):
    with Store.open(settings.db_url) as store:
        for _ in range(2):
            store.register_model("m", "text-classification", "/nowhere", {})
    home = settings.home
    assert cli(home, "models", "activate", "m", "1").exit_code == 0
    listed = json.loads(cli(home, "models", "list", "--json").stdout)
    assert [(m["version"], m["active"]) for m in listed] == [(1, True), (2, False)]
    missing = cli(home, "models", "activate", "m", "9")
    assert missing.exit_code == 2 and "has no version 9" in missing.stderr


# --------------------------------------------------------------------------------------
# Scale-out: two workers on one PostgreSQL
# --------------------------------------------------------------------------------------


def test_two_workers_share_postgres(home: Path, postgres_url: str):
    trained = Store.open(sqlite_url(home))
    entry = trained.get_model(MODEL)
    trained.close()
    with Store.open(postgres_url) as store:
        store.register_model(MODEL, entry.scenario, entry.path, entry.metrics)
    key = create_key(home, "pg", db=postgres_url)
    server = start_server(home, "--workers", "2", "--preload", MODEL, root_args=("--db", postgres_url))
    try:
        async def fresh_connections(n: int) -> list[tuple[int, int]]:
            headers = bearer(key) | {"Connection": "close"}  # a new connection each time: both workers get some
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:

                async def one() -> tuple[int, int]:
                    answer = await client.post(PREDICT, json={"texts": TEXTS[:2]})
                    return answer.status_code, answer.json().get("version")

                return await asyncio.gather(*(one() for _ in range(n)))

        assert asyncio.run(fresh_connections(100)) == [(200, 1)] * 100
        pids = {line["pid"] for line in server.access_lines() if line["path"] == PREDICT}
        assert len(pids) == 2, f"requests served by {len(pids)} worker(s)"
    finally:
        server.stop()


def test_default_torch_threads_leave_a_core_to_http():
    from core.cli.serve_cmd import default_threads

    assert [default_threads(1, 2), default_threads(2, 8), default_threads(4, 2), default_threads(1, 16)] == [1, 3, 1, 15]


def test_ready_names_a_model_that_failed_to_load_without_saying_where_it_lives(settings, tmp_path: Path):
    """/ready is public (load balancers): it says which model is not ready, never its folder (#15)."""
    from fastapi.testclient import TestClient

    from core.app import Suite
    from core.serving import create_app

    suite = Suite.create(settings)
    gone = tmp_path / "models" / "gone" / "run-1"
    suite.store.register_model("gone", "text-classification", gone, {})
    with TestClient(create_app(suite, auth=False, preload=["gone"], poll_interval_s=0)) as client:
        deadline = time.monotonic() + 30
        answer = client.get("/ready")
        while "gone" not in answer.json()["errors"] and time.monotonic() < deadline:  # the preload runs in the background
            time.sleep(0.1)
            answer = client.get("/ready")
    assert answer.status_code == 503 and answer.json()["missing"] == ["gone"]
    assert "gone" in answer.json()["errors"] and str(tmp_path) not in answer.text
    suite.close()


def test_a_key_over_its_rate_gets_429_with_retry_after(settings):
    """--rate-limit: each key has its own bucket; beyond it 429 and when to come back (#15)."""
    from fastapi.testclient import TestClient

    from core.app import Suite
    from core.serving import create_app
    from core.serving.auth import RateLimiter

    limiter = RateLimiter(2.0)  # bursts of 4, then one every half second
    assert [limiter.wait("a", now=0.0) for _ in range(5)] == [0, 0, 0, 0, 0.5]
    assert limiter.wait("b", now=0.0) == 0 and limiter.wait("a", now=0.5) == 0
    suite = Suite.create(settings)
    fast, slow = (suite.store.create_api_key(name)[1] for name in ("fast", "slow"))
    with TestClient(create_app(suite, rate_limit=1.0, poll_interval_s=0)) as client:
        answers = [client.get("/v1/models", headers={"Authorization": f"Bearer {fast}"}) for _ in range(4)]
        assert [a.status_code for a in answers[:2]] == [200, 200] and answers[-1].status_code == 429
        assert int(answers[-1].headers["Retry-After"]) >= 1 and "over 1 requests a second" in answers[-1].json()["error"]
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {slow}"}).status_code == 200
    suite.close()


def trickle(port: int, clients: int, *, every_s: float, for_s: float) -> dict[int, float]:
    """``clients`` connections sending a request one byte every ``every_s`` (slowloris); the
    seconds after which the server closed each (missing: still open after ``for_s``)."""
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"x" * 200 + b"\r\n\r\n"
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(clients)]
    for s in sockets:
        s.setblocking(False)
    start, closed, sent = time.monotonic(), {}, 0
    try:
        while len(closed) < clients and time.monotonic() - start < for_s:
            for number, s in enumerate(sockets):
                if number in closed:
                    continue
                try:
                    if s.recv(1) == b"":
                        closed[number] = time.monotonic() - start
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    closed[number] = time.monotonic() - start
                    continue
                try:
                    s.send(request[sent : sent + 1])
                except OSError:
                    closed[number] = time.monotonic() - start
            sent += 1
            time.sleep(every_s)
    finally:
        for s in sockets:
            s.close()
    return closed


def test_slow_clients_are_dropped_within_the_read_timeout(home: Path):
    """A request sent one byte at a time holds a connection only --read-timeout seconds, and
    other clients are served meanwhile (#15)."""
    server = start_server(home, "--read-timeout", "1", "--no-auth")
    port = int(server.url.rsplit(":", 1)[1])
    try:
        served: list[int] = []
        probe = threading.Thread(target=lambda: served.extend(
            httpx.get(server.url + "/health", timeout=5).status_code for _ in range(5)))
        probe.start()
        closed = trickle(port, 30, every_s=0.2, for_s=6)
        probe.join()
        assert served == [200] * 5
        assert len(closed) == 30 and max(closed.values()) < 3, closed  # 1 s, plus a poll or two
        quiet = socket.create_connection(("127.0.0.1", port), timeout=5)  # connects and says nothing
        assert quiet.recv(1) == b""
        quiet.close()
    finally:
        server.stop()


def test_a_model_that_explains_by_gradient_answers_explain_in_one_pass_as_the_cli_does(home: Path, tiny_model: Path):
    """A model whose measured method is the gradient: explain=true over HTTP (the model cache
    behind the route) gives the CLI's predictions and explanations, from one pass beside the
    batcher."""
    import asyncio
    import json

    from core.predictor import record_with_model
    from core.serving.metrics import Metrics
    from core.serving.models import ModelCache

    trained = cli(home, "train", "text-classification", "--train", str(home / "train.csv"), "--model", str(tiny_model),
                  "--epochs", "1", "--lr", "1e-3", "--batch-size", "8", "--name", "moods-gradient", "--no-baseline", "--json")
    assert trained.exit_code == 0, trained.output
    record_with_model(Path(json.loads(trained.stdout)["path"]), "explanation", {"method": "gradient"})
    predicted = cli(home, "predict", "text-classification", *TEXTS[6:9], "--model", "moods-gradient", "--explain", "--json")
    assert predicted.exit_code == 0, predicted.output
    expected = json.loads(predicted.stdout)["predictions"]

    async def over_http() -> list[dict]:
        cache = ModelCache(Suite.create(Settings(home=home, database_url=sqlite_url(home))), Metrics())
        try:
            return (await cache.predict("moods-gradient", TEXTS[6:9], explain=True))[1]
        finally:
            await cache.close()

    answered = asyncio.run(over_http())
    for text, mine, theirs in zip(TEXTS[6:9], answered, expected):
        check_explanation(text, mine["explanation"])
        assert (mine["label"], [w["word"] for w in mine["explanation"]]) == (theirs["label"], [w["word"] for w in theirs["explanation"]])
        assert [w["weight"] for w in mine["explanation"]] == pytest.approx([w["weight"] for w in theirs["explanation"]], abs=1e-3)
    assert any(p["explanation"] for p in answered)
