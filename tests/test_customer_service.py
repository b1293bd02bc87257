"""The customer-service plugin: calibration on synthetic scores, the answer book and knowledge
base files, a scripted terminal chat over all three routes, feedback -> export -> retraining
with a new intent, and the HTTP route's answers to bad input (a one-layer model: seconds)."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core import DataError, ReadOptions
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.testing import check_explanation
from plugins.customer_service.adapters import RasaNluAdapter
from plugins.customer_service.answers import AnswerBook
from plugins.customer_service.calibration import choose_threshold, decide, fit_temperature, nll
from plugins.customer_service.config import SAMPLE_ANSWERS, SAMPLE_KNOWLEDGE, SAMPLE_TRAIN
from plugins.customer_service.knowledge import load_entries

INTENTS = {"card_lost", "card_declined", "greeting", "human_agent", "check_balance", "oos"}
TEMPLATE = "I lost my card"
RETRIEVAL = "how much cash can I take out in one day"  # out of scope for the intents, answered by the FAQ
ESCALATION = "what's the weather like tomorrow"  # neither


def invoke(*args: str, home: Path | None = None):
    settings = Settings(home=home) if home else Settings()
    return CliRunner().invoke(build_app(make_plugin_manager(settings), settings), list(args))


# --------------------------------------------------------------------------------------
# Calibration on synthetic scores
# --------------------------------------------------------------------------------------


def test_threshold_is_the_lowest_meeting_the_target_precision() -> None:
    conf = [0.99, 0.95, 0.90, 0.80, 0.70, 0.60]
    correct = [True, True, True, False, True, False]
    strict = choose_threshold(conf, correct, 0.95)
    assert (strict.threshold, strict.precision, strict.coverage, strict.met) == (0.90, 1.0, 0.5, True)
    loose = choose_threshold(conf, correct, 0.75)
    assert loose.threshold == 0.70 and loose.precision == 0.8 and loose.met


def test_threshold_never_cuts_between_equal_confidences_and_says_when_the_target_is_missed() -> None:
    choice = choose_threshold([0.9, 0.9, 0.8], [True, False, True], 0.9)
    assert not choice.met and choice.threshold == 0.8 and choice.precision == pytest.approx(2 / 3)


def test_threshold_on_noisy_synthetic_scores_reaches_the_target() -> None:
    rng = np.random.default_rng(0)
    correct = rng.random(2000) < 0.8
    conf = np.clip(np.where(correct, rng.normal(0.85, 0.1, 2000), rng.normal(0.55, 0.15, 2000)), 0, 1)
    choice = choose_threshold(conf, correct, 0.95)
    accepted = conf >= choice.threshold
    assert choice.met and correct[accepted].mean() >= 0.95
    lower = conf[conf < choice.threshold].max()  # one step lower would miss the target
    assert correct[conf >= lower].mean() < 0.95


def test_expected_oos_share_raises_the_threshold_when_validation_has_few_oos() -> None:
    from plugins.customer_service.calibration import oos_weight

    # 95 in-scope texts (90 right) and 5 out-of-scope ones the model answered with middling confidence.
    gold = ["in"] * 95 + ["oos"] * 5
    conf = [0.99] * 90 + [0.5] * 5 + [0.7] * 5
    correct = [True] * 90 + [False] * 5 + [False] * 5
    plain = choose_threshold(conf, correct, 0.9)
    assert plain.threshold == 0.5  # 90 right of 100 answered: the target is met without rejecting anything
    weight = oos_weight(gold, "oos", 0.3)
    assert weight == pytest.approx(0.3 / 0.7 * 95 / 5)
    weighted = choose_threshold(conf, correct, 0.9, [weight if g == "oos" else 1.0 for g in gold])
    assert weighted.threshold == 0.99 and weighted.met  # as often as live traffic would bring them, they cost too much


def test_temperature_scaling_lowers_nll_of_over_confident_logits() -> None:
    rng = np.random.default_rng(1)
    n, k = 1000, 10
    gold = rng.integers(0, k, n)
    predicted = np.where(rng.random(n) < 0.7, gold, rng.integers(0, k, n))  # 70% right ...
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), predicted] += 12  # ... but ~100% sure
    t = fit_temperature(logits, gold)
    assert t > 2 and nll(logits, gold, t) < 0.5 * nll(logits, gold)
    assert (logits / t).argmax(-1).tolist() == logits.argmax(-1).tolist()  # the winner never changes


def test_a_perfect_validation_split_does_not_sharpen_the_model() -> None:
    from plugins.customer_service.calibration import calibrate

    logits = np.array([[4.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 2.0]])
    calibration = calibrate(logits, ["a", "b", "oos"], ["a", "b", "oos"], oos_label="oos", target=0.95)
    assert calibration.temperature >= 1.0  # NLL alone would drive T to its lower bound
    assert calibration.threshold <= float(np.exp(3) / (np.exp(3) + 2))  # the weakest in-scope answer still passes


def test_decision_reasons() -> None:
    labels = ["card_lost", "card_declined", "oos"]
    kw = dict(oos_label="oos", threshold=0.5, margin=0.1)
    assert decide(np.array([0.9, 0.05, 0.05]), labels, **kw).reason == "confident"
    assert decide(np.array([0.1, 0.1, 0.8]), labels, **kw).reason == "out-of-scope"
    assert decide(np.array([0.45, 0.3, 0.25]), labels, **kw).reason == "low-confidence"
    ambiguous = decide(np.array([0.52, 0.46, 0.02]), labels, **kw)
    assert ambiguous.reason == "ambiguous" and not ambiguous.accepted and ambiguous.runner_up == "card_declined"


def test_the_threshold_applies_to_the_given_confidence_and_the_margin_to_the_probabilities() -> None:
    labels = ["card_lost", "card_declined", "oos"]
    kw = dict(oos_label="oos", threshold=0.5, margin=0.1)
    unfamiliar = decide(np.array([0.9, 0.05, 0.05]), labels, confidence=0.3, familiarity=0.21, **kw)
    assert unfamiliar.reason == "low-confidence" and unfamiliar.confidence == 0.3
    assert "nearest training text at 0.21" in unfamiliar.explain(0.5, 0.1)
    assert decide(np.array([0.52, 0.46, 0.02]), labels, confidence=0.9, **kw).reason == "ambiguous"
    assert decide(np.array([0.1, 0.1, 0.8]), labels, confidence=0.9, **kw).confidence == 0.8  # the oos class's own


LABELS = ["a", "b", "c", "oos"]


def synthetic_validation(rng: np.random.Generator, n_in: int = 600, n_oos: int = 60) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Logits of a classifier that is as sure of out-of-scope texts as of in-scope ones (2% of
    those wrong), and neighbours that tell them apart: an in-scope text is close to a training
    text of its own intent, an out-of-scope one to none."""
    gold = [LABELS[i % 3] for i in range(n_in)] + ["oos"] * n_oos
    logits = rng.normal(0, 0.5, (n_in + n_oos, 4))
    predicted = [LABELS.index(g) if g != "oos" else int(rng.integers(0, 3)) for g in gold]
    flip = rng.random(n_in) < 0.02
    predicted[:n_in] = [(p + 1) % 3 if f else p for p, f in zip(predicted[:n_in], flip)]
    logits[np.arange(len(gold)), predicted] += rng.normal(6, 1, len(gold))
    neighbours = rng.normal(0.3, 0.05, (len(gold), 4))
    neighbours[np.arange(n_in), [LABELS.index(g) for g in gold[:n_in]]] = rng.normal(0.8, 0.08, n_in)
    neighbours[n_in:, :3] = rng.normal(0.45, 0.08, (n_oos, 3))
    return logits, gold, neighbours


