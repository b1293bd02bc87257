"""The finance monitor's self-contained HTML report (``suite run finance-monitor --report``).

One HTML file, no network: the CSS and the JavaScript are inline, the data rides along as
JSON in ``<script type="application/json" id="report-data">`` and the script draws one SVG
trend chart per tracked key from it. The summary header, the chart legends and the evidence
table are plain HTML written here, so they read even with JavaScript off.

What the page promises its reader:

- every chart shares one time axis (the same start, end and ticks), so charts line up in time;
  each is drawn at its container's width (redrawn on resize), so text stays readable on a phone;
- a bucket is a step of its own width: an empty bucket is zero, never a line between neighbours;
- the negative share is drawn only for buckets of at least ``SHARE_MIN_ITEMS`` items (the share
  of one item is 0 or 100%, noise), and the legend says so;
- near-identical evidence texts (wire copy "(update 3)", "(update 6)") are one entry with "×n";
  highlighted words are words: punctuation stripped, stop words never;
- alerts on the same evidence (a company and its topic) are one entry listing each key;
- a backtest says so, and a run that read nothing new says so and still shows the time range
  of the items the report covers.

The input (``job.report_data``) is a dict: ``title``, ``generated_at``, ``source``,
``bucket_seconds``, ``summary`` (``items``, ``duplicates``, ``dead_letters``, ``alerts``,
``first_time``, ``last_time``, ``sentiment``), ``series`` (key to buckets ``{t, total,
negative, neutral, positive}``), ``alerts`` (``id``, ``key``, ``severity``, ``status``,
``acknowledged``, ``title``, ``fired_at``, ``resolved_at``, ``evidence``) and, optionally,
``mode`` (``"backtest"`` or ``"live"``), ``items_read`` (what this run read), ``lang`` (the
page's language, ``en``) and an alert's ``group_id``. Anything missing renders as "–" or is
left out, never as an error.
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core import write_text_atomic
from core.lexical import CJK, is_reason
from plugins.finance_sentiment.text import normalise

__all__ = ["write_report", "render_report", "SHARE_MIN_ITEMS", "NEAR_DUPLICATE", "FONT_STACK"]

SENTIMENTS = ("negative", "neutral", "positive")
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "warning": 2, "low": 1, "info": 0}

SHARE_MIN_ITEMS = 5  # a bucket's negative share is drawn from this many items (one item's share is 0 or 100%)
NEAR_DUPLICATE = 0.8  # evidence texts whose word sets overlap this much (Jaccard) are one entry
HOUR_MS = 3600 * 1000

# Latin first, then the CJK families (a browser falls back glyph by glyph down the list).
FONT_STACK = ('system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, '
              '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif')

_CJK = re.compile(f"[{CJK}]")
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_SOURCE_LABEL = re.compile(r"^[^:：\n]{1,40}?[:：]\s*")  # "Harbor Wire: ", "财经快讯："


def write_report(path: Path, data: dict) -> Path:
    """Write the report for ``data`` to ``path`` atomically (a crash leaves the old report or
    none, never half a page) and return the path."""
    return write_text_atomic(path, render_report(data))


def render_report(data: Mapping[str, Any]) -> str:
    """The whole page as a string."""
    data = _json_ready(dict(data or {}))
    summary = data.get("summary") if isinstance(data.get("summary"), Mapping) else {}
    series = data.get("series") if isinstance(data.get("series"), Mapping) else {}
    alerts = [a for a in (data.get("alerts") or []) if isinstance(a, Mapping)]
    data["alerts"] = alerts
    backtest = str(data.get("mode") or summary.get("mode") or "").lower() == "backtest"
    title = str(data.get("title") or "Finance monitor")
    page_title = f"{title} (backtest)" if backtest else title
    order = _chart_order(series, alerts)
    has_data = any(series.get(key) for key in order)
    axis = _time_axis(series, data.get("bucket_seconds"))
    lang = str(data.get("lang") or "en")

    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        '<div class="page">',
        _header(title, backtest, data, summary, alerts, axis),
        '<section class="charts" id="charts">',
        "<h2>Trends</h2>",
    ]
    if not has_data:
        parts.append(
            '<p class="empty" id="no-data">No data: the monitor has recorded no items in '
            "this report's time range, so there are no trends to draw.</p>"
        )
    else:
        parts.append(_charts_note(axis, data.get("bucket_seconds")))
        parts.append(
            "<noscript><p class=\"empty\">The charts are drawn by JavaScript; "
            "turn it on to see them.</p></noscript>"
        )
        for number, key in enumerate(order):
            parts.append(_chart_card(number, key, series.get(key) or [], alerts))
    parts.append("</section>")
    parts.append(_evidence(alerts))
    parts.append(
        '<footer class="foot">Self-contained report: no network access needed. '
        f"Generated {_time_html(data.get('generated_at'))}.</footer>"
    )
    parts.append("</div>")
    payload = dict(data)
    payload["order"] = order
    payload["axis"] = axis
    payload["share_min_items"] = SHARE_MIN_ITEMS
    parts.append(f'<script type="application/json" id="report-data">{_script_json(payload)}</script>')
    parts.append(f"<script>{_JS}</script>")
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    """HTML-escape text for element content and quoted attributes."""
    return html.escape("" if value is None else str(value), quote=True)


def _json_ready(value: Any) -> Any:
    """Plain JSON values: no NaN/Infinity (JSON has none), datetimes as ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` appear literally,
    so no text (``</script>``, ``<!--``) can end the element early."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def as_number(value: Any) -> float | None:
    """A finite int or float as a float; None for anything else (bools, NaN, text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def count_text(value: Any) -> str:
    """A count as a table shows it ("1,234"), or a dash when there is none."""
    found = as_number(value)
    return "–" if found is None else f"{int(round(found)):,}"


def _pct(value: Any) -> str:
    share = as_number(value)
    return "–" if share is None else f"{share * 100:.1f}%"


def parse_time(value: Any) -> datetime | None:
    """An ISO time (or a datetime) in UTC; None for anything else."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _ms(value: Any) -> int | None:
    moment = parse_time(value)
    return None if moment is None else int(round(moment.timestamp() * 1000))


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def _time_text(value: Any) -> str:
    moment = parse_time(value)
    if moment is None:
        return "–" if not value else str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _time_html(value: Any) -> str:
    if not value:
        return "–"
    return f'<time datetime="{_e(value)}">{_e(_time_text(value))}</time>'


def _slug(value: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(value or "").lower()).strip("-") or "unknown"


def lang_of(text: str) -> str | None:
    """``ja``/``ko``/``zh`` for text in those scripts (the browser then picks the right CJK
    glyphs), ``None`` otherwise."""
    if re.search("[\u3040-\u30ff]", text):
        return "ja"
    if re.search("[\uac00-\ud7af]", text):
        return "ko"
    if _CJK.search(text):
        return "zh"
    return None


def _lang_attr(text: str) -> str:
    lang = lang_of(text)
    return f' lang="{lang}"' if lang else ""


def _key_label(key: str) -> str:
    kind, sep, name = key.partition(":")
    if sep and kind in ("topic", "entity"):
        return f'<span class="kind">{_e(kind)}</span> <span class="name"{_lang_attr(name)}>{_e(name)}</span>'
    return f'<span class="name"{_lang_attr(key)}>{_e(key)}</span>'


def _duration(seconds: Any) -> str:
    total = as_number(seconds)
    if not total or total <= 0:
        return "–"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if total >= size and total % size == 0:
            count = int(total // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{total:g} s"


def _chart_order(series: Mapping[str, Any], alerts: list[Mapping[str, Any]]) -> list[str]:
    """Keys with alerts first (firing before resolved, then by severity), then the rest,
    each group in the order the data lists them."""
    keys = list(series)
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        by_key.setdefault(str(alert.get("key")), []).append(alert)

    def rank(item: tuple[int, str]) -> tuple:
        index, key = item
        found = by_key.get(key, [])
        firing = any(a.get("status") == "firing" for a in found)
        severity = max((SEVERITY_RANK.get(str(a.get("severity")).lower(), 0) for a in found), default=-1)
        return (0 if found else 1, 0 if firing else 1, -severity, index)

    return [key for _, key in sorted(enumerate(keys), key=rank)]


def _time_axis(series: Mapping[str, Any], bucket_seconds: Any) -> dict[str, Any] | None:
    """The one time axis every chart uses: from the earliest bucket's start to the latest
    bucket's end over all keys, and the bucket width (``bucket_seconds``, or else the smallest
    gap between buckets, or else an hour). ``None`` without a single dated bucket."""
    stamps: set[int] = set()
    for buckets in series.values():
        for bucket in buckets if isinstance(buckets, list) else []:
            moment = _ms(bucket.get("t")) if isinstance(bucket, Mapping) else None
            if moment is not None:
                stamps.add(moment)
    if not stamps:
        return None
    size = as_number(bucket_seconds)
    step = int(size * 1000) if size and size > 0 else 0
    if not step:
        ordered = sorted(stamps)
        gaps = [b - a for a, b in zip(ordered, ordered[1:]) if b > a]
        step = min(gaps) if gaps else HOUR_MS
    start, end = min(stamps), max(stamps) + step
    return {"start_ms": start, "end_ms": end, "step_ms": step, "start": _iso(start), "end": _iso(end)}


def _item_range(summary: Mapping[str, Any], axis: dict[str, Any] | None) -> tuple[Any, Any, bool]:
    """The time range of the items the report covers, and whether it is exact: the run's own
    first and last item time where they fall in the first and last bucket, else those buckets'
    bounds (the report shows items an earlier run stored, or this run counted none)."""
    first, last = summary.get("first_time"), summary.get("last_time")
    if axis is None:
        return first, last, True
    start, end, step = axis["start_ms"], axis["end_ms"], axis["step_ms"]
    first_ms, last_ms = _ms(first), _ms(last)
    exact = True
    if first_ms is None or not start <= first_ms < start + step:
        first, exact = axis["start"], False
    if last_ms is None or not end - step <= last_ms <= end:
        last, exact = axis["end"], False
    return first, last, exact


# ----------------------------------------------------------------------------- evidence text


def _strip_punctuation(token: str) -> str:
    """``token`` without punctuation or symbols at either end (Latin and CJK alike)."""
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start])[0] in "PSZC":
        start += 1
    while end > start and unicodedata.category(token[end - 1])[0] in "PSZC":
        end -= 1
    return token[start:end]


def highlight_terms(words: Iterable[Any]) -> list[str]:
    """The explainer's tokens worth highlighting: stripped of punctuation, with at least one
    letter, never a stop word (nor a single Latin letter); longest first."""
    return list(term_weights(words))


def term_weights(words: Iterable[Any]) -> dict[str, float]:
    """:func:`highlight_terms` with each term's weight relative to the strongest (0-1]: words
    are strings (weight 1) or explanation entries ``{"word", "weight", ...}``."""
    terms: dict[str, tuple[str, float]] = {}
    for word in words or []:
        text, weight = (word.get("word", ""), float(word.get("weight") or 0.0)) if isinstance(word, Mapping) else (word, 1.0)
        term = _strip_punctuation(str(text).strip())
        folded = term.casefold()
        if not term or not is_reason(term) or not any(ch.isalpha() for ch in term):
            continue
        if len(term) < 2 and not _CJK.search(term):
            continue
        if folded not in terms or weight > terms[folded][1]:
            terms[folded] = (terms.get(folded, (term, 0.0))[0], weight)
    top = max((w for _, w in terms.values()), default=0.0) or 1.0
    ranked = sorted(terms.values(), key=lambda tw: (-len(tw[0]), tw[0].casefold()))
    return {term: max(weight, 0.0) / top for term, weight in ranked}


_NOT_LATIN_WORD = rf"[^\W{CJK}]"  # a word character that is not CJK
_LATIN_TAIL = rf"[^\W\d_{CJK}]*"  # letters that continue a word (inflections), never CJK


def highlight(text: str, words: Iterable[Any]) -> str:
    """``text`` HTML-escaped, with each driving word (and its inflections) in ``<mark>``: a
    Latin word at a word start, a CJK word wherever it occurs (CJK has no spaces)."""
    weights = term_weights(words)
    terms = list(weights)
    if not terms:
        return _e(text)
    by_folded = {t.casefold(): w for t, w in weights.items()}
    alternatives = [re.escape(t) if _CJK.search(t) else rf"(?<!{_NOT_LATIN_WORD}){re.escape(t)}{_LATIN_TAIL}"
                    for t in terms]
    pattern = re.compile("|".join(alternatives), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(_e(text[last : match.start()]))
        found = match.group(0).casefold()
        weight = next((w for t, w in by_folded.items() if found.startswith(t)), 1.0)
        # colour intensity is the word's weight against the text's strongest reason
        out.append(f'<mark style="--w:{weight:.2f}" title="weight {weight:.2f} of the strongest">{_e(match.group(0))}</mark>')
        last = match.end()
    out.append(_e(text[last:]))
    return "".join(out)


def _text_key(text: str) -> str:
    """A text as compared for near-duplicates: update markers and links gone (text.normalise),
    case folded, digits, punctuation and symbols gone, white space folded."""
    folded = _DIGITS.sub(" ", normalise(text).casefold())
    kept = "".join(" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded)
    return _SPACE.sub(" ", kept).strip()


def _shingles(text: str) -> frozenset[str]:
    """The words compared for near-duplicates, of the text without its wire label ("Harbor
    Wire: …", when what follows has four words or more: the same headline from two outlets is
    one headline); a run of CJK characters (no spaces) as character pairs."""
    body = normalise(text)
    label = _SOURCE_LABEL.match(body)
    if label and len(_WORD.findall(label.group(0))) <= 4 and len(_WORD.findall(body[label.end():])) >= 4:
        body = body[label.end():]
    out: set[str] = set()
    for word in _WORD.findall(_text_key(body)):
        if _CJK.search(word) and len(word) > 1:
            out.update(word[i : i + 2] for i in range(len(word) - 1))
        else:
            out.add(word)
    return frozenset(out)


def _near(a: tuple[str, frozenset[str]], b: tuple[str, frozenset[str]]) -> bool:
    if a[0] == b[0]:
        return True
    if not a[1] or not b[1]:
        return False
    return len(a[1] & b[1]) / len(a[1] | b[1]) >= NEAR_DUPLICATE


def dedupe_items(items: Iterable[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Evidence items, highest score first, the same item (id) once and near-identical texts
    together: each entry is ``[shown, *its near-duplicates]``."""
    ordered = sorted((i for i in items if isinstance(i, Mapping)), key=lambda i: -(as_number(i.get("score")) or 0))
    entries: list[tuple[tuple[str, frozenset[str]], list[Mapping[str, Any]]]] = []
    seen: set[str] = set()
    for item in ordered:
        ident = str(item.get("id") or "")
        if ident and ident in seen:
            continue
        seen.add(ident)
        text = str(item.get("text") or "")
        signature = (_text_key(text), _shingles(text))
        for other, members in entries:
            if _near(signature, other):
                members.append(item)
                break
        else:
            entries.append((signature, [item]))
    return [members for _, members in entries]


def alert_groups(alerts: list[Mapping[str, Any]]) -> list[list[int]]:
    """Indexes of the alerts one evidence entry shows: those the monitor grouped (``group_id``)
    and, as the monitor groups them, those whose evidence shares items within overlapping
    windows (a company and its topic on the same news). Each group in the order of its first
    alert, each alert's index in order."""
    parent = list(range(len(alerts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(a: int, b: int) -> None:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    facts = []
    by_group: dict[str, int] = {}
    for index, alert in enumerate(alerts):
        ev = alert.get("evidence") if isinstance(alert.get("evidence"), Mapping) else {}
        items = [i for i in (ev.get("items") or []) if isinstance(i, Mapping)]
        ids = frozenset(str(i.get("id") or "\0" + _text_key(str(i.get("text") or ""))) for i in items)
        facts.append((ids, _ms(ev.get("window_start")), _ms(ev.get("window_end"))))
        group = alert.get("group_id") or alert.get("group")
        if group:
            join(index, by_group.setdefault(str(group), index))
    for index, (ids, start, end) in enumerate(facts):
        for other in range(index):
            ids2, start2, end2 = facts[other]
            overlap = None in (start, end, start2, end2) or (start < end2 and start2 < end)  # type: ignore[operator]
            if ids and ids & ids2 and overlap:
                join(index, other)
    groups: dict[int, list[int]] = {}
    for index in range(len(alerts)):
        groups.setdefault(root(index), []).append(index)
    return sorted(groups.values(), key=lambda g: g[0])


# ----------------------------------------------------------------------------- sections


def _header(title: str, backtest: bool, data: Mapping[str, Any], summary: Mapping[str, Any], alerts: list,
            axis: dict[str, Any] | None) -> str:
    counts = summary.get("sentiment") if isinstance(summary.get("sentiment"), Mapping) else {}
    labels = [s for s in SENTIMENTS if s in counts] + [s for s in counts if s not in SENTIMENTS]
    total = sum(as_number(counts.get(s)) or 0 for s in labels)
    firing = sum(1 for a in alerts if a.get("status") == "firing")

    mix_bar, mix_rows = [], []
    for label in labels or SENTIMENTS:
        count = as_number(counts.get(label)) or 0
        share = count / total if total else 0
        css = f"sent-{_slug(label)}"
        if share > 0:
            mix_bar.append(
                f'<span class="{css}" style="width:{share * 100:.2f}%" '
                f'title="{_e(label)}: {count_text(count)} ({share * 100:.1f}%)"></span>'
            )
        mix_rows.append(
            f'<li><i class="swatch {css}"></i>{_e(label)} <b>{count_text(count)}</b>'
            f' <span class="muted">{share * 100:.1f}%</span></li>'
        )
    alerts_value = summary.get("alerts", len(alerts))
    alert_note = f"{firing} firing" if alerts else "none"
    if backtest:
        alert_note = "would have fired" if alerts else "none would have fired"
    source = data.get("source") or "–"
    heading = f"<h1>{_e(title)}"
    if backtest:
        heading += ' <span class="mode-tag">backtest</span>'
    heading += "</h1>"
    lines = ['<header class="head">', heading]
    if backtest:
        lines.append(
            '<p class="mode-banner" id="mode-banner"><b>Backtest</b>: a replay of '
            f"<code>{_e(source)}</code> with the current settings. Nothing was stored and no alert "
            "was sent: the alerts below are those that would have fired.</p>"
        )
    lines += [
        '<p class="meta">',
        f"Source <code>{_e(source)}</code>",
        f" · buckets of {_e(_duration(data.get('bucket_seconds')))}",
        f" · {_range_html(data, summary, axis)}",
        f" · generated {_time_html(data.get('generated_at'))}",
        "</p>",
        '<div class="cards">',
        f'<div class="card"><div class="label">Items</div><div class="value" id="sum-items">'
        f"{count_text(summary.get('items'))}</div></div>",
        '<div class="card wide"><div class="label">Sentiment mix</div>',
        f'<div class="mix" role="img" aria-label="sentiment mix">{"".join(mix_bar)}</div>',
        f'<ul class="mix-legend">{"".join(mix_rows)}</ul></div>',
        f'<div class="card"><div class="label">Alerts</div><div class="value'
        f'{" hot" if firing and not backtest else ""}">{count_text(alerts_value)}</div>'
        f'<div class="muted">{_e(alert_note)}</div></div>',
        f'<div class="card"><div class="label">Dead letters</div><div class="value">'
        f"{count_text(summary.get('dead_letters'))}</div></div>",
        f'<div class="card"><div class="label">Duplicates</div><div class="value">'
        f"{count_text(summary.get('duplicates'))}</div></div>",
        "</div>",
        "</header>",
    ]
    return "\n".join(lines)


def _range_html(data: Mapping[str, Any], summary: Mapping[str, Any], axis: dict[str, Any] | None) -> str:
    """The time range of the items the report covers, and what this run added to them."""
    first, last, exact = _item_range(summary, axis)
    read = as_number(data.get("items_read", summary.get("items_read")))
    if first or last:
        what = "items from" if exact else "items in the buckets from"
        text = f'<span id="item-range">{what} {_time_html(first)} to {_time_html(last)}</span>'
    else:
        text = '<span id="item-range">no items</span>'
    note = ""
    if read == 0:
        note = "this run read no new items"
    elif axis is not None and not summary.get("first_time"):
        note = "this run counted no new items"
    if note:
        stored = as_number(summary.get("items"))
        if axis is not None:
            note += f": the report shows the {count_text(stored)} items stored before" if stored else ": the report shows the items stored before"
        text += f' <span class="run-note" id="run-note">({_e(note)})</span>'
    return text


def _charts_note(axis: dict[str, Any] | None, bucket_seconds: Any) -> str:
    span = ""
    if axis is not None:
        span = f" from {_time_html(axis['start'])} to {_time_html(axis['end'])}"
    return (
        f'<p class="muted charts-note" id="charts-note">Every chart shares one time axis{span}. '
        f"Areas count the items per bucket of {_e(_duration(bucket_seconds))} (an empty bucket is zero); "
        f"the negative share is drawn only for buckets of at least {SHARE_MIN_ITEMS} items.</p>"
    )


def _legend(alerted: bool) -> str:
    items = [
        '<li><i class="swatch sent-negative"></i>negative</li>',
        '<li><i class="swatch sent-neutral"></i>neutral</li>',
        '<li><i class="swatch sent-positive"></i>positive</li>',
        f'<li class="legend-share"><i class="key-line share"></i>negative share (buckets with ≥\u00a0{SHARE_MIN_ITEMS}'
        "\u00a0items)</li>",
    ]
    if alerted:
        items.append('<li><i class="key-line fired"></i>alert fired</li><li><i class="swatch window"></i>alert window</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'


def _chart_card(number: int, key: str, buckets: list, alerts: list) -> str:
    mine = [a for a in alerts if str(a.get("key")) == key]
    badge = ""
    if mine:
        firing = sum(1 for a in mine if a.get("status") == "firing")
        text = f"{len(mine)} alert{'s' if len(mine) != 1 else ''}"
        if firing:
            text += f", {firing} firing"
        badge = f' <span class="badge{" hot" if firing else ""}">{_e(text)}</span>'
    items = sum(as_number(b.get("total")) or 0 for b in buckets if isinstance(b, Mapping))
    head = (
        f'<section class="chart-card" id="chart-{number}">'
        f"<h3>{_key_label(key)}{badge} "
        f'<span class="muted">{count_text(items)} items in {len(buckets)} buckets</span></h3>'
    )
    if not buckets:
        return head + '<p class="empty">No data for this key.</p></section>'
    return head + _legend(bool(mine)) + f'<div class="chart-slot" data-key="{_e(key)}"></div></section>'


def _evidence(alerts: list[Mapping[str, Any]]) -> str:
    parts = ['<section class="evidence" id="evidence">', "<h2>Alert evidence</h2>"]
    if not alerts:
        parts.append('<p class="empty">No alerts in this report.</p></section>')
        return "\n".join(parts)
    parts.append(
        '<div class="table-scroll"><table class="evidence-table"><thead><tr>'
        "<th>Severity</th><th>Key</th><th>Window</th><th>Negative / total</th>"
        "<th>Share vs baseline</th><th>Top negative items</th>"
        "</tr></thead><tbody>"
    )
    for group in alert_groups(alerts):
        parts.append(_evidence_row(group, alerts))
    parts.append("</tbody></table></div></section>")
    return "\n".join(parts)


def _evidence_row(group: list[int], alerts: list[Mapping[str, Any]]) -> str:
    """One table row for alerts sharing their evidence: each alert's key, window and counts,
    their items once."""
    members = [alerts[i] for i in group]
    several = len(members) > 1
    top = max(members, key=lambda a: SEVERITY_RANK.get(str(a.get("severity")).lower(), -1))
    severity = str(top.get("severity") or "unknown")
    statuses = sorted({str(a.get("status") or "") for a in members} - {""})

    keys, windows, counts, shares, items, words = [], [], [], [], [], {}
    seen_windows: list[tuple[Any, Any]] = []
    for alert in members:
        ev = alert.get("evidence") if isinstance(alert.get("evidence"), Mapping) else {}
        status = str(alert.get("status") or "")
        state = _e(status or "–")
        if alert.get("acknowledged"):
            state += ", acknowledged"
        times = f"fired {_time_html(alert.get('fired_at'))}"
        if alert.get("resolved_at"):
            times += f"<br>resolved {_time_html(alert.get('resolved_at'))}"
        label = _key_label(str(alert.get("key") or ""))
        sev = ""
        if several:
            sev = f' <span class="sev sev-{_slug(alert.get("severity"))}">{_e(alert.get("severity") or "unknown")}</span>'
        title = str(alert.get("title") or "")
        keys.append(
            f'<div class="member"><div>{label}{sev}</div>'
            f'<div class="alert-title"{_lang_attr(title)}>{_e(title)}</div>'
            f'<div class="muted">{state} · {times}</div></div>'
        )
        window = (ev.get("window_start"), ev.get("window_end"))
        if window not in seen_windows:
            seen_windows.append(window)
            windows.append(f'<div class="member">{_time_html(window[0])}<br>to {_time_html(window[1])}</div>')
        who = f'<div class="muted">{label}</div>' if several else ""
        counts.append(f'<div class="member">{who}{count_text(ev.get("negative"))} / {count_text(ev.get("total"))}</div>')

        share, base = as_number(ev.get("share")), as_number(ev.get("baseline_share"))
        ratio = f'<div class="muted">×{share / base:.1f} the baseline</div>' if share is not None and base else ""
        extra = []
        if as_number(ev.get("baseline_negative")) is not None:
            extra.append(f"expected {as_number(ev.get('baseline_negative')):.1f} negative")
        if as_number(ev.get("score")) is not None:
            extra.append(f"score {as_number(ev.get('score')):.2f}")
        shares.append(f'<div class="member">{who}<b>{_pct(share)}</b> vs {_pct(base)}{ratio}'
                      f'<div class="muted">{_e(" · ".join(extra))}</div></div>')
        for item in ev.get("items") or []:
            if isinstance(item, Mapping):
                items.append(item)
                ident = str(item.get("id") or "")
                if ident:
                    words.setdefault(ident, []).extend(item.get("explanation") or item.get("words") or [])

    severity_cell = f'<span class="sev sev-{_slug(severity)}">{_e(severity)}</span>'
    severity_cell += f'<div class="muted">{_e(", ".join(statuses) or "–")}'
    if len(members) == 1 and members[0].get("acknowledged"):
        severity_cell += ", acknowledged"
    severity_cell += "</div>"
    if several:
        severity_cell += f'<div class="muted group-note">{len(members)} alerts on the same items</div>'
    anchors = "".join(f'<span class="anchor" id="alert-{i}"></span>' for i in group[1:])
    status_class = "firing" if "firing" in statuses else (statuses[0] if statuses else "")
    return (
        f'<tr id="alert-{group[0]}" class="alert-row status-{_slug(status_class)}" '
        f'data-alerts="{" ".join(str(i) for i in group)}">'
        f"<td>{anchors}{severity_cell}</td>"
        f'<td class="keys">{"".join(keys)}</td>'
        f'<td class="windows">{"".join(windows)}</td>'
        f'<td class="num">{"".join(counts)}</td>'
        f'<td class="num">{"".join(shares)}</td>'
        f'<td class="items-cell">{_items_html(items, words)}</td>'
        "</tr>"
    )


def _items_html(items: list[Mapping[str, Any]], words: Mapping[str, list[Any]]) -> str:
    entries = dedupe_items(items)
    if not entries:
        return '<span class="muted">no items recorded</span>'
    rows = []
    for members in entries:
        item = members[0]
        score = as_number(item.get("score"))
        score_text = "–" if score is None else f"{score:.2f}"
        text = str(item.get("text") or "")
        driving = words.get(str(item.get("id") or "")) or item.get("explanation") or item.get("words") or []
        more = ""
        if len(members) > 1:
            others = ", ".join(str(m.get("id") or _time_text(m.get("time"))) for m in members[1:])
            more = (f' <span class="dup" title="{len(members)} near-identical items; also {_e(others)}">'
                    f"×{len(members)}</span>")
        rows.append(
            f'<li><span class="score" title="negative score">{score_text}</span>'
            f' <span class="text"{_lang_attr(text)}>{highlight(text, driving)}</span>{more}'
            f' <span class="muted item-meta">{_time_html(item.get("time"))}'
            f"{(' · ' + _e(item.get('id'))) if item.get('id') else ''}</span></li>"
        )
    return f'<ol class="items">{"".join(rows)}</ol>'


# ----------------------------------------------------------------------------- assets

_CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f6f7f9;color:#1f2933;font:14px/1.45 FONT_STACK}
.page{max-width:1200px;margin:0 auto;padding:20px 24px 32px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px;font-weight:600}
h1,h3,.meta,.alert-title,.text,.name,.mode-banner,.member{overflow-wrap:anywhere}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f3;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere;word-break:break-all}
.meta,.muted{color:#616e7c}
.muted{font-size:12px;font-weight:normal}
.mode-tag{display:inline-block;vertical-align:3px;font-size:12px;font-weight:700;text-transform:uppercase;letter-spacing:.05em;background:#1f2933;color:#fff;border-radius:4px;padding:2px 8px}
.mode-banner{background:#eef4ff;border:1px solid #b2ccff;border-radius:8px;padding:8px 12px;margin:8px 0}
.run-note{color:#93370d}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:14px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 14px;min-width:120px;flex:0 1 auto}
.card.wide{flex:1 1 300px;min-width:0}
.card .label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:600}
.hot{color:#b42318}
.mix{display:flex;height:12px;border-radius:6px;overflow:hidden;background:#e4e7eb;margin:8px 0 6px}
.mix span{display:block;height:100%}
.mix-legend,.legend{list-style:none;margin:0;padding:0;display:flex;gap:4px 16px;flex-wrap:wrap}
.legend{font-size:12px;color:#52606d;margin:2px 0 4px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.key-line{display:inline-block;width:16px;height:0;margin-right:5px;vertical-align:3px;border-top:2px solid #7a0916}
.key-line.share{border-top:2px dashed #7a0916}
.key-line.fired{border-top-color:#b42318}
.swatch.window{background:#f79009;opacity:.3}
.sent-negative{background:#d64545}.sent-neutral{background:#9aa5b1}.sent-positive{background:#3f9c6d}
.charts-note{margin:-4px 0 10px}
.chart-card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 14px;margin-bottom:14px;min-width:0}
.chart-card .kind{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#616e7c;background:#eef0f3;border-radius:3px;padding:1px 5px;margin-right:2px}
.chart-slot{width:100%;min-width:0}
.badge{font-size:12px;font-weight:600;border-radius:10px;padding:1px 8px;background:#fef0c7;color:#93370d;margin-left:6px;white-space:nowrap}
.badge.hot{background:#fee4e2;color:#b42318}
svg.trend-chart{display:block;width:100%;height:auto;overflow:hidden}
svg.trend-chart text{font:11px FONT_STACK;fill:#52606d}
svg.trend-chart .axis-title{fill:#3e4c59;font-weight:600}
svg.trend-chart .grid{stroke:#e4e7eb;stroke-width:1}
svg.trend-chart .axis{stroke:#9aa5b1;stroke-width:1}
.series-negative{fill:#d64545;fill-opacity:.85;stroke:none}
.series-neutral{fill:#9aa5b1;fill-opacity:.55;stroke:none}
.series-positive{fill:#3f9c6d;fill-opacity:.6;stroke:none}
.series-share{fill:none;stroke:#7a0916;stroke-width:1.5;stroke-dasharray:5 3}
.series-share-dot{fill:#7a0916;stroke:none}
.alert-marker{stroke:#b42318;stroke-width:2}
.alert-window{fill:#f79009;fill-opacity:.12}
svg.trend-chart .alert-label{fill:#b42318;font-weight:600}
.empty{background:#fff;border:1px dashed #cbd2d9;border-radius:8px;padding:14px;color:#52606d}
.table-scroll{max-width:100%;overflow-x:auto;background:#fff;border:1px solid #dde1e6;border-radius:8px}
.evidence-table{width:100%;min-width:760px;border-collapse:collapse}
.evidence-table th,.evidence-table td{text-align:left;vertical-align:top;padding:9px 10px;border-bottom:1px solid #e4e7eb}
.evidence-table th{background:#f0f2f5;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#52606d}
.evidence-table td.num{white-space:nowrap}
.evidence-table td.items-cell{width:42%}
.evidence-table time{white-space:nowrap}
.evidence-table td.keys{width:24%}
.evidence-table tr:target,.evidence-table tr:has(.anchor:target){background:#fffaeb}
.member+.member{margin-top:8px;padding-top:8px;border-top:1px dashed #e4e7eb}
.alert-title{font-weight:600;margin:2px 0}
.sev{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;border-radius:4px;padding:1px 7px;background:#e4e7eb;color:#323f4b}
.sev-critical{background:#7a0916;color:#fff}.sev-high{background:#fee4e2;color:#b42318}
.sev-medium,.sev-warning{background:#fef0c7;color:#93370d}.sev-low,.sev-info{background:#e0f2fe;color:#075985}
ol.items{margin:0;padding-left:18px}
ol.items li{margin-bottom:6px}
.score{display:inline-block;min-width:36px;font-weight:600;color:#b42318}
.dup{display:inline-block;font-size:12px;font-weight:700;color:#52606d;background:#eef0f3;border-radius:8px;padding:0 6px}
mark{background:rgba(250,204,21,calc(.25 + .6 * var(--w,1)));color:inherit;padding:0 1px;border-radius:2px}
.foot{margin-top:24px;font-size:12px;color:#7b8794}
@media (max-width:600px){
.page{padding:12px 10px 24px}
h1{font-size:19px}
.chart-card{padding:10px}
.card{flex:1 1 120px}
.card.wide{flex-basis:100%}
}
""".replace("FONT_STACK", FONT_STACK)

# Draws the charts. Reads the embedded JSON; writes text only through textContent. Every chart
# is drawn at its slot's width on the page's one time axis (data.axis), and redrawn on resize.
_JS = r"""
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var el = document.getElementById("report-data");
  if (!el) { return; }
  var data;
  try { data = JSON.parse(el.textContent); } catch (err) { return; }
  var series = data.series || {};
  var alerts = data.alerts || [];
  var axis = data.axis;
  if (!axis || !(axis.end_ms > axis.start_ms)) { return; }
  var T0 = axis.start_ms, T1 = axis.end_ms, STEP = axis.step_ms;
  var MIN_SHARE = data.share_min_items || 5;
  var MINUTE = 60 * 1000, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
  var INTERVALS = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR,
                   3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 364 * DAY];

  function svg(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) { node.setAttribute(k, String(attrs[k])); }
    }
    if (parent) { parent.appendChild(node); }
    return node;
  }
  function text(parent, x, y, value, attrs) {
    var a = attrs || {}; a.x = x; a.y = y;
    var node = svg("text", a, parent);
    node.textContent = value;
    return node;
  }
  function num(v) { return (typeof v === "number" && isFinite(v)) ? v : 0; }
  function r1(v) { return Math.round(v * 10) / 10; }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function fmtTime(ms, withDate, withHour) {
    var d = new Date(ms);
    var day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
    var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    if (!withHour) { return day; }
    return withDate ? day + " " + hm : hm;
  }
  function niceStep(raw) {
    if (raw <= 0) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  }

  // The page's one time axis: the same ticks for every chart, as many as the width allows.
  function timeTicks(plotWidth) {
    var withDate = (T1 - T0) > DAY || new Date(T0).getUTCDate() !== new Date(T1 - 1).getUTCDate();
    var chosen = INTERVALS[INTERVALS.length - 1];
    for (var i = 0; i < INTERVALS.length; i++) {
      var label = INTERVALS[i] >= DAY ? 52 : (withDate ? 86 : 46);
      if ((T1 - T0) / INTERVALS[i] * label <= plotWidth) { chosen = INTERVALS[i]; break; }
    }
    var ticks = [];
    for (var t = Math.ceil(T0 / chosen) * chosen; t <= T1; t += chosen) { ticks.push(t); }
    return {ticks: ticks, withDate: withDate, withHour: chosen < DAY};
  }

  function prepare(raw) {
    var rows = [];
    for (var i = 0; i < raw.length; i++) {
      var b = raw[i] || {};
      var t = Date.parse(b.t);
      if (isNaN(t)) { continue; }
      var neg = num(b.negative), neu = num(b.neutral), pos = num(b.positive);
      var total = (typeof b.total === "number" && isFinite(b.total)) ? b.total : neg + neu + pos;
      rows.push({t: t, negative: neg, neutral: neu, positive: pos, total: total});
    }
    rows.sort(function (a, b) { return a.t - b.t; });
    return rows;
  }

  // Runs of adjacent buckets: a bucket not in the data had no items and is drawn as nothing.
  function runs(rows, keep) {
    var out = [], current = null;
    rows.forEach(function (r) {
      if (!keep(r)) { current = null; return; }
      if (current && r.t - current[current.length - 1].t <= STEP * 1.01) { current.push(r); }
      else { current = [r]; out.push(current); }
    });
    return out;
  }

  function draw(slot, key) {
    var rows = prepare(series[key] || []);
    if (!rows.length) {
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No data for this key.";
      slot.appendChild(p);
      return;
    }
    var W = Math.max(240, Math.round(slot.clientWidth || 1100));
    var narrow = W < 560;
    var H = narrow ? 220 : 260;
    var M = narrow ? {top: 22, right: 46, bottom: 40, left: 42} : {top: 22, right: 58, bottom: 40, left: 58};
    var PW = W - M.left - M.right, PH = H - M.top - M.bottom;
    var ymax = 0;
    rows.forEach(function (r) { ymax = Math.max(ymax, r.total, r.negative + r.neutral + r.positive); });
    var ystep = niceStep(Math.max(ymax, 1) / 4);
    var ytop = Math.max(ystep, Math.ceil(Math.max(ymax, 1) / ystep) * ystep);
    function x(t) { return M.left + (Math.min(Math.max(t, T0), T1) - T0) / (T1 - T0) * PW; }
    function y(v) { return M.top + PH - v / ytop * PH; }
    function ys(s) { return M.top + PH - s * PH; }

    var root = svg("svg", {"class": "trend-chart", "data-key": key, viewBox: "0 0 " + W + " " + H,
                           width: W, height: H, role: "img", "aria-label": "Trend for " + key,
                           "data-plot": [M.left, M.top, PW, PH].join(","), "data-start": T0, "data-end": T1});
    svg("title", {}, root).textContent = "Sentiment per bucket for " + key;

    // Grid and y axes.
    var grid = svg("g", {"class": "grid-lines"}, root);
    for (var v = 0; v <= ytop + 1e-9; v += ystep) {
      svg("line", {"class": "grid", x1: M.left, x2: M.left + PW, y1: r1(y(v)), y2: r1(y(v))}, grid);
      text(grid, M.left - 6, r1(y(v)) + 4, String(Math.round(v * 100) / 100), {"text-anchor": "end"});
    }
    [0, 0.5, 1].concat(narrow ? [] : [0.25, 0.75]).forEach(function (s) {
      text(grid, M.left + PW + 6, r1(ys(s)) + 4, Math.round(s * 100) + "%", {"text-anchor": "start"});
    });
    text(root, 0, 0, "items per bucket", {"class": "axis-title", "text-anchor": "middle",
         transform: "translate(12," + (M.top + PH / 2) + ") rotate(-90)"});
    text(root, 0, 0, "negative share", {"class": "axis-title", "text-anchor": "middle",
         transform: "translate(" + (W - 8) + "," + (M.top + PH / 2) + ") rotate(90)"});

    // The shared time axis.
    var tk = timeTicks(PW);
    var xaxis = svg("g", {"class": "x-axis"}, root);
    svg("line", {"class": "axis", x1: M.left, x2: M.left + PW, y1: M.top + PH, y2: M.top + PH}, xaxis);
    tk.ticks.forEach(function (t) {
      var xt = r1(x(t));
      svg("line", {"class": "axis tick", "data-t": t, x1: xt, x2: xt, y1: M.top + PH, y2: M.top + PH + 4}, xaxis);
      text(xaxis, xt, M.top + PH + 16, fmtTime(t, tk.withDate, tk.withHour), {"text-anchor": "middle"});
    });
    text(root, M.left + PW / 2, H - 4, "time (UTC)", {"class": "axis-title", "text-anchor": "middle"});

    // Alert windows (behind the data).
    var mine = [];
    alerts.forEach(function (a, n) { if (a && a.key === key) { mine.push({a: a, n: n}); } });
    mine.forEach(function (m) {
      var ev = m.a.evidence || {};
      var ws = Date.parse(ev.window_start), we = Date.parse(ev.window_end);
      if (!isNaN(ws) && !isNaN(we) && we > ws) {
        var rx = x(ws), rw = Math.max(1, x(we) - rx);
        svg("rect", {"class": "alert-window", x: r1(rx), y: M.top, width: r1(rw), height: PH}, root);
      }
    });

    // Stacked steps, each bucket as wide as it is: negative at the bottom, then neutral, then positive.
    var layers = svg("g", {"class": "series"}, root);
    var blocks = runs(rows, function () { return true; });
    var below = {};
    rows.forEach(function (r) { below[r.t] = 0; });
    ["negative", "neutral", "positive"].forEach(function (name) {
      var d = [];
      blocks.forEach(function (run) {
        var top = [], bottom = [];
        run.forEach(function (r) {
          var up = r1(y(below[r.t] + r[name])), x0 = r1(x(r.t)), x1 = r1(x(r.t + STEP));
          top.push(x0 + "," + up, x1 + "," + up);
        });
        for (var n = run.length - 1; n >= 0; n--) {
          var r = run[n], low = r1(y(below[r.t]));
          bottom.push(r1(x(r.t + STEP)) + "," + low, r1(x(r.t)) + "," + low);
        }
        d.push("M" + top.concat(bottom).join(" L") + " Z");
      });
      var path = svg("path", {"class": "series-" + name, d: d.join(" ")}, layers);
      svg("title", {}, path).textContent = name;
      rows.forEach(function (r) { below[r.t] += r[name]; });
    });

    // Negative share at bucket centres, only for buckets of MIN_SHARE items or more.
    var share = [], dots = svg("g", {"class": "share-dots"}, layers);
    runs(rows, function (r) { return r.total >= MIN_SHARE; }).forEach(function (run) {
      var pts = run.map(function (r) {
        return r1(x(r.t + STEP / 2)) + "," + r1(ys(Math.min(1, r.negative / r.total)));
      });
      if (run.length === 1) {
        var xy = pts[0].split(",");
        var dot = svg("circle", {"class": "series-share-dot", cx: xy[0], cy: xy[1], r: 2.5}, dots);
        svg("title", {}, dot).textContent = Math.round(run[0].negative / run[0].total * 100) + "% negative of " +
          run[0].total + " items";
      } else {
        share.push("M" + pts.join(" L"));
      }
    });
    var sharePath = svg("path", {"class": "series-share", d: share.join(" ")}, layers);
    svg("title", {}, sharePath).textContent = "negative share (buckets with at least " + MIN_SHARE + " items)";

    // Alert markers at fired_at.
    mine.forEach(function (m) {
      var fired = Date.parse(m.a.fired_at);
      if (isNaN(fired)) { return; }
      var xm = r1(x(fired));
      var link = svg("a", {href: "#alert-" + m.n}, root);
      var line = svg("line", {"class": "alert-marker sev-line-" + String(m.a.severity || ""),
                              "data-alert-index": m.n, x1: xm, x2: xm, y1: M.top - 4, y2: M.top + PH}, link);
      svg("title", {}, line).textContent = "Alert (" + (m.a.severity || "?") + ", " + (m.a.status || "?") +
        ") fired " + m.a.fired_at + (m.a.title ? ": " + m.a.title : "");
      var right = xm > M.left + PW - 80;
      text(link, right ? xm - 4 : xm + 4, M.top - 8, "\u25B2 " + (m.a.severity || "alert"),
           {"class": "alert-label", "text-anchor": right ? "end" : "start"});
    });

    slot.appendChild(root);
  }

  var drawnAt = -1;
  function drawAll() {
    var slots = document.querySelectorAll(".chart-slot");
    var width = slots.length ? slots[0].clientWidth : 0;
    if (width === drawnAt) { return; }
    drawnAt = width;
    for (var s = 0; s < slots.length; s++) {
      while (slots[s].firstChild) { slots[s].removeChild(slots[s].firstChild); }
      var key = slots[s].getAttribute("data-key");
      if (key !== null && Object.prototype.hasOwnProperty.call(series, key)) { draw(slots[s], key); }
    }
  }
  drawAll();
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () { pending = null; drawAll(); }, 100);
  });
})();
"""
