"""The intent model judged as the service uses it: a text the model will not answer counts as
out-of-scope, so in-scope accuracy and out-of-scope precision/recall are measured at the
calibrated threshold (and ambiguity margin) actually in force."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from core.evaluation.metrics import classification_metrics
from plugins.customer_service.calibration import IntentDecision

HEADLINE = ("in_scope_accuracy", "oos_precision", "oos_recall", "answered_precision", "in_scope_answered")


def report_labels(model_labels: Sequence[str], oos_label: str) -> list[str]:
    return list(model_labels) + ([oos_label] if oos_label not in model_labels else [])


def intent_report(gold: Sequence[str], decisions: Sequence[IntentDecision], model_labels: Sequence[str], *,
                  oos_label: str, threshold: float, temperature: float, margin: float) -> dict[str, Any]:
    """Classification metrics over the final verdicts (an unanswered text is ``oos_label``),
    plus in-scope accuracy, out-of-scope precision and recall, and why texts were declined."""
    labels = report_labels(model_labels, oos_label)
    index = {label: i for i, label in enumerate(labels)}
    final = [d.intent if d.accepted else oos_label for d in decisions]
    report = classification_metrics([index[g] for g in gold], [index[f] for f in final], labels,
                                    confidences=[d.confidence for d in decisions])
    in_scope = [i for i, g in enumerate(gold) if g != oos_label]
    said_oos = [i for i, f in enumerate(final) if f == oos_label]
    true_oos = [i for i, g in enumerate(gold) if g == oos_label]
    hits = sum(gold[i] == oos_label for i in said_oos)
    answered = [i for i, d in enumerate(decisions) if d.accepted]
    report |= {
        "in_scope_accuracy": _share(sum(final[i] == gold[i] for i in in_scope), len(in_scope)),
        "oos_precision": _share(hits, len(said_oos)),
        "oos_recall": _share(hits, len(true_oos)),
        "answered_precision": _share(sum(final[i] == gold[i] for i in answered), len(answered)),
        "in_scope_answered": _share(sum(decisions[i].accepted for i in in_scope), len(in_scope)),
        "declined": dict(Counter(d.reason for d in decisions if not d.accepted)),
        "in_scope_examples": len(in_scope),
        "oos_examples": len(true_oos),
        "threshold": threshold,
        "temperature": temperature,
        "ambiguity_margin": margin,
        "oos_label": oos_label,
    }
    return report


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def render_report(result: dict[str, Any]) -> str:
    from core.evaluation.report import render_text

    metrics = result.get("metrics", {})
    lines = [f"{key:>18}: {metrics[key]:.4f}" for key in HEADLINE if key in metrics]
    lines.append(f"{'threshold':>18}: {metrics.get('threshold', 0):.4f}  temperature: {metrics.get('temperature', 1):.3f}  "
                 f"examples: {metrics.get('in_scope_examples')} in scope, {metrics.get('oos_examples')} out of scope")
    if metrics.get("declined"):
        lines.append(f"{'declined':>18}: " + ", ".join(f"{k} {v}" for k, v in sorted(metrics["declined"].items())))
    return "\n".join(lines) + "\n" + render_text(result)
