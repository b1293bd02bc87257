"""The console's customer-service pages (plugins/customer_service/console.py): the review queue
and its filters, a turn with its session, relabelling (operators only, CSRF, audited, exported
by ``suite cs export``), answer-book coverage, and the time each page takes with 10,000 turns.
Turns are written into the conversation log directly: no model is needed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.app import Suite
from core.plugins import make_plugin_manager
from core.serving import create_app
from core.settings import Settings
from plugins.customer_service.store import ConversationLog

UI = "/ui/customer-service"


@pytest.fixture
def suite(tmp_path: Path) -> Iterator[Suite]:
    settings = Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path / 'suite.db'}")
    suite = Suite(settings, make_plugin_manager(settings))
    yield suite
    suite.close()


def client_for(suite: Suite) -> TestClient:
    return TestClient(create_app(suite, poll_interval_s=0), follow_redirects=False)


def sign_in(client: TestClient, suite: Suite, role: str) -> str:
    """Sign in with a new key of ``role``; the session's CSRF token."""
    _, secret = suite.store.create_api_key(f"{role}-{len(suite.store.list_api_keys())}", role)
    answer = client.post("/ui/login", data={"key": secret, "next": f"{UI}/"})
    assert answer.status_code == 303, answer.text
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/").text).group(1)


def add_turn(log: ConversationLog, text: str, *, route: str = "template", intent: str | None = "card_lost",
             confidence: float | None = 0.93, confident: bool = True, reason: str | None = None, session: str = "s1",
             explanation: list[dict[str, Any]] | None = None) -> int:
    turn = {"text": text, "route": route, "intent": intent, "confidence": confidence, "confident": confident,
            "reason": reason or f"intent {intent} at {confidence:.2f} (threshold 0.50)", "latency_ms": 12.5,
            "language": "en", "kb_ref": None, "similarity": None, "model": "/models/cs-1", "explanation": explanation}
    ticket = reason if route == "escalation" else None
    return log.record(session, "http", turn, ticket_reason=ticket, reply=lambda t: f"Reply to '{text}' (ticket {t})").turn_id


@pytest.fixture
def turns(suite: Suite) -> dict[str, int]:
    """One turn of each kind: answered, escalated, unsure, out of scope, corrected to another intent."""
    log = ConversationLog(suite.store)
    made = {
        "answered": add_turn(log, "I lost my card", explanation=[{"word": "lost", "start": 2, "end": 6, "weight": 0.4},
                                                                 {"word": "card", "start": 10, "end": 14, "weight": 0.2}]),
        "escalated": add_turn(log, "what's the weather like tomorrow", route="escalation", intent="greeting",
                              confidence=0.31, confident=False,
                              reason="low confidence: greeting at 0.31 < threshold 0.50; no knowledge-base entry reaches"),
        "unsure": add_turn(log, "my card got eaten by the machine", route="retrieval", intent="card_declined",
                           confidence=0.41, confident=False, reason="low confidence: card_declined at 0.41 < threshold 0.50",
                           session="s2"),
        "out_of_scope": add_turn(log, "tell me a joke about penguins", route="retrieval", intent="oos", confidence=0.88,
                                 confident=False, reason="out of scope (oos at 0.88)", session="s2"),
        "corrected": add_turn(log, "I'd like a mortgage for my first flat", intent="open_account", confidence=0.8,
                              session="s3"),
    }
    log.add_feedback(made["corrected"], "mortgage", source="http")
    return made


