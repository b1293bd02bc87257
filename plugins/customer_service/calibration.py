"""Out-of-scope detection: temperature scaling, a threshold chosen for a target precision,
and the per-text decision (answer, or not sure).

Fine-tuned classifiers are over-confident, so a raw softmax of 0.9 means little. One
temperature fitted on held-out data (Guo et al., 2017) makes confidences honest without
changing which intent wins; the threshold is then chosen on the same held-out data as the
lowest confidence at which the answers given are still correct ``target`` of the time, so it
answers as much as it can at that precision.

Given the held-out texts' similarity to the training texts of each intent (``familiarity.py``),
two more things are fitted on the same held-out texts: the weight of a nearest-neighbour vote
added to the classifier's log-probabilities (kept only when it puts significantly more texts
right), and, when the answers hold enough right and wrong ones (:data:`SCORER_MIN` each), the
confidence of an answer as a logistic regression of whether it is right on two scores, the
classifier's energy (the log-sum-exp of its logits: low for texts unlike any intent) and the
familiarity (the similarity to the nearest in-scope training text), weighted as the
threshold's are. Everything here is plain numpy and scikit-learn, unit-testable on synthetic scores.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_FILE = "customer_service.json"
MIN_T, MAX_T = 0.05, 20.0
UNCALIBRATED_THRESHOLD = 0.5
SCORER_MIN = 10  # right and wrong held-out answers each, to fit the answer scorer
# Weights of the nearest-neighbour vote tried on validation. Measured on CLINC150: validation
# chose 20, which raised top-intent in-scope accuracy on test from 0.958 to 0.966.
NEIGHBOUR_WEIGHTS = (0.0, 5.0, 10.0, 20.0)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return np.exp(log_softmax(np.asarray(logits, dtype=np.float64) / temperature))


def energy(logits: np.ndarray) -> np.ndarray:
    """log-sum-exp of each row's logits (Liu et al., 2020): the classifier's total evidence."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=-1)
    return top + np.log(np.exp(z - top[..., None]).sum(axis=-1))


def nll(logits: np.ndarray, targets: Sequence[int], temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``targets`` under ``softmax(logits / T)``."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    return float(-logp[np.arange(len(logp)), np.asarray(targets)].mean())


def fit_temperature(logits: np.ndarray, targets: Sequence[int], *, lowest: float = MIN_T) -> float:
    """The T in [lowest, 20] minimising held-out NLL (1.0 when there is nothing to fit on)."""
    from scipy.optimize import minimize_scalar

    if len(targets) == 0:
        return 1.0
    result = minimize_scalar(lambda log_t: nll(logits, targets, float(np.exp(log_t))),
                             bounds=(np.log(lowest), np.log(MAX_T)), method="bounded", options={"xatol": 1e-4})
    best = float(np.exp(result.x))
    return best if nll(logits, targets, best) <= nll(logits, targets, 1.0) else 1.0


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float  # of the answers given at the threshold, on held-out data
    coverage: float  # share of the in-scope predictions answered
    met: bool  # whether ``precision`` reaches the target


def choose_threshold(confidences: Sequence[float], correct: Sequence[bool], target: float,
                     weights: Sequence[float] | None = None) -> ThresholdChoice:
    """The lowest confidence at which the answers above it are correct ``target`` of the time.

    ``confidences`` and ``correct`` describe held-out texts the model gave an in-scope intent
    (an out-of-scope text given an intent counts as wrong); ``weights`` let some texts count
    more (out-of-scope ones, when live traffic has more of them than the validation data).
    When no threshold reaches the target, the one with the best precision is taken and
    ``met`` is False.
    """
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    w = np.ones_like(conf) if weights is None else np.asarray(weights, dtype=np.float64)
    if conf.size == 0:
        return ThresholdChoice(UNCALIBRATED_THRESHOLD, 0.0, 0.0, False)
    order = np.argsort(-conf, kind="stable")
    conf, ok, w = conf[order], ok[order], w[order]
    precision = np.cumsum(w * ok) / np.cumsum(w)
    # Only the last position of a run of equal confidences is a real cut.
    cuts = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))
    meeting = cuts[precision[cuts] >= target - 1e-12]
    met = meeting.size > 0
    best_precision = precision[cuts].max()
    k = int(meeting.max()) if met else int(cuts[precision[cuts] >= best_precision - 1e-12].max())
    return ThresholdChoice(float(conf[k]), float(precision[k]), (k + 1) / conf.size, met)


