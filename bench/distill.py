"""Distillation on Financial PhraseBank AllAgree or Banking77, side by side in one run: the
teacher, the default model fine-tuned directly, the default model distilled from the teacher
(with and without unlabelled text), and a 3-layer student of the fine-tuned default model.

    python -m bench.distill --data ../shared/data/financial_phrasebank --home /tmp/mphome
    python -m bench.distill --dataset banking77 --data ../shared/data/banking77 --home /tmp/b77home
    python -m bench.distill --home /tmp/alhome --skip teacher --align-hidden 1   # layer-kept students, aligned or not
    python -m bench.distill --home /tmp/alhome --skip teacher --chosen-layers    # and with layers chosen on validation
    python -m bench.distill --home H --skip teacher,spaced --chosen-layers    # only the student with layers chosen on validation
    python -m bench.distill --home H --skip teacher,without-unlabelled --epochs 8 --tag e8   # a variant beside them
    python -m bench.distill --dataset banking77 --home H --augment 4 --tag aug4   # perturbed copies for the teacher to label
    python -m bench.distill --home H --skip without-unlabelled,layers --augment 2 --epochs 3 \
        --student H/models/phrasebank-default/run-1 --tag fromdirect   # the student starts from the direct fine-tune

Banking77: the official test set; its training set split 90/10 (stratified, seed 13) into
train and early-stopping validation; no unlabelled text (the students learn from the labelled
training texts' soft targets only).

The split is bench.phrasebank's (stratified 80/10/10, seed 13): train on 80%, early-stop on
10%, test on the last 10%. The unlabelled text is every 50Agree sentence that is not in the
AllAgree test split. Models already registered in --home under the names below are reused
(``python -m bench.phrasebank --home H --model all-mpnet-base-v2`` registers the teacher,
``python -m bench.phrasebank --home H`` the directly fine-tuned default); the others are
trained here, through ``FinanceSentiment.train`` as ``suite train|distill`` runs it.
Test texts/s: each model's Predictor at its recorded precision, and all of them at int8 (the
same footing), runs interleaved, median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.common import ensure_installed, read_banking77, table
from bench.phrasebank import read, split, write


@dataclass
class Task:
    """One dataset's run: the scenario that trains it, its splits and unlabelled text, the names."""

    title: str
    scenario: str
    parts: dict[str, list[tuple[str, str]]]
    unlabelled: list[str]
    prefix: str  # registered names: <prefix>-all-mpnet-base-v2, <prefix>-default, <short>-student-...
    short: str

    @property
    def teacher(self) -> str:
        return f"{self.prefix}-all-mpnet-base-v2"

    @property
    def direct(self) -> str:
        return f"{self.prefix}-default"


def phrasebank(data: Path) -> Task:
    parts = split(read(data / "Sentences_AllAgree.txt"))
    test_texts = {text for text, _ in parts["test"]}
    unlabelled = sorted({text for text, _ in read(data / "Sentences_50Agree.txt")} - test_texts)
    return Task("Financial PhraseBank AllAgree, stratified 80/10/10 seed 13", "finance-sentiment", parts, unlabelled,
                "phrasebank", "pb")


def banking77(data: Path) -> Task:
    from sklearn.model_selection import train_test_split

    rows = [(ex.text, str(ex.label)) for ex in read_banking77(data, "train")]
    train, val = train_test_split(rows, test_size=0.1, stratify=[label for _, label in rows], random_state=13)
    test = [(ex.text, str(ex.label)) for ex in read_banking77(data, "test")]
    return Task("Banking77, official test set, train split 90/10 stratified seed 13", "text-classification",
                {"train": train, "val": val, "test": test}, [], "banking77", "b77")


def registered(suite: Any, name: str) -> bool:
    return any(entry.name == name for entry in suite.store.list_models())


