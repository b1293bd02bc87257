"""Hyperparameter search with Optuna over learning rate, epochs, batch size and strategy,
within a wall-clock budget. Each trial is a real ``fine_tune`` on the same split."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.heads import TaskHead
from core.training.config import TrainConfig


def search_space(trial: Any, base: TrainConfig) -> TrainConfig:
    return replace(
        base,
        learning_rate=trial.suggest_float("learning_rate", 2e-5, 5e-4, log=True),
        epochs=trial.suggest_int("epochs", 1, max(2, int(base.epochs or base.auto_epochs) + 2)),
        batch_size=trial.suggest_categorical("batch_size", [16, 32, 64]),
        strategy=trial.suggest_categorical("strategy", ["full", "lora", "head-only"]),
        early_stopping_patience=0,
        baseline=False,
    )


def tune(
    head_factory: Callable[[], TaskHead],
    encoder: str,
    train: Sequence[Any],
    held: Sequence[Any],
    base: TrainConfig,
    *,
    budget_seconds: float,
    max_trials: int | None,
    on_trial: Callable[[int, dict[str, Any], float], None] | None = None,
) -> dict[str, Any]:
    """Run trials until the budget (or ``max_trials``) is spent; returns the best params and all trials."""
    import optuna

    from core.training.engine import fine_tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    head = head_factory()
    metric = head.primary_metric
    started = time.perf_counter()

    def objective(trial: Any) -> float:
        config = search_space(trial, base)
        with tempfile.TemporaryDirectory() as scratch:
            outcome = fine_tune(head_factory(), encoder, train, held, config, Path(scratch), progress=False)
        value = outcome.metrics[metric]
        trial.set_user_attr("train_seconds", outcome.train_seconds)
        if on_trial is not None:
            on_trial(trial.number, trial.params, value)
        return value

    study = optuna.create_study(direction="minimize" if metric == "loss" else "maximize",
                                sampler=optuna.samplers.TPESampler(seed=base.seed))
    study.optimize(objective, n_trials=max_trials, timeout=budget_seconds)
    return {
        "metric": metric,
        "best_value": study.best_value,
        "best_params": study.best_params,
        "seconds": round(time.perf_counter() - started, 1),
        "trials": [
            {"number": t.number, "params": t.params, "value": t.value, "train_seconds": t.user_attrs.get("train_seconds")}
            for t in study.trials
            if t.value is not None
        ],
    }
