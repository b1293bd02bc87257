"""The Predictor's batches on the CPU: 64 rows each (what it did before) against batches of at
most ``core.predictor.CPU_BATCH_TOKENS`` padded sub-tokens, side by side on the same texts.

    python -m bench.batching --home H --model phrasebank-default                      # PhraseBank 50Agree
    python -m bench.batching --home H --scenario text-classification --model banking77-default \\
        --dataset banking77 --data ../shared/data/banking77

Texts are predicted in calls of 128 texts (the finance monitor's batch) and all at once,
each model at the precision chosen when it was trained and at int8, bf16 (where the
CPU has it) and fp32; three interleaved runs, median texts/s, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import cpu_name, read_banking77, table
from bench.phrasebank import read


def texts_of(dataset: str, data: Path, limit: int) -> list[str]:
    if dataset == "banking77":
        return [example.text for example in read_banking77(data, "test")][:limit]
    return [text for text, _ in read(data / "Sentences_50Agree.txt")][:limit]


def rate(predictor: Any, examples: list[Any], chunk: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(examples), chunk):
        predictor.predict(examples[start : start + chunk])
    return len(examples) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="SUITE_HOME where --model is registered")
    parser.add_argument("--model", required=True)
    parser.add_argument("--scenario", default="finance-sentiment")
    parser.add_argument("--dataset", choices=["phrasebank", "banking77"], default="phrasebank")
    parser.add_argument("--data", type=Path, default=Path("../shared/data/financial_phrasebank"))
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core.app import Suite
    from core.data.types import TextExample
    from core.devices import detect_device
    from core.predictor import CPU_BATCH_TOKENS
    from core.settings import load_settings

    suite = Suite.create(load_settings(home=args.home))
    scenario = suite.scenarios.get(args.scenario)
    examples = [TextExample(text) for text in texts_of(args.dataset, args.data, args.texts)]
    precisions = ["auto", "int8", "fp32"] + (["bf16"] if detect_device().bf16_supported else [])
    rows = []
    for precision in precisions:
        predictor = scenario.predictor(suite, args.model, precision)
        predictor.predict(examples[:64])
        for chunk in (128, len(examples)):
            runs: dict[int, list[float]] = {0: [], CPU_BATCH_TOKENS: []}
            for _ in range(args.repeats):
                for tokens in runs:
                    predictor.batch_tokens = tokens
                    runs[tokens].append(rate(predictor, examples, chunk))
            rows_only, budget = statistics.median(runs[0]), statistics.median(runs[CPU_BATCH_TOKENS])
            rows.append({"precision": precision if precision != "auto" else f"chosen ({predictor.precision})",
                         "texts per call": chunk, "64 rows: texts/s": round(rows_only, 1),
                         f"{CPU_BATCH_TOKENS} tokens: texts/s": round(budget, 1), "ratio": f"{budget / rows_only:.2f}x"})
            print(rows[-1], flush=True)
    suite.close()
    print(f"{args.dataset}, {len(examples)} texts, model {args.model}; {cpu_name()}")
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
