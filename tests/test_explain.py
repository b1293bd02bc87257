"""One explanation shape for every scenario: words with spans, never punctuation or stop words."""

from __future__ import annotations

import pytest

from core.explain import is_reason, occlusion, without, words
from core.testing import check_explanation


def test_words_are_spans_without_punctuation_and_one_per_cjk_character() -> None:
    text = "(Update) Wire: Northwind's loss-making unit, 招商银行跌了。"
    found = [(w.text, text[w.start:w.end]) for w in words(text)]
    assert [t for t, _ in found] == ["Update", "Wire", "Northwind's", "loss-making", "unit", "招", "商", "银", "行", "跌", "了"]
    assert all(t == span for t, span in found)


def test_stop_words_punctuation_and_lone_letters_are_never_reasons() -> None:
    assert not any(is_reason(w) for w in ("the", "At", "on", "的", "了", "a", "7"))
    assert all(is_reason(w) for w in ("declined", "Northwind", "跌", "600036"))


def test_leaving_a_word_out_keeps_the_rest_readable() -> None:
    text = "my card was declined again"
    assert without(text, words(text)[3]) == "my card was again"
    assert without("银行卡丢了", words("银行卡丢了")[3]) == "银行卡了"


def test_occlusion_finds_the_one_word_a_model_keys_on() -> None:
    """A classifier that keys on one word: that word carries the whole drop, every other none."""
    def score(texts: list[str]) -> list[float]:
        return [0.9 if "declined" in t.split() else 0.1 for t in texts]

    text = "the shop said my card was declined at the till"
    explanation = occlusion(text, score, top_k=5)
    check_explanation(text, explanation)
    assert explanation == [{"word": "declined", "start": 26, "end": 34, "weight": 0.8}]
    assert occlusion("declined", score) == []  # one word: nothing to compare against


def test_lexical_terms_give_chinese_characters_and_pairs_and_english_words() -> None:
    from core.lexical import terms

    assert terms("我的银行卡丢了") == ["我", "的", "银", "行", "卡", "丢", "了", "我的", "的银", "银行", "行卡", "卡丢", "丢了"]
    assert terms("Card LOST, 银行!") == ["card", "lost", "银", "行", "银行"]
    assert set(terms("银行卡丢失怎么办")) & set(terms("我的银行卡丢了")) >= {"银行", "行卡", "卡丢"}


# --------------------------------------------------------------------------------------
# Faithfulness (suite evaluate --explanations) and integrated gradients
# --------------------------------------------------------------------------------------


class KeywordClassifier:
    """A hand-built model whose answer is known: 'declined' (or 拒) means 'bad' with
    probability 0.99, anything else 'good' with 0.99."""

    def predict(self, examples):
        out = []
        for ex in examples:
            bad = 0.99 if ("declined" in ex.text.split() or "拒" in ex.text) else 0.01
            out.append({"label": "bad" if bad > 0.5 else "good", "score": max(bad, 1 - bad),
                        "scores": {"bad": bad, "good": 1 - bad}})
        return out


def test_faithfulness_of_a_model_that_keys_on_one_word() -> None:
    """Occlusion finds the key word: removing it takes the whole probability away
    (comprehensiveness ~1 at k=1), the word alone keeps it (sufficiency ~0); random words
    do far worse; a text without the key word has nothing to remove (~0)."""
    from core.data.types import TextExample
    from core.evaluation.faithfulness import faithfulness

    texts = ["the shop said my card was declined at the till", "payment declined twice this morning again",
             "银行卡被拒了怎么办呢"]
    report = faithfulness(KeywordClassifier(), [TextExample(t) for t in texts], methods=["occlusion"])
    occluded, random_words = report["methods"]["occlusion"], report["methods"]["random"]
    assert report["texts"] == 3
    assert occluded["comprehensiveness"]["1"] == pytest.approx(0.98, abs=1e-6)
    assert occluded["sufficiency"]["1"] == pytest.approx(0.0, abs=1e-6)
    assert random_words["comprehensiveness"]["1"] < 0.5 * occluded["comprehensiveness"]["1"]
    assert report["chosen"] == "occlusion" and occluded["ms_per_explanation"] >= 0

    calm = faithfulness(KeywordClassifier(), [TextExample("the card works well at every till")], methods=["occlusion"])
    assert calm["methods"]["occlusion"]["comprehensiveness"]["20%"] == pytest.approx(0.0, abs=1e-6)


