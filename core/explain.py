"""Why a model decided what it did, in words: one shape for every scenario, CLI and HTTP.

An explanation is a list of ``{"word", "start", "end", "weight"}``: a word of the input (its
character span, so a page can highlight it) and how much the decision's probability drops when
that word is left out (occlusion). Words, not sub-tokens: a CJK run counts each character as a
word (Chinese has no spaces), punctuation is never a word, and stop words ("the", "at", "的")
are never offered as a reason on their own. Scenarios pass their own scoring function, so the
same code explains an intent, a sentiment or a recommendation.

:class:`Explainer` explains a classifier's decisions by one of :data:`METHODS`: occlusion
(one batched forward pass over the one-word-out variants), integrated gradients on the
input embeddings (Captum, ``steps`` interpolation points), or the gradient's length at the
hidden states entering the encoder's upper half (taken in the prediction's own forward pass, with
a backward pass through the upper layers: the cheap one for large batches), sub-token scores
summed per word. Which one a model uses is measured (``suite evaluate --explanations``) and
recorded with it.
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

    ``word_scores_many`` gives every candidate word (a possible reason) its score for a label;
    ``explain_many`` ranks them into the explanation shape. ``method`` is one of :data:`METHODS`.
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
        return self.word_scores_many([example], [label], None if base is None else [base])[0]

    def word_scores_many(self, examples: Sequence[Any], labels: Sequence[str],
                         bases: Sequence[float] | None = None) -> list[tuple[list[Word], list[float]]]:
        """:meth:`word_scores` of many texts at once: occlusion scores every text's variants
        together and the gradient method runs length-sorted batches, so a batch of texts costs a
        few large passes, not one small one per text. ``bases`` (each text's probability of its
        label, when the caller has it) saves occlusion a pass."""
        if self.method == "integrated-gradients":
            return [self._integrated_gradients(example, label) for example, label in zip(examples, labels)]
        if self.method == "gradient":
            return self._gradient_pass(examples, labels)[1]
        planned = [occlusion_variants(example.text) for example in examples]
        batch = [replace(ex, text=t, label=None) for ex, (_, variants) in zip(examples, planned)
                 for t in ([] if bases is not None or not variants else [ex.text]) + variants]
        scored = iter(self.predictor.predict(batch))
        out = []
        for index, (label, (candidates, variants)) in enumerate(zip(labels, planned)):
            if not variants:
                out.append(([], []))
                continue
            reference = bases[index] if bases is not None else next(scored)["scores"][label]
            out.append((candidates, [reference - next(scored)["scores"][label] for _ in variants]))
        return out

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        """The ``top_k`` words that drove the predicted label, largest weight first."""
        return self.predict_explained([example], top_k)[1][0]

    def explain_many(self, examples: Sequence[Any], predictions: Sequence[dict[str, Any]] | None = None,
                     top_k: int = 5) -> list[list[dict[str, Any]]]:
        """One explanation per example of its predicted label (``predictions``: the texts' own,
        when the caller has them; none for multi-label and token predictions)."""
        if predictions is None:
            return self.predict_explained(examples, top_k)[1]
        explained = [i for i, p in enumerate(predictions) if p.get("label") is not None]
        found = self.word_scores_many([examples[i] for i in explained], [predictions[i]["label"] for i in explained],
                                      [predictions[i]["score"] for i in explained])
        out_of = {i: ranked_words(*scores, top_k) for i, scores in zip(explained, found)}
        return [out_of.get(i, []) for i in range(len(examples))]

    def predict_explained(self, examples: Sequence[Any], top_k: int = 5) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
        """Predictions and their explanations. The gradient method takes both from one pass
        over the predicting model (int8 included); the others predict, then explain."""
        head = getattr(self.predictor, "head", None)  # any object with predict() explains by occlusion
        if self.method != "gradient" or head is None or head.example_kind != "text" or getattr(head, "multi_label", False):
            predictions = self.predictor.predict([replace(ex, label=None) for ex in examples])
            return predictions, self.explain_many(examples, predictions, top_k)
        predictions, found = self._gradient_pass(examples)
        return predictions, [ranked_words(*scores, top_k) for scores in found]

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

    def _gradient_pass(self, examples: Sequence[Any], labels: Sequence[str] | None = None
                       ) -> tuple[list[dict[str, Any]], list[tuple[list[Word], list[float]]]]:
        """The gradient method: how strongly each word's hidden states entering the encoder's
        upper half (:func:`upper_half`) move the label's log-odds (the length of the gradient at
        all the word's pieces, as a share of the text's total). One forward pass of the model
        that predicts (its predictions come out of it: the predicted labels are explained unless
        ``labels`` are given) and a backward pass through the upper layers only, per batch.
        Measured against occlusion on PhraseBank and Banking77, the gradient's length at the
        middle of the encoder ranks words as faithfully as at its input, for half the backward
        pass; gradient x hidden state ranked them worse (docs/benchmarks.md)."""
        import numpy as np
        import torch

        if not examples:
            return [], []
        predictor, head = self.predictor, self.predictor.head
        model = predictor.model
        prompt = str(getattr(head, "prompt", "") or "")
        rows = predictor.features([replace(ex, label=None) for ex in examples])
        offsets = predictor.tokenizer([prompt + ex.text for ex in examples], truncation=True, max_length=predictor.max_length,
                                      return_offsets_mapping=True)["offset_mapping"]
        n_labels = len(head.labels)
        outputs: list[Any] = [None] * len(rows)
        lengths: list[Any] = [None] * len(rows)
        with torch.enable_grad(), frozen(model), hidden_states_at(upper_half(model)) as captured, predictor.autocast():
            for chunk, batch in predictor.batches(rows):
                logits = model(**batch)["logits"]
                z = logits.float()[:, :n_labels]
                target = (z.argmax(-1) if labels is None else
                          torch.tensor([head.labels.index(labels[i]) for i in chunk], device=z.device))
                rest = z.scatter(1, target[:, None], float("-inf"))
                log_odds = z.gather(1, target[:, None])[:, 0] - torch.logsumexp(rest, -1)
                (gradient,) = torch.autograd.grad(log_odds.sum(), captured.hidden)
                norms = gradient.float().norm(dim=-1).cpu().numpy()
                values = logits.detach().float().cpu().numpy()
                for position, index in enumerate(chunk):
                    outputs[index], lengths[index] = values[position], norms[position]
        predictions = predictor.decode(outputs, rows) if labels is None else []
        found = []
        for example, row, row_offsets, per_piece in zip(examples, rows, offsets, lengths):
            candidates = [w for w in words(example.text) if is_reason(w.text)]
            if len(words(example.text)) < 2 or not candidates or len(row_offsets) != len(row["input_ids"]):
                found.append(([], []))  # nothing to rank (or a pair of texts: pieces not one text's)
                continue
            # a word's gradient is that of all its pieces' states together: the root of their squared lengths
            scores = [float(np.sqrt(s)) for s in word_totals(candidates, row_offsets, (per_piece ** 2).tolist(), len(prompt))]
            total = sum(scores) or 1.0
            found.append((candidates, [float(np.float32(s / total)) for s in scores]))
        return predictions, found


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


class Captured:
    """The hidden states a forward hook made differentiable (``hidden``: the last batch's)."""

    hidden: Any = None


@contextmanager
def hidden_states_at(module: Any) -> Iterator[Captured]:
    """Within the block, ``module``'s output is a leaf that asks for its gradient: the forward
    pass below it records nothing (weights frozen), the backward pass stops there. Only this
    thread's passes are touched: a server may predict with the same model meanwhile."""
    import threading

    import torch

    captured, owner = Captured(), threading.get_ident()

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        if threading.get_ident() != owner or not torch.is_grad_enabled():
            return None  # another thread's pass over the same model (a server predicting meanwhile)
        hidden = output[0] if isinstance(output, tuple) else output
        captured.hidden = hidden.detach().requires_grad_()
        return (captured.hidden, *output[1:]) if isinstance(output, tuple) else captured.hidden

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def upper_half(model: Any) -> Any:
    """The module whose output enters the encoder's upper half of layers (for one layer, the
    embedding block): where the gradient method reads its gradients."""
    import torch

    count = getattr(model.config, "num_hidden_layers", 0)
    layers = next((m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == count and count), None)
    return layers[count // 2 - 1] if layers is not None and count >= 2 else embedding_block(model)


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
