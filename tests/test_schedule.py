"""The schedule: --epochs as given, the scenario's default scaled to the data, --max-minutes fitted."""

from __future__ import annotations

from dataclasses import replace

from core.default_plugins.scenarios import TAGGING_DEFAULTS
from core.training.config import TrainConfig
from core.training.schedule import plan_epochs


def test_small_data_gets_the_scenario_default_and_large_data_fewer_epochs() -> None:
    wnut = plan_epochs(TAGGING_DEFAULTS, 3_394, 1_009)
    assert wnut.epochs == 8 and "default" in wnut.reason
    conll = plan_epochs(TAGGING_DEFAULTS, 14_041, 3_250)  # CoNLL-2003 as distributed
    assert conll.epochs == 2.1 and "14,041 examples" in conll.reason and "--epochs N" in conll.reason
    huge = plan_epochs(TrainConfig(), 5_000_000, 1_000)
    assert huge.epochs == 1.0  # at least one pass over the data


def test_explicit_epochs_are_kept() -> None:
    schedule = plan_epochs(replace(TAGGING_DEFAULTS, epochs=5), 14_041, 3_250)
    assert schedule.epochs == 5 and "(--epochs)" in schedule.reason and schedule.time_limit_s is None


def test_a_time_budget_caps_the_epochs_by_measured_throughput() -> None:
    config = replace(TAGGING_DEFAULTS, max_minutes=10)
    # 20 examples/s: one epoch of 14,041 (+ evaluating 3,250 at 3x) takes about 12.6 minutes.
    fitted = plan_epochs(config, 14_041, 3_250, measure=lambda: 20.0)
    assert fitted.epochs == 0.7 and "--max-minutes 10" in fitted.reason and fitted.time_limit_s == 600
    roomy = plan_epochs(config, 500, 100, measure=lambda: 200.0)
    assert roomy.epochs == 8 and "fits --max-minutes 10" in roomy.reason and roomy.time_limit_s == 600


def test_a_layer_kept_student_gets_twice_the_default() -> None:
    from core.training.distill import Distillation

    student = replace(TrainConfig(), distillation=Distillation("teacher", student_layers=3))
    schedule = plan_epochs(student, 9_002, 1_001)  # Banking77's training split
    assert schedule.epochs == 6 and "2x the scenario's default for a layer-kept student" in schedule.reason
    scaled = plan_epochs(student, 100_000, 1_000)  # the example budget doubles with it
    assert scaled.epochs == 1.2 and "120,000 examples" in scaled.reason
    other_encoder = replace(TrainConfig(), distillation=Distillation("teacher"))
    assert plan_epochs(other_encoder, 9_002, 1_001).epochs == 3
    assert plan_epochs(replace(student, epochs=2), 9_002, 1_001).epochs == 2


def test_perturbed_copies_count_once_with_their_text_against_the_budget() -> None:
    from core.training.distill import Distillation

    augmented = replace(TrainConfig(), distillation=Distillation("teacher", augment=4))
    assert plan_epochs(augmented, 9_002 * 5, 1_001).epochs == 3  # Banking77 and 4 copies of each query
    assert plan_epochs(augmented, 40_000 * 5, 1_000).epochs == 1.5  # larger data is still cut: to 60,000 x 5
