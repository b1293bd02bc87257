"""Financial PhraseBank with the finance-sentiment scenario: a stratified 80/10/10 split
(seed 13), train on 80%, early-stop on 10%, report accuracy and macro-F1 on the last 10%.

    python -m bench.phrasebank --data ../shared/data/financial_phrasebank --agree AllAgree
    python -m bench.phrasebank --data ../shared/data/financial_phrasebank --agree 50Agree
    python -m bench.phrasebank --data ../shared/data/financial_phrasebank --model all-mpnet-base-v2

The split files are written to a temporary folder (the data is never copied into the
repository); training goes through ``FinanceSentiment.train``, i.e. ``suite train
finance-sentiment --train train.csv --eval val.csv`` with the scenario's defaults.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

from sklearn.model_selection import train_test_split

from bench.common import ensure_installed
from core.app import Suite
from core.settings import load_settings


def read(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (pass --data pointing at the financial_phrasebank folder)")
    raw = path.read_bytes()
    try:  # the release mixes encodings: 50Agree is UTF-8, the others Latin-1
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    rows = []
    for line in text.splitlines():
        sentence, sep, label = line.rpartition("@")
        if sep:
            rows.append((sentence.strip(), label.strip()))
    return rows


def split(rows: list[tuple[str, str]], seed: int = 13) -> dict[str, list[tuple[str, str]]]:
    labels = [label for _, label in rows]
    train, rest = train_test_split(rows, test_size=0.2, stratify=labels, random_state=seed)
    val, test = train_test_split(rest, test_size=0.5, stratify=[label for _, label in rest], random_state=seed)
    return {"train": train, "val": val, "test": test}


def write(path: Path, rows: list[tuple[str, str]]) -> str:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financial_phrasebank"))
    parser.add_argument("--agree", default="AllAgree", choices=["AllAgree", "75Agree", "66Agree", "50Agree"])
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--model", default=None, help="encoder: a catalogue name (installed on first use), folder or id")
    parser.add_argument("--home", type=Path, default=None,
                        help="SUITE_HOME holding catalogue models (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parts = split(read(args.data / f"Sentences_{args.agree}.txt"))

    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        if args.model:
            ensure_installed(args.model, home)
        files = {name: write(Path(scratch) / f"{name}.csv", rows) for name, rows in parts.items()}
        suite = Suite.create(load_settings(home=home))
        scenario = suite.scenarios.get("finance-sentiment")
        from plugins.finance_sentiment.scenarios import FINANCE_DEFAULTS

        changes = {k: v for k, v in {"epochs": args.epochs, "learning_rate": args.lr, "batch_size": args.batch_size}.items() if v}
        config = replace(FINANCE_DEFAULTS, **changes)
        name = f"phrasebank-{(args.model or 'default').replace('/', '-')}"
        trained = scenario.train(suite, train=files["train"], eval=files["val"], model=args.model, name=name,
                                 training=config)
        tested = scenario.evaluate(suite, data=files["test"], model=name)
        suite.close()
    metrics = tested["metrics"]
    result = {
        "agree": args.agree,
        "model": args.model or "default",
        "train_samples_per_second": trained.get("train_samples_per_second"),
        "split": {name: len(rows) for name, rows in parts.items()},
        "epochs_run": trained["metrics"].get("epoch"),
        "train_seconds": trained["train_seconds"],
        "validation_accuracy": trained["metrics"]["accuracy"],
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "head_only_validation": trained.get("before"),
        "inference": (trained.get("inference") or {}).get("precision"),
        "config": config.as_dict(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "config"}, indent=2))
    out = args.out or Path(f"bench/results/phrasebank-{args.agree}{'-' + args.model if args.model else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
