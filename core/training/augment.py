"""Perturbed copies of in-domain texts, for a teacher to label when there is little else.

A student learns the teacher's decisions only where it sees them. With a few thousand
training texts and no unlabelled ones (Banking77, most companies' first data set) it sees
them at those points only; copies with words dropped or swapped for other words of the
same corpus show it the teacher's outputs around them. After Tang et al., "Distilling
Task-Specific Knowledge from BERT into Simple Neural Networks" (2019), whose masking and
word-replacement rules these follow (without a part-of-speech tagger: the replacement is
drawn from the corpus's own words, frequent ones more often). The copies carry no labels:
the teacher gives them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from core.data.adapters import join_tokens, text_tokens
from core.data.types import TokenExample

DROP = 0.1  # chance that a word is left out of a copy
SWAP = 0.1  # chance that a word is replaced by a word drawn from the corpus


def words_of(example: Any) -> list[str]:
    if isinstance(example, TokenExample):
        return list(example.tokens)
    return [example.text[a:b] for a, b in text_tokens(example.text)]


def perturb(words: Sequence[str], corpus: Sequence[str], rng: random.Random) -> list[str]:
    """One copy of ``words``: each dropped with :data:`DROP`, swapped with :data:`SWAP`; at
    least one word kept."""
    out = []
    for word in words:
        draw = rng.random()
        if draw < DROP:
            continue
        out.append(rng.choice(corpus) if draw < DROP + SWAP else word)
    return out or [rng.choice(words)]


def perturbed(examples: Sequence[Any], copies: int, seed: int = 0) -> list[Any]:
    """``copies`` unlabelled, perturbed copies of each example (text pairs keep their second
    text), skipping copies identical to their source; deterministic for a ``seed``."""
    if copies < 1:
        return []
    rng = random.Random(seed)
    split = [words_of(example) for example in examples]
    corpus = [word for words in split for word in words]
    out: list[Any] = []
    for example, words in zip(examples, split):
        if not words:
            continue
        for _ in range(copies):
            new = perturb(words, corpus, rng)
            if new == words:
                continue
            if isinstance(example, TokenExample):
                out.append(TokenExample(new, line=example.line))
            else:
                out.append(replace(example, text=join_tokens(new)[0], label=None, id=None))
    return out