def test_the_faster_method_that_keeps_most_of_the_lift_over_random_is_chosen() -> None:
    from core.evaluation.faithfulness import KEEP, choose

    def method(comprehensiveness: float, ms: float) -> dict:
        return {"comprehensiveness": {"20%": comprehensiveness}, "ms_per_explanation": ms}

    # random words remove 0.2; the slow method lifts that by 0.4, the fast one keeps KEEP of it (and a bit)
    close = {"methods": {"gradient": method(0.2 + 0.4 * KEEP + 0.01, 3.0), "occlusion": method(0.6, 30.0),
                         "random": method(0.2, 0.0)}}
    assert choose(close) == "gradient"
    far = {"methods": {"gradient": method(0.2 + 0.4 * KEEP - 0.01, 3.0), "occlusion": method(0.6, 30.0),
                       "random": method(0.2, 0.0)}}
    assert choose(far) == "occlusion"
    no_baseline = {"methods": {"occlusion": method(0.40, 30.0), "integrated-gradients": method(0.70, 90.0)}}
    assert choose(no_baseline) == "integrated-gradients"  # 0.40 keeps 57% of 0.70


@pytest.fixture(scope="module")
def keyword_predictor(tiny_model):
    """A tiny classifier trained until it keys on 'declined' / 拒."""
    from core.data.types import TextExample
    from core.heads.classification import SequenceClassificationHead
    from core.predictor import Predictor
    from core.training.config import TrainConfig
    from core.training.engine import fine_tune
    import tempfile
    from pathlib import Path

    bad = ["my card was declined", "declined again today", "payment declined at the till", "银行卡被拒", "付款被拒了"]
    good = ["my card works", "paid at the till today", "payment went through", "银行卡好用", "付款成功了"]
    data = [TextExample(t, "bad") for t in bad] * 4 + [TextExample(t, "good") for t in good] * 4
    head = SequenceClassificationHead(["bad", "good"])
    config = TrainConfig(epochs=8, batch_size=8, learning_rate=2e-3, early_stopping_patience=0, baseline=False,
                         freeze_embeddings=False)
    with tempfile.TemporaryDirectory() as scratch:
        outcome = fine_tune(head, str(tiny_model), data, data, config, Path(scratch), progress=False)
    return Predictor(head, outcome.model, outcome.tokenizer, precision="fp32")


def test_integrated_gradients_sums_pieces_into_words_and_cjk_characters(keyword_predictor) -> None:
    from core.data.types import TextExample
    from core.explain import Explainer

    explainer = Explainer(keyword_predictor, "integrated-gradients")
    text = "unbelievably my card was declined"  # 'unbelievably' is several word pieces
    pieces = keyword_predictor.tokenizer.tokenize("unbelievably")
    assert len(pieces) > 1
    candidates, scores = explainer.word_scores(TextExample(text), "bad")
    assert [w.text for w in candidates] == ["unbelievably", "card", "declined"]  # whole words, no stop words
    assert all(text[w.start:w.end] == w.text for w in candidates) and len(scores) == 3
    assert max(range(3), key=lambda i: scores[i]) == 2  # the key word carries the most
    explanation = keyword_predictor.explain(TextExample(text), method="integrated-gradients")
    check_explanation(text, explanation)
    assert explanation[0]["word"] == "declined"

    chinese = "我的银行卡被拒了"
    candidates, scores = explainer.word_scores(TextExample(chinese), "bad")
    assert [w.text for w in candidates] == ["银", "行", "卡", "拒"]  # a word per character; 我, 的, 被, 了 are stop words
    # one score per character, each from its own piece (this English vocabulary reads most of
    # these characters as [UNK], so which one wins says nothing here)
    assert len(scores) == 4 and len(set(scores)) == 4


def test_gradient_explains_a_batch_as_each_text_alone(keyword_predictor) -> None:
    """The gradient method pads texts into one batch: each text's words and scores are those it
    gets alone (padding and neighbours count for nothing), and the key word leads."""
    from core.data.types import TextExample
    from core.explain import Explainer, ranked_words

    explainer = Explainer(keyword_predictor, "gradient")
    texts = ["my card was declined", "unbelievably my card was declined at the till today", "银行卡被拒", "ok"]
    examples = [TextExample(t) for t in texts]
    predictions = keyword_predictor.predict(examples)
    together = explainer.explain_many(examples, predictions)
    for example, prediction, explanation in zip(examples, predictions, together):
        alone = ranked_words(*explainer.word_scores(example, prediction["label"]), 5)
        assert [w["word"] for w in explanation] == [w["word"] for w in alone]
        assert [w["weight"] for w in explanation] == pytest.approx([w["weight"] for w in alone], abs=1e-3)
        check_explanation(example.text, explanation)
    assert together[0][0]["word"] == "declined" and together[3] == []  # one word: nothing to rank


