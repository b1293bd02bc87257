"""The console's core (core.console): sign-in with an API key, roles, CSRF, the audit log,
the models pages, and the same scopes on the JSON API. Plugin pages have their own tests
(tests/test_console_*.py); the browser walk-through is tests/test_console_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.app import Suite
from core.plugins import make_plugin_manager
from core.serving import create_app
from core.settings import Settings
from core.store import Store


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Suite]:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'suite.db'}")
    suite = Suite(settings, make_plugin_manager(settings, load_entrypoints=False))
    yield suite
    suite.close()


def register_versions(suite: Suite, tmp_path: Path) -> None:
    for version in (1, 2):
        folder = tmp_path / f"moods-{version}"
        folder.mkdir()
        suite.store.register_model("moods", "text-classification", str(folder), {"accuracy": 0.8 + version / 100},
                                   activate=version == 1)


def client_for(suite: Suite) -> TestClient:
    return TestClient(create_app(suite, poll_interval_s=0), follow_redirects=False)


def sign_in(client: TestClient, secret: str, next_page: str = "/ui/") -> str:
    """Sign in; the CSRF token of the session, read from a page's forms."""
    answer = client.post("/ui/login", data={"key": secret, "next": next_page})
    assert answer.status_code == 303, answer.text
    page = client.get("/ui/")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_pages_need_a_signed_in_key_and_send_you_back_after(suite: Suite):
    _, secret = suite.store.create_api_key("ann", "viewer")
    with client_for(suite) as client:
        answer = client.get("/ui/models?x=1")
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/login?next=/ui/models%3Fx%3D1"
        wrong = client.post("/ui/login", data={"key": "sk-nothing", "next": "/ui/models"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
        signed = client.post("/ui/login", data={"key": secret, "next": "/ui/models"})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/models"
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie
        for page in ("/ui/", "/ui/models", "/ui/models/compare", "/ui/audit"):
            assert client.get(page).status_code == 200, page
        # never an open redirect to another site
        assert client.post("/ui/login", data={"key": secret, "next": "//evil.example"}).headers["location"] == "/ui/"


def test_a_revoked_key_ends_its_sessions(suite: Suite):
    entry, secret = suite.store.create_api_key("ann", "viewer")
    with client_for(suite) as client:
        sign_in(client, secret)
        suite.store.revoke_api_key(entry.id)
        client.app.state.console.sessions.keys.ttl = 0  # no two-second cache in a test
        client.app.state.console.sessions.keys._entries.clear()
        assert client.get("/ui/").status_code == 303


def test_only_admins_activate_and_every_change_is_audited(suite: Suite, tmp_path: Path):
    register_versions(suite, tmp_path)
    _, viewer = suite.store.create_api_key("vic", "viewer")
    _, admin = suite.store.create_api_key("ann", "admin")
    with client_for(suite) as client:
        token = sign_in(client, viewer)
        assert "Activate" not in client.get("/ui/models/moods").text
        refused = client.post("/ui/models/moods/activate", data={"version": "2", "csrf": token})
        assert refused.status_code == 403 and "needs admin" in refused.text
    with client_for(suite) as client:
        token = sign_in(client, admin)
        page = client.get("/ui/models/moods").text
        assert 'aria-label="Activate moods v2"' in page
        no_token = client.post("/ui/models/moods/activate", data={"version": "2"})
        assert no_token.status_code == 403 and "security token" in no_token.text
        done = client.post("/ui/models/moods/activate", data={"version": "2", "csrf": token})
        assert done.status_code == 303
        assert suite.store.get_model("moods").version == 2
        audit = client.get("/ui/audit").text
        assert "activate model" in audit and "moods v2" in audit and "ann (" in audit
    [row] = suite.store.list_audit()
    assert (row.action, row.target, row.role, row.via) == ("activate model", "moods v2", "admin", "console")


def test_compare_and_empty_states(suite: Suite, tmp_path: Path):
    _, secret = suite.store.create_api_key("ann", "viewer")
    with client_for(suite) as client:
        sign_in(client, secret)
        assert "No models registered yet" in client.get("/ui/models").text
        assert "Nothing changed yet" in client.get("/ui/audit").text
        register_versions(suite, tmp_path)
        table = client.get("/ui/models/compare?a=moods:1&b=moods:2").text
        assert "accuracy (validation)" in table and "0.810" in table and "0.820" in table
        assert client.get("/ui/models/nothing").status_code == 404


def test_json_api_has_the_same_scopes(suite: Suite, tmp_path: Path):
    register_versions(suite, tmp_path)
    keys = {role: suite.store.create_api_key(role, role)[1] for role in ("viewer", "operator", "admin")}
    with client_for(suite) as client:
        for role, status in (("viewer", 403), ("operator", 403), ("admin", 200)):
            answer = client.post("/v1/models/moods/activate", json={"version": 2},
                                 headers={"Authorization": f"Bearer {keys[role]}"})
            assert answer.status_code == status, (role, answer.text)
        assert "needs admin" in client.post("/v1/models/moods/activate", json={"version": 1},
                                            headers={"Authorization": f"Bearer {keys['viewer']}"}).json()["error"]
    assert [(r.action, r.via, r.actor.startswith("admin (")) for r in suite.store.list_audit()] == [("activate model", "api", True)]


def test_keys_made_before_roles_become_operators(tmp_path: Path):
    """Migration core_0005: existing keys keep working, with the operator role."""
    from core.store import migrate
    from core.store.schema import utcnow

    url = f"sqlite:///{tmp_path / 'old.db'}"
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    migrate(engine, revision="core_0004")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES ('old', 'sk-old', 'h', :t)"),
                     {"t": utcnow()})
    engine.dispose()
    store = Store.open(url)
    try:
        [key] = store.list_api_keys()
        assert key.role == "operator" and key.can("operator") and not key.can("admin")
    finally:
        store.close()


def test_keys_cli_takes_a_role(suite: Suite):
    from typer.testing import CliRunner

    from core.cli.app import build_app

    app = build_app(suite.pm, suite.settings)
    made = CliRunner().invoke(app, ["keys", "create", "ops", "--role", "operator", "--json"])
    assert made.exit_code == 0 and '"role": "operator"' in made.stdout
    bad = CliRunner().invoke(app, ["keys", "create", "x", "--role", "root"])
    assert bad.exit_code == 2 and "expected one of viewer, operator, admin" in bad.output


def test_console_errors_are_pages_not_json(suite: Suite, tmp_path: Path):
    register_versions(suite, tmp_path)
    _, secret = suite.store.create_api_key("ann", "admin")
    with client_for(suite) as client:
        token = sign_in(client, secret)
        missing = client.get("/ui/no-such-page")
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
        bad = client.post("/ui/models/moods/activate", data={"version": "two", "csrf": token})
        assert bad.status_code == 422 and "version" in bad.text and bad.headers["content-type"].startswith("text/html")
        assert client.get("/v1/nothing").headers["content-type"] == "application/json"


def test_model_page_shows_the_evaluation_and_what_drives_each_class(tmp_path: Path, tiny_model: Path):
    """A real `suite evaluate --explanations`: its confusion matrix beside the faithfulness of
    each method and the words that drive each class (the global view), on the model's page."""
    from typer.testing import CliRunner

    from core.cli.app import build_app

    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'suite.db'}")
    suite = Suite(settings, make_plugin_manager(settings, load_entrypoints=False))
    app = build_app(suite.pm, settings)
    rows = [("my card was declined", "bad"), ("payment declined again", "bad"), ("refund never came back", "bad"),
            ("my card works fine", "good"), ("payment went through quickly", "good"), ("refund arrived today", "good")]
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows * 3), encoding="utf-8")
    for args in (["train", "text-classification", "--train", str(data), "--eval", str(data), "--model", str(tiny_model),
                  "--epochs", "2", "--lr", "1e-3", "--no-baseline", "--name", "moods"],
                 ["evaluate", "text-classification", "--data", str(data), "--model", "moods", "--explanations",
                  "--explain-sample", "6"]):
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 0, done.output
    _, secret = suite.store.create_api_key("ann", "viewer")
    with client_for(suite) as client:
        sign_in(client, secret)
        page = client.get("/ui/models/moods").text
        image = re.search(r'src="(/ui/models/runs/\d+/confusion_matrix.png)"', page)
        assert image and client.get(image.group(1)).headers["content-type"] == "image/png"
        assert "how faithful each method is (6 texts)" in page and "occlusion" in page and "gradient" in page
        assert "The words that most often drive each class" in page
        assert re.search(r"<td>(bad|good)</td>\s*<td><span title=", page)
    suite.close()
