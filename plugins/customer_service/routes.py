"""HTTP: ``POST /v1/customer-service/reply`` and ``POST /v1/customer-service/feedback``.

The service (model, answer book, knowledge base) is loaded once, on the first request, so
``suite serve`` starts quickly and a server without a trained model still answers the
probes. Handlers are plain functions: FastAPI runs them in its thread pool, off the event loop.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from core import CleanStr, SuiteError, UnknownNameError, UsageError
from core.serving.auth import audit, requires
from core.serving.schemas import Explanation
from plugins.customer_service.config import MAX_TEXT_BYTES, service_config
from plugins.customer_service.service import MAX_SESSION_CHARS, CustomerService
from plugins.customer_service.store import MAX_INTENT_CHARS, ConversationLog

if TYPE_CHECKING:
    from core import Suite

PREFIX = "/v1/customer-service"
Short = Annotated[CleanStr, StringConstraints(min_length=1, max_length=100)]


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "I lost my card"}, {"text": "and can I get a new one?", "session_id": "3f9c2a71d04b4e8a"},
        {"text": "Ich habe meine Karte verloren", "language": "de", "slots": {"customer_name": "Ada"}},
        {"text": "我的银行卡丢了"},
    ]})
    text: CleanStr = Field(description=f"The customer's message: not blank, at most {MAX_TEXT_BYTES:,} bytes of UTF-8.")
    session_id: Optional[Annotated[CleanStr, StringConstraints(min_length=1, max_length=MAX_SESSION_CHARS)]] = Field(
        None, description="Continue a conversation (as returned by an earlier reply); omit to start one.")
    language: Optional[Short] = Field(None, description=(
        "Answer language, e.g. en, de or zh (default: the message's when written in Chinese, Japanese or Korean "
        "and the answer book has it, else configured)."))
    slots: Optional[dict[Short, Annotated[CleanStr, StringConstraints(max_length=1000)]]] = Field(
        None, description="Values for the answer templates' slots, e.g. customer_name.")
    explain: bool = Field(False, description="Also return the words behind the intent: [{word, start, end, weight}].")

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty: send the customer's message")
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_TEXT_BYTES:
            raise ValueError(f"text is {size:,} bytes, over the limit of {MAX_TEXT_BYTES:,}")
        return value


class ReplyResponse(BaseModel):
    reply: str
    route: Literal["template", "retrieval", "escalation"]
    intent: Optional[str]
    confidence: Optional[float] = Field(description="Calibrated confidence of the intent.")
    session_id: str
    why: str = Field(description="Intent and confidence, the knowledge-base match, or the escalation reason.")
    turn_id: Optional[int] = Field(description="Id in the conversation log; send it to /feedback to correct the intent.")
    ticket_id: Optional[int] = Field(description="Hand-off ticket, on the escalation route.")
    match: Optional[dict[str, Any]] = Field(description="The knowledge-base entry used: title, ref, similarity, and by (meaning or words).")
    latency_ms: float
    language: Optional[str]
    explanation: Optional[list[Explanation]] = Field(None, description="With explain=true: the words behind the intent.")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"turn_id": 12, "intent": "card_lost"}]})
    turn_id: StrictInt = Field(ge=1)
    intent: Annotated[CleanStr, StringConstraints(min_length=1, max_length=MAX_INTENT_CHARS, pattern=r"^\S+$")]
    note: Optional[Annotated[CleanStr, StringConstraints(max_length=2000)]] = None


class FeedbackResponse(BaseModel):
    feedback_id: int
    turn_id: int
    intent: str


class _Lazy:
    """Builds the service on first use, once, even under concurrent first requests."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.lock = threading.Lock()
        self.service: CustomerService | None = None

    def get(self) -> CustomerService:
        with self.lock:
            if self.service is None:
                try:
                    self.service = CustomerService.build(self.suite, service_config(self.suite.settings))
                except SuiteError as exc:
                    raise HTTPException(503, detail=f"customer service unavailable: {exc}") from None
            return self.service


def build_router(suite: Suite) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["customer-service"])
    lazy = _Lazy(suite)

    @router.post("/reply", response_model=ReplyResponse, summary="Answer a customer's message")
    def reply(body: ReplyRequest) -> ReplyResponse:
        """The reply and its route (template, retrieval or escalation) with the reason; logged as a turn."""
        service = lazy.get()
        if len(body.text.encode("utf-8", "surrogatepass")) > service.config.max_text_bytes:
            raise HTTPException(413, detail=f"text is over the configured limit of {service.config.max_text_bytes:,} bytes")
        answer = service.reply(body.text, body.session_id, channel="http", language=body.language, slots=body.slots,
                               explain=body.explain)
        return ReplyResponse(**answer.as_dict())

    @router.post("/feedback", response_model=FeedbackResponse, summary="Correct the intent of a logged turn (operator keys)",
                 dependencies=[Depends(requires("operator"))])
    def feedback(request: Request, body: FeedbackRequest) -> FeedbackResponse:
        """Record the right intent for a turn; ``suite cs export`` turns corrections into training data."""
        try:
            done = ConversationLog(suite.store).add_feedback(body.turn_id, body.intent, note=body.note, source="http")
        except UnknownNameError as exc:
            raise HTTPException(404, detail=str(exc)) from None
        except UsageError as exc:
            raise HTTPException(422, detail=str(exc)) from None
        audit(request, suite.store, "relabel turn", f"turn {body.turn_id}", {"intent": body.intent})
        return FeedbackResponse(**done)

    return router
