"""The console's recommendation page (plugins/recommendation/console.py): a known user's
history and top 10 with reasons, a profile text for a cold-start user, the empty state before
a model is trained, and the recommender shared with the JSON API (the tiny model: seconds)."""

from __future__ import annotations

import csv
import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.app import Suite
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.serving import create_app
from core.settings import Settings

SAMPLES = Path(__file__).parents[1] / "plugins" / "recommendation" / "samples"
UI = "/ui/recommendation/"


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home (its SQLite registry included) with a recommender trained on the sample bookshop."""
    home = tmp_path_factory.mktemp("rec-console-home")
    settings = Settings(home=home)
    result = CliRunner().invoke(build_app(make_plugin_manager(settings), settings), [
        "train", "recommendation", "--items", str(SAMPLES / "items.csv"), "--interactions", str(SAMPLES / "interactions.csv"),
        "--users", str(SAMPLES / "users.csv"), "--model", str(tiny_model), "--epochs", "1", "--targets-per-user", "2",
        "--json"])
    assert result.exit_code == 0, result.output
    return home


def suite_in(home: Path) -> Suite:
    settings = Settings(home=home)
    return Suite(settings, make_plugin_manager(settings))


def sign_in(client: TestClient, suite: Suite) -> str:
    """A viewer's session (the page changes nothing); the key's secret, for the JSON API."""
    _, secret = suite.store.create_api_key(f"viewer-{len(suite.store.list_api_keys())}", "viewer")
    assert client.post("/ui/login", data={"key": secret, "next": UI}).status_code == 303
    return secret


def catalogue() -> dict[str, str]:
    with (SAMPLES / "items.csv").open(encoding="utf-8") as handle:
        return {row["id"]: row["title"] for row in csv.DictReader(handle)}


def test_without_a_model_the_page_says_how_to_train_one(tmp_path: Path) -> None:
    suite = suite_in(tmp_path / "empty-home")
    with TestClient(create_app(suite, poll_interval_s=0), follow_redirects=False) as client:
        assert client.get(UI).status_code == 303  # sign in first
        sign_in(client, suite)
        page = client.get(UI)
        assert page.status_code == 200 and "No recommendation model yet" in page.text
        assert "suite train recommendation" in page.text and "Profile text" not in page.text


def test_a_known_user_shows_history_and_recommendations_with_reasons(trained: Path) -> None:
    from plugins.recommendation.routes import active_recommender

    suite = suite_in(trained)
    with TestClient(create_app(suite, poll_interval_s=0), follow_redirects=False) as client:
        secret = sign_in(client, suite)
        form = client.get(UI).text
        assert '<label for="user">User id</label>' in form and '<label for="profile">Profile text</label>' in form
        assert '<option value="u03">' in form  # known users offered as you type

        page = client.get(UI, params={"user": "u03"})
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        titles = catalogue()
        with (SAMPLES / "interactions.csv").open(encoding="utf-8") as handle:
            touched = {row["item"] for row in csv.DictReader(handle) if row["user"] == "u03"}
        history = re.sub(r"<[^>]+>", "", text[text.index('id="h-history"'):])  # the words shown
        recommended = text[text.index('id="h-recs"'):text.index('id="h-history"')]
        liked = active_recommender(suite).recommender.history_of("u03")
        assert liked and all(f"{titles[i]} ({i})" in history for i in liked[-20:])
        assert "Grows vegetables on an allotment" in history  # the user's profile
        shown = re.findall(r"\((B\d{3})\)</span></td><td>(because you liked [^<]+)</td>", recommended)
        assert len(shown) == 10 and not {item for item, _ in shown} & touched
        assert all(reason.removeprefix("because you liked ") in {titles[i] for i in liked} for _, reason in shown)

        # the JSON API ranks the same items with the same, already loaded recommender
        loaded = active_recommender(suite).recommender
        api = client.get("/v1/recommendation/users/u03", params={"k": 10}, headers={"Authorization": f"Bearer {secret}"})
        assert api.status_code == 200, api.text
        assert [r["item"] for r in api.json()["recommendations"]] == [item for item, _ in shown]
        assert active_recommender(suite).recommender is loaded

        unknown = client.get(UI, params={"user": "nobody"})
        assert unknown.status_code == 404 and "unknown user &#39;nobody&#39;" in unknown.text


def test_a_profile_text_recommends_for_a_cold_start_user(trained: Path) -> None:
    suite = suite_in(trained)
    with TestClient(create_app(suite, poll_interval_s=0), follow_redirects=False) as client:
        sign_in(client, suite)
        page = client.get(UI, params={"profile": "I love detective stories and crime novels"})
        assert page.status_code == 200, page.text
        assert "Recommendations for this profile" in page.text
        rows = re.findall(r"\((B\d{3})\)</span></td><td>([^<]+)</td>", page.text)
        assert len(rows) == 10 and {reason for _, reason in rows} == {"matches your profile"}
        assert "I love detective stories and crime novels</textarea>" in page.text  # kept to edit and try again
        assert client.get(UI, params={"profile": "x" * 2001}).status_code == 422
