"""The customer-service options, from the ``[customer_service]`` table of ``suite.toml``::

    [customer_service]
    oos_label = "oos"              # training/eval label meaning "none of our intents"
    target_precision = 0.95        # in-scope precision the confidence threshold is chosen for
    ambiguity_margin = 0.10        # top-two calibrated gap below which an intent is ambiguous
    answer_book = "answers.yml"    # default: the sample bank's answer book
    knowledge = ["faq.yml", "docs/"]
    retrieval_top_k = 3
    retrieval_threshold = 0.55     # cosine similarity a knowledge-base entry must reach
    retrieval_word_threshold = 0.2 # TF-IDF similarity, for messages the encoder cannot read (Chinese with the default)
    embedding_precision = "int8"   # or fp32: the knowledge-base encoder on CPU
    language = "en"                # answer language when a request names none and detection finds none
    detect_language = true         # answer a Chinese, Japanese or Korean message in its language

Relative paths are taken from the working folder. Without a table, the embedded sample bank
(``samples/``) answers, so a fresh install replies sensibly once a model is trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from core import validate_table

PLUGIN = "customer_service"
SCENARIO = "customer-service"
SAMPLES = Path(__file__).parent / "samples"
SAMPLE_TRAIN = SAMPLES / "train.yml"
SAMPLE_TRAIN_ZH = SAMPLES / "train.zh.yml"  # the same bank and intents in Chinese
SAMPLE_TEST_ZH = SAMPLES / "test.zh.yml"
SAMPLE_ANSWERS = SAMPLES / "answers.yml"
SAMPLE_KNOWLEDGE = SAMPLES / "knowledge"
MAX_TEXT_BYTES = 100_000


class ServiceConfig(BaseModel):
    """Everything the intent model, the answers and the conversation log read from configuration."""

    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(None, min_length=1, description=(
        "Encoder this plugin trains from (catalogue name, folder or id) over the top-level `model`."))
    oos_label: str = Field("oos", min_length=1, description="Label of out-of-scope examples.")
    target_precision: float = Field(0.95, gt=0, le=1, description="In-scope precision the threshold aims for.")
    oos_share: Optional[float] = Field(None, gt=0, lt=1, description=(
        "Share of out-of-scope messages expected in live traffic; weights the validation's "
        "out-of-scope examples to it when choosing the threshold (default: as in validation)."))
    ambiguity_margin: float = Field(0.10, ge=0, lt=1, description="Minimum gap between the top two intents.")
    answer_book: Optional[Path] = Field(None, description="Answer book YAML (default: the sample bank's).")
    knowledge: Optional[list[Path]] = Field(None, description="FAQ files (YAML/CSV) and Markdown files or folders.")
    embedding_model: Optional[str] = Field(None, description="sentence-transformers folder (default: packaged).")
    embedding_precision: Literal["int8", "fp32"] = Field("int8", description="int8: faster queries on CPU.")
    retrieval_top_k: int = Field(3, ge=1, le=50)
    retrieval_threshold: float = Field(0.55, ge=-1, le=1, description="Cosine similarity a match must reach.")
    retrieval_word_threshold: float = Field(0.2, ge=0, le=1, description=(
        "TF-IDF similarity a match by words must reach: messages the sentence encoder cannot read "
        "(Chinese, Japanese, Korean with the English default) are searched by their words and character bigrams."))
    language: str = Field("en", min_length=1, description="Answer language when a request names none and none is detected.")
    detect_language: bool = Field(True, description=(
        "Without a requested language, answer a message written mostly in CJK characters in its "
        "language (zh, ja, ko) when the answer book has it."))
    log_explanations: bool = Field(True, description=(
        "Keep the words behind each intent decision in the conversation log (one batched forward "
        "pass per reply; false saves it)."))
    extra_repeat: int = Field(3, ge=1, le=100, description="Times each --train-extra example is repeated in training.")
    max_text_bytes: int = Field(MAX_TEXT_BYTES, ge=1)

    @property
    def answer_book_path(self) -> Path:
        return self.answer_book or SAMPLE_ANSWERS

    @property
    def knowledge_paths(self) -> list[Path]:
        return list(self.knowledge) if self.knowledge is not None else [SAMPLE_KNOWLEDGE]

    @classmethod
    def from_table(cls, table: dict[str, Any], origin: str = f"suite.toml [{PLUGIN}]") -> ServiceConfig:
        return validate_table(cls, table, origin)


def service_config(settings: Any) -> ServiceConfig:
    """The ``[customer_service]`` table of the running suite's settings, validated."""
    return ServiceConfig.from_table(settings.plugin_config(PLUGIN))
