"""The console in a real browser (Debian's Chromium under Playwright) against a real
``suite serve`` on 127.0.0.1 whose store holds the demo: the finance demo model and feed,
the sample bank's customer-service model with logged turns, two versions of a text model.

Walks what the people who run the suite do: sign in with the keyboard, watch the demo alert
appear while the monitor runs, acknowledge it and find it in the audit log, see that a
viewer cannot, relabel a review-queue turn and find it in ``suite cs export``, activate
another version while requests keep coming, and check every page at 400 px and with
axe-core. Screenshots go to ``test-artifacts/console/``."""

from __future__ import annotations

import csv
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.store import Store
from servers import REPO, Server, server_env, start_suite_server

SAMPLES = REPO / "plugins" / "finance_sentiment" / "samples"
CS_SAMPLES = REPO / "plugins" / "customer_service" / "samples"
AXE = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO / "test-artifacts" / "console"
MOODS = [("the refund arrived quickly", "happy"), ("thanks for the fast help", "happy"), ("great app", "happy"),
         ("the app keeps crashing", "unhappy"), ("i was charged twice", "unhappy"), ("nobody answers", "unhappy")]
CUSTOMER_MESSAGES = ["I lost my card", "my card was stolen this morning", "what is the weather on mars",
                     "can you sing me a song about tax", "how do I reset my online banking password"]


@dataclass
class Demo:
    home: Path
    server: Server
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def cli(self, *args: str) -> Any:
        settings = Settings(home=self.home)
        result = CliRunner().invoke(build_app(make_plugin_manager(settings), settings), [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result


def train(home: Path, *args: str) -> None:
    settings = Settings(home=home)
    result = CliRunner().invoke(build_app(make_plugin_manager(settings), settings),
                                ["train", *map(str, args), "--no-baseline", "--json"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, browser: Any) -> Iterator[Demo]:
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed ({AXE}): run make test, or npm ci --prefix tests/browser")
    home = tmp_path_factory.mktemp("console-demo")
    (home / "suite.toml").write_text((SAMPLES / "suite.toml").read_text().replace(".demo/alerts.jsonl", str(home / "alerts.jsonl")))
    train(home, "finance-sentiment", "--train", SAMPLES / "train.csv", "--model", tiny_model, "--epochs", "3", "--lr", "1e-3")
    train(home, "customer-service", "--train", CS_SAMPLES / "train.yml", "--model", tiny_model, "--epochs", "3", "--lr", "2e-3")
    moods = home / "moods.csv"
    moods.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in MOODS * 3))
    for _ in range(2):  # versions 1 and 2; the second is active
        train(home, "text-classification", "--train", moods, "--model", tiny_model, "--epochs", "1", "--name", "moods")
    settings = Settings(home=home)  # the model page's evaluation: confusion matrix, faithfulness, words per class
    evaluated = CliRunner().invoke(build_app(make_plugin_manager(settings), settings), [
        "evaluate", "text-classification", "--data", str(moods), "--model", "moods", "--explanations", "--explain-sample", "6"])
    assert evaluated.exit_code == 0, evaluated.output
    store = Store.open(f"sqlite:///{home / 'suite.db'}")
    keys = {role: store.create_api_key(f"{role}-person", role)[1] for role in ("viewer", "operator", "admin")}
    store.close()
    server = start_suite_server(home, "--preload", "moods", "--reload-interval", "0.5")
    for message in CUSTOMER_MESSAGES:  # the review queue's turns, through the real API
        answer = httpx.post(f"{server.url}/v1/customer-service/reply", json={"text": message, "session_id": "demo-1"},
                            headers={"Authorization": f"Bearer {keys['viewer']}"}, timeout=60)
        assert answer.status_code == 200, answer.text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield Demo(home, server, keys)
    server.stop()


@pytest.fixture
def page_for(browser: Any, demo: Demo) -> Iterator[Any]:
    """``page_for(role, width)``: a signed-in page in a fresh browser context."""
    contexts: list[Any] = []

    def make(role: str, width: int = 1280) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900}, base_url=demo.url)
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.errors = errors
        page.goto("/ui/login")
        page.get_by_label("API key").fill(demo.keys[role])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/ui/")
        return page

    yield make
    for context in contexts:
        assert not any(page.errors for page in context.pages), [page.errors for page in context.pages]
        context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# --------------------------------------------------------------------------------------
# The walk-through, in order: the first test runs the monitor
# --------------------------------------------------------------------------------------


def test_sign_in_with_the_keyboard(browser: Any, demo: Demo):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=demo.url)
    try:
        page = context.new_page()
        page.goto("/ui/finance/")  # not signed in: to the sign-in page, and back afterwards
        assert "/ui/login" in page.url
        assert page.evaluate("document.activeElement.id") == "key"  # the key field has the focus
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Shift+Tab")  # before it, the home link and the skip link
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.type(demo.keys["viewer"])
        page.keyboard.press("Enter")
        page.wait_for_url("**/ui/finance/")
        shot(page, "login-then-finance")
    finally:
        context.close()


