"""Two registered model versions side by side (``suite models compare``): what a model owner
reads before activating a student, a new version, or a larger encoder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.heads import STATE_FILE
from core.store import ModelEntry
from core.files import folder_mb

SHOWN_METRICS = ("accuracy", "macro_f1", "micro_f1", "entity_f1", "token_accuracy", "topic_accuracy")


def describe(entry: ModelEntry) -> dict[str, Any]:
    """A registered version as the comparison reads it: metrics, speed, size, encoder, teacher."""
    state_file = Path(entry.path) / STATE_FILE
    state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.is_file() else {}
    inference = state.get("inference") or {}
    chosen = inference.get("precision")
    speed = (inference.get("measured") or {}).get(chosen, {}).get("texts_per_second") if chosen else None
    return {
        "model": f"{entry.name} v{entry.version}",
        "scenario": entry.scenario,
        "metrics": {k: entry.metrics[k] for k in SHOWN_METRICS if k in entry.metrics},
        "texts_per_second": speed,
        "precision": chosen,
        "size_mb": folder_mb(entry.path) if Path(entry.path).is_dir() else None,
        "encoder": (state.get("encoder") or {}).get("spec"),
        "layers": _layers(Path(entry.path)),
        "teacher": entry.teacher,
        "active": entry.active,
    }


def compare_models(first: ModelEntry, second: ModelEntry) -> dict[str, Any]:
    """``{"A": ..., "B": ..., "table": rows}``; speed ratio B/A where both were measured."""
    a, b = describe(first), describe(second)
    rows = [{"measure": "model", "A": a["model"], "B": b["model"]}]
    for metric in [m for m in SHOWN_METRICS if m in a["metrics"] or m in b["metrics"]]:
        rows.append({"measure": f"{metric} (validation)", "A": _fmt(a["metrics"].get(metric)),
                     "B": _fmt(b["metrics"].get(metric))})
    rows.append({"measure": "texts/s", "A": _speed(a), "B": _speed(b)})
    if a["texts_per_second"] and b["texts_per_second"]:
        rows.append({"measure": "speed B/A", "A": "", "B": f"{b['texts_per_second'] / a['texts_per_second']:.2f}x"})
    rows.append({"measure": "size MB", "A": _fmt(a["size_mb"], "{:.1f}"), "B": _fmt(b["size_mb"], "{:.1f}")})
    for key in ("layers", "encoder", "teacher", "active"):
        rows.append({"measure": key, "A": _fmt(a[key]), "B": _fmt(b[key])})
    return {"A": a, "B": b, "table": rows}


def _layers(folder: Path) -> int | None:
    config = folder / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("num_hidden_layers")


def _speed(side: dict[str, Any]) -> str:
    value = side["texts_per_second"]
    return "not measured" if value is None else f"{value:.1f} ({side['precision']})"


def _fmt(value: Any, number: str = "{:.4f}") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number.format(value)
    return str(value)
