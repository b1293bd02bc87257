"""An English model is never trained on Chinese silently; the model's reading is recorded."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoTokenizer
from typer.testing import CliRunner

from core.cli.app import build_app
from core.languages import cjk_share, model_languages, reading_check
from core.models import packaged_model_path
from core.plugins import make_plugin_manager
from core.settings import Settings

REVIEWS_ZH = ["送餐很快，味道也不错，下次还会再点。", "等了一个半小时才送到，饭菜都凉了。", "包装很好，分量足，推荐！",
              "客服态度很差，退款到现在还没到账。", "米饭太硬了，汤也洒了一半。", "老板人很好，送了一瓶饮料。"]
REVIEWS_EN = ["Fast delivery and the food was still hot.", "Waited ninety minutes and the soup was cold.",
              "Great packaging, generous portions.", "The refund has not arrived yet."]


def test_the_default_model_cannot_read_chinese_and_says_which_model_can() -> None:
    path = packaged_model_path()
    check = reading_check(AutoTokenizer.from_pretrained(path), REVIEWS_ZH, path)
    assert check.cjk and check.model_languages == "en" and check.unknown_token_share > 0.3
    warning = check.warning("default")
    assert warning and "multilingual-e5-small" in warning and "suite models install" in warning
    english = reading_check(AutoTokenizer.from_pretrained(path), REVIEWS_EN, path)
    assert english.unknown_token_share == 0 and english.warning("default") is None


def test_script_share_counts_letters_not_punctuation_or_digits() -> None:
    assert cjk_share(["北风银行 600036，跌了！"]) == 1.0
    assert cjk_share(["Northwind 北风"]) == 2 / 11
    assert cjk_share(["", "2024-01-01"]) == 0.0


def test_training_on_chinese_warns_before_training_and_records_the_reading(tiny_model: Path, tmp_path: Path) -> None:
    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join(f"{t},{'neg' if i % 2 else 'pos'}\n" for i, t in enumerate(REVIEWS_ZH * 3)),
                    encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    result = CliRunner().invoke(build_app(make_plugin_manager(settings), settings),
                                ["train", "text-classification", "--train", str(data), "--model", str(tiny_model),
                                 "--epochs", "1", "--no-baseline", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("cannot read Chinese/Japanese/Korean text") >= 1
    out = json.loads(result.stdout)
    assert any("multilingual-e5-small" in w for w in out["warnings"])
    recorded = json.loads((Path(out["path"]) / "suite_head.json").read_text(encoding="utf-8"))["encoder"]
    assert recorded["unknown_token_share"] > 0.3 and recorded["cjk_share"] == 1.0
    assert model_languages(out["path"]) == recorded["model_languages"]