def recall_and_answered(calibration, logits: np.ndarray, gold: list[str], neighbours: np.ndarray | None) -> tuple[float, float]:  # noqa: ANN001
    """Out-of-scope texts declined, and in-scope texts answered, at the calibrated threshold."""
    from plugins.customer_service.calibration import nearest_in_scope

    probs = calibration.probabilities(logits, neighbours if calibration.uses_neighbours else None)
    seen = nearest_in_scope(neighbours, LABELS, "oos") if calibration.uses_neighbours else None
    passed = (calibration.confidence(probs, logits, seen) >= calibration.threshold) & (probs.argmax(-1) != 3)
    oos = np.array([g == "oos" for g in gold])
    return float(1 - passed[oos].mean()), float(passed[~oos].mean())


def test_neighbours_fit_an_answer_scorer_that_declines_confident_out_of_scope_texts() -> None:
    from plugins.customer_service.calibration import calibrate

    logits, gold, neighbours = synthetic_validation(np.random.default_rng(3))
    plain = calibrate(logits, LABELS, gold, oos_label="oos", target=0.95, oos_share=0.2)
    scored = calibrate(logits, LABELS, gold, oos_label="oos", target=0.95, oos_share=0.2, neighbours=neighbours)
    assert plain.scorer is None and plain.validation["confidence"] == "softmax" and plain.neighbour_weight == 0
    assert scored.scorer is not None and scored.validation["confidence"] == "energy+familiarity"
    assert scored.scorer.coef[1] > 0  # more familiar, more likely right
    assert min(recall_and_answered(scored, logits, gold, neighbours)) > 0.75
    assert min(recall_and_answered(plain, logits, gold, None)) < 0.6  # the logits alone cannot do both


