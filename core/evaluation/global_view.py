"""What drives a classifier across an evaluation set, from its per-text explanations.

- **per class**: the words most often among the top reasons of the texts predicted as that
  class, with example texts;
- **confusions**: each (true, predicted) pair the model gets wrong, how often, and the words
  behind the wrong decisions;
- **shortcut words**: a word that is the top reason on several texts of one class and, alone,
  is that class with high probability: the model may decide by it whatever the rest says (a
  ticker that always meant negative in the training data).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.explain import Explainer

TOP_REASONS = 3  # words per text counted as its reasons
SHORTCUT_TEXTS = 5  # a shortcut is the top reason on at least this many texts...
SHORTCUT_PROBABILITY = 0.9  # ...and alone predicts their class at least this surely
SHOWN = 8  # words per class, examples per word


def global_view(predictor: Any, examples: Sequence[Any], method: str) -> dict[str, Any]:
    """Per-class words, confusions and shortcut words over ``examples`` (labelled or not)."""
    explainer = Explainer(predictor, method)
    predictions = predictor.predict([replace(ex, label=None) for ex in examples])
    per_class: dict[str, Counter[str]] = defaultdict(Counter)
    samples: dict[tuple[str, str], list[str]] = defaultdict(list)
    top_word: dict[str, Counter[str]] = defaultdict(Counter)  # word -> classes it was the top reason of
    confusions: dict[tuple[str, str], dict[str, Any]] = {}
    labelled = [(example, prediction) for example, prediction in zip(examples, predictions) if prediction.get("label") is not None]
    found = explainer.word_scores_many([ex for ex, _ in labelled], [p["label"] for _, p in labelled],
                                       [p["score"] for _, p in labelled])
    for (example, prediction), (candidates, scores) in zip(labelled, found):
        label = prediction["label"]
        ranked = [candidates[i].text for i in sorted(range(len(scores)), key=lambda i: -scores[i]) if scores[i] > 0]
        reasons = list(dict.fromkeys(word.lower() for word in ranked[:TOP_REASONS]))
        for word in reasons:
            per_class[label][word] += 1
            if len(samples[(label, word)]) < 2:
                samples[(label, word)].append(example.text)
        if reasons:
            top_word[reasons[0]][label] += 1
        gold = getattr(example, "label", None)
        if isinstance(gold, str) and gold != label:
            confusion = confusions.setdefault((gold, label), {"true": gold, "predicted": label, "count": 0, "words": Counter()})
            confusion["count"] += 1
            confusion["words"].update(reasons)
    classes = {label: [{"word": word, "texts": count, "examples": samples[(label, word)]}
                       for word, count in counts.most_common(SHOWN)] for label, counts in sorted(per_class.items())}
    confused = sorted(confusions.values(), key=lambda c: -c["count"])
    return {
        "method": method,
        "texts": len(examples),
        "classes": classes,
        "confusions": [c | {"words": [w for w, _ in c["words"].most_common(SHOWN)]} for c in confused[:20]],
        "shortcuts": shortcuts(predictor, top_word),
    }


def shortcuts(predictor: Any, top_word: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    """Words that are the top reason of many texts of one class and alone predict it surely."""
    from core.data.types import TextExample

    frequent = {word: classes.most_common(1)[0] for word, classes in top_word.items()
                if classes.most_common(1)[0][1] >= SHORTCUT_TEXTS}
    if not frequent:
        return []
    alone = predictor.predict([TextExample(word) for word in frequent])
    found = []
    for (word, (label, texts)), prediction in zip(frequent.items(), alone):
        probability = prediction.get("scores", {}).get(label, 0.0)
        if prediction.get("label") == label and probability >= SHORTCUT_PROBABILITY:
            found.append({"word": word, "label": label, "texts": texts, "probability_alone": round(probability, 4)})
    return sorted(found, key=lambda s: -s["texts"])
