"""``suite train|evaluate|run recommendation``."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from core import ClassificationScenario, Suite, TextExample, UsageError
from core.cli import options as opt
from core.cli.batch import write_jsonl
from core.training.config import TrainConfig
from plugins.recommendation.data import PositiveRule, load_interactions, load_items, load_profiles, temporal_split

if TYPE_CHECKING:
    from core import Predictor
    from plugins.recommendation.recommender import Recommender

SAMPLES = Path(__file__).parent / "samples"

ItemsFile = Annotated[str, typer.Option("--items", help="Catalogue: CSV/JSONL with id,title,text,tags, or a MovieLens folder.")]
InteractionsFile = Annotated[str, typer.Option("--interactions", help="user,item,time,signal,value rows, or MovieLens ratings.csv.")]
UsersFile = Annotated[Optional[str], typer.Option("--users", help="Optional user,profile rows.")]
Positive = Annotated[str, typer.Option("--positive", help="Which interactions are likes, e.g. purchase,rating>=4 (add click to count clicks).")]
Holdout = Annotated[float, typer.Option("--holdout", help="Each user's latest share of interactions the model is not trained on, so `suite evaluate` can measure it (0: train on all); recommendations use every interaction.")]
Targets = Annotated[int, typer.Option("--targets-per-user", help="Latest likes per user turned into training pairs.")]
Negatives = Annotated[str, typer.Option("--negatives", help="Negative kinds per positive: random, popular, hard (comma-separated).")]
Name = Annotated[Optional[str], typer.Option("--name", help="Registry name of the trained model (default: recommendation).")]
UserOption = Annotated[Optional[str], typer.Option("--user", "-u", help="Recommend for this user.")]
AllUsers = Annotated[bool, typer.Option("--all-users", help="Recommend for every known user (with --out).")]
TopK = Annotated[int, typer.Option("-k", "--top", help="How many items to recommend.")]
OutFile = Annotated[Optional[Path], typer.Option("--output", "--out", "-o", help="Write one JSON line per user here.")]
Boost = Annotated[Optional[list[str]], typer.Option("--boost", help="Business rule TAG=WEIGHT: add WEIGHT to the score of items with that tag (repeatable; negative demotes).")]
CatalogueOverride = Annotated[Optional[str], typer.Option("--items", help="A newer catalogue: new items are embedded now, no retraining.")]
Workers = Annotated[int, typer.Option("--workers", min=1, help="--all-users: this many processes, each with its own copy of the recommender.")]
Resume = Annotated[bool, typer.Option("--resume", help="--all-users: keep the users OUT.partial already holds (after a crash) and do the rest.")]

RECOMMENDATION_DEFAULTS = TrainConfig(auto_epochs=2, example_budget=40_000, learning_rate=5e-5, batch_size=32,
                                      max_length=64, early_stopping_patience=1, baseline=False)


class RecommendationScenario(ClassificationScenario):
    name = "recommendation"
    help = "Rank items by a user's interest, read from the text of what they liked."
    # Validation is each user's latest like before --holdout; the baselines are popularity,
    # item-kNN and TF-IDF in `suite evaluate`; the loss has no classes to weight.
    unused_train_options = frozenset({"validation_fraction", "class_weights", "baseline"})
    head_name = "interest-pair"
    config_table = "recommendation"
    distillable = False  # its pair model ranks; there is no teacher's decision to soften

    # -- train ---------------------------------------------------------------------------
    def train(self, suite: Suite, items: ItemsFile, interactions: InteractionsFile, users: UsersFile = None,
              positive: Positive = "purchase,rating>=4", holdout: Holdout = 0.2, targets_per_user: Targets = 8,
              negatives: Negatives = "random,popular,hard", model: opt.ModelOption = None, name: Name = None,
              resume: opt.Resume = False, training: TrainConfig = RECOMMENDATION_DEFAULTS) -> dict[str, Any]:
        """Fine-tune the interest model on liked items against sampled negatives, then fit the ranker."""
        import numpy as np

        from plugins.recommendation.recommender import Behaviour, Recommender, fit_ranker
        from plugins.recommendation.signals import Signals
        from plugins.recommendation.training import NEGATIVE_KINDS, PairSampler, groups_for_user, hard_negatives

        rule = PositiveRule.parse(positive)
        kinds = [k.strip() for k in negatives.split(",") if k.strip()]
        if not kinds or set(kinds) - set(NEGATIVE_KINDS):
            raise UsageError(f"--negatives: expected some of {', '.join(NEGATIVE_KINDS)}, got '{negatives}'")
        catalogue = load_items(suite, items)
        rows = load_interactions(suite, interactions, items=catalogue)
        profiles = load_profiles(suite, users)
        split = temporal_split(rows, holdout)
        behaviour = Behaviour.of(split.train, rule)
        before, held = behaviour.without_last_like()
        if not held:
            raise UsageError(f"{interactions}: no user has two liked items under --positive {rule.spec()}")
        encoder = self.encoder(suite, model)
        typer.echo(f"{len(catalogue)} items, {len(rows)} interactions ({len(split.train)} for training), "
                   f"{len(behaviour.liked)} users with likes; mining hard negatives...", err=True)
        hard = hard_negatives(catalogue, before, profiles, str(encoder.path)) if "hard" in kinds else {}
        sampler = PairSampler(list(catalogue), Signals.fit(list(catalogue), before.liked, before.item_times,
                                                           before.cutoff).popularity, np.random.default_rng(training.seed))
        train_groups: list[TextExample] = []
        for user, liked in before.liked.items():
            train_groups += groups_for_user(catalogue, liked, behaviour.interacted[user], profiles.get(user, ""), sampler,
                                          targets=targets_per_user, negatives=kinds, hard=hard.get(user, ()))
        valid_groups = [ex for user, item in held.items()
                       for ex in groups_for_user(catalogue, before.liked[user] + [item], behaviour.interacted[user],
                                                profiles.get(user, ""), sampler, targets=1, negatives=kinds,
                                                hard=hard.get(user, ()))]
        typer.echo(f"{len(train_groups)} training groups, {len(valid_groups)} validation groups", err=True)
        result = self.fit(suite, train_groups, valid_groups, model=model, name=name or self.name, config=training,
                          resume=resume, head_options={},
                          validation=f"each user's latest like before the holdout ({len(valid_groups)} groups)")
        if "path" not in result:
            return result
        folder = Path(result["path"])
        recommender = Recommender(self._predictor(suite, folder), catalogue, np.zeros((0, 0), np.float32), before,
                                  Signals.fit(list(catalogue), before.liked, before.item_times, before.cutoff), None, profiles)
        recommender.vectors = recommender.embed([item.model_text() for item in catalogue.values()])
        recommender.ranker, ranker_ndcg = fit_ranker(recommender, held, np.random.default_rng(training.seed))
        # Served with everything known, held-out interactions included: `evaluate` re-derives the split.
        everything = Behaviour.of(rows, rule)
        recommender.behaviour = everything
        recommender.signals = Signals.fit(list(catalogue), everything.liked, everything.item_times, everything.cutoff)
        recommender.save(folder, {"positive": rule.spec(), "holdout": holdout, "encoder": str(encoder.path),
                                  "items": items, "interactions": interactions})
        result.update(items=len(catalogue), users=len(everything.liked), train_groups=len(train_groups),
                      ranker=recommender.ranker.weights, ranker_validation_ndcg10=round(ranker_ndcg, 4))
        return result

    # -- evaluate ------------------------------------------------------------------------
    def evaluate(self, suite: Suite, items: ItemsFile, interactions: InteractionsFile, users: UsersFile = None,
                 model: opt.ModelOption = None) -> dict[str, Any]:
        """The model and the baselines on the held-out latest interactions of each user."""
        from plugins.recommendation.evaluation import (Setup, embedding_scorer, evaluate_methods, item_knn, popularity,
                                                       score_users, tfidf)
        from plugins.recommendation.recommender import Recommender
        from plugins.recommendation.training import zero_shot_embedder

        folder = self._folder(suite, model)
        state = json.loads((folder / "recommendation.json").read_text(encoding="utf-8"))
        if not state.get("holdout"):
            raise UsageError(f"model '{model or self.name}' was trained on every interaction (--holdout 0)",
                             hint="train with --holdout 0.2 to evaluate it on what it has not seen")
        catalogue = load_items(suite, items)
        rows = load_interactions(suite, interactions, items=catalogue)
        setup = Setup.of(catalogue, rows, PositiveRule.parse(state["positive"]), state["holdout"], load_profiles(suite, users))
        if not setup.users:
            raise UsageError(f"{interactions}: no user has a held-out like to evaluate on")
        recommender = Recommender.load(folder, self._predictor(suite, folder), catalogue)
        recommender.behaviour, recommender.signals = setup.behaviour, setup.signals
        methods = {
            "popularity": popularity,
            "item-knn": item_knn,
            "tf-idf": tfidf,
            "zero-shot embedding": embedding_scorer(zero_shot_embedder(state["encoder"], precision="fp32")),
            "interest model (text only)": lambda s: score_users(recommender, s, blended=False),
            "ranker (interest + behaviour)": lambda s: score_users(recommender, s, blended=True),
        }
        table = evaluate_methods(setup, methods, progress=lambda name: typer.echo(f"scoring: {name}", err=True))
        best_other = max(v["ndcg@10"] for k, v in table.items() if k in ("popularity", "item-knn"))
        ours = table["ranker (interest + behaviour)"]["ndcg@10"]
        summary = {"best_non_text_ndcg@10": best_other,
                   "ranker_vs_best_non_text": round(ours / best_other - 1, 4) if best_other else None}
        report = {"model": model or self.name, "users": len(setup.users), "items": len(catalogue),
                  "cold_items": int(len(setup.cold_columns())), "holdout": state["holdout"],
                  "positive": state["positive"], "methods": table, **summary}
        if note := setup.cold_start_note():
            report["cold_start_note"] = note
        run_id = suite.store.start_run(self.name, {"verb": "evaluate", "model": model or self.name, "interactions": interactions})
        suite.store.finish_run(run_id, "completed", metrics={"ndcg@10": ours, **summary})
        return report | {"run_id": run_id}

    # -- run -------------------------------------------------------------------------------
    def run(self, suite: Suite, user: UserOption = None, all_users: AllUsers = False, k: TopK = 10,
            out: OutFile = None, items: CatalogueOverride = None, boost: Boost = None,
            model: opt.ModelOption = None, explain: opt.ExplainFlag = False, workers: Workers = 1,
            resume: Resume = False) -> dict[str, Any]:
        """Recommend for one user (`--user U`) or for everyone (`--all-users --out recs.jsonl`)."""
        if bool(user) == all_users:
            raise UsageError("give --user USER or --all-users")
        rules = parse_boost(boost or [])
        recommender = self.recommender(suite, model, items)
        if user:
            recs = recommender.recommend(liked=recommender.history_of(user), profile=recommender.profiles.get(user, ""),
                                         k=k, exclude=recommender.behaviour.interacted.get(user, ()), boost=rules,
                                         explain=explain)
            result = {"user": user, "recommendations": [r.as_dict() for r in recs]}
            if out:
                write_jsonl([result], out)
            return result
        if out is None:
            raise UsageError("--all-users writes one line per user: give --out FILE")
        from tqdm.auto import tqdm

        from core.cli.bulk import ResumableOutput, chunk_bounds, in_order, settings_for_workers

        everyone = sorted(set(recommender.behaviour.liked) | set(recommender.profiles))
        options = {"model": model, "items": items, "k": k, "boost": boost, "explain": explain}
        with ResumableOutput(out, resume) as written:
            resumed_from = written.done
            bounds = chunk_bounds(len(everyone), written.done, workers, chunk=16)
            if workers > 1:  # each worker process loads its own recommender once
                tasks = [(settings_for_workers(suite.settings), options, everyone[a:b]) for a, b in bounds]
                results = in_order(recommend_users, tasks, workers)
            else:
                results = (user_rows(recommender, everyone[a:b], k, rules, explain) for a, b in bounds)
            bar = tqdm(total=len(everyone), initial=resumed_from, desc="recommending", unit="user", file=sys.stderr,
                       dynamic_ncols=True, mininterval=2.0)
            for (a, b), rows in zip(bounds, results):
                written.append(rows, b - a, bar)
            bar.close()
        return {"users": len(everyone), "out": str(out), "resumed_from": resumed_from, "workers": workers}

    def render(self, verb: str, result: dict[str, Any]) -> str | None:
        if verb == "evaluate":
            return render_table(result)
        if verb == "run" and "recommendations" in result:
            lines = [f"Recommendations for {result['user']}:"]
            lines += [f"{n:>3}. {r['title']}  [{r['item']}]  {r['score']:.3f}  ({r['because']})"
                      + (f"  words: {', '.join(w['word'] for w in r['explanation'])}" if r.get("explanation") else "")
                      for n, r in enumerate(result["recommendations"], 1)]
            return "\n".join(lines)
        return None

    # -- loading ---------------------------------------------------------------------------
    def _folder(self, suite: Suite, model: str | None) -> Path:
        return Path(self.predictor_folder(suite, model))

    def predictor_folder(self, suite: Suite, model: str | None) -> str:
        from core.errors import UnknownNameError

        spec = model or self.name
        if Path(spec).is_dir():
            return spec
        try:
            return suite.store.get_model(spec).path
        except UnknownNameError as exc:
            hint = f"train one with: suite train {self.name} --items FILE --interactions FILE"
            raise UnknownNameError(str(exc), hint=hint) from None

    def _predictor(self, suite: Suite, folder: Path) -> Predictor:
        return self.predictor(suite, str(folder))

    def recommender(self, suite: Suite, model: str | None, items: str | None = None) -> Recommender:
        from plugins.recommendation.recommender import Recommender

        folder = self._folder(suite, model)
        catalogue = load_items(suite, items) if items else None
        return Recommender.load(folder, self._predictor(suite, folder), catalogue)


def user_rows(recommender: Recommender, users: Sequence[str], k: int, rules: dict[str, float],
              explain: bool) -> list[dict[str, Any]]:
    """One ``--all-users`` line per user: their top ``k`` items (and why)."""
    rows = []
    for name in users:
        recs = recommender.recommend(liked=recommender.behaviour.liked.get(name, []),
                                     profile=recommender.profiles.get(name, ""), k=k,
                                     exclude=recommender.behaviour.interacted.get(name, ()), boost=rules,
                                     explain=explain)
        rows.append({"user": name, "recommendations": [r.as_dict() for r in recs]})
    return rows


def recommend_users(settings: dict[str, Any], options: dict[str, Any], users: Sequence[str]) -> list[dict[str, Any]]:
    """``--all-users --workers N``: one task in a worker process."""
    recommender = _worker_recommender(json.dumps(settings, sort_keys=True), options["model"], options["items"])
    return user_rows(recommender, users, options["k"], parse_boost(options["boost"] or []), options["explain"])


@functools.lru_cache(maxsize=1)
def _worker_recommender(settings: str, model: str | None, items: str | None) -> Recommender:
    """The recommender of a worker process, loaded by its first task and kept for the others
    (embedding the catalogue is the expensive part)."""
    from core.models import quiet_transformers
    from core.settings import load_settings

    quiet_transformers()
    suite = Suite.create(load_settings(**json.loads(settings)))
    return suite.scenarios.get("recommendation").recommender(suite, model, items)


def parse_boost(specs: Sequence[str]) -> dict[str, float]:
    rules: dict[str, float] = {}
    for spec in specs:
        tag, sep, weight = spec.rpartition("=")
        try:
            if not sep or not tag.strip():
                raise ValueError
            rules[tag.strip()] = float(weight)
        except ValueError:
            raise UsageError(f"--boost: expected TAG=WEIGHT, e.g. promoted=1.5, got '{spec}'") from None
    return rules


def render_table(report: dict[str, Any]) -> str:
    columns = ["auc", "mrr", "ndcg@5", "ndcg@10", "recall@10", "hitrate@10", "coverage", "cold_hitrate@10"]
    width = max(len(name) for name in report["methods"]) + 2
    lines = [f"{report['users']} users, {report['items']} items ({report['cold_items']} unseen in training); "
             f"holdout {report['holdout']:.0%} latest per user; likes: {report['positive']}",
             "method".ljust(width) + "".join(c.rjust(16) for c in columns)]
    for name, metrics in report["methods"].items():
        lines.append(name.ljust(width) + "".join(f"{metrics[c]:16.4f}" if c in metrics else "n/a".rjust(16)
                                                 for c in columns))
    if report.get("ranker_vs_best_non_text") is not None:
        lines.append(f"ranker vs best non-text baseline (nDCG@10): {report['ranker_vs_best_non_text']:+.1%}")
    if report.get("cold_start_note"):
        lines.append(report["cold_start_note"])
    return "\n".join(lines)
