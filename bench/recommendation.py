"""Recommendation on MovieLens (latest-small): the evaluation table with every baseline, the
latency of ranking 100 candidates for one user, and a batch run over all users, each through
the ``recommendation`` scenario as a user runs it.

    python -m bench.recommendation --data ../shared/data/movielens_latest_small
    python -m bench.recommendation --data ../shared/data/movielens_latest_small --model all-mpnet-base-v2 --home H

Protocol (documented in docs/benchmarks.md): items are the MovieLens folder (title, genres and
the users' tags), likes are ratings >= 4, each user's latest 20% of ratings are held out, every
method ranks the whole catalogue minus what the user rated in training. The dataset is read at
run time, never copied.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ensure_installed, peak_rss_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the movielens_latest_small folder")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--targets-per-user", type=int, default=8)
    parser.add_argument("--negatives", default="random,popular,hard")
    parser.add_argument("--freeze-layers", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--latency-runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--model", default=None, help="encoder of the interest model: a catalogue name (installed "
                        "into --home on first use), folder or id; default: the packaged one")
    parser.add_argument("--home", type=Path, default=None, help="SUITE_HOME (default: a new temporary one)")
    args = parser.parse_args()
    ratings = args.data / "ratings.csv"
    if not ratings.is_file():
        raise SystemExit(f"error: {ratings} not found (pass --data pointing at movielens_latest_small)")

    from core.app import Suite
    from core.models import quiet_transformers
    from core.settings import Settings
    from plugins.recommendation.scenario import RECOMMENDATION_DEFAULTS, render_table

    quiet_transformers()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-rec-"))
    if args.model:
        ensure_installed(args.model, home)
    suite = Suite.create(Settings(home=home))
    scenario = suite.scenarios.get("recommendation")
    config = replace(RECOMMENDATION_DEFAULTS, epochs=args.epochs, freeze_layers=args.freeze_layers,
                     max_length=args.max_length, learning_rate=args.lr)
    started = time.perf_counter()
    trained = scenario.train(suite, items=str(args.data), interactions=str(ratings), positive="rating>=4",
                             holdout=0.2, targets_per_user=args.targets_per_user, negatives=args.negatives,
                             model=args.model, training=config)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    report = scenario.evaluate(suite, items=str(args.data), interactions=str(ratings))
    evaluate_seconds = time.perf_counter() - started
    print(render_table(report), flush=True)

    recommender = scenario.recommender(suite, None)
    rng = np.random.default_rng(0)
    users = sorted(recommender.behaviour.liked)
    recommender.recommend(liked=recommender.behaviour.liked[users[0]], k=10, candidates=recommender.item_ids[:100])
    latencies = []
    for run in range(args.latency_runs):
        user = users[int(rng.integers(len(users)))]
        touched = recommender.behaviour.interacted[user]
        pool = [i for i in recommender.item_ids if i not in touched]
        candidates = [pool[int(j)] for j in rng.choice(len(pool), 100, replace=False)]
        began = time.perf_counter()
        recommender.recommend(liked=recommender.history_of(user), k=10, candidates=candidates)
        latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    started = time.perf_counter()
    batch = scenario.run(suite, all_users=True, k=10, out=home / "recs.jsonl")
    batch_seconds = time.perf_counter() - started
    result: dict[str, Any] = {
        "train": {k: trained[k] for k in ("train_seconds", "train_samples_per_second", "train_groups", "metrics", "ranker", "inference")},
        "train_wall_seconds": round(train_seconds, 1),
        "evaluate_seconds": round(evaluate_seconds, 1),
        "evaluation": report,
        "rank_100_candidates_ms": {"p50": round(statistics.median(latencies), 2),
                                   "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2), "runs": len(latencies)},
        "all_users": {"users": batch["users"], "seconds": round(batch_seconds, 1)},
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "config": vars(args) | {"data": str(args.data), "out": str(args.out) if args.out else None},
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "evaluation"}, default=str))


if __name__ == "__main__":
    main()