def test_the_queue_shows_turns_to_review_and_filters_by_reason(suite: Suite, turns: dict[str, int]) -> None:
    with client_for(suite) as client:
        assert client.get(f"{UI}/").status_code == 303  # sign in first
        sign_in(client, suite, "viewer")
        page = client.get(f"{UI}/")
        assert page.status_code == 200, page.text
        for kind in ("escalated", "unsure", "out_of_scope", "corrected"):
            assert f'href="{UI}/turns/{turns[kind]}"' in page.text, kind
        assert f'href="{UI}/turns/{turns["answered"]}"' not in page.text  # confident and uncorrected: nothing to review
        assert '<label for="reason">' in page.text and 'role="region" aria-label="Turns to review"' in page.text
        for label in ("Escalated (1)", "Low confidence (2)", "Out of scope (1)", "Negative feedback (1)"):
            assert label in page.text, label  # the escalated turn was unsure too
        assert "mortgage" in page.text  # the correction is shown beside the predicted intent

        def shown(reason: str) -> set[int]:
            answer = client.get(f"{UI}/", params={"reason": reason})
            assert answer.status_code == 200, answer.text
            return {int(n) for n in re.findall(rf'href="{UI}/turns/(\d+)"', answer.text)}

        assert shown("escalated") == {turns["escalated"]}
        assert shown("low-confidence") == {turns["escalated"], turns["unsure"]}  # out of scope is its own reason
        assert shown("out-of-scope") == {turns["out_of_scope"]}
        assert shown("negative-feedback") == {turns["corrected"]}
        assert client.get(f"{UI}/", params={"reason": "sad"}).status_code == 422
        ConversationLog(suite.store).add_feedback(turns["corrected"], "open_account")  # on second thoughts: it was right
        assert shown("negative-feedback") == set()  # the newest correction counts, as in suite cs export


def test_the_queue_pages_and_says_what_to_do_when_empty(suite: Suite) -> None:
    with client_for(suite) as client:
        sign_in(client, suite, "viewer")
        assert "No conversations yet" in client.get(f"{UI}/").text
        log = ConversationLog(suite.store)
        add_turn(log, "hello")
        assert "Nothing to review" in client.get(f"{UI}/").text
        assert "No turn is escalated right now" in client.get(f"{UI}/", params={"reason": "escalated"}).text
        for n in range(55):
            add_turn(log, f"unsure message {n}", confidence=0.2, confident=False, reason="low confidence: x")
        first = client.get(f"{UI}/").text
        assert first.count(f'href="{UI}/turns/') == 50 and "unsure message 54" in first and ">Older</a>" in first
        second = client.get(f"{UI}/", params={"page": 2}).text
        assert second.count(f'href="{UI}/turns/') == 5 and "unsure message 0" in second and ">Newer</a>" in second


def test_a_turn_shows_what_was_said_decided_and_the_rest_of_its_session(suite: Suite, turns: dict[str, int]) -> None:
    log = ConversationLog(suite.store)
    later = add_turn(log, "and my PIN too", session="s1", intent="change_pin")
    with client_for(suite) as client:
        sign_in(client, suite, "viewer")
        page = client.get(f"{UI}/turns/{turns['answered']}")
        assert page.status_code == 200, page.text
        text = page.text
        assert "Reply to &#39;I lost my card&#39;" in text and "card_lost" in text and "0.930" in text
        assert "template" in text and "intent card_lost at 0.93" in text
        assert '<mark style="--w: 1.0">lost</mark>' in text and '<mark style="--w: 0.5">card</mark>' in text
        assert f'href="{UI}/turns/{later}"' in text and "and my PIN too" in text  # the session's other turn
        assert "my card got eaten" not in text  # another session's
        escalated = client.get(f"{UI}/turns/{turns['escalated']}").text
        assert "ticket 1 (open)" in escalated and "escalated" in escalated
        missing = client.get(f"{UI}/turns/999999")
        assert missing.status_code == 404 and "no turn 999999" in missing.text


