"""A line chart drawn as inline SVG, for curves no PNG exists of yet (a run still in progress)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["line_chart"]

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 28, 44


def _step(span: float, count: int) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about ``count`` ticks."""
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    return next(k * power for k in (1, 2, 2.5, 5, 10) if k * power >= raw)


def _ticks(lo: float, hi: float, count: int, integer: bool) -> list[float]:
    step = _step(hi - lo, count)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(v: float, step: float) -> str:
    """``v`` with as many decimals as the tick step has."""
    text = f"{step:.6g}"
    digits = len(text.split(".")[1]) if "." in text and "e" not in text else (0 if step >= 1 else 6)
    return f"{v:.{digits}f}"


def _range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.05 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *, xlabel: str, ylabel: str,
               title: str, width: int = 520, height: int = 320, integer_x: bool = True,
               hlines: Sequence[tuple[str, float]] = ()) -> str:
    """An ``<svg>`` with one line per ``(label, xs, ys)`` (markers when there are few points) and
    dashed horizontal references ``(label, y)``; "" when there is nothing to draw."""
    series = [(name, list(xs), list(ys)) for name, xs, ys in series if len(xs)]
    if not series:
        return ""
    xs_all = [x for _, xs, _ in series for x in xs]
    ys_all = [y for _, _, ys in series for y in ys] + [y for _, y in hlines]
    x0, x1 = (min(xs_all), max(xs_all)) if max(xs_all) > min(xs_all) else (min(xs_all) - 1, max(xs_all) + 1)
    x0, x1 = x0 - 0.02 * (x1 - x0), x1 + 0.02 * (x1 - x0)  # end markers clear of the frame
    y0, y1 = _range(ys_all)
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * plot_h

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}">',
           f'<text x="{LEFT + plot_w / 2:.1f}" y="16" text-anchor="middle">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    xt = _ticks(x0, x1, 6, integer_x)
    yt = _ticks(y0, y1, 5, False)
    ystep = yt[1] - yt[0] if len(yt) > 1 else 1.0
    for x in xt:
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>'
                   f'<text x="{px(x):.1f}" y="{TOP + plot_h + 15}" text-anchor="middle">{x:g}</text>')
    for y in yt:
        out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + plot_w}" y2="{py(y):.1f}" stroke="#eee"/>'
                   f'<text x="{LEFT - 5}" y="{py(y) + 4:.1f}" text-anchor="end">{_label(y, ystep)}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(13 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">'
               f'{escape(ylabel)}</text>')
    for name, y in hlines:
        out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + plot_w}" y2="{py(y):.1f}" stroke="#888" '
                   f'stroke-dasharray="5 4"/><text x="{LEFT + 4}" y="{py(y) - 4:.1f}" fill="#666">{escape(name)}</text>')
    for i, (name, xs, ys) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
        out.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.6"/>')
        if len(xs) <= 60:
            out.extend(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.6" fill="{color}"/>' for x, y in zip(xs, ys))
        if len(series) == 1:
            continue
        ly = TOP + 14 + 15 * i
        out.append(f'<line x1="{LEFT + plot_w - 120}" y1="{ly - 4}" x2="{LEFT + plot_w - 100}" y2="{ly - 4}" '
                   f'stroke="{color}" stroke-width="2"/><text x="{LEFT + plot_w - 95}" y="{ly}">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
