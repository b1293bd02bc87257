"""Chinese sentiment with the catalogue's multilingual encoder, side by side with the default.

    python -m bench.multilingual speed --data ../shared/data/chinese_sentiment
    python -m bench.multilingual accuracy --data ../shared/data/chinese_sentiment --dataset waimai_10k

``speed``: training samples/s and peak RSS on the same 512 short reviews (one epoch, each
configuration in its own process): the default model, multilingual-e5-small with its word
embeddings updated, and with them frozen (the suite's default for such a vocabulary).
``accuracy``: a stratified 80/20 split (seed 13) of one corpus; each model is trained with
``suite train text-classification`` on the 80% (early stopping on a 10% split of it) and
scored with ``suite evaluate`` on the 20% it never saw. Needs ``suite models install
multilingual-e5-small`` in the SUITE_HOME used (a temporary one gets it installed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import ensure_installed, in_subprocess, peak_rss_mb, table

MODULE = "bench.multilingual"
E5 = "multilingual-e5-small"
CONFIGS = {
    "default (all-MiniLM-L6-v2)": ["--model", "default"],
    f"{E5}, embeddings trained": ["--model", E5, "--train-embeddings"],
    f"{E5}, embeddings frozen (default)": ["--model", E5],
}


def read_corpus(folder: Path, name: str) -> list[tuple[str, str]]:
    path = folder / f"{name}.csv"
    if not path.is_file():
        sys.exit(f"error: {path} not found (pass --data pointing at the chinese_sentiment folder)")
    with path.open(encoding="utf-8", newline="") as handle:
        return [(row["review"].strip(), row["label"]) for row in csv.DictReader(handle) if row["review"].strip()]


def stratified_split(rows: list[tuple[str, str]], test_share: float, seed: int) -> tuple[list, list]:
    by_label: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_label[row[1]].append(row)
    rng, train, test = random.Random(seed), [], []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        cut = round(len(group) * test_share)
        test += group[:cut]
        train += group[cut:]
    rng.shuffle(train)
    return train, test


def write_csv(rows: list[tuple[str, str]], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def suite_cli(home: Path, *args: str) -> dict[str, Any]:
    """``suite ARGS --json`` in this process (its peak RSS is this process's)."""
    from typer.testing import CliRunner

    from core.cli.app import build_app
    from core.plugins import make_plugin_manager
    from core.settings import Settings

    settings = Settings(home=home)
    result = CliRunner().invoke(build_app(make_plugin_manager(settings), settings), [*args, "--json"])
    if result.exit_code != 0:
        raise SystemExit(f"suite {' '.join(args)} failed: {result.output[-2000:]}")
    return json.loads(result.stdout)


def one_config(home: Path, train_csv: Path, test_csv: Path | None, options: list[str], epochs: str | None,
               name: str) -> dict[str, Any]:
    started = time.perf_counter()
    extra = ["--epochs", epochs] if epochs else []
    trained = suite_cli(home, "train", "text-classification", "--train", str(train_csv), "--name", name,
                        "--no-baseline", "--activate", "--max-length", "128", *extra, *options)
    out = {"train_samples_per_second": trained["train_samples_per_second"], "train_seconds": trained["train_seconds"],
           "schedule": trained["schedule"], "validation_accuracy": round(trained["metrics"]["accuracy"], 4)}
    if test_csv is not None:
        report = suite_cli(home, "evaluate", "text-classification", "--data", str(test_csv), "--model", name)
        out["test_accuracy"] = round(report["metrics"]["accuracy"], 4)
        out["test_macro_f1"] = round(report["metrics"]["macro_f1"], 4)
        predicted = test_csv.read_text(encoding="utf-8").count("\n") - 1
        began = time.perf_counter()
        suite_cli(home, "predict", "text-classification", "--input", str(test_csv), "--model", name)
        out["predict_texts_per_second"] = round(predicted / (time.perf_counter() - began), 1)
    out["wall_seconds"] = round(time.perf_counter() - started, 1)
    out["peak_rss_mb"] = round(peak_rss_mb())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["speed", "accuracy", "one"])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/chinese_sentiment"))
    parser.add_argument("--dataset", default="waimai_10k", help="waimai_10k or ChnSentiCorp_htl_all")
    parser.add_argument("--epochs", default=None, help="default: the scenario's schedule")
    parser.add_argument("--speed-samples", type=int, default=512)
    parser.add_argument("--home", type=Path, default=None, help="SUITE_HOME to use (default: a temporary one)")
    parser.add_argument("--only", default=None, help="accuracy: only configs whose name contains this")
    # internal: one configuration in its own process
    parser.add_argument("--train-csv", type=Path)
    parser.add_argument("--test-csv", type=Path)
    parser.add_argument("--options", default="")
    parser.add_argument("--name", default="bench")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.mode == "one":
        print(json.dumps(one_config(args.home, args.train_csv, args.test_csv, json.loads(args.options), args.epochs,
                                    args.name)))
        return

    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch) / "home"
        ensure_installed(E5, home)
        rows = read_corpus(args.data, args.dataset)
        train, test = stratified_split(rows, 0.2, seed=13)
        if args.mode == "speed":
            train_csv = write_csv(sorted(train, key=lambda r: len(r[0]))[: args.speed_samples * 2][::2], Path(scratch) / "speed.csv")
            test_csv, epochs = None, "1"
        else:
            train_csv, test_csv, epochs = write_csv(train, Path(scratch) / "train.csv"), write_csv(test, Path(scratch) / "test.csv"), args.epochs
        results = []
        for n, (label, options) in enumerate(CONFIGS.items()):
            if args.mode == "accuracy" and f"{E5}, embeddings trained" == label:
                continue  # the speed run decides between frozen and trained; accuracy runs the default
            if args.only and args.only not in label:
                continue
            call = ["one", "--home", str(home), "--train-csv", str(train_csv), "--options", json.dumps(options),
                    "--name", f"bench{n}"] + (["--test-csv", str(test_csv)] if test_csv else []) + (["--epochs", epochs] if epochs else [])
            print(f"running: {label}", file=sys.stderr, flush=True)
            results.append({"config": label, **in_subprocess(MODULE, *call)})
        print(f"{args.mode} on {args.dataset}: {len(train)} train / {len(test)} test (stratified 80/20, seed 13)"
              + (f", {args.speed_samples} short reviews for 1 epoch" if args.mode == "speed" else ""))
        columns = (["config", "train_samples_per_second", "peak_rss_mb", "train_seconds"] if args.mode == "speed" else
                   ["config", "test_accuracy", "test_macro_f1", "validation_accuracy", "train_samples_per_second",
                    "predict_texts_per_second", "schedule", "wall_seconds", "peak_rss_mb"])
        print(table(results, columns))
        if args.mode == "speed" and len(results) == 3:
            base = results[0]["train_samples_per_second"]
            for row in results[1:]:
                print(f"{row['config']}: {row['train_samples_per_second'] / base:.0%} of the default's samples/s, "
                      f"peak RSS {row['peak_rss_mb']} MB")
        print(json.dumps(results))


if __name__ == "__main__":
    main()
