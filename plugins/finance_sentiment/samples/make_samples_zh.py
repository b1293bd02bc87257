"""Writes the Chinese demo data of the finance monitor (all text invented here, for fictional
firms with invented six-digit codes in a range no exchange uses).

    python -m plugins.finance_sentiment.samples.make_samples_zh [OUT_DIR]

- ``train.zh.csv``: text, label (negative/neutral/positive), topic (Chinese topic names):
  short Chinese news lines from templates, to fine-tune the two-headed model;
- ``feed.zh.jsonl``: two days of Chinese news and comments in time order with, on the second
  day, a surge of negative credit news about 北风银行 (named by its full name, its short name
  北行, its code 690017 or its Latin ticker NWB); also repeated texts under new ids, a
  re-sent id, malformed lines, and market wrap-ups whose long numbers contain a watched code
  (1690017, 690017.5), which must name nobody;
- ``feed.zh.truth.json``: that surge as a labelled surge, for ``suite finance backtest``;
- ``suite.zh.toml``: the watchlist of these firms and the topics with Chinese descriptions
  (for zero-shot topics), as ``make demo-zh`` copies it into the demo's SUITE_HOME.

Deterministic (seeded): the committed files are what this script writes.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from plugins.finance_sentiment.samples.make_samples import Language, write_samples

# name -> (short name, code, other aliases)
COMPANIES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "北风银行": ("北行", "690017", ("NWB",)),
    "康拓汽车": ("康拓", "690231", ()),
    "法布里能源": ("法布里", "690452", ()),
    "顺风航空": ("顺航", "690318", ()),
    "立沃制药": ("立沃", "690674", ()),
    "阿达姆零售": ("阿达姆", "690588", ()),
}
SURGE_COMPANY = "北风银行"

# Each topic's Chinese name and description (zero-shot topics compare texts to the description).
TOPICS: dict[str, str] = {
    "业绩": "季度业绩、利润、营收、销售增长、每股收益、业绩展望与指引",
    "并购": "并购、收购要约、买卖公司或股权、资产剥离",
    "市场": "股市交易、股价涨跌、指数、债券、汇率、大宗商品、投资者",
    "宏观与政策": "经济、通胀、利率、央行、失业、国内生产总值、政府政策",
    "监管与法律": "监管机构、诉讼、罚款、调查、法院、合规、制裁、欺诈指控",
    "信用与违约": "债务、贷款、信用评级下调、违约、破产、流动性、再融资",
    "管理层": "首席执行官、董事会、辞职、任命、管理层变动",
    "产品与运营": "新产品、合同、订单、工厂、生产、裁员、供应链、停工",
}
CREDIT = "信用与违约"

# topic -> sentiment -> templates; {co} company, {pct} a percentage, {q} a quarter, {m} an amount
TEMPLATES: dict[str, dict[str, list[str]]] = {
    "业绩": {
        "positive": ["{co}{q}净利润同比增长{pct}，超出市场预期", "{co}上调全年业绩指引，{q}销售强劲",
                     "{co}{q}营收创历史新高，达{m}", "{co}{q}每股收益好于分析师预期"],
        "negative": ["{co}{q}利润下滑{pct}，逊于预期", "{co}因{q}销售疲软下调全年展望",
                     "{co}{q}由盈转亏，亏损{m}", "{co}营收下降{pct}，远低于市场预期"],
        "neutral": ["{co}将于周四公布{q}业绩", "{co}{q}营收{m}，与公司计划一致", "{co}确认{q}业绩说明会日期"],
    },
    "并购": {
        "positive": ["{co}溢价收购竞争对手，增长前景改善", "{co}赢得收购战，股价应声上涨", "{co}完成合并，预计每年节省{m}"],
        "negative": ["监管机构反对，{co}放弃收购计划", "{co}收购案告吹，市值蒸发{pct}", "分析师警告{co}最新收购出价过高"],
        "neutral": ["{co}正洽谈收购一家小型同业", "{co}以{m}出售物流子公司少数股权", "{co}聘请顾问评估出售部分业务的可能性"],
    },
    "市场": {
        "positive": ["{co}股价大涨{pct}，创历史新高", "投资者涌入{co}，股价上涨{pct}"],
        "negative": ["{co}股价遭大量抛售，下跌{pct}", "{co}股价暴跌{pct}，创五年新低"],
        "neutral": ["{co}早盘股价持平", "{co}下月将被纳入地区股票指数"],
    },
    "宏观与政策": {
        "positive": ["利率下调有望提振{co}的贷款业务", "经济学家称通胀降温利好{co}"],
        "negative": ["利率上升叠加经济放缓，{co}承压", "失业率上升威胁{co}的需求"],
        "neutral": ["央行维持利率不变，{co}未予置评", "通胀数据周五公布，{co}表示将关注"],
    },
    "监管与法律": {
        "positive": ["{co}胜诉，索赔被驳回", "经过长期审查，监管机构认定{co}合规"],
        "negative": ["{co}因误导客户被罚款{m}", "检方对{co}展开欺诈调查", "{co}因隐性收费遭集体诉讼"],
        "neutral": ["{co}表示正配合监管机构的例行检查", "{co}一案的听证会定于下月举行"],
    },
    "信用与违约": {
        "positive": ["{co}削减债务后获评级机构上调评级", "{co}以更低成本完成贷款再融资"],
        "negative": ["{co}债务持续攀升，评级被下调至垃圾级", "{co}或将无法兑付下月到期的债券",
                     "储户挤提，{co}流动性担忧加剧", "{co}未能按期支付利息，违约风险上升",
                     "分析师警告{co}可能违反贷款契约", "{co}一笔{m}贷款逾期未还，或面临违约"],
        "neutral": ["{co}发行{m}五年期债券", "{co}延长一项信贷额度的期限"],
    },
    "管理层": {
        "positive": ["{co}任命一位备受尊敬的新首席执行官", "投资者欢迎{co}新任董事长"],
        "negative": ["{co}首席执行官因丑闻突然辞职", "{co}财务总监突然离职"],
        "neutral": ["{co}任命一名新董事", "{co}首席运营官将按计划于明年退休"],
    },
    "产品与运营": {
        "positive": ["{co}赢得价值{m}的大额合同", "{co}新工厂提前投产"],
        "negative": ["{co}将裁员两千人并关闭一座工厂", "{co}系统故障导致业务停摆两天", "{co}因安全缺陷召回数千件产品"],
        "neutral": ["{co}发布主打产品的升级版本", "{co}总部迁入新办公楼"],
    },
}
OUTLETS = ["港湾快讯", "账本日报", "市场灯塔", "铜街财经", "股吧网友"]
COMMENTS = {
    "negative": ["今天把{tk}全卖了，越来越难看", "{tk}简直是灾难，大家快跑", "担心我在{co}的存款", "{co}又出事了，太糟糕了"],
    "positive": ["{tk}持仓很满意，这个季度不错", "{co}一直很稳，继续加仓{tk}"],
    "neutral": ["有人拿着{tk}过财报吗？", "{co}几点发业绩？"],
}
# Market wrap-ups: long numbers that contain a watched code, and name no company.
WRAP_UPS = ["两市成交额{big}元，较上一交易日小幅放量", "指数收报{dec}点，全天窄幅震荡"]


def mention(rng: random.Random, company: str) -> str:
    """How the news names a firm: its full name mostly, else its short name or code."""
    short, code, _ = COMPANIES[company]
    return rng.choices([company, short, f"{short}（{code}）"], [0.7, 0.2, 0.1])[0]


def _fill(template: str, rng: random.Random, company: str) -> str:
    short, code, latin = COMPANIES[company]
    return template.format(co=mention(rng, company), tk=rng.choice([short, code, *latin]), pct=f"{rng.randint(2, 40)}%",
                           q=rng.choice(["第一季度", "第二季度", "第三季度", "第四季度"]), m=f"{rng.randint(2, 90)}亿元")


def _wrap_up(rng: random.Random) -> str:
    code = rng.choice([c for _, c, _ in COMPANIES.values()])
    return rng.choice(WRAP_UPS).format(big=f"{rng.randint(1, 9)}{code}{rng.randint(0, 9)}", dec=f"{code}.{rng.randint(1, 9)}")


MALFORMED = [
    '{"id": "bad-1", "time": "2026-11-02T09:00:00+00:00"}',
    '{"id": "bad-2", "time": "昨天下午", "text": "一个无法解析的时间"}',
    '{"id": "bad-3", "time": "2026-11-02T10:00:00+00:00", "text": "没有结尾的引号',
]


def suite_toml() -> str:
    def quoted(text: str) -> str:
        return json.dumps(text, ensure_ascii=False)  # a TOML basic string

    lines = ["# The Chinese demo's configuration (make demo-zh copies it into the demo's SUITE_HOME).",
             "# Written by make_samples_zh.py.", "[finance_sentiment]", "bucket_minutes = 15", "",
             "# Topic name = description: zero-shot topics compare each text with the description (in Chinese",
             "# here); a model trained with a topic column learns these names.", "[finance_sentiment.topics]"]
    lines += [f"{quoted(name)} = {quoted(text)}" for name, text in TOPICS.items()]
    lines += ["", "# Chinese names match anywhere in a text (no spaces in Chinese), a code only as a whole number,",
              "# a Latin ticker as a word.", "[finance_sentiment.watchlist]"]
    lines += [f"{quoted(name)} = [{', '.join(quoted(a) for a in (short, code, *latin))}]"
              for name, (short, code, latin) in COMPANIES.items()]
    lines += ["", "[[finance_sentiment.sinks]]", 'type = "console"', "", "[[finance_sentiment.sinks]]", 'type = "jsonl"',
              'path = ".demo-zh/alerts.jsonl"']
    return "\n".join(lines) + "\n"


CHINESE = Language(list(COMPANIES), TEMPLATES, COMMENTS, OUTLETS, _fill, SURGE_COMPANY, CREDIT,
                   "{outlet}：{text}（更新{n}）", "https://news.example.com/zh/{n}", wrap_up=_wrap_up,
                   wrap_share=0.03)


def main(out: Path) -> None:
    # a seed whose quiet days hold no chance cluster of negative news about one firm
    write_samples(out, random.Random(9), CHINESE, MALFORMED, suffix=".zh")
    (out / "suite.zh.toml").write_text(suite_toml(), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