@dataclass(frozen=True)
class AnswerScorer:
    """P(the answer is right | energy, familiarity): a logistic regression on standardised scores."""

    mean: tuple[float, float]
    scale: tuple[float, float]
    coef: tuple[float, float]
    intercept: float

    def probability(self, energies: np.ndarray, familiarity: np.ndarray) -> np.ndarray:
        x = (np.column_stack([energies, familiarity]) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1 / (1 + np.exp(-(x @ np.asarray(self.coef) + self.intercept)))


def fit_scorer(energies: Sequence[float], familiarity: Sequence[float], correct: Sequence[bool],
               weights: Sequence[float]) -> AnswerScorer | None:
    """The scorer fitted on held-out answers, or None with fewer than :data:`SCORER_MIN` right
    or wrong ones (a handful of mistakes would fit noise)."""
    from sklearn.linear_model import LogisticRegression

    ok = np.asarray(correct, dtype=bool)
    if ok.sum() < SCORER_MIN or (~ok).sum() < SCORER_MIN:
        return None
    x = np.column_stack([energies, familiarity]).astype(np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    if (scale < 1e-9).any():
        return None
    model = LogisticRegression().fit((x - mean) / scale, ok, sample_weight=np.asarray(weights, dtype=np.float64))
    return AnswerScorer(_floats(mean), _floats(scale), _floats(model.coef_[0]), round(float(model.intercept_[0]), 6))


def _floats(values: np.ndarray) -> tuple[float, float]:
    return tuple(round(float(v), 6) for v in values)  # type: ignore[return-value]


@dataclass
class Calibration:
    """What the model folder keeps beside the weights (``customer_service.json``)."""

    temperature: float = 1.0
    threshold: float = UNCALIBRATED_THRESHOLD
    oos_label: str | None = None
    target_precision: float = 0.95
    oos_share: float | None = None
    calibrated: bool = False
    validation: dict[str, Any] = field(default_factory=dict)
    scorer: AnswerScorer | None = None
    familiarity: dict[str, Any] | None = None  # the index's encoder: spec, precision, texts
    neighbour_weight: float = 0.0  # of the nearest-neighbour vote added to the log-probabilities

    def save(self, folder: Path) -> Path:
        path = folder / CALIBRATION_FILE
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, folder: Path) -> Calibration:
        """The saved calibration, or an uncalibrated default (a model trained elsewhere)."""
        path = folder / CALIBRATION_FILE
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        kept = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if kept.get("scorer"):
            kept["scorer"] = AnswerScorer(**{k: tuple(v) if isinstance(v, list) else v for k, v in kept["scorer"].items()})
        return cls(**kept)

    @property
    def uses_neighbours(self) -> bool:
        return self.scorer is not None or self.neighbour_weight > 0

    def probabilities(self, logits: np.ndarray, neighbours: np.ndarray | None) -> np.ndarray:
        return softmax(blend(logits, neighbours, self.neighbour_weight), self.temperature)

    def confidence(self, probs: np.ndarray, logits: np.ndarray, familiarity: np.ndarray | None) -> np.ndarray:
        """The confidence each text's top intent is compared with the threshold by."""
        return answer_confidence(probs, logits, familiarity, self.scorer)


def answer_confidence(probs: np.ndarray, logits: np.ndarray, familiarity: np.ndarray | None,
                      scorer: AnswerScorer | None) -> np.ndarray:
    """The scorer's probability that each answer is right, or the top probability without one."""
    if scorer is None or familiarity is None:
        return probs.max(axis=-1)
    return scorer.probability(energy(logits), familiarity)


def oos_weight(gold: Sequence[str], oos_label: str, share: float | None) -> float:
    """How much one held-out out-of-scope text counts so that they make up ``share`` of the
    held-out data (1.0 without a share, or without any such text)."""
    n_oos = sum(g == oos_label for g in gold)
    if share is None or n_oos == 0 or n_oos == len(gold):
        return 1.0
    return share / (1 - share) * (len(gold) - n_oos) / n_oos


def calibrate(logits: np.ndarray, labels: list[str], gold: Sequence[str], *, oos_label: str,
              target: float, oos_share: float | None = None, neighbours: np.ndarray | None = None) -> Calibration:
    """Fit T on the held-out texts whose label the model knows, then the threshold on all of them
    (held-out out-of-scope texts the model has no class for count as wrong answers).

    ``neighbours`` (each held-out text's similarity to the nearest training text of each
    intent, ``familiarity.py``) add the nearest-neighbour vote when it puts more held-out texts
    right, and the answer scorer when the held-out answers hold enough right and wrong ones.

    ``oos_share`` is the share of out-of-scope messages expected in live traffic: validation
    sets often hold few (CLINC150: 3%), which makes almost any threshold look precise."""
    z = np.asarray(logits, dtype=np.float64)
    if neighbours is not None:
        fitted = _calibrate(z, labels, gold, oos_label, target, oos_share, neighbours)
        if fitted.uses_neighbours:
            return fitted
    return _calibrate(z, labels, gold, oos_label, target, oos_share, None)


def _calibrate(z: np.ndarray, labels: list[str], gold: Sequence[str], oos_label: str, target: float,
               oos_share: float | None, neighbours: np.ndarray | None) -> Calibration:
    index = {label: i for i, label in enumerate(labels)}
    known = [i for i, g in enumerate(gold) if g in index]
    targets = [index[gold[i]] for i in known]
    # The vote chooses among intents; telling out-of-scope texts apart is the scorer's job.
    in_scope = [i for i in known if gold[i] != oos_label]
    weight_nb = 0.0 if neighbours is None else choose_neighbour_weight(
        z[in_scope], neighbours[in_scope], [index[gold[i]] for i in in_scope])
    blended = blend(z, neighbours, weight_nb)
    before = nll(blended[known], targets) if known else None
    # With every held-out text right, NLL only falls as T -> 0: that says nothing about
    # over-confidence, so the model is not sharpened then.
    perfect = bool(known) and bool((blended[known].argmax(-1) == np.asarray(targets)).all())
    temperature = fit_temperature(blended[known], targets, lowest=1.0 if perfect else MIN_T)
    probs = softmax(blended, temperature)
    predicted = probs.argmax(-1)
    answered = [i for i in range(len(gold)) if labels[predicted[i]] != oos_label]
    weight = oos_weight(gold, oos_label, oos_share)
    correct = [labels[predicted[i]] == gold[i] for i in answered]
    weights = [weight if gold[i] == oos_label else 1.0 for i in answered]
    seen = None if neighbours is None or not answered else nearest_in_scope(neighbours[answered], labels, oos_label)
    scorer = None if seen is None else fit_scorer(energy(z[answered]), seen, correct, weights)
    choice = choose_threshold(answer_confidence(probs[answered], z[answered], seen, scorer), correct, target, weights)
    validation = {
        "examples": len(gold),
        "nll_before": _round(before),
        "nll_after": _round(nll(blended[known], targets, temperature) if known else None),
        "precision_at_threshold": round(choice.precision, 4),
        "coverage_at_threshold": round(choice.coverage, 4),
        "target_met": choice.met,
        "confidence": "energy+familiarity" if scorer is not None else "softmax",
        "neighbour_weight": weight_nb,
    }
    # Rounded down, so the texts that set the threshold still pass it when read back.
    threshold = math.floor(choice.threshold * 1e6) / 1e6
    return Calibration(round(temperature, 5), threshold, oos_label, target, oos_share, True, validation, scorer,
                       neighbour_weight=weight_nb)


def blend(logits: np.ndarray, neighbours: np.ndarray | None, weight: float) -> np.ndarray:
    """The classifier's log-probabilities plus ``weight`` times each intent's nearest-neighbour
    similarity (the logits themselves when there is no vote: the softmax is the same)."""
    if neighbours is None or weight == 0:
        return np.asarray(logits, dtype=np.float64)
    return log_softmax(logits) + weight * np.asarray(neighbours, dtype=np.float64)


def choose_neighbour_weight(logits: np.ndarray, neighbours: np.ndarray, targets: Sequence[int]) -> float:
    """The weight of :data:`NEIGHBOUR_WEIGHTS` whose vote puts the most held-out texts right
    beyond chance, or 0: of the texts it changes, the ones it fixes must outnumber the ones it
    breaks by two standard deviations (McNemar's test), so noise adds no vote."""
    gold = np.asarray(targets)
    alone = np.asarray(logits).argmax(-1) == gold
    best, best_gain = 0.0, 0
    for weight in NEIGHBOUR_WEIGHTS:
        voted = blend(logits, neighbours, weight).argmax(-1) == gold
        fixed, broke = int((voted & ~alone).sum()), int((alone & ~voted).sum())
        gain = fixed - broke
        if gain > best_gain and gain >= 2 * math.sqrt(fixed + broke):
            best, best_gain = weight, gain
    return best


def nearest_in_scope(neighbours: np.ndarray, labels: Sequence[str], oos_label: str | None) -> np.ndarray:
    """Similarity to the nearest in-scope training text."""
    columns = [i for i, label in enumerate(labels) if label != oos_label]
    return np.asarray(neighbours)[:, columns].max(axis=-1)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 5)


