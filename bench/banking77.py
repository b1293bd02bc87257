"""Banking77 side by side: the design document's recipe (a), HF Trainer defaults (b) and the
suite (c), the same model and epochs; then HF pipeline inference against the Predictor.

    python -m bench.banking77 --data ../shared/data/banking77 --epochs 3
    python -m bench.banking77 --only c --model all-mpnet-base-v2 --home /tmp/mphome

``--model`` (a catalogue name, installed into ``--home`` on first use, a folder or an id) is
the encoder of the suite's run (c); (a), (b) and the pipeline keep the packaged default.

Each training configuration runs in its own process (its peak RSS is its own). ``--limit N``
trains (a) and (b) on the first N examples only: their samples/s stays comparable while the
run takes minutes instead of an hour; their accuracy is then not reported.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ensure_installed, in_subprocess, peak_rss_mb, read_banking77, table

MODULE = "bench.banking77"


def _labels(examples: list[Any]) -> list[str]:
    return sorted({ex.label for ex in examples})


def _hf_accuracy(model: Any, tokenizer: Any, test: list[Any], labels: list[str]) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.inference_mode():
        for start in range(0, len(test), 64):
            chunk = test[start : start + 64]
            batch = tokenizer([ex.text for ex in chunk], padding=True, truncation=True, max_length=128, return_tensors="pt")
            predicted = model(**batch).logits.argmax(-1).tolist()
            correct += sum(labels[p] == ex.label for p, ex in zip(predicted, chunk))
    return correct / len(test)


def run_recipe(data: Path, epochs: float, limit: int | None) -> dict[str, Any]:
    """(a) §5.2 of the design document: pad to 128, batch 16, AdamW 2e-5, a plain fp32 loop."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.models import packaged_model_path, quiet_transformers

    quiet_transformers()
    torch.manual_seed(0)
    train, test = read_banking77(data, "train", limit), read_banking77(data, "test")
    labels = _labels(read_banking77(data, "train"))
    path = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
    enc = tokenizer([ex.text for ex in train], padding="max_length", truncation=True, max_length=128, return_tensors="pt")
    y = torch.tensor([labels.index(ex.label) for ex in train])
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(enc["input_ids"], enc["attention_mask"], y), batch_size=16, shuffle=True
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    model.train()
    started = time.perf_counter()
    for _ in range(int(epochs)):
        for input_ids, mask, labels_batch in loader:
            loss = model(input_ids=input_ids, attention_mask=mask, labels=labels_batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    seconds = time.perf_counter() - started
    accuracy = None if limit else _hf_accuracy(model, tokenizer, test, labels)
    return _result("a: design recipe", len(train) * int(epochs), seconds, accuracy)


def run_trainer(data: Path, epochs: float, limit: int | None) -> dict[str, Any]:
    """(b) HF Trainer, DataCollatorWithPadding, fp32, defaults (lr 5e-5, batch 32)."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from core.models import packaged_model_path, quiet_transformers

    quiet_transformers()
    train, test = read_banking77(data, "train", limit), read_banking77(data, "test")
    labels = _labels(read_banking77(data, "train"))
    path = packaged_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(labels))
    enc = tokenizer([ex.text for ex in train], truncation=True, max_length=128)
    rows = [{"input_ids": i, "attention_mask": m, "labels": labels.index(ex.label)}
            for i, m, ex in zip(enc["input_ids"], enc["attention_mask"], train)]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, num_train_epochs=epochs, per_device_train_batch_size=32,
                                 learning_rate=5e-5, use_cpu=not torch.cuda.is_available(), report_to=[],
                                 save_strategy="no", eval_strategy="no", disable_tqdm=True, logging_strategy="no")
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer))
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    accuracy = None if limit else _hf_accuracy(model, tokenizer, test, labels)
    return _result("b: HF Trainer defaults", len(train) * int(epochs), seconds, accuracy)


def run_suite(data: Path, epochs: float, model_dir: Path, model: str | None = None,
              home: Path | None = None) -> dict[str, Any]:
    """(c) the suite with its defaults: what ``suite train text-classification`` runs."""
    from core.heads.classification import SequenceClassificationHead
    from core.models import quiet_transformers, resolve_model
    from core.predictor import choose_precision, save_model
    from core.training.config import TrainConfig
    from core.training.engine import fine_tune, stratified_split

    quiet_transformers()
    examples, test = read_banking77(data, "train"), read_banking77(data, "test")
    config = TrainConfig(epochs=epochs)
    train, held, _ = stratified_split(examples, lambda ex: ex.label, config.validation_fraction, config.seed)
    head = SequenceClassificationHead(_labels(examples))
    if model and home:
        ensure_installed(model, home)
    encoder = resolve_model(model, offline=True, home=home)
    with tempfile.TemporaryDirectory() as out:
        outcome = fine_tune(head, str(encoder.path), train, held, config, Path(out), progress=False)
    inference = choose_precision(head, outcome.model, outcome.tokenizer, held, config.max_length)
    save_model(outcome.model, outcome.tokenizer, head, model_dir, config.max_length, inference=inference)
    accuracy = _predictor_accuracy(model_dir, test, "auto")["accuracy"]
    result = _result("c: suite", len(train) * int(epochs), outcome.train_seconds, accuracy)
    result["precision"] = outcome.precision
    result["model"] = encoder.spec
    result["inference"] = inference
    return result


def _predictor(model_dir: Path, precision: str) -> Any:
    from core.app import Suite
    from core.predictor import Predictor

    return Predictor.load(model_dir, Suite.create(load_entrypoints=False).heads, precision=precision)


def _predictor_accuracy(model_dir: Path, test: list[Any], precision: str) -> dict[str, Any]:
    predictor = _predictor(model_dir, precision)
    started = time.perf_counter()
    predictions = predictor.predict(test)
    seconds = time.perf_counter() - started
    correct = sum(p["label"] == ex.label for p, ex in zip(predictions, test))
    return {"accuracy": correct / len(test), "texts_per_second": len(test) / seconds, "precision": predictor.precision}


def run_inference(data: Path, model_dir: Path, repeats: int = 3) -> dict[str, Any]:
    """HF pipeline (batch 32) against the Predictor on the test set, in one process, runs
    interleaved and the median of each kept (this machine's timings vary by 10-20%)."""
    import statistics

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from core.models import packaged_model_path, quiet_transformers

    quiet_transformers()
    test = read_banking77(data, "test")
    texts = [ex.text for ex in test]
    # The pipeline's speed does not depend on training: the same encoder with 77 outputs.
    path = packaged_model_path()
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=77)
    classify = pipeline("text-classification", model=model, tokenizer=AutoTokenizer.from_pretrained(path),
                        device=0 if torch.cuda.is_available() else -1)
    predictor = _predictor(model_dir, "auto")
    predictor.predict(test[:100])
    classify(texts[:100], batch_size=32)
    pipe_runs, predictor_runs = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        classify(texts, batch_size=32)
        pipe_runs.append(len(texts) / (time.perf_counter() - started))
        started = time.perf_counter()
        predictions = predictor.predict(test)
        predictor_runs.append(len(texts) / (time.perf_counter() - started))
    accuracy = sum(p["label"] == ex.label for p, ex in zip(predictions, test)) / len(test)
    fp32 = _predictor_accuracy(model_dir, test, "fp32")
    return {
        "pipeline_texts_per_second": statistics.median(pipe_runs),
        "predictor": {"accuracy": accuracy, "texts_per_second": statistics.median(predictor_runs), "precision": predictor.precision},
        "predictor_fp32": fp32,
        "runs": {"pipeline": pipe_runs, "predictor": predictor_runs},
    }


def _result(name: str, samples: int, seconds: float, accuracy: float | None) -> dict[str, Any]:
    return {"config": name, "samples_per_second": samples / seconds, "wall_seconds": seconds,
            "peak_rss_mb": peak_rss_mb(), "test_accuracy": accuracy if accuracy is not None else "n/a"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/banking77"))
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train (a) and (b) on this many examples only")
    parser.add_argument("--only", default="a,b,c,inference")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, default=Path("bench/results/banking77-model"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/banking77.json"))
    parser.add_argument("--model", default=None, help="encoder of the suite's run (c); default: the packaged one")
    parser.add_argument("--home", type=Path, default=None, help="SUITE_HOME holding catalogue models")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    if args.run:  # a child process: one configuration, its JSON on the last line
        runs = {"a": lambda: run_recipe(args.data, args.epochs, args.limit),
                "b": lambda: run_trainer(args.data, args.epochs, args.limit),
                "c": lambda: run_suite(args.data, args.epochs, args.model_dir, args.model, args.home),
                "inference": lambda: run_inference(args.data, args.model_dir)}
        print(json.dumps(runs[args.run]()))
        return

    common = ["--data", str(args.data), "--epochs", str(args.epochs), "--model-dir", str(args.model_dir)]
    common += (["--model", args.model] if args.model else []) + (["--home", str(args.home)] if args.home else [])
    limit = ["--limit", str(args.limit)] if args.limit else []
    results: dict[str, Any] = {"epochs": args.epochs, "limit": args.limit, "training": []}
    for key in args.only.split(","):
        print(f"running {key} ...", flush=True)
        if key == "inference":
            results["inference"] = in_subprocess(MODULE, "--run", key, *common)
        else:
            results["training"].append(in_subprocess(MODULE, "--run", key, *common, *limit))
    rows = results["training"]
    by_name = {r["config"][0]: r for r in rows}
    if "c" in by_name:
        for base in ("a", "b"):
            if base in by_name:
                results[f"speedup_vs_{base}"] = by_name["c"]["samples_per_second"] / by_name[base]["samples_per_second"]
    print(table(rows, ["config", "samples_per_second", "wall_seconds", "peak_rss_mb", "test_accuracy"]))
    for key in ("speedup_vs_a", "speedup_vs_b"):
        if key in results:
            print(f"{key}: {results[key]:.2f}x")
    if "inference" in results:
        inf = results["inference"]
        ratio = inf["predictor"]["texts_per_second"] / inf["pipeline_texts_per_second"]
        results["predictor_speedup_vs_pipeline"] = ratio
        print(f"inference: pipeline {inf['pipeline_texts_per_second']:.1f} texts/s, predictor "
              f"({inf['predictor']['precision']}) {inf['predictor']['texts_per_second']:.1f} texts/s ({ratio:.2f}x); accuracy "
              f"{inf['predictor']['accuracy']:.4f} vs fp32 {inf['predictor_fp32']['accuracy']:.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
