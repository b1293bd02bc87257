"""How many epochs a run gets: the user's ``--epochs``, or a schedule scaled to the data and
fitted to ``--max-minutes``.

A scenario's default epochs were measured on a data set of some size (tagging: 8 epochs on
WNUT-17's 3,400 sentences). Ten times the data at the same epochs is ten times the hours for
little gain, so by default a run sees at most the scenario's ``example_budget`` examples
(at least one epoch); a time budget then caps the epochs at what fits, measured on the
machine before training. The choice is said in one line, before training and in the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.training.config import TrainConfig

MIN_AUTO_EPOCHS = 1.0
# A student made of some of its teacher's layers starts far from where it ends: by default it
# gets this many times the scenario's epochs (and examples). Measured with 3 of 6 layers
# (docs/benchmarks.md): Banking77 -1.04 points against the 6-layer model at 3 epochs, +0.68 at
# 6; PhraseBank -1.32 at 4 epochs, -0.88 at 8.
LAYER_KEPT_EPOCHS = 2.0
# With ``--augment N`` a text and its N perturbed copies count once against the example budget:
# the copies are there to be seen. Banking77, 4 copies: 1.5 epochs (the budget counting every
# copy) 0.9256 test accuracy, 3 epochs 0.9328, against 0.9266 without copies (docs/benchmarks.md).
EVAL_SPEEDUP = 3.0  # an evaluation pass costs about a third of a training pass per example


@dataclass(frozen=True)
class Schedule:
    epochs: float
    reason: str
    time_limit_s: float | None = None


def plan_epochs(config: TrainConfig, n_train: int, n_eval: int,
                measure: Callable[[], float] | None = None) -> Schedule:
    """The epochs for ``n_train`` examples under ``config``; ``measure`` gives training
    examples per second on this machine (called only when ``--max-minutes`` needs it)."""
    if config.epochs is not None:
        epochs, reason = float(config.epochs), f"{config.epochs:g} epoch(s) (--epochs)"
    else:
        cut = config.distillation is not None and config.distillation.student_layers is not None
        factor = LAYER_KEPT_EPOCHS if cut else 1.0
        copies = config.distillation.augment if config.distillation is not None else 0
        default, budget = config.auto_epochs * factor, (config.example_budget or 0) * factor * (1 + copies)
        whose = f"{factor:g}x the scenario's default for a layer-kept student" if cut else "the default for this scenario"
        epochs, reason = default, f"{default:g} epoch(s) ({whose})"
        if budget and n_train * default > budget:
            epochs = max(MIN_AUTO_EPOCHS, round(budget / max(n_train, 1), 1))
            reason = (f"{epochs:g} epoch(s): {n_train:,} examples, so the default {default:g} is scaled to "
                      f"about {budget:,.0f} examples seen (--epochs N to choose)")
    if not config.max_minutes or measure is None:
        return Schedule(epochs, reason)
    budget_s = config.max_minutes * 60
    per_second = measure()
    epoch_s = n_train / per_second + n_eval / (per_second * EVAL_SPEEDUP)
    fits = budget_s / epoch_s
    if fits < epochs:
        epochs = max(0.1, round(fits * 0.9, 1))  # a margin for checkpoints and the final evaluation
        reason = (f"{epochs:g} epoch(s) to fit --max-minutes {config.max_minutes:g} (measured {per_second:.1f} "
                  f"examples/s here: one epoch takes about {epoch_s / 60:.1f} min); training stops at the limit")
    else:
        reason += f"; fits --max-minutes {config.max_minutes:g} (about {epochs * epoch_s / 60:.1f} min at {per_second:.1f} examples/s)"
    return Schedule(epochs, reason, budget_s)


def examples_per_second(step: Callable[[], int], *, warmup: int = 1, steps: int = 3) -> float:
    """Training throughput from a few forward and backward passes (``step`` returns the batch's size)."""
    for _ in range(warmup):
        step()
    started, seen = time.perf_counter(), 0
    for _ in range(steps):
        seen += step()
    return seen / max(time.perf_counter() - started, 1e-6)


__all__ = ["Schedule", "examples_per_second", "plan_epochs"]