def test_the_neighbour_vote_is_weighted_only_when_it_puts_more_texts_right() -> None:
    from plugins.customer_service.calibration import blend, choose_neighbour_weight

    rng = np.random.default_rng(6)
    gold = rng.integers(0, 3, 500)
    logits = rng.normal(0, 1, (500, 3))
    logits[np.arange(500), np.where(rng.random(500) < 0.8, gold, (gold + 1) % 3)] += 3  # 80% right
    helpful = rng.normal(0.3, 0.05, (500, 3))
    helpful[np.arange(500), gold] += 0.3  # the nearest training text is of the right intent
    weight = choose_neighbour_weight(logits, helpful, gold)
    assert weight > 0 and (blend(logits, helpful, weight).argmax(-1) == gold).mean() > (logits.argmax(-1) == gold).mean() + 0.1
    assert choose_neighbour_weight(logits, rng.normal(0.3, 0.05, (500, 3)), gold) == 0.0  # noise: no vote
    assert np.array_equal(blend(logits, helpful, 0.0), logits)  # no vote: the logits as they are


def test_too_few_wrong_answers_keep_the_softmax_confidence() -> None:
    from plugins.customer_service.calibration import SCORER_MIN, calibrate

    logits, gold, neighbours = synthetic_validation(np.random.default_rng(4), n_in=90, n_oos=SCORER_MIN // 2)
    calibration = calibrate(logits, LABELS, gold, oos_label="oos", target=0.95, neighbours=neighbours)
    assert calibration.scorer is None and calibration.neighbour_weight == 0
    assert calibration.validation["confidence"] == "softmax"


def test_calibration_and_familiarity_index_round_trip(tmp_path: Path) -> None:
    from plugins.customer_service.calibration import Calibration, calibrate
    from plugins.customer_service.familiarity import FamiliarityIndex

    logits, gold, neighbours = synthetic_validation(np.random.default_rng(5))
    saved = calibrate(logits, LABELS, gold, oos_label="oos", target=0.95, neighbours=neighbours)
    saved.save(tmp_path)
    assert Calibration.load(tmp_path) == saved
    FamiliarityIndex.build(np.eye(3, 8, dtype=np.float32), ["b", "a", "b"]).save(tmp_path)
    index = FamiliarityIndex.load(tmp_path)
    queries = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [0.6, 0.8, 0, 0, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0, 0]], dtype=np.float32)
    assert index is not None
    similar = index.by_intent(queries, ["a", "b", "oos"])  # a: the second vector; b: the first and third
    np.testing.assert_allclose(similar, [[0.0, 1.0, -1.0], [0.8, 0.6, -1.0], [0.0, 0.0, -1.0]], atol=1e-3)


# --------------------------------------------------------------------------------------
# Answer book and knowledge base files
# --------------------------------------------------------------------------------------


def test_sample_answer_book_renders_slots_and_languages() -> None:
    book = AnswerBook.load(SAMPLE_ANSWERS)
    greeting = book.get("greeting")
    assert greeting is not None
    assert book.render(greeting.templates, "de", {"customer_name": "Ada"}).startswith("Hallo Ada, willkommen bei der Harbourline Bank")
    assert book.render(greeting.templates, "fr", {}).startswith("Hello there")  # unknown language: the book's
    assert book.get("human_agent").escalate  # type: ignore[union-attr]


