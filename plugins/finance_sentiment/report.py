"""The finance monitor's self-contained HTML report (``suite run finance-monitor --report``).

One HTML file, no network: the CSS and the JavaScript are inline, the data rides along as
JSON in ``<script type="application/json" id="report-data">`` and the script draws one SVG
trend chart per tracked key from it. The summary header and the evidence table are plain
HTML written here, so they read even with JavaScript off.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core import write_text_atomic

__all__ = ["write_report", "render_report"]

SENTIMENTS = ("negative", "neutral", "positive")
SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "warning": 2, "low": 1, "info": 0}


def write_report(path: Path, data: dict) -> Path:
    """Write the report for ``data`` to ``path`` atomically (a crash leaves the old report or
    none, never half a page) and return the path."""
    return write_text_atomic(path, render_report(data))


def render_report(data: Mapping[str, Any]) -> str:
    """The whole page as a string."""
    data = _json_ready(dict(data or {}))
    title = str(data.get("title") or "Finance monitor")
    summary = data.get("summary") or {}
    series = data.get("series") or {}
    alerts = [a for a in (data.get("alerts") or []) if isinstance(a, Mapping)]
    data["alerts"] = alerts
    order = _chart_order(series, alerts)
    has_data = any(series.get(key) for key in order)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        '<div class="page">',
        _header(title, data, summary, alerts),
        '<section class="charts" id="charts">',
        "<h2>Trends</h2>",
    ]
    if not has_data:
        parts.append(
            '<p class="empty" id="no-data">No data: the monitor has recorded no items in '
            "this report's time range, so there are no trends to draw.</p>"
        )
    else:
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


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> str:
    number = _num(value)
    return "–" if number is None else f"{int(round(number)):,}"


def _pct(value: Any) -> str:
    number = _num(value)
    return "–" if number is None else f"{number * 100:.1f}%"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _time_text(value: Any) -> str:
    moment = _parse_time(value)
    if moment is None:
        return "–" if not value else str(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _time_html(value: Any) -> str:
    if not value:
        return "–"
    return f'<time datetime="{_e(value)}">{_e(_time_text(value))}</time>'


def _slug(value: Any) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(value or "").lower()).strip("-") or "unknown"


def _key_label(key: str) -> str:
    kind, sep, name = key.partition(":")
    if sep and kind in ("topic", "entity"):
        return f'<span class="kind">{_e(kind)}</span> {_e(name)}'
    return _e(key)


def _duration(seconds: Any) -> str:
    number = _num(seconds)
    if not number or number <= 0:
        return "–"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if number >= size and number % size == 0:
            count = int(number // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{number:g} s"


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


# ----------------------------------------------------------------------------- sections


def _header(title: str, data: Mapping[str, Any], summary: Mapping[str, Any], alerts: list) -> str:
    counts = summary.get("sentiment") or {}
    labels = [s for s in SENTIMENTS if s in counts] + [s for s in counts if s not in SENTIMENTS]
    total = sum(_num(counts.get(s)) or 0 for s in labels)
    firing = sum(1 for a in alerts if a.get("status") == "firing")

    mix_bar, mix_rows = [], []
    for label in labels or SENTIMENTS:
        count = _num(counts.get(label)) or 0
        share = count / total if total else 0
        css = f"sent-{_slug(label)}"
        if share > 0:
            mix_bar.append(
                f'<span class="{css}" style="width:{share * 100:.2f}%" '
                f'title="{_e(label)}: {_int(count)} ({share * 100:.1f}%)"></span>'
            )
        mix_rows.append(
            f'<li><i class="swatch {css}"></i>{_e(label)} <b>{_int(count)}</b>'
            f' <span class="muted">{share * 100:.1f}%</span></li>'
        )
    alerts_value = summary.get("alerts", len(alerts))
    alert_note = f"{firing} firing" if alerts else "none"
    return "\n".join(
        [
            '<header class="head">',
            f"<h1>{_e(title)}</h1>",
            '<p class="meta">',
            f"Source <code>{_e(data.get('source') or '–')}</code>",
            f" · buckets of {_e(_duration(data.get('bucket_seconds')))}",
            f" · items from {_time_html(summary.get('first_time'))} to {_time_html(summary.get('last_time'))}",
            f" · generated {_time_html(data.get('generated_at'))}",
            "</p>",
            '<div class="cards">',
            f'<div class="card"><div class="label">Items</div><div class="value" id="sum-items">'
            f"{_int(summary.get('items'))}</div></div>",
            '<div class="card wide"><div class="label">Sentiment mix</div>',
            f'<div class="mix" role="img" aria-label="sentiment mix">{"".join(mix_bar)}</div>',
            f'<ul class="mix-legend">{"".join(mix_rows)}</ul></div>',
            f'<div class="card"><div class="label">Alerts</div><div class="value'
            f'{" hot" if firing else ""}">{_int(alerts_value)}</div>'
            f'<div class="muted">{_e(alert_note)}</div></div>',
            f'<div class="card"><div class="label">Dead letters</div><div class="value">'
            f"{_int(summary.get('dead_letters'))}</div></div>",
            f'<div class="card"><div class="label">Duplicates</div><div class="value">'
            f"{_int(summary.get('duplicates'))}</div></div>",
            "</div>",
            "</header>",
        ]
    )


def _chart_card(number: int, key: str, buckets: list, alerts: list) -> str:
    mine = [a for a in alerts if str(a.get("key")) == key]
    badge = ""
    if mine:
        firing = sum(1 for a in mine if a.get("status") == "firing")
        text = f"{len(mine)} alert{'s' if len(mine) != 1 else ''}"
        if firing:
            text += f", {firing} firing"
        badge = f' <span class="badge{" hot" if firing else ""}">{_e(text)}</span>'
    items = sum(_num(b.get("total")) or 0 for b in buckets if isinstance(b, Mapping))
    head = (
        f'<section class="chart-card" id="chart-{number}">'
        f"<h3>{_key_label(key)}{badge} "
        f'<span class="muted">{_int(items)} items in {len(buckets)} buckets</span></h3>'
    )
    if not buckets:
        return head + '<p class="empty">No data for this key.</p></section>'
    return head + f'<div class="chart-slot" data-key="{_e(key)}"></div></section>'


def _highlight(text: str, words: Iterable[Any]) -> str:
    """``text`` HTML-escaped, with each driving word (and its inflections) in ``<mark>``."""
    terms = sorted({str(w).strip() for w in words or [] if str(w).strip()}, key=len, reverse=True)
    if not terms:
        return _e(text)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms) + r")\w*", re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(_e(text[last : match.start()]))
        out.append(f"<mark>{_e(match.group(0))}</mark>")
        last = match.end()
    out.append(_e(text[last:]))
    return "".join(out)


def _evidence(alerts: list[Mapping[str, Any]]) -> str:
    parts = ['<section class="evidence" id="evidence">', "<h2>Alert evidence</h2>"]
    if not alerts:
        parts.append('<p class="empty">No alerts in this report.</p></section>')
        return "\n".join(parts)
    parts.append(
        '<table class="evidence-table"><thead><tr>'
        "<th>Severity</th><th>Key</th><th>Window</th><th>Negative / total</th>"
        "<th>Share vs baseline</th><th>Top negative items</th>"
        "</tr></thead><tbody>"
    )
    for index, alert in enumerate(alerts):
        ev = alert.get("evidence") or {}
        severity = str(alert.get("severity") or "unknown")
        status = str(alert.get("status") or "")
        state = _e(status or "–")
        if alert.get("acknowledged"):
            state += ", acknowledged"
        times = f"fired {_time_html(alert.get('fired_at'))}"
        if alert.get("resolved_at"):
            times += f"<br>resolved {_time_html(alert.get('resolved_at'))}"

        share, base = _num(ev.get("share")), _num(ev.get("baseline_share"))
        ratio = ""
        if share is not None and base:
            ratio = f'<div class="muted">×{share / base:.1f} the baseline</div>'
        extra = []
        if _num(ev.get("baseline_negative")) is not None:
            extra.append(f"expected {_num(ev.get('baseline_negative')):.1f} negative")
        if _num(ev.get("score")) is not None:
            extra.append(f"score {_num(ev.get('score')):.2f}")

        items = [i for i in (ev.get("items") or []) if isinstance(i, Mapping)]
        items.sort(key=lambda i: -(_num(i.get("score")) or 0))
        if items:
            rows = []
            for item in items:
                score = _num(item.get("score"))
                score_text = "–" if score is None else f"{score:.2f}"
                rows.append(
                    f'<li><span class="score" title="negative score">{score_text}'
                    f'</span> <span class="text">{_highlight(str(item.get("text") or ""), item.get("words") or [])}</span>'
                    f' <span class="muted item-meta">{_time_html(item.get("time"))}'
                    f"{(' · ' + _e(item.get('id'))) if item.get('id') else ''}</span></li>"
                )
            item_html = f'<ol class="items">{"".join(rows)}</ol>'
        else:
            item_html = '<span class="muted">no items recorded</span>'

        parts.append(
            f'<tr id="alert-{index}" class="alert-row status-{_slug(status)}">'
            f'<td><span class="sev sev-{_slug(severity)}">{_e(severity)}</span>'
            f'<div class="muted">{state}</div></td>'
            f"<td><div>{_key_label(str(alert.get('key') or ''))}</div>"
            f'<div class="alert-title">{_e(alert.get("title") or "")}</div>'
            f'<div class="muted">{times}</div></td>'
            f"<td>{_time_html(ev.get('window_start'))}<br>to {_time_html(ev.get('window_end'))}</td>"
            f'<td class="num">{_int(ev.get("negative"))} / {_int(ev.get("total"))}</td>'
            f'<td class="num"><b>{_pct(share)}</b> vs {_pct(base)}{ratio}'
            f'<div class="muted">{_e(" · ".join(extra))}</div></td>'
            f"<td>{item_html}</td>"
            "</tr>"
        )
    parts.append("</tbody></table></section>")
    return "\n".join(parts)


# ----------------------------------------------------------------------------- assets

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1f2933;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.page{max-width:1200px;margin:0 auto;padding:20px 24px 32px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px}
h3{font-size:15px;margin:0 0 6px;font-weight:600}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#eef0f3;padding:1px 4px;border-radius:3px}
.meta,.muted{color:#616e7c}
.muted{font-size:12px;font-weight:normal}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:14px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:10px 14px;min-width:130px}
.card.wide{flex:1 1 340px}
.card .label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:24px;font-weight:600}
.hot{color:#b42318}
.mix{display:flex;height:12px;border-radius:6px;overflow:hidden;background:#e4e7eb;margin:8px 0 6px}
.mix span{display:block;height:100%}
.mix-legend{list-style:none;margin:0;padding:0;display:flex;gap:16px;flex-wrap:wrap}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.sent-negative{background:#d64545}.sent-neutral{background:#9aa5b1}.sent-positive{background:#3f9c6d}
.chart-card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 14px;margin-bottom:14px}
.chart-card .kind{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#616e7c;background:#eef0f3;border-radius:3px;padding:1px 5px;margin-right:2px}
.badge{font-size:12px;font-weight:600;border-radius:10px;padding:1px 8px;background:#fef0c7;color:#93370d;margin-left:6px}
.badge.hot{background:#fee4e2;color:#b42318}
svg.trend-chart{display:block;width:100%;height:auto;overflow:visible}
svg.trend-chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;fill:#52606d}
svg.trend-chart .axis-title{fill:#3e4c59;font-weight:600}
svg.trend-chart .grid{stroke:#e4e7eb;stroke-width:1}
svg.trend-chart .axis{stroke:#9aa5b1;stroke-width:1}
.series-negative{fill:#d64545;fill-opacity:.85;stroke:none}
.series-neutral{fill:#9aa5b1;fill-opacity:.55;stroke:none}
.series-positive{fill:#3f9c6d;fill-opacity:.6;stroke:none}
.series-share{fill:none;stroke:#7a0916;stroke-width:2;stroke-dasharray:5 3}
.alert-marker{stroke:#b42318;stroke-width:2}
.alert-window{fill:#f79009;fill-opacity:.12}
svg.trend-chart .alert-label{fill:#b42318;font-weight:600}
.empty{background:#fff;border:1px dashed #cbd2d9;border-radius:8px;padding:14px;color:#52606d}
.evidence-table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde1e6;border-radius:8px;overflow:hidden}
.evidence-table th,.evidence-table td{text-align:left;vertical-align:top;padding:9px 10px;border-bottom:1px solid #e4e7eb}
.evidence-table th{background:#f0f2f5;font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:#52606d}
.evidence-table td.num{white-space:nowrap}
.evidence-table tr:target{background:#fffaeb}
.alert-title{font-weight:600;margin:2px 0}
.sev{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;border-radius:4px;padding:1px 7px;background:#e4e7eb;color:#323f4b}
.sev-critical{background:#7a0916;color:#fff}.sev-high{background:#fee4e2;color:#b42318}
.sev-medium,.sev-warning{background:#fef0c7;color:#93370d}.sev-low,.sev-info{background:#e0f2fe;color:#075985}
ol.items{margin:0;padding-left:18px}
ol.items li{margin-bottom:6px}
.score{display:inline-block;min-width:36px;font-weight:600;color:#b42318}
mark{background:#fde68a;color:inherit;padding:0 1px;border-radius:2px}
.foot{margin-top:24px;font-size:12px;color:#7b8794}
"""

