"""Explanations: how faithful each method is, and what it costs, measured side by side.

    python -m bench.explanations --dataset phrasebank --home H --model phrasebank-default
    python -m bench.explanations --dataset banking77 --model bench/results/banking77-model

``--model``: a registered name in ``--home`` (``python -m bench.phrasebank --home H``
registers ``phrasebank-default``) or a fine-tuned model folder (``python -m bench.banking77
--only c`` writes ``bench/results/banking77-model``). Texts: the PhraseBank AllAgree test
split of bench.phrasebank (stratified 80/10/10, seed 13) or the Banking77 test set.

1. Faithfulness (``core.evaluation.faithfulness``, what ``suite evaluate --explanations``
   runs) on a seeded sample: comprehensiveness and sufficiency at k = 1, 3, 5, 20% for
   occlusion, integrated gradients (16 steps) and random words.
2. Cost of one explanation in forward passes: the median time of explaining a text of about
   20 words over the median time of predicting that text alone.
3. ``--explain`` on 1,000 texts: predicting them with explanations (what ``suite predict
   --explain`` runs: ``Predictor.predict_explained``) over predicting them plainly, the same
   Predictor, one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import read_banking77, table


def texts_of(dataset: str, data: Path) -> list[str]:
    if dataset == "banking77":
        return [ex.text for ex in read_banking77(data, "test")]
    from bench.phrasebank import read, split

    return [text for text, _ in split(read(data / "Sentences_AllAgree.txt"))["test"]]


def load_predictor(model: str, home: Path | None) -> Any:
    from core.app import Suite
    from core.predictor import Predictor
    from core.settings import load_settings

    suite = Suite.create(load_settings(home=home) if home else load_settings())
    folder = Path(model) if Path(model).is_dir() else Path(suite.store.get_model(model).path)
    return Predictor.load(folder, suite.heads)


def median_seconds(call: Any, repeats: int) -> float:
    call()
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def cost_in_forward_passes(predictor: Any, texts: list[str], repeats: int = 5) -> dict[str, Any]:
    """Explaining texts of about 20 words, in single-text forward passes."""
    from core.data.types import TextExample
    from core.explain import METHODS, Explainer
    from core.lexical import words

    long = sorted(texts, key=lambda t: abs(len(words(t)) - 20))[:5]
    forward = statistics.mean(median_seconds(lambda t=t: predictor.predict([TextExample(t)]), repeats) for t in long)
    out: dict[str, Any] = {"texts": len(long), "mean_words": round(statistics.mean(len(words(t)) for t in long), 1),
                           "forward_ms": round(1000 * forward, 2)}
    for method in METHODS:
        explainer = Explainer(predictor, method)
        seconds = statistics.mean(median_seconds(lambda t=t: explainer.explain(TextExample(t)), repeats) for t in long)
        out[method] = {"ms": round(1000 * seconds, 1), "forward_passes": round(seconds / forward, 1)}
    return out


def batch_overhead(predictor: Any, texts: list[str], n: int = 1000) -> dict[str, Any]:
    """``suite predict --explain`` on ``n`` texts (predictions and explanations, as
    ``Predictor.predict_explained`` gives them) against ``suite predict``, per method; each timed
    once warm, plain prediction between the methods so drift shows."""
    from core.data.types import TextExample
    from core.explain import METHODS, Explainer

    examples = [TextExample(t) for t in (texts * (n // len(texts) + 1))[:n]]
    predictor.predict(examples[:64])  # warm-up
    plains = [median_seconds(lambda: predictor.predict(examples), 1)]
    out: dict[str, Any] = {"texts": n}
    for method in METHODS:
        explainer = Explainer(predictor, method)
        subset = examples[:100] if method == "integrated-gradients" else examples  # IG: 100 texts, scaled
        explainer.predict_explained(subset[:64])  # warm-up
        started = time.perf_counter()
        explainer.predict_explained(subset)
        seconds = (time.perf_counter() - started) * len(examples) / len(subset)
        plains.append(median_seconds(lambda: predictor.predict(examples), 1))
        plain = statistics.mean(plains[-2:])
        out[method] = {"seconds": round(seconds, 2), "x_plain": round(seconds / plain, 2), "measured_on": len(subset)}
    out["plain_seconds"] = round(statistics.mean(plains), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=["phrasebank", "banking77"], required=True)
    parser.add_argument("--data", type=Path, default=None, help="the dataset's folder (default: ../shared/data/...)")
    parser.add_argument("--model", required=True, help="a registered model in --home, or a model folder")
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--sample", type=int, default=200, help="texts measured for faithfulness")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core.data.types import TextExample
    from core.evaluation.faithfulness import faithfulness
    from core.explain import METHODS
    from core.models import quiet_transformers

    quiet_transformers()
    data = args.data or Path("../shared/data") / ("financial_phrasebank" if args.dataset == "phrasebank" else "banking77")
    texts = texts_of(args.dataset, data)
    predictor = load_predictor(args.model, args.home)
    sample = random.Random(13).sample(texts, min(args.sample, len(texts)))
    started = time.perf_counter()
    faithful = faithfulness(predictor, [TextExample(t) for t in sample])
    result = {"dataset": args.dataset, "model": args.model, "precision": predictor.precision,
              "faithfulness": faithful, "faithfulness_seconds": round(time.perf_counter() - started, 1),
              "cost": cost_in_forward_passes(predictor, texts), "batch": batch_overhead(predictor, texts)}
    methods = faithful["methods"]
    rows = [{"method": name, **{f"comp@{k}": m["comprehensiveness"][k] for k in faithful["ks"]},
             **{f"suff@{k}": m["sufficiency"][k] for k in faithful["ks"]},
             "ms/explanation": m.get("ms_per_explanation", "")} for name, m in methods.items()]
    print(f"{args.dataset}: {faithful['texts']} texts, model {args.model} ({predictor.precision})")
    print(table(rows, list(rows[0])))
    for name in METHODS:
        ratio = methods[name]["comprehensiveness"]["20%"] / max(methods["random"]["comprehensiveness"]["20%"], 1e-9)
        result.setdefault("comprehensiveness_20_vs_random", {})[name] = round(ratio, 2)
        print(f"{name}: comprehensiveness@20% {ratio:.2f}x random; one explanation of ~{result['cost']['mean_words']} "
              f"words = {result['cost'][name]['forward_passes']} forward passes; --explain on 1,000 texts = "
              f"{result['batch'][name]['x_plain']}x plain prediction")
    print(f"chosen: {faithful['chosen']}")
    out = args.out or Path(f"bench/results/explanations-{args.dataset}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
