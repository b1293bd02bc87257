"""Request and response bodies of the core routes, with the examples OpenAPI shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from core.streams import clean_text

MAX_TEXTS = 64
MAX_TEXT_CHARS = 10_000
MAX_BODY_BYTES = 1_000_000


def refuse_unstorable(value: str) -> str:
    """Refuse what a tokenizer or a database would fail on (a lone surrogate is a legal JSON
    escape; PostgreSQL refuses NUL): a 422 naming the field, never a 500."""
    if clean_text(value) != value:
        raise ValueError("contains a lone surrogate or a control character such as NUL: send plain text")
    return value


# Every text a route takes: plain, storable text (plugins use it for their own routes). The
# OpenAPI schema says so with a pattern, so clients (and schemathesis) know before they send.
CLEAN_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ADVERTISED = Field(json_schema_extra={"pattern": CLEAN_PATTERN})
CleanStr = Annotated[StrictStr, AfterValidator(refuse_unstorable), _ADVERTISED]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(refuse_unstorable), _ADVERTISED]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description="Where in the request: e.g. ['body', 'texts', 0].")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: one readable line, plus the validation details if any."""

    model_config = _examples({"error": "texts: List should have at least 1 item after validation, not 0",
                              "detail": [{"loc": ["body", "texts"], "msg": "List should have at least 1 item "
                                          "after validation, not 0", "type": "too_short"}]})
    error: str
    detail: list[ErrorDetail] = Field(default_factory=list)


class Health(BaseModel):
    model_config = _examples({"status": "ok"})
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    model_config = _examples({"status": "ready", "models": {"banking77": 3}, "missing": [], "errors": {}},
                             {"status": "loading", "models": {}, "missing": ["banking77"], "errors": {}})
    status: Literal["ready", "loading"]
    models: dict[str, int] = Field(description="Models loaded in this process and their versions.")
    missing: list[str] = Field(description="Preloaded models not loaded (yet).")
    errors: dict[str, str] = Field(description="Preloaded models that could not be loaded (the reason is in the server log).")


class ModelInfo(BaseModel):
    name: str
    version: int
    scenario: str
    active: bool = Field(description="The version served for this name.")
    loaded: bool = Field(description="Loaded in the process that answered.")
    metrics: dict[str, Any]
    created_at: datetime


class ModelList(BaseModel):
    model_config = _examples({"models": [{
        "name": "banking77", "version": 3, "scenario": "text-classification", "active": True, "loaded": True,
        "metrics": {"accuracy": 0.91, "macro_f1": 0.9}, "created_at": "2025-01-31T12:00:00+00:00",
    }]})
    models: list[ModelInfo]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"texts": ["my card was declined at the shop", "how do I top up by bank transfer?"]},
        {"texts": ["where is my refund?"], "scores": True},
    ]})
    texts: list[Text] = Field(min_length=1, max_length=MAX_TEXTS,
                              description=f"1 to {MAX_TEXTS} texts, each at most {MAX_TEXT_CHARS:,} characters.")
    scores: bool = Field(default=False, description="Also return every label's probability.")
    explain: bool = Field(default=False, description="Also return the words behind each single-label prediction.")


class Explanation(BaseModel):
    """One word behind a decision: the same shape from the CLI's --explain and every route."""

    word: str
    start: int = Field(description="Character offset of the word in the text.")
    end: int
    weight: float = Field(description="How much the decision's probability drops without the word.")


class Prediction(BaseModel):
    """One text's result; which fields appear depends on the model's head."""

    model_config = ConfigDict(extra="allow")
    label: str | None = Field(default=None, description="Single-label models: the predicted label.")
    score: float | None = Field(default=None, description="Its probability.")
    labels: list[str] | None = Field(default=None, description="Multi-label models: labels with p >= 0.5.")
    scores: dict[str, float] | None = Field(default=None, description="Every label's probability (scores=true).")
    explanation: list[Explanation] | None = Field(default=None, description="The words behind the label (explain=true).")


class PredictResponse(BaseModel):
    model_config = _examples({"model": "banking77", "version": 3, "predictions": [
        {"label": "declined_card_payment", "score": 0.94}, {"label": "transfer_into_account", "score": 0.81},
    ]})
    model: str
    version: int
    predictions: list[Prediction]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer with."""
    described = {
        400: "The body could not be read.",
        401: "No key, an unknown key or a revoked key.",
        403: "The key's role does not allow this (suite keys create NAME --role operator|admin).",
        404: "No model of that name in the registry.",
        413: f"Body over {MAX_BODY_BYTES:,} bytes.",
        422: "The body does not match the schema, or the model does not take texts.",
        503: "The model cannot be loaded now, or the server is shutting down.",
    }
    return {code: {"model": ErrorBody, "description": described[code]} for code in codes}
