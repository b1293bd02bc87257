"""Classification and token-classification metrics (scikit-learn, seqeval)."""

from __future__ import annotations

from collections.abc import Sequence
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


def token_metrics(true_tags: list[list[str]], pred_tags: list[list[str]]) -> dict[str, Any]:
    """Entity-level precision/recall/F1 (seqeval, CoNLL style) and token accuracy."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from sklearn.metrics import classification_report as token_report

    flat_true = [t for seq in true_tags for t in seq]
    flat_pred = [t for seq in pred_tags for t in seq]
    correct = sum(a == b for a, b in zip(flat_true, flat_pred))
    per_type = classification_report(true_tags, pred_tags, output_dict=True, zero_division=0)
    return {
        "entity_f1": float(f1_score(true_tags, pred_tags, zero_division=0)),
        "entity_precision": float(precision_score(true_tags, pred_tags, zero_division=0)),
        "entity_recall": float(recall_score(true_tags, pred_tags, zero_division=0)),
        "token_accuracy": correct / len(flat_true) if flat_true else 0.0,
        "per_type": {
            name: {k: float(v) for k, v in values.items()}
            for name, values in per_type.items()
            if isinstance(values, dict)
        },
        # The token-level table of the design document's worked example (§5.4).
        "token_report": token_report(flat_true, flat_pred, digits=3, zero_division=0),
    }
