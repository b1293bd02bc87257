"""Distillation (suite distill): a student learns a teacher's soft decisions, registered with
its teacher; layer-kept students load and predict; a token student keeps the label map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from core.cli.app import build_app
from core.data.types import TextExample, TokenExample
from core.heads.classification import SequenceClassificationHead
from core.heads.token import TokenClassificationHead
from core.testing import make_tiny_model
from core.training.config import TrainConfig
from core.training.augment import perturbed
from core.training.distill import SoftTargets, cut_layers, keep_layers, softened_kl, teacher_logits
from core.training.engine import fine_tune

GOOD = ["thanks a lot", "this works great", "lovely and quick", "happy with the card", "great support",
        "the refund came fast", "friendly staff", "easy to use"]
BAD = ["still broken", "very slow refund", "angry about fees", "lost my money", "app crashes again",
       "nobody answers", "charged twice", "card declined again"]


def run(pm, *args: str):
    return CliRunner().invoke(build_app(pm), list(args))


@pytest.fixture(scope="module")
def two_layer_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-2-layers"), layers=2)


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows), encoding="utf-8")
    return path


def test_keep_layers_spaces_blocks_and_keeps_the_top_one():
    assert keep_layers(6, 3) == [1, 3, 5]
    assert keep_layers(12, 6) == [1, 3, 5, 7, 9, 11]
    assert keep_layers(2, 1) == [1]
    with pytest.raises(Exception, match="has 6 layers"):
        keep_layers(6, 6)


def test_softened_kl_is_zero_for_equal_outputs_and_respects_the_mask():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    assert softened_kl(logits, logits, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    other = torch.tensor([[-2.0, 1.0, 0.5], [0.0, 3.0, -2.0]])
    assert softened_kl(other, logits, 2.0).item() > 0
    assert softened_kl(other, logits, 2.0, mask=torch.tensor([0.0, 1.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_a_student_moves_toward_its_teacher(tiny_model: Path, two_layer_model: Path, tmp_path: Path):
    """Engine level: a student trained on the teacher's logits alone (alpha 1) ends closer to
    them than it started: the KL divergence falls."""
    from core.predictor import Predictor

    head = SequenceClassificationHead(["bad", "good"])
    data = [TextExample(t, "good") for t in GOOD] * 2 + [TextExample(t, "bad") for t in BAD] * 2
    config = TrainConfig(epochs=6, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
    teacher = fine_tune(head, str(two_layer_model), data, data, config, tmp_path / "teacher", progress=False)
    teacher_predictor = Predictor(head, teacher.model, teacher.tokenizer, precision="fp32")
    targets = teacher_logits(teacher_predictor, data)

    def kl_to_teacher(model: torch.nn.Module, tokenizer) -> float:
        logits, _ = Predictor(head, model, tokenizer, precision="fp32").logits(data)
        return softened_kl(torch.tensor(np.stack(logits)), torch.tensor(np.stack(targets)), 2.0).item()

    untrained = head.build_model(str(tiny_model))
    before = kl_to_teacher(untrained, teacher.tokenizer)
    student = fine_tune(head, str(tiny_model), data, data, config, tmp_path / "student", progress=False,
                        soft_targets=SoftTargets(targets, temperature=2.0, alpha=1.0))
    after = kl_to_teacher(student.model, student.tokenizer)
    assert after < before / 2, (before, after)


def test_hidden_alignment_pulls_a_cut_students_layer_toward_the_teachers(two_layer_model: Path, tmp_path: Path):
    """--align-hidden: a fine-tuned student of the teacher cut to one layer, trained with the
    hidden states' distance added (the teacher beside it), ends nearer the teacher's layer it
    stands for than the same student trained on the soft targets alone."""
    from transformers import AutoTokenizer

    from core.training.distill import Alignment, block_outputs, hidden_distance

    head = SequenceClassificationHead(["bad", "good"])
    teacher = head.build_model(str(two_layer_model)).eval()
    tokenizer = AutoTokenizer.from_pretrained(two_layer_model)
    batch = tokenizer(GOOD + BAD, padding=True, return_tensors="pt")

    def distance(model: torch.nn.Module) -> float:
        with torch.no_grad(), block_outputs(teacher) as wanted, block_outputs(model) as got:
            teacher(**batch)
            model(**batch)
        return hidden_distance(got, [wanted[1]], batch["attention_mask"]).item()

    trained = {}
    for aligned in (False, True):
        torch.manual_seed(0)
        student = head.build_model(str(two_layer_model))
        assert cut_layers(student, 1) == [1]
        data = [TextExample(t, "good") for t in GOOD] + [TextExample(t, "bad") for t in BAD]
        config = TrainConfig(epochs=8, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
        folder = tmp_path / f"start-{aligned}"
        student.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        with torch.no_grad():
            targets = [row for row in teacher(**batch)["logits"].numpy()]
        soft = SoftTargets(targets, temperature=2.0, alpha=1.0, alignment=Alignment(teacher, [1], 5.0) if aligned else None)
        done = fine_tune(head, str(folder), data, data, config, tmp_path / f"student-{aligned}", progress=False, soft_targets=soft)
        trained[aligned] = distance(done.model)
    assert trained[True] < trained[False] * 0.8, trained


def test_align_hidden_refuses_a_student_of_another_width(builtin_pm, tiny_model: Path, tmp_path: Path):
    from transformers import AutoTokenizer, BertConfig, BertModel

    train = write_csv(tmp_path / "train.csv", [(t, "good") for t in GOOD] + [(t, "bad") for t in BAD])
    common = ["--train", str(train), "--epochs", "1", "--batch-size", "8"]
    assert run(builtin_pm, "train", "text-classification", *common, "--model", str(tiny_model), "--name", "wide",
               "--no-baseline").exit_code == 0
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    narrow = tmp_path / "narrow"  # a random BERT 32 wide on the same vocabulary
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(narrow)
    tokenizer.save_pretrained(narrow)
    result = run(builtin_pm, "distill", "text-classification", "--teacher", "wide", "--student", str(narrow),
                 "--align-hidden", "1", *common)
    assert result.exit_code == 2 and "align only at equal widths" in result.output, result.output


def test_cut_layers_keeps_a_loadable_shallower_model(two_layer_model: Path, tmp_path: Path):
    head = SequenceClassificationHead(["bad", "good"])
    model = head.build_model(str(two_layer_model))
    assert cut_layers(model, 1) == [1]
    model.save_pretrained(tmp_path / "cut")
    reloaded = head.build_model(str(tmp_path / "cut"))
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["num_hidden_layers"] == 1
    blocks = [m for m in reloaded.modules() if isinstance(m, torch.nn.ModuleList)]
    assert max(len(b) for b in blocks) == 1


def test_distill_a_layer_kept_student_through_the_cli(builtin_pm, two_layer_model: Path, tmp_path: Path):
    """suite distill: the student is the teacher's next version, not active, registered with
    its teacher and measured beside it; it loads, predicts, and unlabelled text is used."""
    train = write_csv(tmp_path / "train.csv", [(t, "good") for t in GOOD] * 2 + [(t, "bad") for t in BAD] * 2)
    unlabelled = tmp_path / "more.txt"
    unlabelled.write_text("great and friendly\nslow and broken\nlovely refund\n", encoding="utf-8")
    common = ["--train", str(train), "--eval", str(train), "--epochs", "3", "--lr", "1e-3", "--batch-size", "8"]
    taught = run(builtin_pm, "train", "text-classification", *common, "--model", str(two_layer_model),
                 "--name", "tickets", "--no-baseline", "--json")
    assert taught.exit_code == 0, taught.output
    result = run(builtin_pm, "distill", "text-classification", "--teacher", "tickets", "--student-layers", "1",
                 "--layers", "validation", "--unlabelled", str(unlabelled), "--augment", "2", *common, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "tickets" and out["version"] == 2 and out["active"] is False
    compared = out["distillation"]
    assert compared["teacher"]["model"] == "tickets v1"
    assert compared["layers_chosen_by"] == "validation" and len(compared["layers_kept"]) == 1
    assert compared["unlabelled_texts"] == 3 and 0 < compared["perturbed_copies"] <= 2 * (32 + 3)
    assert {"accuracy", "texts_per_second", "size_mb"} <= set(compared["student"])
    assert compared["student"]["size_mb"] < compared["teacher"]["size_mb"]
    assert json.loads((Path(out["path"]) / "config.json").read_text())["num_hidden_layers"] == 1

    listed = json.loads(run(builtin_pm, "models", "list", "--json").stdout)
    assert [(m["version"], m["teacher"]) for m in listed if m["name"] == "tickets"] == [(1, None), (2, "tickets v1")]
    predicted = run(builtin_pm, "predict", "text-classification", "--model", out["path"], "great support", "--json")
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.stdout)["predictions"][0]["label"] in ("good", "bad")

    compare = run(builtin_pm, "models", "compare", "tickets:1", "tickets:2", "--json")
    assert compare.exit_code == 0, compare.output
    sides = json.loads(compare.stdout)
    assert sides["A"]["layers"] == 2 and sides["B"]["layers"] == 1 and sides["B"]["teacher"] == "tickets v1"
    text = run(builtin_pm, "models", "compare", "tickets:1", "tickets:2")
    assert "texts/s" in text.stdout and "tickets v1" in text.stdout

    # The student may start from a registered fine-tuned model (its encoder and trained head), named as the
    # teacher is: NAME:VERSION.
    again = run(builtin_pm, "distill", "text-classification", "--teacher", "tickets:1", "--student", "tickets:1",
                *common, "--json")
    assert again.exit_code == 0, again.output
    started = json.loads(again.stdout)
    assert started["version"] == 3 and started["distillation"]["teacher"]["model"] == "tickets v1"
    assert json.loads((Path(started["path"]) / "config.json").read_text())["num_hidden_layers"] == 2
    wrong = run(builtin_pm, "distill", "text-classification", "--teacher", "tickets", "--student", "tickets:one", *common)
    assert wrong.exit_code != 0 and "'tickets:one': expected NAME or NAME:VERSION" in wrong.output
    assert "Traceback" not in wrong.output


def test_distill_refuses_a_teacher_of_another_scenario_and_a_missing_teacher(builtin_pm, tiny_model: Path,
                                                                              tmp_path: Path):
    train = write_csv(tmp_path / "train.csv", [(t, "good") for t in GOOD] + [(t, "bad") for t in BAD])
    missing = run(builtin_pm, "distill", "text-classification", "--train", str(train))
    assert missing.exit_code == 2 and "--teacher" in missing.output
    unknown = run(builtin_pm, "distill", "text-classification", "--train", str(train), "--teacher", "nobody")
    assert unknown.exit_code != 0 and "unknown model 'nobody'" in unknown.output
    assert "Traceback" not in unknown.output


def test_a_token_student_keeps_the_label_map(tiny_model: Path, two_layer_model: Path, tmp_path: Path):
    """Token classification: the teacher's per-word logits reach the student word by word,
    and the student predicts with the teacher's tags in the teacher's order."""
    from core.predictor import Predictor

    sentences = [(["alice", "lives", "in", "paris"], ["B-PER", "O", "O", "B-LOC"]),
                 (["bob", "visited", "london", "today"], ["B-PER", "O", "B-LOC", "O"]),
                 (["carol", "left", "berlin"], ["B-PER", "O", "B-LOC"])] * 4
    data = [TokenExample(words, tags) for words, tags in sentences]
    head = TokenClassificationHead(["B-LOC", "B-PER", "O"])
    config = TrainConfig(epochs=4, batch_size=4, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
    teacher = fine_tune(head, str(two_layer_model), data, data, config, tmp_path / "teacher", progress=False)
    targets = teacher_logits(Predictor(head, teacher.model, teacher.tokenizer, precision="fp32"), data)
    assert [t.shape for t in targets[:3]] == [(4, 3), (4, 3), (3, 3)]  # one row per word
    student_head = TokenClassificationHead(head.labels, **head.options)
    student = fine_tune(student_head, str(tiny_model), data, data, config, tmp_path / "student", progress=False,
                        soft_targets=SoftTargets(targets, temperature=2.0, alpha=0.5))
    assert student.model.config.id2label == {0: "B-LOC", 1: "B-PER", 2: "O"}
    predicted = Predictor(student_head, student.model, student.tokenizer, precision="fp32").predict(data[:2])
    assert [len(p["tags"]) for p in predicted] == [4, 4]
    assert set(predicted[0]["tags"]) <= set(head.labels)


def test_stored_text_from_an_empty_log_is_a_clear_error(settings, tmp_path: Path):
    from types import SimpleNamespace

    from core.app import Suite
    from core.errors import UsageError
    from core.training.distill import Distillation, Teacher

    suite = Suite.create(settings)
    teacher = Teacher("customer-service v1", tmp_path, SimpleNamespace(head=SimpleNamespace(example_kind="text")),
                      Distillation("customer-service", unlabelled="stored"))
    with pytest.raises(UsageError, match="--unlabelled stored: the customer-service scenario has no stored texts"):
        teacher.unlabelled(suite, suite.scenarios.get("customer-service"))
    suite.close()


def test_a_multi_label_student_learns_the_teachers_sigmoids(tiny_model: Path, tmp_path: Path):
    """Multi-label heads compare label by label (binary cross-entropy to the teacher's softened
    sigmoids): zero for equal outputs, and a student trained on them only gets closer."""
    from core.predictor import Predictor

    head = SequenceClassificationHead(["card", "fees", "refund"], multi_label=True)
    same = torch.tensor([[3.0, -2.0, 0.5]])
    entropy = torch.nn.functional.binary_cross_entropy(torch.sigmoid(same / 2), torch.sigmoid(same / 2))
    assert head.soft_loss(same, same, 2.0).item() == pytest.approx(entropy.item(), abs=1e-5)  # its minimum
    data = [TextExample("card declined and fees charged", ["card", "fees"]), TextExample("refund for the fees", ["fees", "refund"]),
            TextExample("my card is lost", ["card"]), TextExample("where is my refund", ["refund"])] * 4
    config = TrainConfig(epochs=4, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
    teacher = fine_tune(head, str(tiny_model), data, data, config, tmp_path / "teacher", progress=False)
    targets = teacher_logits(Predictor(head, teacher.model, teacher.tokenizer, precision="fp32"), data)
    student = fine_tune(head, str(tiny_model), data, data, config, tmp_path / "student", progress=False,
                        soft_targets=SoftTargets(targets, temperature=2.0, alpha=1.0))
    logits, _ = Predictor(head, student.model, student.tokenizer, precision="fp32").logits(data)
    after = head.soft_loss(torch.tensor(np.stack(logits)), torch.tensor(np.stack(targets)), 2.0).item()
    untrained, _ = Predictor(head, head.build_model(str(tiny_model)), student.tokenizer, precision="fp32").logits(data)
    before = head.soft_loss(torch.tensor(np.stack(untrained)), torch.tensor(np.stack(targets)), 2.0).item()
    assert after < before


def test_layers_chosen_on_validation_drop_the_least_useful_first(two_layer_model: Path, tmp_path: Path):
    """--layers validation: each candidate drop is measured by how far it moves the model's
    outputs on the validation examples, and the one that moves them least goes; the model is
    left whole."""
    from copy import deepcopy

    from core.predictor import Predictor
    from core.training.distill import choose_layers, output_divergence

    head = SequenceClassificationHead(["bad", "good"])
    data = [TextExample(t, "good") for t in GOOD] + [TextExample(t, "bad") for t in BAD]
    config = TrainConfig(epochs=3, batch_size=8, learning_rate=1e-3, early_stopping_patience=0, baseline=False)
    teacher = fine_tune(head, str(two_layer_model), data, data, config, tmp_path / "teacher", progress=False)
    chosen = choose_layers(teacher.model, head, teacher.tokenizer, data, 1)
    assert chosen in ([0], [1])

    def outputs(model: torch.nn.Module) -> list[np.ndarray]:
        return Predictor(head, model, teacher.tokenizer, precision="fp32").logits(data)[0]

    whole = outputs(teacher.model)
    moved = {}
    for kept in (0, 1):
        cut = deepcopy(teacher.model)
        cut_layers(cut, 1, [kept])
        moved[kept] = output_divergence(head, outputs(cut), whole)
    assert output_divergence(head, whole, whole) < 1e-6 < min(moved.values())
    assert moved[chosen[0]] == min(moved.values())
    blocks = [m for m in teacher.model.modules() if isinstance(m, torch.nn.ModuleList)]
    assert max(len(b) for b in blocks) == 2 and teacher.model.config.num_hidden_layers == 2  # restored
    assert cut_layers(teacher.model, 1, chosen) == chosen and teacher.model.config.num_hidden_layers == 1


def test_perturbed_copies_are_unlabelled_reproducible_and_made_of_the_corpus_words():
    examples = [TextExample(t, label="good", extras={"topic": "card"}) for t in GOOD] + [TextExample("a", label="bad")]
    copies = perturbed(examples, 3, seed=7)
    assert copies == perturbed(examples, 3, seed=7) and copies != perturbed(examples, 3, seed=8)
    assert 0 < len(copies) <= 3 * len(examples)
    corpus = {word for text in GOOD + ["a"] for word in text.split()}
    sources = {e.text for e in examples}
    for copy in copies:
        assert copy.label is None and copy.text not in sources and set(copy.text.split()) <= corpus
    assert all(copy.extras == {"topic": "card"} for copy in perturbed(examples[:-1], 2))  # kept for the teacher to redo
    assert perturbed(examples, 0) == []

    words = perturbed([TokenExample(["Ada", "flew", "to", "Paris"], tags=["B-per", "O", "O", "B-loc"])], 4, seed=1)
    assert words and all(w.tags is None and 1 <= len(w.tokens) <= 4 for w in words)
    chinese = perturbed([TextExample("退款很慢，客服不回复")], 4, seed=1)
    assert chinese and all(" " not in c.text for c in chinese)  # CJK characters rejoined without spaces