def test_an_operator_relabels_a_turn_for_export_and_the_audit_log(suite: Suite, turns: dict[str, int]) -> None:
    turn, other = turns["unsure"], turns["escalated"]
    with client_for(suite) as client:
        token = sign_in(client, suite, "operator")
        page = client.get(f"{UI}/turns/{turn}").text
        assert '<label for="intent">Right intent</label>' in page and '<select id="intent" name="intent"' in page
        assert '<button type="submit">Relabel</button>' in page and '<label for="new-intent">' in page
        assert '<option value="card_declined">card_declined (the model\'s)</option>' in page  # from the answer book
        assert '<option value="oos">' in page  # out of scope is a label too
        no_token = client.post(f"{UI}/turns/{turn}/relabel", data={"intent": "card_lost"})
        assert no_token.status_code == 403 and "security token" in no_token.text
        bad = client.post(f"{UI}/turns/{turn}/relabel", data={"new_intent": "two words", "csrf": token})
        assert bad.status_code == 422 and "expected a name without spaces" in bad.text and 'value="two words"' in bad.text
        blank = client.post(f"{UI}/turns/{turn}/relabel", data={"intent": "", "csrf": token})
        assert blank.status_code == 422 and "choose the right intent" in blank.text
        assert client.post(f"{UI}/turns/999999/relabel", data={"intent": "x", "csrf": token}).status_code == 404
        assert ConversationLog(suite.store).corrections(turn) == []
        done = client.post(f"{UI}/turns/{turn}/relabel",  # a new intent typed wins over the list
                           data={"intent": "card_lost", "new_intent": "card_swallowed", "note": "ATM kept it", "csrf": token})
        assert done.status_code == 303 and done.headers["location"].startswith(f"{UI}/turns/{turn}?notice=")
        shown = client.get(done.headers["location"]).text
        assert "relabelled as card_swallowed" in shown and "ATM kept it" in shown
        picked = client.post(f"{UI}/turns/{other}/relabel", data={"intent": "oos", "csrf": token})
        assert picked.status_code == 303
    rows = {r["turn_id"]: r for r in ConversationLog(suite.store).export_rows()}  # what suite cs export writes
    assert {"text": "my card got eaten by the machine", "label": "card_swallowed", "status": "corrected",
            "predicted": "card_declined"}.items() <= rows[turn].items()
    assert (rows[other]["label"], rows[other]["status"]) == ("oos", "corrected")
    first, second = suite.store.list_audit()[::-1]
    assert (first.action, first.target, first.role, first.via) == ("relabel turn", f"turn {turn}", "operator", "console")
    assert first.detail == {"intent": "card_swallowed", "was": "card_declined"}
    assert (second.target, second.detail) == (f"turn {other}", {"intent": "oos", "was": "greeting"})
    [feedback] = ConversationLog(suite.store).corrections(turn)
    assert (feedback["source"], feedback["note"]) == ("console", "ATM kept it")


def test_a_viewer_sees_no_relabel_button_and_is_refused(suite: Suite, turns: dict[str, int]) -> None:
    turn = turns["unsure"]
    with client_for(suite) as client:
        token = sign_in(client, suite, "viewer")
        page = client.get(f"{UI}/turns/{turn}").text
        assert ">Relabel</button>" not in page and "Right intent" not in page and "needs an operator key" in page
        refused = client.post(f"{UI}/turns/{turn}/relabel", data={"intent": "card_swallowed", "csrf": token})
        assert refused.status_code == 403 and "this needs operator" in refused.text
    assert ConversationLog(suite.store).corrections(turn) == [] and suite.store.list_audit() == []


def register_model(suite: Suite, tmp_path: Path, labels: list[str]) -> None:
    """A registered customer-service model folder with just what the coverage page reads."""
    folder = tmp_path / "cs-model"
    folder.mkdir()
    (folder / "suite_head.json").write_text(json.dumps({"head": "text-classification", "labels": labels}), encoding="utf-8")
    (folder / "customer_service.json").write_text(json.dumps({"oos_label": "oos"}), encoding="utf-8")
    suite.store.register_model("customer-service", "customer-service", str(folder), {"accuracy": 0.9})


def test_coverage_lists_the_intents_without_an_answer(suite: Suite, tmp_path: Path) -> None:
    with client_for(suite) as client:
        sign_in(client, suite, "viewer")
        empty = client.get(f"{UI}/coverage")
        assert empty.status_code == 200 and "No customer-service model yet" in empty.text
        register_model(suite, tmp_path, ["card_lost", "human_agent", "mortgage_rates", "oos"])
        log = ConversationLog(suite.store)
        log.add_feedback(add_turn(log, "can I buy bitcoin here"), "crypto_wallet", source="cli")
        page = client.get(f"{UI}/coverage").text
        missing = page[page.index('id="h-missing"'):page.index('id="h-all"')]
        assert "mortgage_rates" in missing and "crypto_wallet" in missing and "not in the model yet" in missing
        assert "card_lost" not in missing and "human_agent" not in missing and "oos" not in missing
        assert "Intents without an answer (2)" in page and "hands over to a person" in page  # human_agent escalates
        assert "customer-service v1" in page and "change_pin" in page  # an answer the model has no intent for
