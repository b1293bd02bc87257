"""Why a model decided what it did, in words: one shape for every scenario, CLI and HTTP.

An explanation is a list of ``{"word", "start", "end", "weight"}``: a word of the input (its
character span, so a page can highlight it) and how much the decision's probability drops when
that word is left out (occlusion). Words, not sub-tokens: a CJK run counts each character as a
word (Chinese has no spaces), punctuation is never a word, and stop words ("the", "at", "的")
are never offered as a reason on their own. Scenarios pass their own scoring function, so the
same code explains an intent, a sentiment or a recommendation.

:class:`Explainer` explains a classifier's decisions by one of :data:`METHODS`: occlusion
(one batched forward pass over the one-word-out variants), integrated gradients on the
input embeddings (Captum, ``steps`` interpolation points), or gradient x input (one forward and
one backward pass for a whole batch of texts: the cheap one), sub-token attributions summed per
word. Which one a model uses is measured (``suite evaluate --explanations``) and recorded with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from core.lexical import STOP_WORDS, Word, is_cjk, is_reason, words


METHODS = ("occlusion", "integrated-gradients", "gradient")
DEFAULT_METHOD = "occlusion"
IG_STEPS = 16  # interpolation points of integrated gradients (one batched pass each)
GRADIENT_BATCH = 32  # texts per forward and backward pass of the gradient method


def without(text: str, word: Word) -> str:
    """``text`` with one word left out (the spaces around it collapse to one)."""
    head, tail = text[: word.start].rstrip(), text[word.end :].lstrip()
    joiner = " " if head and tail and not (is_cjk(head[-1]) or is_cjk(tail[0])) else ""
    return head + joiner + tail


def without_all(text: str, removed: Sequence[Word]) -> str:
    """``text`` with every word of ``removed`` left out (last first, so spans stay valid)."""
    for word in sorted(removed, key=lambda w: -w.start):
        text = without(text, word)
    return text


def only(kept: Sequence[Word]) -> str:
    """The text made of ``kept`` words alone, in their order (no spaces between CJK ones)."""
    out = ""
    for word in sorted(kept, key=lambda w: w.start):
        out += ("" if not out or is_cjk(out[-1]) or is_cjk(word.text[0]) else " ") + word.text
    return out


def occlusion(text: str, score: Callable[[Sequence[str]], Sequence[float]], *, top_k: int = 5,
              base: float | None = None) -> list[dict[str, Any]]:
    """The ``top_k`` words whose removal lowers ``score`` the most (positive weights only).

    ``score`` maps texts to the probability of the decision being explained; it is called once
    on every one-word-out variant together, so a batched model scores them in one pass.
    """
    candidates, variants = occlusion_variants(text)
    if not candidates:
        return []
    values = list(score(([text] if base is None else []) + variants))
    reference = values.pop(0) if base is None else base
    return ranked_words(candidates, [reference - v for v in values], top_k)


def occlusion_variants(text: str) -> tuple[list[Word], list[str]]:
    """The words that may be a reason, and ``text`` without each of them (none for one word)."""
    candidates = [w for w in words(text) if is_reason(w.text)]
    if len(words(text)) < 2:
        return [], []
    return candidates, [without(text, w) for w in candidates]


def ranked_words(candidates: Sequence[Word], drops: Sequence[float], top_k: int) -> list[dict[str, Any]]:
    """The explanation's shape: the ``top_k`` largest positive drops, largest first."""
    ranked = sorted(range(len(candidates)), key=lambda i: -drops[i])[:top_k]
    return [{"word": candidates[i].text, "start": candidates[i].start, "end": candidates[i].end,
             "weight": round(float(drops[i]), 4)} for i in ranked if round(float(drops[i]), 4) > 0]  # shown: > 0


def entity_reasons(predictor: Any, tokens: Sequence[str], tags: Sequence[str], entity: tuple[int, int],
                   spans: Sequence[tuple[int, int]], top_k: int = 5) -> list[dict[str, Any]]:
    """Why words ``entity`` (first, end) were tagged as they were: leave each other word out
    and measure how much the mean probability of the entity's tags drops (one batch of
    variants; no attention weights). ``spans`` place each word in the text."""
    import numpy as np

    from core.data.types import TokenExample
    from core.heads.classification import softmax

    first, end = entity
    context = [i for i in range(len(tokens)) if not first <= i < end and is_reason(tokens[i]) and words(tokens[i])]
    if not context:
        return []
    ids = [predictor.head.label2id[tag] for tag in tags[first:end]]
    variants = [TokenExample(list(tokens))] + [TokenExample(list(tokens[:i]) + list(tokens[i + 1:])) for i in context]
    shifts = [0] + [1 if i < first else 0 for i in context]
    logits, rows = predictor.logits(variants)

    def probability(row_logits: Any, row: dict[str, Any], shift: int) -> float:
        firsts: dict[int, int] = {}
        for position, word in enumerate(row["word_ids"]):
            if word is not None and word not in firsts:
                firsts[word] = position
        probs = softmax(np.asarray(row_logits, dtype=np.float32))
        values = [probs[firsts[w - shift]][label] if (w - shift) in firsts else 0.0
                  for w, label in zip(range(first, end), ids)]
        return float(np.mean(values))

    values = [probability(lg, row, shift) for lg, row, shift in zip(logits, rows, shifts)]
    candidates = [Word(tokens[i], spans[i][0], spans[i][1]) for i in context]
    return ranked_words(candidates, [values[0] - v for v in values[1:]], top_k)


