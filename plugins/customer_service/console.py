"""The console's customer-service pages, at ``/ui/customer-service``:

* ``/`` the review queue: escalated turns, turns the intent model was unsure of or found out
  of scope, and turns corrected to another intent (negative feedback), newest first, filtered
  by reason and paged;
* ``/turns/{id}`` one turn (message, reply, intent, confidence, route and why), its session's
  other turns, its corrections, and for operators the relabel form;
* ``POST /turns/{id}/relabel`` records the right intent (as ``suite cs feedback`` does, so
  ``suite cs export`` offers it for retraining) and audits it;
* ``/coverage`` the intents of the active model, and those people corrected turns to, that
  the answer book has no answer for.

Every query is bounded (a page of the queue, one session's latest turns, capped counts): the
pages stay fast however long the conversation log grows. Nothing here loads the model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from core import SuiteError, UnknownNameError, UsageError
from core.console import ConsolePage, Operator, SignedIn, User, audit, redirect, render
from core.console.auth import ConsoleError
from core.streams import clean_text
from plugins.customer_service.config import SCENARIO, ServiceConfig, service_config
from plugins.customer_service.store import MAX_INTENT_CHARS, REVIEW_REASONS, ConversationLog, review_reasons

if TYPE_CHECKING:
    from core import Suite
    from plugins.customer_service.answers import AnswerBook

NAME = "customer-service"
URL = f"/ui/{NAME}"
TEMPLATES = Path(__file__).parent / "templates"
PAGE_SIZE = 50
COUNT_CAP = 1000  # the queue's per-reason counts stop here ("1000+")
SESSION_TURNS = 50
T = TypeVar("T")


def console_page(suite: Suite) -> ConsolePage:
    """The ``register_ui`` page: its routes, templates and place in the navigation."""
    router = APIRouter()
    files = _FileCache()

    def log() -> ConversationLog:
        return ConversationLog(suite.store)

    def config() -> ServiceConfig | None:
        try:
            return service_config(suite.settings)
        except SuiteError:
            return None  # a broken [customer_service] table: the defaults here, the coverage page says why

    def oos_label() -> str:
        return (config() or ServiceConfig()).oos_label

    @router.get("/", response_class=HTMLResponse)
    def queue(request: Request, user: SignedIn, reason: Annotated[str, Query(max_length=40)] = "",
              page: Annotated[int, Query(ge=1, le=10_000)] = 1, notice: Annotated[str | None, Query(max_length=500)] = None,
              ) -> HTMLResponse:
        if reason and reason not in REVIEW_REASONS:
            raise ConsoleError(422, f"reason '{reason}': expected one of {', '.join(REVIEW_REASONS)}")
        conversations = log()
        oos = oos_label()
        rows = conversations.review_queue(reason or None, oos_label=oos, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
        counts = conversations.review_counts(oos_label=oos, cap=COUNT_CAP)
        empty_log = not rows and not conversations.list_turns(limit=1)
        return render(request, f"{NAME}/queue.html", user=user, title="Customer service: review queue", notice=notice,
                      rows=rows[:PAGE_SIZE], more=len(rows) > PAGE_SIZE, page=page, reason=reason, reasons=REVIEW_REASONS,
                      counts=counts, cap=COUNT_CAP, empty_log=empty_log)

    @router.get("/turns/{turn_id}", response_class=HTMLResponse)
    def turn_page(request: Request, user: SignedIn, turn_id: int,
                  notice: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
        return _turn(request, user, turn_id, notice=notice)

    @router.post("/turns/{turn_id}/relabel")
    def relabel(request: Request, user: Operator, turn_id: int,
                intent: Annotated[str, Form(max_length=4 * MAX_INTENT_CHARS)] = "",
                new_intent: Annotated[str, Form(max_length=4 * MAX_INTENT_CHARS)] = "",
                note: Annotated[str, Form(max_length=2000)] = "") -> Response:
        """``intent`` (the list of known intents) or ``new_intent`` (typed; it wins when given)."""
        conversations = log()
        try:
            before = conversations.turn(turn_id)
        except UnknownNameError as exc:
            raise ConsoleError(404, str(exc)) from None
        intent = new_intent if new_intent.strip() else intent
        if not intent.strip():
            return _turn(request, user, turn_id, status=422, note=note,
                         error="choose the right intent from the list, or type a new one")
        if clean_text(intent) != intent or clean_text(note) != note:
            return _turn(request, user, turn_id, status=422, typed=intent, note=note,
                         error="the intent or note holds a control character such as NUL: type plain text")
        try:
            done = conversations.add_feedback(turn_id, intent, note=note.strip() or None, source="console")
        except UsageError as exc:
            message = str(exc).replace("--intent ", "intent ")  # the store's wording is the CLI's
            return _turn(request, user, turn_id, status=422, typed=intent, note=note, error=message)
        audit(request, user, "relabel turn", f"turn {turn_id}", {"intent": done["intent"], "was": before["intent"]})
        return redirect(f"{URL}/turns/{turn_id}",
                        f"Turn {turn_id} relabelled as {done['intent']}: suite cs export now offers it for retraining")

    @router.get("/coverage", response_class=HTMLResponse)
    def coverage(request: Request, user: SignedIn) -> HTMLResponse:
        try:
            settings: ServiceConfig | None = service_config(suite.settings)
        except SuiteError as exc:
            settings, config_error = None, str(exc)
        oos = (settings or ServiceConfig()).oos_label
        model = files.model(suite)
        book, book_error = files.answer_book(settings) if settings else (None, config_error)
        corrected = log().corrected_intents()
        model_oos = (model or {}).get("oos_label") or oos
        in_model = [i for i in (model or {}).get("labels", []) if i != model_oos]
        rows = []
        for intent in sorted((set(in_model) | set(corrected)) - {model_oos, oos}):
            answer = book.get(intent) if book else None
            rows.append({"intent": intent, "in_model": intent in in_model, "corrections": corrected.get(intent, 0),
                         "answer": answer, "languages": sorted(answer.templates) if answer else []})
        rows.sort(key=lambda r: (r["answer"] is not None, not r["in_model"], r["intent"]))
        known = {r["intent"] for r in rows} | {model_oos, oos}
        unused = sorted(i for i in (book.answers if book else {}) if i not in known)
        return render(request, f"{NAME}/coverage.html", user=user, title="Customer service: answer-book coverage",
                      model=model, rows=rows, missing=[r for r in rows if r["answer"] is None], unused=unused,
                      book=book, book_error=book_error, oos=model_oos)

    def _turn(request: Request, user: User, turn_id: int, *, status: int = 200, notice: str | None = None,
              error: str | None = None, typed: str = "", note: str = "") -> HTMLResponse:
        conversations = log()
        try:
            turn = conversations.turn(turn_id)
        except UnknownNameError as exc:
            raise ConsoleError(404, str(exc)) from None
        oos = oos_label()
        corrections = conversations.corrections(turn_id)
        reasons = [REVIEW_REASONS[r] for r in _reasons(turn, corrections, oos)]
        book, _ = files.answer_book(config())
        model = files.model(suite)
        intents = sorted(set((model or {}).get("labels", [])) | set(book.answers if book else {}) | {oos}
                         | set(conversations.corrected_intents(limit=200)))
        return render(request, f"{NAME}/turn.html", status=status, user=user, title=f"Turn {turn_id}", notice=notice,
                      turn=turn, reasons=reasons, corrections=corrections, ticket=conversations.ticket_of(turn_id),
                      session=conversations.session_turns(turn["session_id"], SESSION_TURNS), session_limit=SESSION_TURNS,
                      intents=intents, highlighted=highlight(turn["text"], turn.get("explanation")),
                      error=error, typed=typed, note=note)

    return ConsolePage(NAME, "Customer service", router, templates=TEMPLATES, order=30)


def _reasons(turn: dict[str, Any], corrections: list[dict[str, Any]], oos: str) -> list[str]:
    return review_reasons(turn | {"corrected": corrections[0]["intent"] if corrections else None}, oos)


def highlight(text: str, explanation: Any) -> list[dict[str, Any]]:
    """``text`` cut into pieces, the words behind the intent marked with their weight (0..1 of
    the largest), for ``<mark style="--w: ...">``."""
    spans = [e for e in explanation or [] if isinstance(e, dict) and {"start", "end", "weight"} <= set(e)]
    spans = sorted((e for e in spans if 0 <= e["start"] < e["end"] <= len(text)), key=lambda e: e["start"])
    top = max((float(e["weight"]) for e in spans), default=0.0) or 1.0
    pieces, at = [], 0
    for entry in spans:
        if entry["start"] < at:
            continue  # overlapping spans: keep the first
        if entry["start"] > at:
            pieces.append({"text": text[at:entry["start"]], "weight": None})
        weight = round(max(float(entry["weight"]), 0.0) / top, 2)
        pieces.append({"text": text[entry["start"]:entry["end"]], "weight": weight})
        at = entry["end"]
    if at < len(text):
        pieces.append({"text": text[at:], "weight": None})
    return pieces


class _FileCache:
    """The active model's intents and the answer book, read again only when their files change."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cache: dict[tuple[str, str], tuple[tuple[int, int], Any]] = {}

    def _read(self, kind: str, path: Path, load: Callable[[Path], T]) -> T:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        key = (kind, str(path))
        with self.lock:
            hit = self.cache.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]  # type: ignore[no-any-return]
        value = load(path)
        with self.lock:
            self.cache[key] = (stamp, value)
        return value

    def model(self, suite: Suite) -> dict[str, Any] | None:
        """The active customer-service model: name, version, its intents and out-of-scope label."""
        from core.heads import STATE_FILE

        from plugins.customer_service.calibration import CALIBRATION_FILE

        try:
            entry = suite.store.get_model(SCENARIO)
        except UnknownNameError:
            return None
        folder = Path(entry.path)
        try:
            labels = self._read("head", folder / STATE_FILE, lambda p: list(_json(p)["labels"]))
            calibration = folder / CALIBRATION_FILE
            oos = None
            if calibration.is_file():
                oos = self._read("calibration", calibration, lambda p: _json(p).get("oos_label"))
        except (OSError, ValueError, KeyError) as exc:
            return {"name": entry.name, "version": entry.version, "labels": [], "oos_label": None,
                    "error": f"{folder}: {type(exc).__name__}: {exc}"}
        return {"name": entry.name, "version": entry.version, "labels": labels, "oos_label": oos, "error": None}

    def answer_book(self, config: ServiceConfig | None) -> tuple[AnswerBook | None, str | None]:
        """The configured answer book, or why it cannot be read."""
        from plugins.customer_service.answers import AnswerBook

        if config is None:
            return None, None
        path = config.answer_book_path
        try:
            return self._read("answers", path, AnswerBook.load), None
        except OSError as exc:
            return None, f"{path}: {exc.strerror or exc}"
        except SuiteError as exc:
            return None, str(exc)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