def test_int8_linear_layers_pass_gradients_to_their_inputs() -> None:
    """The int8 model explains in its own forward pass: its linear layers give the input the
    gradient the float layer would (through the dequantized weight), and without a gradient
    to pass they are the stock quantized layer, bit for bit."""
    import torch

    from core.predictor import Int8Linear, quantize_int8

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))
    quantized = quantize_int8(model)
    assert all(isinstance(quantized[i], Int8Linear) for i in (0, 2))
    x = torch.randn(4, 16)
    with torch.inference_mode():
        stock = torch.ao.nn.quantized.dynamic.Linear.forward(quantized[0], x)
        assert torch.equal(quantized[0](x), stock)
    exact = x.clone().requires_grad_()
    model(exact)[:, 1].sum().backward()
    through = x.clone().requires_grad_()
    quantized(through)[:, 1].sum().backward()
    cosine = torch.nn.functional.cosine_similarity(exact.grad.flatten(), through.grad.flatten(), dim=0)
    assert cosine > 0.98


def test_gradient_predicts_and_explains_in_one_pass_on_the_int8_model(keyword_predictor) -> None:
    """predict_explained with the gradient method: the int8 model's predictions (as predict
    gives them) and, from the same pass, each text's words as shares of the gradient, the key
    word first; the same explanations as explain_many given the predictions."""
    from core.data.types import TextExample
    from core.predictor import Predictor

    int8 = Predictor(keyword_predictor.head, keyword_predictor.float_model, keyword_predictor.tokenizer,
                     precision="int8", explain_method="gradient")
    examples = [TextExample(t) for t in ["my card was declined at the till", "the payment went through today",
                                          "payment declined at the till today", "ok"]]
    predictions, explanations = int8.predict_explained(examples)
    plain = int8.predict(examples)
    assert [p["label"] for p in predictions] == [p["label"] for p in plain]
    assert [p["score"] for p in predictions] == pytest.approx([p["score"] for p in plain], abs=1e-4)
    assert explanations[0][0]["word"] == "declined" and explanations[2][0]["word"] == "declined"
    assert explanations[3] == []  # one word: nothing to rank
    assert int8.predict_explained([]) == ([], []) and int8.predict([]) == []
    for example, explanation in zip(examples, explanations):
        check_explanation(example.text, explanation)
        assert 0 < sum(w["weight"] for w in explanation) <= 1.0001 or not explanation  # shares of the text's gradient
    again = int8.explain_many(examples, plain)
    assert [[w["word"] for w in e] for e in again] == [[w["word"] for w in e] for e in explanations]


def test_the_gradient_is_read_where_the_upper_half_of_the_layers_starts(tiny_model) -> None:
    from transformers import BertConfig, BertModel

    from core.explain import embedding_block, upper_half

    model = BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=4, num_attention_heads=2,
                                 intermediate_size=16))
    assert upper_half(model) is model.encoder.layer[1]  # its output enters layers 3 and 4
    one = BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16))
    assert upper_half(one) is embedding_block(one)


def test_occlusion_and_integrated_gradients_are_measured_side_by_side(keyword_predictor) -> None:
    from core.data.types import TextExample
    from core.evaluation.faithfulness import faithfulness

    texts = ["my card was declined again", "payment declined at the till", "the payment went through today"]
    report = faithfulness(keyword_predictor, [TextExample(t) for t in texts])
    assert set(report["methods"]) == {"occlusion", "integrated-gradients", "gradient", "random"}
    for name in ("occlusion", "integrated-gradients", "gradient"):
        assert report["methods"][name]["comprehensiveness"]["1"] >= report["methods"]["random"]["comprehensiveness"]["1"]
    assert report["chosen"] in ("occlusion", "integrated-gradients", "gradient")


