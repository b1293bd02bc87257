"""Whether an explanation's words really drove the decision (ERASER's faithfulness measures).

For each text the model's predicted label and its probability ``p``; each method ranks the
text's candidate words (:class:`core.explain.Explainer`); then, for the top ``k`` words:

- **comprehensiveness**: ``p - p(text without them)``: high when the words were needed;
- **sufficiency**: ``p - p(those words alone)``: low when they are enough on their own;

for k = 1, 3, 5 and 20% of the words, against ``k`` words drawn at random (the baseline a
method must beat), with the time one explanation takes when the whole sample is explained at
once (what ``--explain`` on a file costs). The method used by default is the fastest that keeps
:data:`KEEP` of the most faithful one's lift over random words (comprehensiveness at 20%).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.explain import METHODS, Explainer, only, without_all

KS: tuple[int | float, ...] = (1, 3, 5, 0.2)
# The share of the most faithful method's lift over random words a faster method must keep. A
# lift, not an absolute margin: on short texts random words already remove much of a 77-way
# classifier's confidence (Banking77: 0.21 at 20%, PhraseBank: 0.04), so equal probability
# margins meant different things on different tasks.
KEEP = 0.75
CHOICE_K = "20%"


def k_name(k: int | float) -> str:
    return f"{round(k * 100)}%" if isinstance(k, float) else str(k)


def k_words(k: int | float, n: int) -> int:
    return min(n, max(1, round(k * n)) if isinstance(k, float) else k)


def faithfulness(predictor: Any, examples: Sequence[Any], methods: Sequence[str] = METHODS,
                 ks: Sequence[int | float] = KS, seed: int = 13) -> dict[str, Any]:
    """The measures above for ``methods`` and the random baseline, averaged over the examples
    that have at least two candidate words; and the method chosen by :func:`choose`."""
    rng = random.Random(seed)
    explainers = {method: Explainer(predictor, method) for method in methods}
    first = predictor.predict([replace(ex, label=None) for ex in examples])
    sums: dict[str, dict[str, dict[str, float]]] = {
        name: {"comprehensiveness": {k_name(k): 0.0 for k in ks}, "sufficiency": {k_name(k): 0.0 for k in ks}}
        for name in [*methods, "random"]}
    explained = [i for i, p in enumerate(first) if p.get("label") is not None]
    seconds, found = {}, {}
    for method, explainer in explainers.items():  # each method over the whole sample, as --explain runs it
        started = time.perf_counter()
        found[method] = explainer.word_scores_many([examples[i] for i in explained], [first[i]["label"] for i in explained],
                                                   [first[i]["score"] for i in explained])
        seconds[method] = time.perf_counter() - started
    counted = 0
    for position, index in enumerate(explained):
        example, label, p = examples[index], first[index]["label"], first[index]["score"]
        rankings = {}
        for method in methods:
            candidates, scores = found[method][position]
            rankings[method] = [candidates[i] for i in sorted(range(len(candidates)), key=lambda i: -scores[i])]
        candidates = next(iter(rankings.values()))
        if len(candidates) < 2:
            continue
        counted += 1
        rankings["random"] = rng.sample(candidates, len(candidates))
        variants, slots = [], []
        for name, ranked in rankings.items():
            for k in ks:
                top = ranked[: k_words(k, len(ranked))]
                variants += [without_all(example.text, top), only(top)]
                slots += [(name, "comprehensiveness", k_name(k)), (name, "sufficiency", k_name(k))]
        for (name, measure, k), value in zip(slots, explainers[methods[0]].probabilities(example, variants, label)):
            sums[name][measure][k] += p - value
    report: dict[str, Any] = {"texts": counted, "ks": [k_name(k) for k in ks], "methods": {}}
    for name, measures in sums.items():
        report["methods"][name] = {measure: {k: round(v / max(counted, 1), 4) for k, v in values.items()}
                                   for measure, values in measures.items()}
        if name in seconds:
            report["methods"][name]["ms_per_explanation"] = round(1000 * seconds[name] / max(len(examples), 1), 1)
    report["chosen"] = choose(report)
    return report


def choose(report: dict[str, Any]) -> str:
    """The fastest method that keeps :data:`KEEP` of the best lift over random words in
    comprehensiveness at 20%."""
    measured = {name: m for name, m in report["methods"].items() if name != "random"}
    floor = report["methods"].get("random", {}).get("comprehensiveness", {}).get(CHOICE_K, 0.0)
    lift = {name: m["comprehensiveness"].get(CHOICE_K, 0.0) - floor for name, m in measured.items()}
    best = max(lift.values())
    close = [name for name in measured if lift[name] >= KEEP * best]
    return min(close, key=lambda name: measured[name]["ms_per_explanation"])


TRAINING_SAMPLE = 200  # validation texts measured at the end of training (64 gave a choice that flipped on Banking77)
# Measured at training: occlusion and the gradient. Integrated gradients costs about 30 forward
# passes a text and is never the faster choice; `suite evaluate --explanations` measures all three.
TRAINING_METHODS = ("occlusion", "gradient")


def choose_at_training(head: Any, model: Any, tokenizer: Any, examples: Sequence[Any], max_length: int,
                       precision: str) -> dict[str, Any] | None:
    """The explanation method a newly trained model starts with, measured like its precision:
    faithfulness on a seeded sample of the validation texts (the model at ``precision``), the
    choice of :func:`choose`. None for heads that explain otherwise (tags, several labels)."""
    from core.predictor import Predictor

    if head.example_kind != "text" or getattr(head, "multi_label", False) or not examples:
        return None
    predictor = Predictor(head, model, tokenizer, max_length=max_length, precision=precision)
    sample = random.Random(13).sample(list(examples), min(TRAINING_SAMPLE, len(examples)))
    report = faithfulness(predictor, [replace(ex, label=None) for ex in sample], methods=TRAINING_METHODS)
    if not report["texts"]:
        return None
    return {"method": report["chosen"], "measured_on": report["texts"], "when": "training",
            "comprehensiveness_20%": {name: report["methods"][name]["comprehensiveness"][CHOICE_K]
                                      for name in (*TRAINING_METHODS, "random")}}
