"""Customer service: intent accuracy (Banking77), out-of-scope detection (CLINC150) and the
latency of one reply, each through the ``customer-service`` scenario as a user runs it.

    python -m bench.customer_service --banking77 ../shared/data/banking77 --clinc150 ../shared/data/clinc150

- ``banking77``: train on train.csv (10% stratified validation), test accuracy of the top
  intent (what the 93% target means), and the service's view at the calibrated threshold.
- ``clinc150``: data_full.json; train on train + oos_train, calibrate on val + oos_val, then
  in-scope accuracy and out-of-scope recall on test + oos_test at the threshold chosen for
  ``--oos-share`` (default 0.1); the calibration refitted for several shares, with the plain
  softmax and with the nearest training texts (vote + energy/familiarity scorer) side by side;
  one reply's latency with this model.
- ``latency``: the embedded sample bank (trained here with the default model and the scenario's
  defaults), one reply at a time after load and warm-up: p50/p95 of the decision alone and with
  the turn logged.

The intent model trains with the scenario's defaults (lr 3e-4, early stopping), ``--epochs`` and ``--lr``.

Each part runs in its own process; datasets are read at run time, never copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import in_subprocess, peak_rss_mb, table

MODULE = "bench.customer_service"
LATENCY_MESSAGES = [
    "I lost my card", "my card got declined at the shop", "what is my balance", "hello",
    "How much cash can I withdraw from a cash machine each day?", "Is my money protected if the bank fails?",
    "Can you recommend a good pizza place nearby?", "I want to talk to a person", "how do I change my address",
    "my transfer still hasn't arrived after three days", "what time does the branch open on Saturday",
    "I got a text asking for my PIN, is it real?",
]


def _suite(home: Path) -> Any:
    from core.app import Suite
    from core.settings import Settings

    return Suite.create(Settings(home=home))


def _train(home: Path, train: Path, eval_path: Path | None, label_column: str,
           epochs: float | None, lr: float | None = None, oos_share: float | None = None) -> tuple[Any, dict[str, Any]]:
    """What ``suite train customer-service`` runs: its defaults, ``epochs``, ``lr`` and ``--oos-share``
    (None: the default's)."""
    from dataclasses import replace

    from core.models import quiet_transformers
    from plugins.customer_service.scenarios import CS_DEFAULTS

    quiet_transformers()
    suite = _suite(home)
    scenario = suite.scenarios.get("customer-service")
    config = replace(CS_DEFAULTS, epochs=epochs or CS_DEFAULTS.epochs, learning_rate=lr or CS_DEFAULTS.learning_rate,
                     baseline=False)
    started = time.perf_counter()
    result = scenario.train(suite, train=str(train), eval=str(eval_path) if eval_path else None,
                            label_column=label_column, oos_share=oos_share, training=config)
    result["wall_seconds"] = time.perf_counter() - started
    return suite, result


def _evaluate(suite: Any, model: str, data: Path, label_column: str) -> dict[str, Any]:
    """The service's report, plus the plain accuracy of the top intent."""
    scenario = suite.scenarios.get("customer-service")
    report = scenario.evaluate(suite, data=str(data), model=model, label_column=label_column)
    metrics = report["metrics"]
    return {k: metrics[k] for k in ("accuracy", "in_scope_accuracy", "oos_precision", "oos_recall",
                                    "answered_precision", "in_scope_answered", "threshold", "temperature", "declined")}


def _top_intent_accuracy(suite: Any, model: str, data: Path, label_column: str) -> float:
    from plugins.customer_service.intents import IntentModel

    rows = list(csv.DictReader(data.open(encoding="utf-8", newline="")))
    intents = IntentModel.load(Path(model), suite.heads, margin=0.0)
    probs = intents.probabilities([r["text"] for r in rows])
    labels = intents.labels
    return sum(labels[p.argmax()] == r[label_column] for p, r in zip(probs, rows)) / len(rows)


def run_banking77(folder: Path, epochs: float, lr: float | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        suite, trained = _train(Path(home), folder / "train.csv", None, "category", epochs, lr)
        accuracy = _top_intent_accuracy(suite, trained["path"], folder / "test.csv", "category")
        service = _evaluate(suite, trained["path"], folder / "test.csv", "category")
    return {"part": "banking77", "test_accuracy": accuracy, "service": service, "train_seconds": trained["train_seconds"],
            "wall_seconds": trained["wall_seconds"], "calibration": trained["calibration"], "peak_rss_mb": peak_rss_mb()}


def _clinc_csv(rows: list[list[str]], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def run_clinc150(folder: Path, epochs: float, lr: float | None, oos_share: float | None, keep: Path | None) -> dict[str, Any]:
    data = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:
        base = keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        train = _clinc_csv(data["train"] + data["oos_train"], base / "train.csv")
        val = _clinc_csv(data["val"] + data["oos_val"], base / "val.csv")
        test = _clinc_csv(data["test"] + data["oos_test"], base / "test.csv")
        suite, trained = _train(base, train, val, "label", epochs, lr, oos_share)
        service = _evaluate(suite, trained["path"], test, "label")
        shares = oos_share_sweep(suite, Path(trained["path"]), data["val"] + data["oos_val"], data["test"] + data["oos_test"])
        latency = clinc_latency(suite, Path(trained["path"]), data["test"][::30] + data["oos_test"][::10])
    return {"part": "clinc150", **service, "train_seconds": trained["train_seconds"], "wall_seconds": trained["wall_seconds"],
            "calibration": trained["calibration"], "oos_share_sweep": shares, "reply_latency": latency,
            "peak_rss_mb": peak_rss_mb()}


def clinc_latency(suite: Any, model: Path, rows: list[list[str]]) -> dict[str, Any]:
    """One reply at a time with the CLINC150 model (150 intents and, when calibrated with it, the
    familiarity over its 15,000 training texts), the sample answer book and knowledge base."""
    from plugins.customer_service.config import service_config
    from plugins.customer_service.service import CustomerService

    service = CustomerService.build(suite, service_config(suite.settings), model=str(model), log=False)
    return time_replies(service, [t for t, _ in rows], 1)


def oos_share_sweep(suite: Any, model: Path, val: list[list[str]], test: list[list[str]]) -> list[dict[str, Any]]:
    """The calibration refitted on validation for several expected out-of-scope shares, with and
    without the training texts' neighbours, each judged on test: what ``--oos-share`` trades
    between in-scope accuracy and out-of-scope recall, and what the neighbours add."""
    from dataclasses import replace

    from plugins.customer_service.calibration import calibrate
    from plugins.customer_service.config import service_config
    from plugins.customer_service.evaluation import intent_report
    from plugins.customer_service.intents import IntentModel

    config = service_config(suite.settings)
    intents = IntentModel.load(model, suite.heads, margin=config.ambiguity_margin)
    scores = {name: (intents.logits([t for t, _ in rows]), intents.neighbours([t for t, _ in rows]))
              for name, rows in (("val", val), ("test", test))}
    val_gold, test_gold = [g for _, g in val], [g for _, g in test]
    results = []
    for confidence in ("softmax", "energy+familiarity"):
        if confidence != "softmax" and scores["val"][1] is None:
            continue
        for share in (None, 0.1, 0.15, 0.2, 0.3):
            neighbours = scores["val"][1] if confidence != "softmax" else None
            cal = calibrate(scores["val"][0], intents.labels, val_gold, oos_label="oos", target=config.target_precision,
                            oos_share=share, neighbours=neighbours)
            judged = replace(intents, calibration=cal, threshold_override=None)
            decisions = judged.decide(scores["test"][0], scores["test"][1] if cal.uses_neighbours else None)
            report = intent_report(test_gold, decisions, intents.labels, oos_label="oos", threshold=cal.threshold,
                                   temperature=cal.temperature, margin=config.ambiguity_margin)
            results.append({"confidence": cal.validation["confidence"], "neighbour_weight": cal.neighbour_weight,
                            "oos_share": share, "threshold": cal.threshold,
                            **{k: round(report[k], 4) for k in ("in_scope_accuracy", "oos_recall", "oos_precision", "answered_precision")}})
    return results


def run_latency(repeats: int) -> dict[str, Any]:
    from plugins.customer_service.config import SAMPLE_TRAIN, service_config
    from plugins.customer_service.service import CustomerService

    with tempfile.TemporaryDirectory() as home:
        suite, trained = _train(Path(home), SAMPLE_TRAIN, None, "label", None)
        config = service_config(suite.settings)
        measured: dict[str, Any] = {"part": "latency", "sample_validation_accuracy": trained["metrics"]["accuracy"],
                                    "precision": trained["inference"]["precision"] if trained.get("inference") else "auto"}
        for logged in (False, True):
            service = CustomerService.build(suite, config, model=trained["path"], log=logged)
            measured["with_log" if logged else "decision"] = time_replies(service, LATENCY_MESSAGES, repeats)
    return measured


def time_replies(service: Any, texts: list[str], repeats: int) -> dict[str, Any]:
    """p50/p95 of one ``service.reply`` at a time, after a warm-up pass (first calls allocate)."""
    for text in texts[:20]:
        service.reply(text)
    times, routes = [], {}
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            reply = service.reply(text)
            times.append((time.perf_counter() - started) * 1000)
            routes[reply.route] = routes.get(reply.route, 0) + 1
    return {"p50_ms": statistics.median(times), "p95_ms": _p95(times), "replies": len(times), "routes": routes,
            "neighbours": service.intents.uses_familiarity}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--banking77", type=Path, default=Path("../shared/data/banking77"))
    parser.add_argument("--clinc150", type=Path, default=Path("../shared/data/clinc150"))
    parser.add_argument("--epochs", type=float, default=3, help="Banking77 and CLINC150 (the sample bank: the default, 10)")
    parser.add_argument("--lr", type=float, help="Banking77 and CLINC150 (default: the scenario's, 3e-4)")
    parser.add_argument("--oos-share", type=float, default=0.1,
                        help="CLINC150: the expected out-of-scope share the threshold is chosen for (the sweep shows others)")
    parser.add_argument("--repeats", type=int, default=20, help="latency: passes over the sample messages")
    parser.add_argument("--only", default="latency,clinc150,banking77")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/customer_service.json"))
    parser.add_argument("--keep", type=Path, help="CLINC150: keep its data, home and model in this folder")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.run:  # a child process: one part, its JSON on the last line
        runs = {"banking77": lambda: run_banking77(args.banking77, args.epochs, args.lr),
                "clinc150": lambda: run_clinc150(args.clinc150, args.epochs, args.lr, args.oos_share, args.keep),
                "latency": lambda: run_latency(args.repeats)}
        print(json.dumps(runs[args.run](), default=str))
        return

    common = ["--banking77", str(args.banking77), "--clinc150", str(args.clinc150), "--epochs", str(args.epochs),
              *(["--lr", str(args.lr)] if args.lr else []), "--oos-share", str(args.oos_share),
              "--repeats", str(args.repeats), *(["--keep", str(args.keep)] if args.keep else [])]
    results: dict[str, Any] = {"epochs": args.epochs, "lr": args.lr, "oos_share": args.oos_share}
    for part in args.only.split(","):
        print(f"running {part} ...", flush=True)
        results[part] = in_subprocess(MODULE, "--run", part, *common)
        print(json.dumps(results[part], indent=2, default=str), flush=True)
    rows = []
    if "banking77" in results:
        r = results["banking77"]
        rows.append({"benchmark": "Banking77 test accuracy (top intent)", "value": r["test_accuracy"], "target": ">= 0.93"})
    if "clinc150" in results:
        r = results["clinc150"]
        rows.append({"benchmark": "CLINC150 in-scope accuracy at threshold", "value": r["in_scope_accuracy"], "target": ">= 0.95"})
        rows.append({"benchmark": "CLINC150 out-of-scope recall at threshold", "value": r["oos_recall"], "target": ">= 0.80"})
        rows.append({"benchmark": "CLINC150 model: reply p95 ms", "value": r["reply_latency"]["p95_ms"], "target": "<= 30"})
        print(table(r["oos_share_sweep"], ["confidence", "neighbour_weight", "oos_share", "threshold", "in_scope_accuracy", "oos_recall", "oos_precision",
                                           "answered_precision"]))
    if "latency" in results:
        r = results["latency"]
        rows.append({"benchmark": "reply p95 ms (decision)", "value": r["decision"]["p95_ms"], "target": "<= 30"})
        rows.append({"benchmark": "reply p95 ms (with the turn logged)", "value": r["with_log"]["p95_ms"], "target": ""})
    print(table(rows, ["benchmark", "value", "target"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
