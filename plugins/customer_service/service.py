"""One customer message in, one reply out, with its route and the reason for it.

The route is decided in this order, so the company's own wording wins whenever the model is
sure: ``template`` (a confident, in-scope, unambiguous intent with an answer-book entry),
``retrieval`` (the closest knowledge-base entry, if similar enough), ``escalation`` (a stored
hand-off ticket). The latency of a reply is the decision itself; logging is not counted.

A reply is in one language: the one asked for; without one, the message's own when its script
shows it (Chinese, Japanese, Korean: :mod:`.language`), else the configured one; and in each
case only where the answer book (or the knowledge-base entry) has it, ``why`` saying otherwise.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import UsageError
from plugins.customer_service.answers import AnswerBook
from plugins.customer_service.calibration import IntentDecision
from plugins.customer_service.config import SAMPLE_TRAIN, SCENARIO, ServiceConfig
from plugins.customer_service.encoder import SentenceEncoder
from plugins.customer_service.intents import IntentModel
from plugins.customer_service.knowledge import MEANING, Hit, Retriever
from plugins.customer_service.language import Detection, detect_language, is_cjk_language
from plugins.customer_service.store import ConversationLog

if TYPE_CHECKING:
    from core import Suite

ROUTES = ("template", "retrieval", "escalation")
MAX_SESSION_CHARS = 64


@dataclass
class Reply:
    """What a customer gets back, and what the log and the API show about it."""

    reply: str
    route: str
    intent: str | None
    confidence: float | None
    why: str
    session_id: str
    turn_id: int | None = None
    ticket_id: int | None = None
    match: dict[str, Any] | None = None
    latency_ms: float = 0.0
    language: str | None = None
    explanation: list[dict[str, Any]] | None = None  # the words behind the intent, when asked for

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.explanation is None:
            out.pop("explanation")
        out["confidence"] = None if self.confidence is None else round(self.confidence, 4)
        out["latency_ms"] = round(self.latency_ms, 2)
        return out


@dataclass
class Plan:
    route: str
    reasons: list[str]
    templates: Mapping[str, str] | None = None
    hit: Hit | None = None
    ticket_reason: str | None = None
    hits: list[Hit] = field(default_factory=list)

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


class CustomerService:
    """The intent model, the answer book, the knowledge base and the log, loaded once."""

    def __init__(self, intents: IntentModel, answers: AnswerBook, retriever: Retriever | None,
                 log: ConversationLog | None, config: ServiceConfig) -> None:
        self.intents = intents
        self.answers = answers
        self.retriever = retriever
        self.log = log
        self.config = config
        # Fast tokenizers refuse concurrent calls ("Already borrowed"); the server's threads take turns.
        self._models = threading.Lock()

    @classmethod
    def build(cls, suite: Suite, config: ServiceConfig, *, model: str | None = None, threshold: float | None = None,
              log: bool = True) -> CustomerService:
        from core.models import quiet_transformers

        quiet_transformers(suite.settings.verbose)
        folder = model_folder(suite, model)
        # One encoder for the knowledge base and the intent model's neighbours (which load their
        # own only when theirs was another).
        encoder = (SentenceEncoder.load(config.embedding_model, precision=config.embedding_precision)
                   if config.knowledge_paths else None)
        intents = IntentModel.load(folder, suite.heads, margin=config.ambiguity_margin, threshold=threshold, encoder=encoder)
        answers = AnswerBook.load(config.answer_book_path)
        retriever = Retriever.load(config.knowledge_paths, encoder) if encoder is not None else None
        return cls(intents, answers, retriever, ConversationLog(suite.store) if log else None, config)

    # -- deciding ------------------------------------------------------------------------
    def plan(self, text: str, decision: IntentDecision, vector: np.ndarray | None = None,
             detected: Detection | None = None) -> Plan:
        """``vector``: ``text`` embedded by the knowledge base's encoder, when already done;
        ``detected``: its :func:`~.language.detect_language`, when already done."""
        reasons = [self.intents.explain(decision)]
        if decision.accepted:
            answer = self.answers.get(decision.intent)
            if answer is not None and answer.escalate:
                reasons.append(f"the answer book hands '{decision.intent}' to a person")
                return Plan("escalation", reasons, templates=answer.templates, ticket_reason="; ".join(reasons))
            if answer is not None:
                return Plan("template", reasons, templates=answer.templates)
            reasons.append(f"no answer-book entry for '{decision.intent}'")
        hits = self.retriever.search(text, self.config.retrieval_top_k, vector, detected=detected) if self.retriever else []
        by_meaning = not hits or hits[0].by == MEANING
        floor = self.config.retrieval_threshold if by_meaning else self.config.retrieval_word_threshold
        measure = "similarity" if by_meaning else "word similarity"
        if hits and hits[0].similarity >= floor:
            best = hits[0]
            reasons.append(f"knowledge base '{best.entry.title}' ({best.entry.ref}) {measure} {best.similarity:.2f} >= {floor:.2f}"
                           + ("" if by_meaning else " (searched by words: the sentence encoder cannot read this message)"))
            return Plan("retrieval", reasons, hit=best, hits=hits)
        best_note = f" (best '{hits[0].entry.title}' at {hits[0].similarity:.2f})" if hits else ""
        reasons.append(f"no knowledge-base entry reaches {measure} {floor:.2f}{best_note}")
        return Plan("escalation", reasons, ticket_reason="; ".join(reasons), hits=hits)

    def reply(self, text: str, session_id: str | None = None, *, channel: str = "cli", language: str | None = None,
              slots: Mapping[str, object] | None = None, explain: bool = False) -> Reply:
        session = check_session(session_id) if session_id else uuid.uuid4().hex[:16]
        with self._models:
            started = time.perf_counter()
            detected = detect_language(text)
            vectors = self.intents.encoder.embed([text]) if self.intents.uses_familiarity else None
            decision = self.intents.classify([text], vectors)[0]
            shared = vectors is not None and self.retriever is not None and self.intents.encoder is self.retriever.encoder
            plan = self.plan(text, decision, vectors[0] if shared else None, detected)
            latency = (time.perf_counter() - started) * 1000
            logged_words = self.log is not None and self.config.log_explanations
            words = self.intents.explain_words(text, decision.intent) if explain or logged_words else None
        language = self._language(plan, language, detected)
        values = {"intent": decision.intent, "session_id": session, **(slots or {})}

        def render(ticket_id: int | None) -> str:
            return self._render(plan, language, values | {"ticket_id": ticket_id if ticket_id is not None else "(not stored)"})

        turn = {"text": text, "route": plan.route, "intent": decision.intent, "confidence": decision.confidence,
                "confident": decision.accepted, "reason": plan.why, "latency_ms": latency, "language": language,
                "kb_ref": plan.hit.entry.ref if plan.hit else None, "similarity": plan.hit.similarity if plan.hit else None,
                "model": str(self.intents.folder), "explanation": words}
        turn_id = ticket_id = None
        if self.log is not None:
            logged = self.log.record(session, channel, turn, ticket_reason=plan.ticket_reason, reply=render)
            answer, turn_id, ticket_id = logged.reply, logged.turn_id, logged.ticket_id
        else:
            answer = render(None)
        match = plan.hit.as_dict() if plan.hit else None
        return Reply(answer, plan.route, decision.intent, decision.confidence, plan.why, session, turn_id, ticket_id,
                     match, latency, language, words if explain else None)

    def _language(self, plan: Plan, asked: str | None, detected: Detection) -> str:
        """The reply's language (see the module docstring); a detected language, and any answer
        in another language than wanted, are added to the plan's reasons."""
        if not asked and self.config.detect_language and detected.language:
            asked = detected.language
            plan.reasons.append(detected.describe())
        asked = asked or self.config.language
        templates = plan.templates if plan.templates is not None else (
            self.answers.escalation if plan.route == "escalation" else None)
        if templates:
            used, what = self.answers.language_of(templates, asked), "intent" if plan.templates is not None else "route"
        elif plan.hit is not None:  # the entry's own language when its script shows it
            used, what = plan.hit.language or (self.answers.language if is_cjk_language(asked) else asked), "knowledge-base entry"
        else:
            used, what = asked, ""
        if used != asked:  # said, not silently answered in another language
            plan.reasons.append(f"no '{asked}' answer for this {what}: answered in '{used}'")
        return used

    def _render(self, plan: Plan, language: str, values: dict[str, object]) -> str:
        parts = []
        if plan.templates is not None:
            parts.append(self.answers.render(plan.templates, language, values))
        if plan.route == "retrieval" and plan.hit is not None:
            parts.append(plan.hit.entry.answer)
        if plan.route == "escalation" and plan.templates is None:  # an escalating intent's own template says it
            parts.append(self.answers.render(self.answers.escalation, language, values))
        return " ".join(p for p in parts if p)


def model_folder(suite: Suite, model: str | None) -> Path:
    """The intent model's folder: ``--model`` as a folder or registered name, else the newest
    ``customer-service`` model; none trained yet is one line with the command that trains one."""
    from core import UnknownNameError

    spec = model or SCENARIO
    folder = Path(spec).expanduser()
    if folder.is_dir():
        return folder
    try:
        return Path(suite.store.get_model(spec).path)
    except UnknownNameError:
        if model:
            raise
    raise UsageError(f"no {SCENARIO} model is trained yet; train one with: suite train {SCENARIO} --train {SAMPLE_TRAIN}")


def check_session(session_id: str) -> str:
    session_id = session_id.strip()
    if not session_id or len(session_id) > MAX_SESSION_CHARS:
        raise UsageError(f"session id: expected 1 to {MAX_SESSION_CHARS} characters, got {len(session_id)}")
    return session_id