def test_answer_book_typo_in_a_slot_is_located(tmp_path: Path) -> None:
    path = tmp_path / "answers.yml"
    path.write_text("slots:\n  name: you\nanswers:\n  greeting:\n    en: Hello {nmae}\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        AnswerBook.load(path)
    assert str(caught.value).startswith(f"{path}:5: field 'answers.greeting.en': unknown slot '{{nmae}}'")


def test_knowledge_base_reads_faq_and_markdown_sections(tmp_path: Path) -> None:
    entries = load_entries([SAMPLE_KNOWLEDGE])
    assert any(e.title.startswith("What is the daily limit") for e in entries)
    doc = tmp_path / "guide.md"
    doc.write_text("# Guide\n\n## Cards\n\nUse the app.\n\n```\n# not a heading\n```\n\n### Abroad\n\nIt works.\n", encoding="utf-8")
    sections = load_entries([doc])
    assert [(e.title, e.line) for e in sections] == [("Cards", 3), ("Cards > Abroad", 11)]
    assert "# not a heading" in sections[0].answer
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nWhat?,That.\nWhy?,\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"faq.csv:3: field 'answer': empty text"):
        load_entries([faq])


# --------------------------------------------------------------------------------------
# A trained model: chat, feedback round trip, HTTP
# --------------------------------------------------------------------------------------


def write_subset(path: Path) -> Path:
    """A few of the sample bank's intents (and all its out-of-scope examples) as CSV."""
    records = [r for r in RasaNluAdapter().read(str(SAMPLE_TRAIN), ReadOptions()) if r.fields["label"] in INTENTS]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([r.fields["text"], r.fields["label"]] for r in records)
    return path