def train(suite: Any, task: Task, name: str, files: dict[str, str], *, epochs: float | None, model: str | None = None,
          distillation: Any = None) -> dict[str, Any]:
    from core.training.config import TrainConfig
    from plugins.finance_sentiment.scenarios import FINANCE_DEFAULTS

    defaults = FINANCE_DEFAULTS if task.scenario == "finance-sentiment" else TrainConfig()
    config = replace(defaults, baseline=False, distillation=distillation, epochs=epochs or defaults.epochs)
    scenario = suite.scenarios.get(task.scenario)
    started = time.perf_counter()
    result = scenario.train(suite, train=files["train"], eval=files["val"], model=model, name=name, training=config)
    metrics = result.get("metrics") or {}
    return {"train_seconds": round(time.perf_counter() - started, 1), "distillation": result.get("distillation"),
            "val_accuracy": metrics.get("accuracy")}


def speeds(suite: Any, scenario_name: str, names: list[str], texts: list[str], repeats: int = 3,
           precision: str = "auto") -> dict[str, float]:
    """Texts/s of each model's Predictor on the same texts, runs interleaved, median; at the
    precision each chose at training (``auto``) or one for all."""
    from core.data.types import TextExample

    scenario = suite.scenarios.get(scenario_name)
    predictors = {name: scenario.predictor(suite, name, precision) for name in names}
    examples = [TextExample(t) for t in texts]
    runs: dict[str, list[float]] = {name: [] for name in names}
    for predictor in predictors.values():
        predictor.predict(examples[:64])
    for _ in range(repeats):
        for name, predictor in predictors.items():
            started = time.perf_counter()
            predictor.predict(examples)
            runs[name].append(len(examples) / (time.perf_counter() - started))
    return {name: statistics.median(values) for name, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["phrasebank", "banking77"], default="phrasebank")
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: ../shared/data/...)")
    parser.add_argument("--home", type=Path, required=True, help="SUITE_HOME (models are registered and reused there)")
    parser.add_argument("--teacher-model", default="all-mpnet-base-v2", help="encoder of the teacher")
    parser.add_argument("--student", default=None, help="where the default-size students start (suite distill --student; "
                        "default: the default encoder), e.g. the folder of a model fine-tuned on the task")
    parser.add_argument("--layers", type=int, default=3, help="layers of the layer-kept student")
    parser.add_argument("--epochs", type=float, default=None, help="default: the scenario's schedule")
    parser.add_argument("--skip", default="", help="comma list of runs not to do: without-unlabelled, layers, teacher "
                        "(the teacher and its students: only the layer-kept students), spaced (the evenly spaced "
                        "layer-kept student: with --chosen-layers, only the one chosen on validation)")
    parser.add_argument("--align-hidden", type=float, default=0.0,
                        help="also a layer-kept student with its hidden states aligned to the teacher's at this weight")
    parser.add_argument("--chosen-layers", action="store_true",
                        help="also a layer-kept student whose layers are chosen on validation (suite distill --layers validation)")
    parser.add_argument("--temperature", type=float, default=None, help="the students' temperature (default: suite distill's)")
    parser.add_argument("--alpha", type=float, default=None, help="the students' weight of the teacher's outputs (default: suite distill's)")
    parser.add_argument("--augment", type=int, default=None,
                        help="perturbed copies of each text the teacher labels for the students (suite distill --augment)")
    parser.add_argument("--tag", default="", help="suffix of the students' names: a variant beside the ones already registered")
    parser.add_argument("--out", type=Path, default=None, help="default: bench/results/distill-DATASET[-TAG].json")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core.app import Suite
    from core.settings import load_settings
    from core.training.distill import Distillation

    data = args.data or Path("../shared/data") / ("financial_phrasebank" if args.dataset == "phrasebank" else "banking77")
    task = phrasebank(data) if args.dataset == "phrasebank" else banking77(data)
    parts, unlabelled, teacher, direct = task.parts, task.unlabelled, task.teacher, task.direct
    skip = set(filter(None, args.skip.split(",")))
    if "teacher" not in skip:
        ensure_installed(args.teacher_model, args.home)
    suite = Suite.create(load_settings(home=args.home))
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        files = {name: write(Path(scratch) / f"{name}.csv", rows) for name, rows in parts.items()}
        extra = Path(scratch) / "unlabelled.txt"
        extra.write_text("\n".join(unlabelled) + "\n", encoding="utf-8")
        more = str(extra) if unlabelled else None
        soft = {k: v for k, v in (("temperature", args.temperature), ("alpha", args.alpha), ("augment", args.augment))
                if v is not None}
        tag = f"-{args.tag}" if args.tag else ""
        copies = f", + {args.augment} perturbed copies per text" if args.augment else ""
        plan = [
            (teacher, dict(model=args.teacher_model), f"teacher: {args.teacher_model} fine-tuned"),
            (direct, dict(), "default (6 layers) fine-tuned directly"),
            (f"{task.short}-student-default-unlabelled{tag}",
             dict(model=args.student, distillation=Distillation(teacher, unlabelled=more, **soft)),
             f"default distilled from the teacher, + {len(unlabelled)} unlabelled{copies}"),
            (f"{task.short}-student-default{tag}", dict(model=args.student, distillation=Distillation(teacher, **soft)),
             f"default distilled from the teacher, labelled only{copies}"),
            (f"{task.short}-student-{args.layers}-layers{tag}", dict(distillation=Distillation(direct, student_layers=args.layers,
                                                                                                unlabelled=more, **soft)),
             f"{args.layers} of the fine-tuned default's layers, distilled from it" + (", + unlabelled" if more else "") + copies),
        ]
        if args.align_hidden:
            plan.append((f"{task.short}-student-{args.layers}-layers-aligned{tag}",
                         dict(distillation=Distillation(direct, student_layers=args.layers, unlabelled=more,
                                                        align_hidden=args.align_hidden, **soft)),
                         f"the same, + hidden states aligned to the kept layers (--align-hidden {args.align_hidden:g})"))
        if args.chosen_layers:
            plan.append((f"{task.short}-student-{args.layers}-layers-chosen{tag}",
                         dict(distillation=Distillation(direct, student_layers=args.layers, unlabelled=more,
                                                        layers="validation", **soft)),
                         f"the same, {args.layers} layers chosen on validation (--layers validation)"))
        for name, options, label in plan:
            if ("without-unlabelled" in skip and name.endswith(f"-student-default{tag}")) or ("layers" in skip and "layers" in name):
                continue
            if "teacher" in skip and (name == teacher or "-student-default" in name):
                continue
            if "spaced" in skip and name == f"{task.short}-student-{args.layers}-layers{tag}":
                continue
            if not unlabelled and name.endswith(f"-default-unlabelled{tag}"):
                continue  # no unlabelled text: the labelled-only student is the run
            runs[name] = {"config": label, "reused": registered(suite, name)}
            if not runs[name]["reused"]:
                print(f"training {name}: {label}", flush=True)
                runs[name].update(train(suite, task, name, files, epochs=args.epochs, **options))
            tested = suite.scenarios.get(task.scenario).evaluate(suite, data=files["test"], model=name)
            runs[name].update(test_accuracy=round(tested["metrics"]["accuracy"], 4),
                              test_macro_f1=round(tested["metrics"]["macro_f1"], 4))
        texts = [text for text, _ in parts["test"]] * (4 if task.scenario == "finance-sentiment" else 1)
        rates = speeds(suite, task.scenario, list(runs), texts)
        int8 = speeds(suite, task.scenario, list(runs), texts, precision="int8")
    for name in runs:
        runs[name]["texts_per_second"] = round(rates[name], 1)
        runs[name]["speed_vs_direct"] = round(rates[name] / rates[direct], 2) if direct in rates else None
        runs[name]["int8_texts_per_second"] = round(int8[name], 1)
        runs[name]["int8_vs_direct"] = round(int8[name] / int8[direct], 2) if direct in int8 else None
    suite.close()
    rows = [{"model": name, **run} for name, run in runs.items()]
    print(f"{task.title}: {', '.join(f'{k} {len(v)}' for k, v in parts.items())}; {len(unlabelled)} unlabelled texts")
    print(table(rows, ["model", "config", "test_accuracy", "test_macro_f1", "texts_per_second", "speed_vs_direct",
                       "int8_texts_per_second", "int8_vs_direct", "train_seconds", "reused"]))
    out = args.out or Path(f"bench/results/distill-{args.dataset}{tag}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"split": {k: len(v) for k, v in parts.items()}, "unlabelled": len(unlabelled),
                                    "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
