"""WNUT-17 (emerging entities) with the token-classification scenario: train on the train
split, early-stop on dev, report entity-level F1 (seqeval) on the test split.

    python -m bench.wnut17 --data ../shared/data/wnut17
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from core.app import Suite
from core.settings import load_settings
from core.training.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/wnut17"))
    parser.add_argument("--epochs", type=float, default=12)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("bench/results/wnut17.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    files = {name: args.data / name for name in ("wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated")}
    for path in files.values():
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (pass --data pointing at the wnut17 folder)")

    with tempfile.TemporaryDirectory() as home:
        suite = Suite.create(load_settings(home=Path(home)))
        scenario = suite.scenarios.get("token-classification")
        config = TrainConfig(epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size, early_stopping_patience=3)
        trained = scenario.train(suite, train=str(files["wnut17train.conll"]), eval=str(files["emerging.dev.conll"]),
                                 format="conll", training=config)
        tested = scenario.evaluate(suite, data=str(files["emerging.test.annotated"]), format="conll")
        suite.close()
    metrics = tested["metrics"]
    result = {
        "epochs_run": trained["metrics"].get("epoch"),
        "train_seconds": trained["train_seconds"],
        "train_samples_per_second": trained["train_samples_per_second"],
        "dev_entity_f1": trained["metrics"]["entity_f1"],
        "test_entity_f1": metrics["entity_f1"],
        "test_entity_precision": metrics["entity_precision"],
        "test_entity_recall": metrics["entity_recall"],
        "test_token_accuracy": metrics["token_accuracy"],
        "config": config.as_dict(),
    }
    print(metrics["token_report"])
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
