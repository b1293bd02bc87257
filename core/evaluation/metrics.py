"""Classification and token-classification metrics (scikit-learn, seqeval)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str], confidences: Sequence[float] | None = None
) -> dict[str, Any]:
    """Accuracy, macro/micro F1, per-class precision/recall/F1, confusion matrix and, with
    ``confidences``, expected calibration error."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, zero_division=0
    )
    present = support > 0
    micro = precision_recall_fscore_support(y_true, y_pred, labels=ids, average="micro", zero_division=0)
    report: dict[str, Any] = {
        "accuracy": float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "micro_f1": float(micro[2]),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }
    if confidences is not None:
        correct = np.asarray(y_true) == np.asarray(y_pred)
        report["ece"] = expected_calibration_error(np.asarray(confidences), correct)
        report["confidence_histogram"] = np.histogram(confidences, bins=10, range=(0, 1))[0].tolist()
    return report


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Weighted gap between confidence and accuracy over equal-width confidence bins."""
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (confidences > low) & (confidences <= high)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - confidences[mask].mean())
    return float(ece)


# --------------------------------------------------------------------------------------
# Token classification: tagging schemes and entity-level scores (seqeval)
# --------------------------------------------------------------------------------------

OUTSIDE = "O"
# Each scheme and the tag prefixes it uses besides O.
TAG_SCHEMES: dict[str, frozenset[str]] = {
    "BIO": frozenset("BI"),  # IOB2 (and IOB1: an I- after O begins an entity)
    "BIOES": frozenset("BIES"),  # IOBES: E- ends an entity, S- is a one-token entity
    "BMES": frozenset("BMES"),  # Chinese NER: M- (middle) is BIOES's I-
    "BILOU": frozenset("BILU"),  # L- (last) is E-, U- (unit) is S-
}
STRICT_SCHEMES = frozenset({"BIOES", "BMES", "BILOU"})
_AS_IOBES = {"M": "I", "L": "E", "U": "S"}
_PREFIXED = re.compile(r"^([BIMESLU])-(.+)$")


def detect_tag_scheme(tags: Iterable[str]) -> str:
    """The scheme (a key of :data:`TAG_SCHEMES`) whose prefixes explain every tag: ``BMES``
    if any tag is ``M-``, ``BILOU`` for ``L-``/``U-``, ``BIOES`` for ``E-``/``S-``, else
    ``BIO``. Tags without a prefix (``O``, part-of-speech tags) do not count. Tags that fit
    only BIOES and BMES both (``B- E- S-``, no entity longer than two) mean the same in either.

    :raises ValueError: when no one scheme explains the prefixes (``I-`` with ``M-``).
    """
    prefixes: dict[str, str] = {}
    for tag in tags:
        match = _PREFIXED.match(tag)
        if match:
            prefixes.setdefault(match.group(1), tag)
    for scheme, allowed in TAG_SCHEMES.items():
        if set(prefixes) <= allowed:
            return scheme
    found = ", ".join(prefixes[p] for p in sorted(prefixes))
    known = "; ".join(f"{name} uses {', '.join(sorted(p + '-' for p in allowed))}"
                      for name, allowed in TAG_SCHEMES.items())
    raise ValueError(f"the tags mix tagging schemes ({found}): {known}")


def as_iobes(tags: Sequence[str], scheme: str) -> list[str]:
    """``tags`` spelled with IOBES prefixes (BMES's ``M-`` as ``I-``, BILOU's ``L-``/``U-`` as
    ``E-``/``S-``); in a strict scheme a tag without a prefix is ``O``, as it is no entity."""
    if scheme not in STRICT_SCHEMES:
        return list(tags)
    spelled = []
    for tag in tags:
        match = _PREFIXED.match(tag)
        spelled.append(f"{_AS_IOBES.get(match.group(1), match.group(1))}-{match.group(2)}" if match else OUTSIDE)
    return spelled


def token_metrics(true_tags: list[list[str]], pred_tags: list[list[str]], scheme: str = "BIO") -> dict[str, Any]:
    """Entity-level precision/recall/F1 (seqeval) and token accuracy, entities read per ``scheme``.

    BIO is scored as conlleval (CoNLL-2003's scorer) does: an ``I-`` after ``O`` or another
    type begins an entity, so IOB1 files score right too. BIOES, BMES and BILOU are scored
    strictly by their own rules (seqeval's ``mode="strict"``, IOBES): an entity is ``B- I-* E-``
    or ``S-`` of one type, and a prediction that breaks the pattern finds no entity.
    """
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from sklearn.metrics import classification_report as token_report

    if scheme not in TAG_SCHEMES:
        raise ValueError(f"unknown tagging scheme '{scheme}' (known: {', '.join(TAG_SCHEMES)})")
    flat_true = [t for seq in true_tags for t in seq]
    flat_pred = [t for seq in pred_tags for t in seq]
    correct = sum(a == b for a, b in zip(flat_true, flat_pred))
    options: dict[str, Any] = {"zero_division": 0}
    if scheme in STRICT_SCHEMES:
        from seqeval.scheme import IOBES

        true_tags = [as_iobes(seq, scheme) for seq in true_tags]
        pred_tags = [as_iobes(seq, scheme) for seq in pred_tags]
        options |= {"mode": "strict", "scheme": IOBES}
    per_type = classification_report(true_tags, pred_tags, output_dict=True, **options)
    return {
        "entity_f1": float(f1_score(true_tags, pred_tags, **options)),
        "entity_precision": float(precision_score(true_tags, pred_tags, **options)),
        "entity_recall": float(recall_score(true_tags, pred_tags, **options)),
        "token_accuracy": correct / len(flat_true) if flat_true else 0.0,
        "tag_scheme": scheme,
        "per_type": {
            name: {k: float(v) for k, v in values.items()}
            for name, values in per_type.items()
            if isinstance(values, dict)
        },
        # The token-level table of the design document's worked example (§5.4).
        "token_report": token_report(flat_true, flat_pred, digits=3, zero_division=0),
    }