class Explainer:
    """Explains a :class:`core.predictor.Predictor`'s single-label decisions in words.

    ``word_scores`` gives every candidate word (a possible reason) its score for a label;
    ``explain`` ranks them into the explanation shape. ``method`` is one of :data:`METHODS`.
    """

    def __init__(self, predictor: Any, method: str = DEFAULT_METHOD, *, steps: int = IG_STEPS) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown explanation method '{method}' (known: {', '.join(METHODS)})")
        self.predictor = predictor
        self.method = method
        self.steps = steps

    def probabilities(self, example: Any, texts: Sequence[str], label: str) -> list[float]:
        """The probability of ``label`` for each text, read as ``example`` is (its extras)."""
        if not texts:
            return []
        predictions = self.predictor.predict([replace(example, text=t, label=None) for t in texts])
        return [p["scores"][label] for p in predictions]

    def word_scores(self, example: Any, label: str, base: float | None = None) -> tuple[list[Word], list[float]]:
        """The candidate words of ``example.text`` and how much each supports ``label``."""
        if self.method == "integrated-gradients":
            return self._integrated_gradients(example, label)
        if self.method == "gradient":
            return self._gradients([example], [label])[0]
        candidates, variants = occlusion_variants(example.text)
        if not candidates:
            return [], []
        values = self.probabilities(example, ([example.text] if base is None else []) + variants, label)
        reference = values.pop(0) if base is None else base
        return candidates, [reference - v for v in values]

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        """The ``top_k`` words that drove the predicted label, largest weight first."""
        prediction = self.predictor.predict([replace(example, label=None)])[0]
        label = prediction.get("label")
        if label is None:  # multi-label and token heads explain differently (not yet)
            return []
        candidates, scores = self.word_scores(example, label, base=prediction["score"])
        return ranked_words(candidates, scores, top_k)

    def explain_many(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]] | None = None,
                     top_k: int = 5) -> list[list[dict[str, Any]]]:
        """One explanation per example. Occlusion scores every text's variants together, so
        a batch of texts costs a few large forward batches, not one small one per text;
        ``predictions`` (the texts' own, when the caller has them) saves a pass."""
        if predictions is None:
            predictions = self.predictor.predict([replace(ex, label=None) for ex in examples])
        if self.method == "gradient":  # a forward and a backward pass per batch of texts
            explained = [i for i, p in enumerate(predictions) if p.get("label") is not None]
            found = self._gradients([examples[i] for i in explained], [predictions[i]["label"] for i in explained])
            out_of: dict[int, list[dict[str, Any]]] = {i: ranked_words(*scores, top_k) for i, scores in zip(explained, found)}
            return [out_of.get(i, []) for i in range(len(examples))]
        if self.method != "occlusion":
            return [[] if p.get("label") is None else
                    ranked_words(*self.word_scores(ex, p["label"], base=p["score"]), top_k)
                    for ex, p in zip(examples, predictions)]
        planned = [occlusion_variants(ex.text) if p.get("label") is not None else ([], [])
                   for ex, p in zip(examples, predictions)]
        batch = [replace(ex, text=t, label=None) for ex, (_, variants) in zip(examples, planned) for t in variants]
        scored = iter(self.predictor.predict(batch))
        out = []
        for prediction, (candidates, variants) in zip(predictions, planned):
            values = [next(scored)["scores"][prediction["label"]] for _ in variants]
            out.append(ranked_words(candidates, [prediction["score"] - v for v in values], top_k) if candidates else [])
        return out

    def _integrated_gradients(self, example: Any, label: str) -> tuple[list[Word], list[float]]:
        """Attributions of the label's probability to the input embeddings, from a baseline
        where every word piece is padding, summed over each word's pieces."""
        import torch
        from captum.attr import LayerIntegratedGradients

        text = example.text
        candidates = [w for w in words(text) if is_reason(w.text)]
        if len(words(text)) < 2 or not candidates:
            return [], []
        head, tokenizer = self.predictor.head, self.predictor.tokenizer
        prompt = str(getattr(head, "prompt", "") or "")
        encoded = tokenizer(prompt + text, truncation=True, max_length=self.predictor.max_length,
                            return_offsets_mapping=True, return_tensors="pt")
        offsets = encoded.pop("offset_mapping")[0].tolist()
        model = self.predictor.float_model
        device = next(model.parameters()).device
        input_ids, mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
        # Added tokens ([CLS], [SEP]) cover no text and stay; an [UNK] covers text and is attributed.
        special = torch.tensor([end <= start for start, end in offsets], dtype=torch.bool, device=device)
        baseline = torch.where(special[None], input_ids, torch.full_like(input_ids, tokenizer.pad_token_id or 0))
        n_labels = len(head.labels)

        def forward(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
            return torch.softmax(model(input_ids=ids, attention_mask=attention)["logits"].float()[..., :n_labels], -1)

        attributions = LayerIntegratedGradients(forward, model.get_input_embeddings()).attribute(
            input_ids, baselines=baseline, target=head.labels.index(label), additional_forward_args=(mask,),
            n_steps=self.steps, internal_batch_size=self.steps)
        return candidates, word_totals(candidates, offsets, attributions.sum(-1)[0].detach().float().tolist(), len(prompt))

    def _gradients(self, examples: Sequence[Any], labels: Sequence[str]) -> list[tuple[list[Word], list[float]]]:
        """Gradient x input: the gradient of the label's log-odds at each word piece's first
        hidden state (:func:`embedding_block`) times that state, summed over each word's pieces;
        weights are in log-odds (a probability near 1 has almost no gradient left, its log-odds
        do). Texts are sorted by length and padded into batches, each costing one forward and one
        backward pass: the cheap method, for explaining every text of a large batch."""
        import torch
        from captum.attr import LayerGradientXActivation

        head = self.predictor.head
        prompt = str(getattr(head, "prompt", "") or "")
        model = self.predictor.float_model
        device = next(model.parameters()).device
        n_labels = len(head.labels)
        others = ~torch.eye(n_labels, dtype=torch.bool, device=device)

        def log_odds(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
            """Each label's logit against the log-sum-exp of the others: log p / (1 - p)."""
            z = model(input_ids=ids, attention_mask=attention)["logits"].float()[..., :n_labels]
            rest = z[:, None, :].expand(-1, n_labels, -1).masked_fill(~others, float("-inf"))
            return z - torch.logsumexp(rest, -1)

        method = LayerGradientXActivation(log_odds, embedding_block(model))
        with frozen(model):  # gradients for the activations only, none for the weights: half the backward pass
            return self._gradient_batches(method, examples, labels, prompt, device)

    def _gradient_batches(self, method: Any, examples: Sequence[Any], labels: Sequence[str], prompt: str,
                          device: Any) -> list[tuple[list[Word], list[float]]]:
        import torch

        head, tokenizer = self.predictor.head, self.predictor.tokenizer
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].text))  # similar lengths pad little
        found: dict[int, tuple[list[Word], list[float]]] = {}
        for start in range(0, len(order), GRADIENT_BATCH):
            picked = order[start:start + GRADIENT_BATCH]
            chunk, targets = [examples[i] for i in picked], [labels[i] for i in picked]
            encoded = tokenizer([prompt + ex.text for ex in chunk], truncation=True, max_length=self.predictor.max_length,
                                padding=True, return_offsets_mapping=True, return_tensors="pt")
            offsets = encoded.pop("offset_mapping").tolist()
            ids, mask = encoded["input_ids"].to(device), encoded["attention_mask"].to(device)
            # in bf16 where the predictor predicts in bf16: the ranking survives, the pass is ~3x faster
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bool(getattr(self.predictor, "bf16", False))):
                attributions = method.attribute(ids, target=[head.labels.index(label) for label in targets],
                                                additional_forward_args=(mask,))
            attributions = attributions.float().sum(-1).detach().tolist()
            for index, example, row_offsets, per_piece in zip(picked, chunk, offsets, attributions):
                candidates = [w for w in words(example.text) if is_reason(w.text)]
                found[index] = (([], []) if len(words(example.text)) < 2 or not candidates else
                                (candidates, word_totals(candidates, row_offsets, per_piece, len(prompt))))
        return [found[i] for i in range(len(examples))]