@dataclass(frozen=True)
class IntentDecision:
    """The intent model's verdict on one text, and why it is (not) sure."""

    intent: str
    confidence: float
    runner_up: str | None
    runner_up_confidence: float
    accepted: bool
    reason: str  # confident, out-of-scope, low-confidence, ambiguous
    familiarity: float | None = None  # similarity to the nearest training text, when used

    def explain(self, threshold: float, margin: float) -> str:
        seen = "" if self.familiarity is None else f"; nearest training text at {self.familiarity:.2f}"
        if self.reason == "confident":
            return f"intent {self.intent} at {self.confidence:.2f} (threshold {threshold:.2f}{seen})"
        if self.reason == "out-of-scope":
            return f"out of scope ({self.intent} at {self.confidence:.2f})"
        if self.reason == "low-confidence":
            return f"low confidence: {self.intent} at {self.confidence:.2f} < threshold {threshold:.2f}{seen}"
        return (f"ambiguous: {self.intent} {self.confidence:.2f} vs {self.runner_up} "
                f"{self.runner_up_confidence:.2f} (margin < {margin:.2f})")


def decide(probs: np.ndarray, labels: list[str], *, oos_label: str | None, threshold: float,
           margin: float, confidence: float | None = None, familiarity: float | None = None) -> IntentDecision:
    """Accept the top intent only when it is in scope, confident and clearly ahead of the next.

    ``confidence`` is what the threshold applies to (default: the top probability); the margin
    is always between the top two probabilities."""
    order = np.argsort(-probs)
    top = int(order[0])
    second = int(order[1]) if len(order) > 1 else None
    intent, top_prob = labels[top], float(probs[top])
    runner, runner_conf = (labels[second], float(probs[second])) if second is not None else (None, 0.0)
    if intent == oos_label:
        confidence = top_prob
        reason = "out-of-scope"
    elif (confidence := top_prob if confidence is None else float(confidence)) < threshold:
        reason = "low-confidence"
    elif runner is not None and runner != oos_label and top_prob - runner_conf < margin:
        reason = "ambiguous"
    else:
        reason = "confident"
    return IntentDecision(intent, confidence, runner, runner_conf, reason == "confident", reason, familiarity)