@pytest.fixture(scope="module")
def trained(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(home, model folder, training CSV), trained once for the module. Validating on the
    training texts makes the calibrated threshold admit them, so the routes below are stable."""
    home = tmp_path_factory.mktemp("cs-home")
    data = write_subset(home / "train.csv")
    result = invoke("train", "customer-service", "--train", str(data), "--eval", str(data), "--model", str(tiny_model),
                    "--epochs", "6", "--lr", "2e-3", "--batch-size", "16", "--patience", "0", "--no-baseline", "--json",
                    home=home)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["intents"] == 5 and out["calibration"]["oos_label"] == "oos"
    assert (Path(out["path"]) / "customer_service.json").is_file()
    return home, Path(out["path"]), data


def test_terminal_chat_shows_template_retrieval_and_escalation(trained: tuple[Path, Path, Path], tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    _, model, _ = trained
    env = {**os.environ, "SUITE_HOME": str(tmp_path / "chat-home"), "HF_HUB_OFFLINE": "1", "COLUMNS": "400"}
    child = pexpect.spawn(sys.executable, ["-m", "core.cli.app", "run", "customer-service", "--model", str(model)],
                          env=env, encoding="utf-8", timeout=60)
    try:
        child.expect("you> ")
        child.sendline(TEMPLATE)
        child.expect(r"bot> (.*?)\r\n\s+\[turn (\d+) · template · intent card_lost")
        assert "Freeze the card" in child.match.group(1)
        child.expect("you> ")
        child.sendline(RETRIEVAL)
        child.expect(r"bot> (.*?)\r\n\s+\[turn \d+ · retrieval · .*?knowledge base 'What is the daily limit")
        assert "500 a day" in child.match.group(1)
        child.expect("you> ")
        child.sendline(ESCALATION)
        child.expect(r"bot> (.*?)\r\n\s+\[turn \d+ · escalation · ticket (\d+) · .*?no knowledge-base entry")
        assert f"ticket number is {child.match.group(2)}" in child.match.group(1)
        child.expect("you> ")
        child.sendline("/quit")
        child.expect(r"bye \(session \w+, 3 turn")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    tickets = invoke("cs", "tickets", "--json", home=tmp_path / "chat-home")
    assert [t["text"] for t in json.loads(tickets.stdout)] == [ESCALATION]


def test_feedback_round_trip_exports_the_correction_and_retraining_adds_the_intent(
        trained: tuple[Path, Path, Path], tiny_model: Path, tmp_path: Path) -> None:
    _, model, data = trained
    messages = tmp_path / "messages.txt"
    new_text = "I'd like a mortgage for my first flat"
    messages.write_text(f"{TEMPLATE}\n{new_text}\n{ESCALATION}\n", encoding="utf-8")
    replies = tmp_path / "replies.jsonl"
    ran = invoke("run", "customer-service", "--input", str(messages), "--model", str(model), "--output", str(replies))
    assert ran.exit_code == 0, ran.output
    rows = [json.loads(line) for line in replies.read_text(encoding="utf-8").splitlines()]
    assert [r["route"] for r in rows][0] == "template" and rows[2]["route"] == "escalation"
    assert {"reply", "route", "intent", "confidence", "session_id", "turn_id", "why"} <= set(rows[0])
    assert len({r["session_id"] for r in rows}) == 1
    from core.app import Suite
    from core.settings import Settings
    from plugins.customer_service.store import ConversationLog

    suite = Suite.create(Settings())  # the log keeps the words behind each decision
    logged = [ConversationLog(suite.store).turn(r["turn_id"]) for r in rows]
    suite.close()
    assert all(isinstance(turn["explanation"], list) for turn in logged)
    check_explanation(TEMPLATE, logged[0]["explanation"])

    fed = invoke("cs", "feedback", str(rows[1]["turn_id"]), "--intent", "mortgage")
    assert fed.exit_code == 0, fed.output
    unknown = invoke("cs", "feedback", "999", "--intent", "mortgage")
    assert unknown.exit_code == 2 and "no turn 999" in unknown.output
    export = tmp_path / "export.csv"
    assert invoke("cs", "export", "--out", str(export)).exit_code == 0
    exported = list(csv.DictReader(export.open(encoding="utf-8")))
    assert {"text": new_text, "label": "mortgage", "status": "corrected"}.items() <= exported[0].items()
    assert any(r["text"] == ESCALATION and r["label"] == "" and r["status"] == "needs-label" for r in exported)

    retrained = invoke("train", "customer-service", "--train", str(data), "--eval", str(data), "--train-extra", str(export),
                       "--model", str(tiny_model), "--epochs", "1", "--no-baseline", "--json")
    assert retrained.exit_code == 0, retrained.output
    out = json.loads(retrained.stdout)
    assert out["intents"] == 6 and out["extra_examples"] == 1
    labels = json.loads((Path(out["path"]) / "suite_head.json").read_text(encoding="utf-8"))["labels"]
    assert "mortgage" in labels


def test_evaluate_reports_in_scope_accuracy_and_oos_precision_recall(trained: tuple[Path, Path, Path]) -> None:
    _, model, data = trained
    result = invoke("evaluate", "customer-service", "--data", str(data), "--model", str(model), "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    assert {"in_scope_accuracy", "oos_precision", "oos_recall", "confusion_matrix", "threshold"} <= set(metrics)
    assert len(metrics["confusion_matrix"]) == 6 and metrics["in_scope_accuracy"] > 0.8
    faithful = invoke("evaluate", "customer-service", "--data", str(data), "--model", str(model), "--explanations",
                      "--explain-sample", "5", "--json")
    assert faithful.exit_code == 0, faithful.output
    measured = json.loads(faithful.stdout)["metrics"]["explanations"]
    assert measured["texts"] >= 1 and {"occlusion", "integrated-gradients", "gradient", "random"} == set(measured["methods"])
    predicted = invoke("predict", "customer-service", TEMPLATE, ESCALATION, "--model", str(model), "--json")
    assert predicted.exit_code == 0, predicted.output
    rows = json.loads(predicted.stdout)["predictions"]
    assert [(r["intent"], r["answer"]) for r in rows] == [("card_lost", True), ("oos", False)]
    explained = invoke("predict", "customer-service", TEMPLATE, "--model", str(model), "--explain", "--json")
    assert explained.exit_code == 0, explained.output
    check_explanation(TEMPLATE, json.loads(explained.stdout)["predictions"][0]["explanation"])


def test_a_weak_model_is_helped_by_the_nearest_training_texts(tiny_model: Path, tmp_path: Path) -> None:
    """One epoch of the one-layer model gets about a third of samples/test.yml wrong; the vote of
    the nearest training texts puts most of them right, and its index travels with the model."""
    from plugins.customer_service.calibration import Calibration

    result = invoke("train", "customer-service", "--train", str(SAMPLE_TRAIN), "--eval", str(SAMPLE_TRAIN.parent / "test.yml"),
                    "--model", str(tiny_model), "--epochs", "1", "--lr", "2e-3", "--batch-size", "16", "--patience", "0",
                    "--no-baseline", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["metrics"]["accuracy"] < 0.8 and out["calibration"]["neighbour_weight"] > 0
    assert out["calibration"]["nll_before"] < 0.5 * out["metrics"]["loss"]  # the vote's NLL against the classifier's
    folder = Path(out["path"])
    calibration = Calibration.load(folder)
    assert calibration.uses_neighbours and calibration.familiarity["texts"] > 200  # type: ignore[index]
    assert (folder / "familiarity.npz").is_file() and calibration.familiarity["encoder"] == "default"  # type: ignore[index]
    predicted = invoke("predict", "customer-service", TEMPLATE, "--model", str(folder), "--json")
    assert predicted.exit_code == 0, predicted.output
    assert 0 < json.loads(predicted.stdout)["predictions"][0]["familiarity"] <= 1.0001
    messages = tmp_path / "m.txt"
    messages.write_text(f"{TEMPLATE}\n{ESCALATION}\n", encoding="utf-8")
    ran = invoke("run", "customer-service", "--input", str(messages), "--model", str(folder), "--output", str(tmp_path / "r.jsonl"))
    assert ran.exit_code == 0, ran.output
    replies = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()]
    assert replies[1]["route"] == "escalation"
    assert any("nearest training text at" in r["why"] for r in replies)
    (folder / "familiarity.npz").unlink()  # a model folder copied without its index
    broken = invoke("predict", "customer-service", TEMPLATE, "--model", str(folder))
    assert broken.exit_code == 2 and "familiarity.npz is missing" in broken.output and "Traceback" not in broken.output


def test_run_without_a_model_says_how_to_train_one() -> None:
    result = invoke("run", "customer-service")
    assert result.exit_code == 2
    assert f"suite train customer-service --train {SAMPLE_TRAIN}" in result.output
    assert "Traceback" not in result.output


def http_client(suite):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from plugins.customer_service.routes import build_router

    app = FastAPI()
    app.include_router(build_router(suite))
    return TestClient(app)


def test_http_reply_feedback_and_bad_input(trained: tuple[Path, Path, Path]) -> None:
    from core import Suite

    home, _, _ = trained
    settings = Settings(home=home)
    client = http_client(Suite(settings, make_plugin_manager(settings)))
    url = "/v1/customer-service/reply"
    ok = client.post(url, json={"text": TEMPLATE})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["route"] == "template" and body["intent"] == "card_lost" and 0 < body["confidence"] <= 1
    explained = client.post(url, json={"text": TEMPLATE, "explain": True}).json()
    check_explanation(TEMPLATE, explained["explanation"])  # the CLI's shape (--explain)
    assert explained["explanation"] and body.get("explanation") is None
    again = client.post(url, json={"text": "hello", "session_id": body["session_id"], "language": "de",
                                   "slots": {"customer_name": "Ada"}}).json()
    assert again["session_id"] == body["session_id"] and again["reply"].startswith("Hallo Ada")
    french = client.post(url, json={"text": TEMPLATE, "language": "fr"}).json()
    assert french["language"] == "en" and "no 'fr' answer" in french["why"], french  # the fallback is said (#14 item 11)

    def refused(payload: object, needle: str) -> None:
        raw = isinstance(payload, str)  # JSON written as is: escapes httpx would not send
        answer = client.post(url, content=payload.encode() if raw else None, json=None if raw else payload,
                             headers={"content-type": "application/json"})
        assert 400 <= answer.status_code < 500, answer.text
        assert needle in answer.text, answer.text

    refused({"text": ""}, "text is empty")
    refused({"text": "   "}, "text is empty")
    refused({"text": "x" * 100_001}, "over the limit of 100,000")
    refused({"text": 42}, "valid string")
    refused({"text": ["a"]}, "valid string")
    refused({"text": "hi", "session_id": 7}, "valid string")
    refused({}, "Field required")
    refused({"text": "hi", "colour": "red"}, "Extra inputs are not permitted")
    refused('{"text": "lost card\\u0000"}', "control character such as NUL")
    refused('{"text": "hi", "session_id": "abc\\u0000"}', "session_id")
    refused('{"text": "hi", "slots": {"customer_name": "Ada\\u0000"}}', "customer_name")

    feedback = "/v1/customer-service/feedback"
    assert client.post(feedback, json={"turn_id": body["turn_id"], "intent": "card_lost"}).status_code == 200
    assert client.post(feedback, json={"turn_id": 10**6, "intent": "card_lost"}).status_code == 404
    assert client.post(feedback, json={"turn_id": "1", "intent": "card_lost"}).status_code == 422
    assert client.post(feedback, json={"turn_id": 1, "intent": "two words"}).status_code == 422


def test_http_route_through_the_core_server(trained: tuple[Path, Path, Path]) -> None:
    serving = pytest.importorskip("core.serving")
    if not hasattr(serving, "create_app"):
        pytest.skip("core.serving.create_app not available")
    from fastapi.testclient import TestClient

    from core import Suite

    home, _, _ = trained
    settings = Settings(home=home)
    with TestClient(serving.create_app(Suite(settings, make_plugin_manager(settings)), auth=False, poll_interval_s=0)) as client:
        bad = client.post("/v1/customer-service/reply", json={"text": ""})
        assert bad.status_code == 422 and "text is empty" in bad.json()["error"]
        good = client.post("/v1/customer-service/reply", json={"text": ESCALATION})
        assert good.status_code == 200 and good.json()["route"] == "escalation"
        for field, body in (("text", '{"text": "lost card \\ud800"}'), ("session_id", '{"text": "hi", "session_id": "a\\u0000"}')):
            refused = client.post("/v1/customer-service/reply", content=body.encode(), headers={"content-type": "application/json"})
            assert refused.status_code == 422 and field in refused.json()["error"], refused.text  # not a 500 (#15)
        generic = client.post("/v1/models/customer-service/predict", json={"texts": [TEMPLATE]})
        assert generic.status_code == 422 and "/v1/customer-service/reply" in generic.json()["error"]  # #14 item 5
        for content_type in (None, "application/x-www-form-urlencoded", "text/plain"):  # curl -d, the README's example (#14)
            headers = {"content-type": content_type} if content_type else {}
            plain = client.post("/v1/customer-service/reply", content=f'{{"text": "{ESCALATION}"}}'.encode(), headers=headers)
            assert plain.status_code == 200 and plain.json()["route"] == "escalation", (content_type, plain.text)


def test_a_reply_is_in_one_language_and_a_fallback_is_said() -> None:
    """#14 item 11: a German greeting read "Hallo there, willkommen..."; an intent without a German
    answer replied in English without a word."""
    book = AnswerBook.load(SAMPLE_ANSWERS)
    greeting = book.get("greeting").templates
    assert book.render(greeting, "de", {}).startswith("Hallo liebe Kundin, lieber Kunde, willkommen")
    assert book.render(greeting, "en", {}).startswith("Hello there, welcome")
    assert book.render(greeting, "de", {"customer_name": "Ada"}).startswith("Hallo Ada,")
    assert book.language_of(book.get("card_not_arrived").templates, "de") == "en"
    assert book.language_of(greeting, "fr") == "en" and book.language_of(greeting, "de") == "de"


def test_a_distilled_student_gets_its_own_calibration(trained: tuple[Path, Path, Path], tiny_model: Path) -> None:
    """suite distill customer-service: the student learns from the trained model, its
    out-of-scope threshold is refitted on its own scores, and it is the teacher's next
    version, not served until activated."""
    home, _, data = trained
    result = invoke("distill", "customer-service", "--teacher", "customer-service", "--student", str(tiny_model),
                    "--train", str(data), "--eval", str(data), "--epochs", "3", "--lr", "2e-3", "--batch-size", "16",
                    "--patience", "0", "--json", home=home)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "customer-service" and out["version"] == 2 and out["active"] is False
    assert out["calibration"]["oos_label"] == "oos"
    assert (Path(out["path"]) / "customer_service.json").is_file()
    assert out["distillation"]["teacher"]["model"] == "customer-service v1"
    listed = json.loads(invoke("models", "list", "--json", home=home).stdout)
    assert [m["teacher"] for m in listed if m["name"] == "customer-service"] == [None, "customer-service v1"]
