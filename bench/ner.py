"""Entity F1 (seqeval, test split) of the token-classification scenario, one model after the
other on the same split: WNUT-17 (English, emerging entities) and Weibo NER (Chinese, 2nd
edition: train, dev for early stopping, test).

    python -m bench.ner --dataset wnut17 --data ../shared/data/wnut17
    python -m bench.ner --dataset weibo --data ../shared/data/weibo_ner --models default,multilingual-e5-small

Each model trains in its own process (its peak RSS is its own), with the scenario's defaults
unless ``--epochs``/``--lr``/``--batch-size`` are given. Catalogue models are installed in
the SUITE_HOME used first (``--home``; default: a temporary one).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import ensure_installed, in_subprocess, peak_rss_mb, table

MODULE = "bench.ner"
FILES = {
    "wnut17": ("wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated"),
    "weibo": ("weiboNER_2nd_conll.train", "weiboNER_2nd_conll.dev", "weiboNER_2nd_conll.test"),
}


def one_model(home: Path, files: list[Path], model: str, epochs: float | None, lr: float | None,
              batch_size: int | None) -> dict[str, Any]:
    from core.app import Suite
    from core.cli.verbs import train_defaults
    from core.settings import load_settings

    ensure_installed(model, home)
    suite = Suite.create(load_settings(home=home))
    scenario = suite.scenarios.get("token-classification")
    config = train_defaults(scenario)
    config = replace(config, **{k: v for k, v in {"epochs": epochs, "learning_rate": lr, "batch_size": batch_size}.items()
                                if v is not None})
    name = "ner-" + model.replace("/", "-")
    trained = scenario.train(suite, train=str(files[0]), eval=str(files[1]), format="conll", model=model, name=name,
                             training=config)
    tested = scenario.evaluate(suite, data=str(files[2]), format="conll", model=name)
    suite.close()
    metrics = tested["metrics"]
    return {"model": model, "test_entity_f1": round(metrics["entity_f1"], 4),
            "test_entity_precision": round(metrics["entity_precision"], 4),
            "test_entity_recall": round(metrics["entity_recall"], 4), "dev_entity_f1": round(trained["metrics"]["entity_f1"], 4),
            "epochs_run": trained["metrics"].get("epoch"), "schedule": trained["schedule"],
            "train_seconds": trained["train_seconds"], "train_samples_per_second": trained["train_samples_per_second"],
            "tag_scheme": trained.get("tag_scheme"), "peak_rss_mb": round(peak_rss_mb())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(FILES), default="wnut17")
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: ../shared/data/...)")
    parser.add_argument("--models", default="default,multilingual-e5-small")
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: one model, in its own process
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = args.data or Path("../shared/data") / ("wnut17" if args.dataset == "wnut17" else "weibo_ner")
    files = [folder / name for name in FILES[args.dataset]]
    for path in files:
        if not path.is_file():
            raise SystemExit(f"error: {path} not found (pass --data pointing at the {args.dataset} folder)")
    if args.one:
        print(json.dumps(one_model(args.home, files, args.one, args.epochs, args.lr, args.batch_size)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        home = args.home or Path(scratch)
        rows = []
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            call = ["--dataset", args.dataset, "--data", str(folder), "--home", str(home), "--one", model]
            for flag, value in (("--epochs", args.epochs), ("--lr", args.lr), ("--batch-size", args.batch_size)):
                if value is not None:
                    call += [flag, str(value)]
            rows.append(in_subprocess(MODULE, *call))
    print(f"{args.dataset}: train {files[0].name}, early stopping on {files[1].name}, test {files[2].name}")
    print(table(rows, ["model", "test_entity_f1", "test_entity_precision", "test_entity_recall", "dev_entity_f1",
                       "epochs_run", "train_samples_per_second", "train_seconds", "peak_rss_mb"]))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