@contextmanager
def frozen(model: Any) -> Iterator[None]:
    """``model``'s weights without gradients for the block, as they were after it."""
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


def embedding_block(model: Any) -> Any:
    """The module whose output is the encoder's first hidden states: word + position embeddings
    after their LayerNorm (BERT's and XLM-R's ``embeddings``). Gradient x input is taken there:
    at the word embeddings themselves the LayerNorm makes the function nearly blind to their
    scale, so gradient x word embedding is about zero for every word."""
    words_module = model.get_input_embeddings()
    for name, module in model.named_modules():
        if name.split(".")[-1] == "embeddings" and any(sub is words_module for sub in module.modules()):
            return module
    return words_module


def word_totals(candidates: Sequence[Word], offsets: Sequence[Sequence[int]], per_piece: Sequence[float],
                shift: int = 0) -> list[float]:
    """Each candidate word's share of per-word-piece attributions (pieces found by their
    character offsets, ``shift`` characters of prompt before the text); added tokens and
    padding cover no text and count for nothing."""
    scores = [0.0] * len(candidates)
    for (start, end), value in zip(offsets, per_piece):
        start, end = start - shift, end - shift
        if end <= start or start < 0:
            continue
        for index, word in enumerate(candidates):
            if word.start <= start < word.end:
                scores[index] += value
                break
    return scores


__all__ = ["DEFAULT_METHOD", "Explainer", "entity_reasons", "METHODS", "only", "without_all", "STOP_WORDS", "Word", "is_cjk", "is_reason", "occlusion", "occlusion_variants", "ranked_words", "without", "words"]