def test_the_demo_alert_appears_live_while_the_monitor_runs(page_for: Any, demo: Demo):
    page = page_for("operator")
    page.goto("/ui/finance/")
    assert page.get_by_text("No alerts yet").count() >= 1
    seen_in_store: list[float] = []
    stop = threading.Event()

    def watch_store() -> None:  # when the alert reached the database, to time the page against
        engine = sa.create_engine(f"sqlite:///{demo.home / 'suite.db'}")
        with engine.connect() as conn:
            while not stop.is_set() and not seen_in_store:
                found = conn.execute(sa.text("SELECT 1 FROM finance_alerts WHERE key = 'entity:Northwind Bank'")).first()
                if found:
                    seen_in_store.append(time.monotonic())
                conn.rollback()
                time.sleep(0.05)
        engine.dispose()

    watcher = threading.Thread(target=watch_store, daemon=True)
    watcher.start()
    monitor = subprocess.Popen([sys.executable, "-m", "core.cli.app", "run", "finance-monitor", "--source",
                                f"file:{SAMPLES / 'feed.jsonl'}", "--json"], env=server_env(demo.home), cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        row = page.locator("tr", has_text="Northwind Bank").first
        row.wait_for(timeout=120_000)
        appeared = time.monotonic()
    finally:
        out, err = monitor.communicate(timeout=300)
        stop.set()
        watcher.join(5)
    assert monitor.returncode == 0, err.decode()[-2000:]
    assert seen_in_store, "the monitor stored no Northwind Bank alert"
    delay = appeared - seen_in_store[0]
    print(f"alert on the page {delay:.2f} s after it was stored")
    assert delay <= 2.0
    shot(page, "finance-live-alert")


def test_acknowledge_and_find_it_in_the_audit_log(page_for: Any, demo: Demo):
    page = page_for("operator")
    page.goto("/ui/finance/")
    page.locator("tr", has_text="Northwind Bank").first.get_by_role("link").first.click()
    assert page.locator("mark").count() >= 1  # the words that drove the evidence items
    shot(page, "finance-alert-evidence")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert page.get_by_role("button", name="Acknowledge").count() == 0
    page.goto("/ui/audit")
    row = page.locator("tr", has_text="acknowledge alert")
    assert row.count() == 1 and "operator-person" in row.inner_text()
    shot(page, "audit")


def test_a_viewer_cannot_acknowledge(page_for: Any, demo: Demo):
    page = page_for("viewer")
    alert_path = _first_alert(demo)
    page.goto(alert_path)
    assert page.locator("mark").count() >= 1 and page.get_by_role("button", name="Acknowledge").count() == 0
    status = page.evaluate("""async (path) => {
        const csrf = document.querySelector('input[name=csrf]').value;
        const r = await fetch(path + '/acknowledge', {method: 'POST', body: new URLSearchParams({csrf})});
        return r.status; }""", alert_path)
    assert status == 403


def test_relabel_a_review_queue_turn_and_find_it_in_the_export(page_for: Any, demo: Demo, tmp_path: Path):
    page = page_for("operator")
    page.goto("/ui/customer-service/")
    shot(page, "customer-service-queue")
    page.locator("tr", has_text="weather on mars").first.get_by_role("link").first.click()
    page.get_by_label("Right intent").select_option("oos")
    page.get_by_role("button", name="Relabel").click()
    page.wait_for_load_state()
    out = tmp_path / "export.csv"
    demo.cli("cs", "export", "--out", out)
    with out.open(encoding="utf-8") as handle:
        rows = {row["text"]: row for row in csv.DictReader(handle)}
    assert rows["what is the weather on mars"]["label"] == "oos"


def test_activate_another_version_under_load_drops_nothing(page_for: Any, demo: Demo):
    page = page_for("admin")
    page.goto("/ui/models/moods")
    results: list[tuple[int, int | None]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=demo.url, headers={"Authorization": f"Bearer {demo.keys['viewer']}"}, timeout=30) as client:
            while not stop.is_set():
                answer = client.post("/v1/models/moods/predict", json={"texts": ["the app keeps crashing"]})
                results.append((answer.status_code, answer.json().get("version") if answer.status_code == 200 else None))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        page.get_by_role("button", name="Activate moods v1").click()
        page.wait_for_load_state()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(v == 1 for _, v in results[-20:]):
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    failures = [status for status, _ in results if status != 200]
    versions = [v for _, v in results]
    print(f"{len(results)} requests during the switch, {len(failures)} failed")
    assert failures == [] and 2 in versions and versions[-1] == 1
    assert "activate model" in page.goto("/ui/audit").text()


PAGES = ["/ui/", "/ui/models", "/ui/models/moods", "/ui/models/compare?a=moods:1&b=moods:2", "/ui/audit",
         "/ui/finance/", "/ui/customer-service/", "/ui/customer-service/coverage", "/ui/recommendation/"]


@pytest.mark.parametrize("width", [1280, 400])
def test_every_page_fits_and_passes_axe(page_for: Any, demo: Demo, width: int):
    page = page_for("admin", width)
    for path in PAGES + [_first_alert(demo)]:
        answer = page.goto(path)
        assert answer.status == 200, path
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} overflows by {overflow}px at {width}px"
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
        serious = [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert serious == [], f"{path} at {width}px: {serious}"
        shot(page, f"{width}{path.replace('/', '_').replace('?', '_')}")


def _first_alert(demo: Demo) -> str:
    engine = sa.create_engine(f"sqlite:///{demo.home / 'suite.db'}")
    with engine.connect() as conn:
        alert_id = conn.execute(sa.text("SELECT id FROM finance_alerts ORDER BY fired_at LIMIT 1")).scalar_one()
    engine.dispose()
    return f"/ui/finance/alerts/{alert_id}"