# Draws the charts. Reads the embedded JSON; writes text only through textContent.
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
  var W = 1100, H = 280, M = {top: 34, right: 58, bottom: 40, left: 58};
  var PW = W - M.left - M.right, PH = H - M.top - M.bottom;

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
  function fmtTime(ms, withDate) {
    var d = new Date(ms);
    var hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    return withDate ? (pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + hm) : hm;
  }
  function niceStep(raw) {
    if (raw <= 0) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
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
    var step = num(data.bucket_seconds) * 1000;
    if (!(step > 0)) {
      step = 0;
      for (var j = 1; j < rows.length; j++) {
        var diff = rows[j].t - rows[j - 1].t;
        if (diff > 0 && (!step || diff < step)) { step = diff; }
      }
      if (!step) { step = 3600 * 1000; }
    }
    // Buckets with no items are often left out: put them back as zeros (when not too many).
    if (rows.length > 1 && (rows[rows.length - 1].t - rows[0].t) / step <= 5000) {
      var filled = [rows[0]];
      for (var k = 1; k < rows.length; k++) {
        var prev = filled[filled.length - 1].t;
        while (rows[k].t - prev > step * 1.5) {
          prev += step;
          filled.push({t: prev, negative: 0, neutral: 0, positive: 0, total: 0});
        }
        filled.push(rows[k]);
      }
      rows = filled;
    }
    return {rows: rows, step: step};
  }

  function draw(slot, key, idx) {
    var prep = prepare(series[key] || []);
    var rows = prep.rows, step = prep.step;
    if (!rows.length) {
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No data for this key.";
      slot.appendChild(p);
      return;
    }
    var t0 = rows[0].t, t1 = rows[rows.length - 1].t + step;
    var ymax = 0;
    rows.forEach(function (r) {
      ymax = Math.max(ymax, r.total, r.negative + r.neutral + r.positive);
    });
    var ystep = niceStep(Math.max(ymax, 1) / 4);
    var ytop = Math.max(ystep, Math.ceil(Math.max(ymax, 1) / ystep) * ystep);
    function x(t) { return M.left + (Math.min(Math.max(t, t0), t1) - t0) / (t1 - t0) * PW; }
    function y(v) { return M.top + PH - v / ytop * PH; }
    function ys(s) { return M.top + PH - s * PH; }

    var root = svg("svg", {"class": "trend-chart", "data-key": key, viewBox: "0 0 " + W + " " + H,
                           role: "img", "aria-label": "Trend for " + key});
    svg("title", {}, root).textContent = "Sentiment per bucket for " + key;

    // Grid and y axes.
    var grid = svg("g", {"class": "grid-lines"}, root);
    for (var v = 0; v <= ytop + 1e-9; v += ystep) {
      svg("line", {"class": "grid", x1: M.left, x2: M.left + PW, y1: r1(y(v)), y2: r1(y(v))}, grid);
      text(grid, M.left - 6, r1(y(v)) + 4, String(Math.round(v * 100) / 100), {"text-anchor": "end"});
    }
    [0, 0.25, 0.5, 0.75, 1].forEach(function (s) {
      text(grid, M.left + PW + 6, r1(ys(s)) + 4, Math.round(s * 100) + "%", {"text-anchor": "start"});
    });
    text(root, 0, 0, "items per bucket", {"class": "axis-title", "text-anchor": "middle",
         transform: "translate(14," + (M.top + PH / 2) + ") rotate(-90)"});
    text(root, 0, 0, "negative share", {"class": "axis-title", "text-anchor": "middle",
         transform: "translate(" + (W - 10) + "," + (M.top + PH / 2) + ") rotate(90)"});

    // X axis: about eight labels on bucket starts.
    var withDate = (t1 - t0) > 24 * 3600 * 1000 || new Date(t0).getUTCDate() !== new Date(t1 - 1).getUTCDate();
    var every = Math.max(1, Math.ceil(rows.length / 8));
    var xaxis = svg("g", {"class": "x-axis"}, root);
    svg("line", {"class": "axis", x1: M.left, x2: M.left + PW, y1: M.top + PH, y2: M.top + PH}, xaxis);
    for (var i = 0; i < rows.length; i += every) {
      var xt = r1(x(rows[i].t));
      svg("line", {"class": "axis", x1: xt, x2: xt, y1: M.top + PH, y2: M.top + PH + 4}, xaxis);
      text(xaxis, xt, M.top + PH + 16, fmtTime(rows[i].t, withDate), {"text-anchor": "middle"});
    }
    text(root, M.left + PW / 2, H - 4, "bucket start (UTC)", {"class": "axis-title", "text-anchor": "middle"});

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

    // Stacked areas: negative at the bottom, then neutral, then positive.
    var pts = rows.map(function (r) { return r1(x(r.t + step / 2)); });
    var lower = rows.map(function () { return 0; });
    var layers = svg("g", {"class": "series"}, root);
    ["negative", "neutral", "positive"].forEach(function (name) {
      var upper = rows.map(function (r, n) { return lower[n] + r[name]; });
      var d = "M" + (rows.length === 1 ? r1(x(rows[0].t)) : pts[0]) + "," + r1(y(upper[0]));
      var top = [], bottom = [];
      if (rows.length === 1) {
        top.push(r1(x(t1)) + "," + r1(y(upper[0])));
        bottom.push(r1(x(t1)) + "," + r1(y(lower[0])), r1(x(t0)) + "," + r1(y(lower[0])));
      } else {
        for (var n = 1; n < rows.length; n++) { top.push(pts[n] + "," + r1(y(upper[n]))); }
        for (var m = rows.length - 1; m >= 0; m--) { bottom.push(pts[m] + "," + r1(y(lower[m]))); }
      }
      d += " L" + top.concat(bottom).join(" L") + " Z";
      var path = svg("path", {"class": "series-" + name, d: d}, layers);
      svg("title", {}, path).textContent = name;
      lower = upper;
    });

    // Negative share line (gaps where a bucket has no items).
    var share = "", pen = false;
    rows.forEach(function (r, n) {
      if (r.total > 0) {
        share += (pen ? " L" : (share ? " M" : "M")) + pts[n] + "," + r1(ys(Math.min(1, r.negative / r.total)));
        pen = true;
      } else { pen = false; }
    });
    if (share) { svg("path", {"class": "series-share", d: share}, layers); }

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
      text(link, xm + 4, M.top + 8, "\u25B2 " + (m.a.severity || "alert"), {"class": "alert-label"});
    });

    // Legend, above the plot.
    var legend = svg("g", {"class": "legend"}, root);
    var items = [["series-negative", "negative", "rect"], ["series-neutral", "neutral", "rect"],
                 ["series-positive", "positive", "rect"], ["series-share", "negative share", "line"]];
    if (mine.length) { items.push(["alert-marker", "alert fired", "line"]); }
    var lx = M.left;
    items.forEach(function (it) {
      if (it[2] === "rect") {
        svg("rect", {"class": it[0], x: lx, y: 8, width: 12, height: 12, rx: 2}, legend);
      } else {
        var cls = it[0] === "alert-marker" ? "legend-alert" : it[0];
        var ln = svg("line", {"class": cls, x1: lx, x2: lx + 14, y1: 14, y2: 14}, legend);
        if (it[0] === "alert-marker") { ln.setAttribute("style", "stroke:#b42318;stroke-width:2"); }
      }
      text(legend, lx + 18, 18, it[1]);
      lx += 30 + it[1].length * 6.5;
    });

    slot.appendChild(root);
  }

  var slots = document.querySelectorAll(".chart-slot");
  for (var s = 0; s < slots.length; s++) {
    var key = slots[s].getAttribute("data-key");
    if (key !== null && Object.prototype.hasOwnProperty.call(series, key)) { draw(slots[s], key, s); }
  }
})();
"""
