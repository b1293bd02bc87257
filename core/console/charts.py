"""Line charts drawn on the server as inline SVG: no chart library to ship or load, readable
without JavaScript, and every chart on a page can share one time axis (pass the same
``start``/``end``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from markupsafe import Markup

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7c86", "#57606a")
WIDTH, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 720, 44, 12, 10, 26


def line_chart(series: Mapping[str, Sequence[tuple[datetime, float]]], start: datetime, end: datetime, *,
               label: str, height: int = 160, unit: str = "") -> Markup:
    """An SVG of one line per series between ``start`` and ``end``; it scales to its container."""
    span = max((end - start).total_seconds(), 1.0)
    top = max([v for points in series.values() for _, v in points] + [1.0])
    inner_w, inner_h = WIDTH - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM

    def x(t: datetime) -> float:
        return PAD_LEFT + inner_w * min(max((t - start).total_seconds() / span, 0.0), 1.0)

    def y(v: float) -> float:
        return PAD_TOP + inner_h * (1 - v / top)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
             f'preserveAspectRatio="none"><title>{escape(label)}</title>']
    for fraction in (0.0, 0.5, 1.0):  # gridlines with their values
        gy = y(top * fraction)
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}" class="grid"/>'
                     f'<text x="{PAD_LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">{top * fraction:.3g}{escape(unit)}</text>')
    for t, anchor in ((start, "start"), (end, "end")):
        parts.append(f'<text x="{x(t):.1f}" y="{height - 6}" text-anchor="{anchor}">{t:%m-%d %H:%M}</text>')
    for colour, (name, points) in zip(_colours(len(series)), series.items()):
        if not points:
            continue
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
                     f"<title>{escape(name)}</title></polyline>")
    parts.append("</svg>")
    legend = "".join(f'<li><span class="swatch" style="background:{c}"></span>{escape(n)}</li>'
                     for c, n in zip(_colours(len(series)), series))
    return Markup(f'<figure class="chart-box">{"".join(parts)}<ul class="legend">{legend}</ul></figure>')


def _colours(n: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]
