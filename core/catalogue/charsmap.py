"""A SentencePiece ``precompiled_charsmap`` built from a per-character replacement map.

The ``tokenizers`` library normalises XLM-R text with a ``Precompiled`` normaliser: one pass,
in Rust, over a darts-clone double-array trie. A sequence of thousands of ``Replace``
normalisers reproduces the same mapping but costs about a millisecond per text, so the
converter writes the map in the trie format instead.

Blob layout (what ``spm_precompiled`` parses): ``u32`` byte size of the trie, the trie as
little-endian ``u32`` units, then the replacement strings, each NUL-terminated. A unit holds
a label (low 8 bits; bit 31 marks a value unit), a has-leaf flag (bit 8) and the XOR offset
to the node's children (bits 10..31). A key's value (the offset of its replacement) sits in
the unit at ``base ^ 0`` of the key's last node.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_VALUE_FLAG = 1 << 31
_HAS_LEAF = 1 << 8
_MAX_OFFSET = 1 << 21


@dataclass
class _Node:
    children: dict[int, _Node] = field(default_factory=dict)
    value: int | None = None


def build_charsmap(mapping: dict[str, str]) -> bytes:
    """The precompiled charsmap replacing each key (a character or string) by its value.

    An empty replacement deletes the character, as SentencePiece does for control characters.
    """
    root = _Node()
    strings = bytearray()
    offsets: dict[str, int] = {}
    for key in sorted(mapping):
        raw = key.encode("utf-8")
        if not raw or 0 in raw:
            continue  # NUL ends a lookup: such a key could never match
        replacement = mapping[key]
        if replacement not in offsets:
            offsets[replacement] = len(strings)
            strings += replacement.encode("utf-8") + b"\0"
        node = root
        for byte in raw:
            node = node.children.setdefault(byte, _Node())
        node.value = offsets[replacement]
    units = _DoubleArray().build(root)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


class _DoubleArray:
    """Places each node's children at ``base ^ label`` with a unique base per node (darts-clone)."""

    def __init__(self) -> None:
        self.units: list[int] = [0] * 256
        self.used: bytearray = bytearray(256)
        self.bases: set[int] = set()
        self.next_free = 1

    def build(self, root: _Node) -> list[int]:
        self.used[0] = 1
        pending: list[tuple[int, _Node]] = [(0, root)]
        while pending:
            position, node = pending.pop()
            labels = ([0] if node.value is not None else []) + sorted(node.children)
            if not labels:
                continue
            base = self._find_base(labels)
            offset = position ^ base
            if offset >= _MAX_OFFSET:
                raise ValueError("character map too large for a precompiled charsmap")
            self.units[position] |= offset << 10 | (_HAS_LEAF if node.value is not None else 0)
            for label in labels:
                self._reserve(base ^ label)
            if node.value is not None:
                self.units[base] = _VALUE_FLAG | node.value
            for label, child in node.children.items():
                self.units[base ^ label] = label
                pending.append((base ^ label, child))
        return self.units

    def _find_base(self, labels: list[int]) -> int:
        """The first base whose slots for ``labels`` are all free, tried from free slots upwards."""
        self.next_free = self._free_from(self.next_free)
        position = self.next_free
        while True:
            base = position ^ labels[0]
            if base not in self.bases and all(not self._is_used(base ^ label) for label in labels[1:]):
                self.bases.add(base)
                return base
            position = self._free_from(position + 1)

    def _free_from(self, position: int) -> int:
        found = self.used.find(0, position)
        return found if found >= 0 else max(position, len(self.used))

    def _is_used(self, position: int) -> bool:
        return position < len(self.used) and bool(self.used[position])

    def _reserve(self, position: int) -> None:
        if position >= len(self.units):  # whole 256-blocks: a lookup of any byte stays in range
            grow = (position // 256 + 1) * 256 - len(self.units)
            self.units.extend([0] * grow)
            self.used.extend(bytes(grow))
        self.used[position] = 1