def test_evaluate_measures_explanations_and_records_the_method(builtin_pm, tiny_model, tmp_path) -> None:
    """Training measures occlusion against the gradient on validation texts and records the
    choice; suite evaluate --explanations then measures all three methods: the faithfulness
    table in the text report and in report.json, the choice written beside the model for
    --explain to use."""
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from core.cli.app import build_app

    rows = [("my card was declined", "bad"), ("payment declined again", "bad"), ("refund never came back", "bad"),
            ("my card works fine", "good"), ("payment went through quickly", "good"), ("refund arrived today", "good")]
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"{t},{label}\n" for t, label in rows * 3), encoding="utf-8")
    app = build_app(builtin_pm)
    trained = CliRunner().invoke(app, ["train", "text-classification", "--train", str(data), "--eval", str(data),
                                       "--model", str(tiny_model), "--epochs", "2", "--lr", "1e-3", "--no-baseline",
                                       "--json"])
    assert trained.exit_code == 0, trained.output
    folder = Path(json.loads(trained.stdout)["path"])
    at_training = json.loads((folder / "suite_head.json").read_text())["explanation"]  # measured like the precision
    assert at_training["when"] == "training" and at_training["method"] in ("occlusion", "gradient")
    assert at_training["measured_on"] >= 1 and set(at_training["comprehensiveness_20%"]) == {"occlusion", "gradient", "random"}
    assert json.loads(trained.stdout)["explanation"] == at_training
    result = CliRunner().invoke(app, ["evaluate", "text-classification", "--data", str(data), "--explanations",
                                      "--explain-sample", "4", "--json"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)["metrics"]["explanations"]
    assert measured["texts"] == 4 and measured["ks"] == ["1", "3", "5", "20%"]
    assert set(measured["methods"]) == {"occlusion", "integrated-gradients", "gradient", "random"}
    state = json.loads((folder / "suite_head.json").read_text())
    assert state["explanation"]["method"] == measured["chosen"]
    text = CliRunner().invoke(app, ["evaluate", "text-classification", "--data", str(data), "--explanations",
                                    "--explain-sample", "2"])
    assert "comprehensiveness" in text.stdout and "explanation method recorded with the model" in text.stdout


def test_the_global_view_finds_class_words_confusions_and_a_shortcut() -> None:
    """With the keyword model: 'declined' drives 'bad', is a shortcut (alone it is 'bad' on
    every text it leads), and a text labelled 'good' that says declined is a confusion."""
    from core.data.types import TextExample
    from core.evaluation.global_view import global_view

    texts = [f"card declined at shop {n}" for n in ("alpha", "beta", "gamma", "delta", "omega")]
    examples = [TextExample(t, "bad") for t in texts] + [TextExample("refund declined but then approved", "good"),
                                                         TextExample("lovely friendly staff", "good")]
    view = global_view(KeywordClassifier(), examples, "occlusion")
    assert view["classes"]["bad"][0]["word"] == "declined" and view["classes"]["bad"][0]["texts"] == 6
    assert view["classes"]["bad"][0]["examples"] == texts[:2]
    assert view["confusions"] == [{"true": "good", "predicted": "bad", "count": 1, "words": ["declined"]}]
    assert view["shortcuts"] == [{"word": "declined", "label": "bad", "texts": 6, "probability_alone": 0.99}]


def test_explaining_many_texts_at_once_gives_each_its_own_explanation() -> None:
    from core.data.types import TextExample
    from core.explain import Explainer

    explainer = Explainer(KeywordClassifier(), "occlusion")
    examples = [TextExample(t) for t in ("my card was declined at the till", "all good here thanks", "declined", "银行卡被拒了")]
    assert explainer.explain_many(examples) == [explainer.explain(ex) for ex in examples]
    assert explainer.explain_many(examples)[0] == [{"word": "declined", "start": 12, "end": 20, "weight": 0.98}]


class SuffixTagger:
    """A hand-built tagger: a capitalised word is B-ORG when 'Inc' follows somewhere in the
    sentence (probability 0.9), otherwise O; every other word is O."""

    class head:
        labels = ["B-ORG", "O"]
        label2id = {"B-ORG": 0, "O": 1}

    def logits(self, examples):
        import numpy as np

        outputs, rows = [], []
        for ex in examples:
            org = "Inc" in ex.tokens
            words = [[np.log(0.9), np.log(0.1)] if org and t[0].isupper() and t != "Inc" else [np.log(0.05), np.log(0.95)]
                     for t in ex.tokens]
            outputs.append(np.asarray([[0.0, 0.0]] + words + [[0.0, 0.0]], dtype=np.float32))
            rows.append({"word_ids": [None, *range(len(ex.tokens)), None], "n_words": len(ex.tokens)})
        return outputs, rows


def test_an_entity_is_explained_by_the_words_around_it() -> None:
    """Leave-one-word-out for token classification: 'Inc' is why Northwind is an ORG; the
    entity's own word and stop words are never its reasons."""
    from core.data.adapters import text_tokens
    from core.explain import entity_reasons

    text = "shares of Northwind rose after the Inc filing"
    spans = text_tokens(text)
    tokens = [text[a:b] for a, b in spans]
    tags = ["O", "O", "B-ORG", "O", "O", "O", "O", "O"]
    reasons = entity_reasons(SuffixTagger(), tokens, tags, (2, 3), spans)
    check_explanation(text, reasons)
    assert [r["word"] for r in reasons] == ["Inc"] and reasons[0]["weight"] == pytest.approx(0.85, abs=1e-4)
