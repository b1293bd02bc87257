"""The finance monitor against a naive loop, side by side, and its memory as the stream grows.

    python -m bench.finance_monitor --data ../shared/data/financial_phrasebank
    python -m bench.finance_monitor --data ../shared/data/financial_phrasebank --memory-items 200000

The feed: Financial PhraseBank sentences (read from --data, never copied) as news items five
seconds apart, replayed from a JSONL file. Both sides use the same fine-tuned model (the
finance-sentiment scenario trained for one epoch on the bundled demo data unless --model is
given; speed does not depend on how well it was trained):

- suite: ``suite run finance-monitor`` (file source, micro-batched Predictor at the precision
  measured at training time, one transaction per batch, surge detection) on SQLite;
- naive: per item, an HF ``pipeline`` call and one INSERT with its own commit, on SQLite.

With --memory-items N the suite side runs once more over N items in its own process and
reports peak RSS after 25% of them and at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bench.common import in_subprocess, peak_rss_mb
from bench.phrasebank import read

MODULE = "bench.finance_monitor"
SAMPLES = Path(__file__).resolve().parent.parent / "plugins" / "finance_sentiment" / "samples"


def write_feed(sentences: list[str], n: int, path: Path) -> Path:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(n):
            item = {"id": f"pb{i}", "time": (start + timedelta(seconds=5 * i)).isoformat(), "text": sentences[i % len(sentences)],
                    "source": "phrasebank"}
            handle.write(json.dumps(item) + "\n")
    return path


def suite_env(home: Path) -> Any:
    from core.app import Suite
    from core.settings import load_settings

    os.environ["SUITE_HOME"] = str(home)
    return Suite.create(load_settings(home=home))


def train_model(home: Path, layers: int | None = None) -> str:
    """The finance-sentiment model, one epoch on the demo data; with ``layers``, on the
    default encoder cut to that many layers (the memory check: the model's memory is fixed,
    what could grow with the stream is the monitor's state, so a faster model suffices)."""
    from dataclasses import replace

    from plugins.finance_sentiment.scenarios import FINANCE_DEFAULTS

    suite = suite_env(home)
    encoder = None
    if layers:
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        from core.models import packaged_model_path

        source, encoder = packaged_model_path(), str(home / f"encoder-{layers}-layers")
        AutoModel.from_pretrained(source, config=AutoConfig.from_pretrained(source, num_hidden_layers=layers)).save_pretrained(encoder)
        AutoTokenizer.from_pretrained(source).save_pretrained(encoder)
    result = suite.scenarios.get("finance-sentiment").train(
        suite, train=str(SAMPLES / "train.csv"), model=encoder, name=f"finance-{layers or 6}-layers",
        training=replace(FINANCE_DEFAULTS, epochs=1, baseline=False))
    suite.close()
    return result["path"]


def run_suite(feed: Path, model: str, home: Path, checkpoint: int | None = None) -> dict[str, Any]:
    from plugins.finance_sentiment.job import run_monitor
    from plugins.finance_sentiment.scenarios import FinanceSentiment, monitor_config

    suite = suite_env(home)
    config = monitor_config(suite)
    config.sinks = [{"type": "jsonl", "path": str(home / "alerts.jsonl")}]
    predictor = FinanceSentiment().predictor(suite, model)
    marks: dict[str, float] = {}

    if checkpoint:
        from plugins.finance_sentiment import monitor as monitor_module

        original = monitor_module.Monitor.process

        def process(self: Any, source: Any, batch: Any) -> Any:
            result = original(self, source, batch)
            if "at_checkpoint" not in marks and self.stats.read >= checkpoint:
                marks["at_checkpoint"] = peak_rss_mb()
            return result

        monitor_module.Monitor.process = process  # type: ignore[method-assign]
    started = time.perf_counter()
    summary = run_monitor(suite, config, predictor, f"file:{feed}", {}, backtest=False, report=None,
                          idle_timeout=None, max_items=None, live=False)
    seconds = time.perf_counter() - started
    suite.close()
    return {"items": summary["items_read"], "stored": summary["stored"], "seconds": seconds,
            "load_average_1min_at_end": os.getloadavg()[0],
            "items_per_second": summary["items_read"] / seconds, "alerts": len(summary["alerts"]),
            "peak_rss_mb": peak_rss_mb(), "peak_rss_mb_at_checkpoint": marks.get("at_checkpoint"),
            "precision": predictor.precision}


def run_naive(feed: Path, model: str, home: Path, limit: int) -> dict[str, Any]:
    """What a first script does: one pipeline call and one committed INSERT per item."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from core.models import quiet_transformers

    quiet_transformers()
    classify = pipeline("text-classification", model=AutoModelForSequenceClassification.from_pretrained(model, num_labels=3),
                        tokenizer=AutoTokenizer.from_pretrained(model), device=0 if torch.cuda.is_available() else -1)
    db = sqlite3.connect(home / "naive.db")
    db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, time TEXT, text TEXT, label TEXT, score REAL)")
    lines = feed.read_text(encoding="utf-8").splitlines()[:limit]
    classify(["warm up"])
    started = time.perf_counter()
    for line in lines:
        item = json.loads(line)
        result = classify(item["text"])[0]
        db.execute("INSERT OR IGNORE INTO items VALUES (?, ?, ?, ?, ?)", (item["id"], item["time"], item["text"], result["label"], result["score"]))
        db.commit()
    seconds = time.perf_counter() - started
    return {"items": len(lines), "seconds": seconds, "items_per_second": len(lines) / seconds, "peak_rss_mb": peak_rss_mb(),
            "load_average_1min_at_end": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financial_phrasebank"))
    parser.add_argument("--items", type=int, default=20_000, help="items the suite monitor processes")
    parser.add_argument("--naive-items", type=int, default=2_000, help="items the naive loop processes (it is slow)")
    parser.add_argument("--memory-items", type=int, default=0, help="also run this many items for the memory check")
    parser.add_argument("--memory-layers", type=int, default=None,
                        help="run the memory check with the default encoder cut to this many layers (faster; same pipeline)")
    parser.add_argument("--model", help="a trained finance-sentiment model folder (default: train one on the demo data)")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--feed", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/finance_monitor.json"))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.run:  # a child process: one side, its JSON on the last line
        if args.run == "suite":
            print(json.dumps(run_suite(args.feed, args.model, args.home, checkpoint=args.memory_items // 4 or None)))
        else:
            print(json.dumps(run_naive(args.feed, args.model, args.home, args.naive_items)))
        return

    sentences = [text for text, _ in read(args.data / "Sentences_50Agree.txt")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        results: dict[str, Any] = {}
        if args.items:  # --items 0: only the memory check
            model = args.model or train_model(root / "train-home")
            results["model"] = "trained here on the demo data" if not args.model else args.model
            feed = write_feed(sentences, max(args.items, args.naive_items), root / "feed.jsonl")
            for side, home in (("suite", root / "suite-home"), ("naive", root / "naive-home")):
                home.mkdir()
                print(f"running {side} ...", flush=True)
                results[side] = in_subprocess(MODULE, "--run", side, "--feed", str(feed), "--model", model, "--home", str(home),
                                              "--naive-items", str(args.naive_items))
            results["speedup"] = results["suite"]["items_per_second"] / results["naive"]["items_per_second"]
            print(f"suite monitor: {results['suite']['items_per_second']:.1f} items/s over {results['suite']['items']} items "
                  f"({results['suite']['precision']}); naive loop: {results['naive']['items_per_second']:.1f} items/s over "
                  f"{results['naive']['items']} items; speedup {results['speedup']:.2f}x")
        if args.memory_items:
            big = write_feed(sentences, args.memory_items, root / "big.jsonl")
            home = root / "memory-home"
            home.mkdir()
            memory_model = (train_model(root / "memory-train-home", args.memory_layers) if args.memory_layers
                            else args.model or train_model(root / "train-home"))
            print(f"running the memory check over {args.memory_items} items ...", flush=True)
            memory = in_subprocess(MODULE, "--run", "suite", "--feed", str(big), "--model", memory_model, "--home", str(home),
                                   "--memory-items", str(args.memory_items))
            memory["rss_growth"] = memory["peak_rss_mb"] / memory["peak_rss_mb_at_checkpoint"] - 1
            memory["encoder_layers"] = args.memory_layers or 6
            results["memory"] = memory
            print(f"peak RSS after {args.memory_items // 4} items: {memory['peak_rss_mb_at_checkpoint']:.0f} MB; after "
                  f"{memory['items']}: {memory['peak_rss_mb']:.0f} MB (growth {memory['rss_growth']:.1%}); "
                  f"{memory['items_per_second']:.1f} items/s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
