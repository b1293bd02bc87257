"""Evaluation reports as files: JSON, a confusion-matrix PNG and a confidence histogram PNG."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_report(folder: Path, report: dict[str, Any], labels: Sequence[str] | None = None) -> dict[str, str]:
    """Write ``report.json`` (and the PNGs a classification report allows); returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(folder / "report.json")}
    (folder / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    metrics = report.get("metrics", {})
    if labels and "confusion_matrix" in metrics:
        paths["confusion_matrix"] = str(_confusion_png(folder / "confusion_matrix.png", metrics["confusion_matrix"], labels))
    if "confidence_histogram" in metrics:
        paths["confidence_histogram"] = str(_histogram_png(folder / "confidence.png", metrics["confidence_histogram"]))
    return paths


def _figure(size: tuple[float, float]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=size)


def _confusion_png(path: Path, matrix: list[list[int]], labels: Sequence[str]) -> Path:
    plt, fig = _figure((max(4, len(labels) * 0.25 + 2),) * 2)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    ticks = range(len(labels))
    fontsize = 8 if len(labels) <= 20 else 4
    ax.set_xticks(ticks, labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, labels, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _histogram_png(path: Path, counts: list[int]) -> Path:
    plt, fig = _figure((5, 3))
    ax = fig.add_subplot()
    edges = [i / len(counts) for i in range(len(counts))]
    ax.bar(edges, counts, width=1 / len(counts), align="edge", edgecolor="white")
    ax.set_xlabel("confidence of the predicted label")
    ax.set_ylabel("examples")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def render_text(report: dict[str, Any]) -> str:
    """The human-readable summary ``suite evaluate`` prints without ``--json``."""
    metrics = report.get("metrics", {})
    lines = [f"model: {report.get('model')}  examples: {report.get('examples')}"]
    for key in ("accuracy", "macro_f1", "micro_f1", "ece", "entity_f1", "entity_precision", "entity_recall", "token_accuracy"):
        if key in metrics:
            lines.append(f"{key:>16}: {metrics[key]:.4f}")
    if "per_class" in metrics:
        lines.append(f"{'label':>24} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
        for label, row in metrics["per_class"].items():
            lines.append(f"{label:>24} {row['precision']:>9.3f} {row['recall']:>7.3f} {row['f1']:>6.3f} {row['support']:>7}")
    if "token_report" in metrics:
        lines.append(metrics["token_report"])
    if "explanations" in metrics:
        lines += render_faithfulness(metrics["explanations"])
    for name, path in report.get("files", {}).items():
        lines.append(f"{name}: {path}")
    return "\n".join(lines)


def render_faithfulness(report: dict[str, Any]) -> list[str]:
    """The ``--explanations`` table: per method, comprehensiveness and sufficiency at each k."""
    ks = report["ks"]
    lines = [f"explanations, measured on {report['texts']} texts: comprehensiveness (probability lost without the "
             "top-k words; higher is better) | sufficiency (lost with those words alone; lower is better)",
             f"{'method':>22} " + " ".join(f"{'c@' + k:>7}" for k in ks) + " | " + " ".join(f"{'s@' + k:>7}" for k in ks)
             + f" {'ms':>7}"]
    for name, measured in report["methods"].items():
        ms = measured.get("ms_per_explanation")
        lines.append(f"{name:>22} " + " ".join(f"{measured['comprehensiveness'][k]:>7.3f}" for k in ks) + " | "
                     + " ".join(f"{measured['sufficiency'][k]:>7.3f}" for k in ks) + f" {'' if ms is None else ms:>7}")
    lines.append(f"explanation method recorded with the model: {report['chosen']}")
    view = report.get("global")
    if view:
        lines.append(f"words that drive each predicted class ({view['method']}, texts counted):")
        for label, found in view["classes"].items():
            lines.append(f"{label:>24}: " + ", ".join(f"{w['word']} ({w['texts']})" for w in found[:6]))
        for confusion in view["confusions"][:5]:
            lines.append(f"confused: {confusion['true']} -> {confusion['predicted']} x{confusion['count']}, by: "
                         + ", ".join(confusion["words"][:5]))
        for shortcut in view["shortcuts"]:
            lines.append(f"shortcut word: '{shortcut['word']}' alone is {shortcut['label']} "
                         f"(p={shortcut['probability_alone']:.2f}), the top reason on {shortcut['texts']} texts")
    return lines
