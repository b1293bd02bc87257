"""Can this encoder read this data? Said before training, recorded with the model.

The measure is the model's own: the share of the training texts' tokens its tokenizer maps to
the unknown token. The default English model turns 61% of the tokens of Chinese reviews into
``[UNK]``; a model trained on that learns from the rest only, and nothing said so. The script
of the data (CJK or not) names the language in the message, and the catalogue's record of a
model's languages (``suite-catalogue.json``) is kept with every model trained from it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.lexical import cjk_share

UNKNOWN_WARNING = 0.05  # a twentieth of the tokens unreadable: the model is missing the language
CJK_DATA = 0.3  # share of letters that are CJK for the data to count as Chinese/Japanese/Korean
MULTILINGUAL = "multilingual-e5-small"
SAMPLE = 500


@dataclass(frozen=True)
class ReadingCheck:
    """How well an encoder's vocabulary covers some texts."""

    unknown_token_share: float
    cjk_share: float
    model_languages: str | None

    @property
    def cjk(self) -> bool:
        return self.cjk_share >= CJK_DATA

    def as_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def warning(self, model: str) -> str | None:
        """One sentence when the model cannot read the data, naming the model to use."""
        english_only = self.model_languages is not None and self.model_languages.strip().lower() == "en"
        if self.unknown_token_share < UNKNOWN_WARNING and not (self.cjk and english_only):
            return None
        language = "Chinese/Japanese/Korean" if self.cjk else "this"
        return (f"{self.unknown_token_share:.0%} of the training texts' tokens are unknown to model '{model}'"
                f"{f' (languages: {self.model_languages})' if self.model_languages else ''}: it cannot read "
                f"{language} text; train with --model {MULTILINGUAL} (suite models install {MULTILINGUAL}), "
                f"or set model = \"{MULTILINGUAL}\" in suite.toml")


def example_text(example: Any) -> str:
    """The text of a text or token example."""
    text = getattr(example, "text", None)
    if isinstance(text, str):
        return text + (" " + example.text_pair if isinstance(getattr(example, "text_pair", None), str) else "")
    tokens = getattr(example, "tokens", None)
    return " ".join(tokens) if tokens else ""


def reading_check(tokenizer: Any, texts: Sequence[str], model_path: str | Path, *, seed: int = 0) -> ReadingCheck:
    """The unknown-token share on (a sample of) ``texts`` and what the model says it reads."""
    sample = list(texts) if len(texts) <= SAMPLE else random.Random(seed).sample(list(texts), SAMPLE)
    unknown_id = getattr(tokenizer, "unk_token_id", None)
    total = unknown = 0
    if unknown_id is not None:
        for ids in tokenizer(sample, add_special_tokens=False)["input_ids"]:
            total += len(ids)
            unknown += sum(1 for i in ids if i == unknown_id)
    return ReadingCheck(unknown / total if total else 0.0, cjk_share(sample), model_languages(model_path))


def model_languages(path: str | Path) -> str | None:
    """The languages a model folder says it reads: the catalogue's record, the default's, or
    what a model trained by the suite recorded; None when unknown."""
    folder = Path(path)
    for name, key in (("suite-catalogue.json", "languages"), ("suite_head.json", "encoder")):
        file = folder / name
        if file.is_file():
            data = json.loads(file.read_text(encoding="utf-8"))
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("model_languages")
            if value:
                return str(value)
    from core.models import packaged_model_path

    packaged = packaged_model_path()
    return "en" if packaged is not None and folder.resolve() == packaged.resolve() else None


__all__ = ["ReadingCheck", "example_text", "model_languages", "reading_check"]
