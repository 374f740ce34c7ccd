"""HTML building blocks of every page: the stylesheet, escaped text, tables, figures, the page shell."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from .images import GRID_WIDTH, PAGE_WIDTH, Png, img
from .text import clean, value

__all__ = ["e", "Num", "Runs", "table", "kv_table", "settings_table", "figure", "captioned", "gallery", "note",
           "page"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;padding-bottom:3px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:16px 0 6px}
p{margin:6px 0}
.meta,.note,footer{color:#555}
.note{font-size:12.5px;max-width:900px}
.value{font-size:15px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #d6d6d6;padding:3px 8px;vertical-align:top;text-align:left}
th{background:#f3f3f3;font-weight:600}
tbody tr:nth-child(even) td{background:#fafafa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.num{white-space:nowrap}
td.runs{font-size:12px;color:#444;max-width:360px}
tbody td:first-child{white-space:nowrap}
table.settings td.k{color:#666;white-space:nowrap}
table.settings td.v{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
table.settings td.v div{max-width:26em;overflow-wrap:break-word}
.gallery{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:4px 0;max-width:100%}
.pair{display:flex;gap:8px;align-items:flex-start}
.pair img{flex:none}
.scroll{overflow-x:auto;max-width:100%}
figcaption{font-size:12.5px;color:#444;margin-top:3px}
img{max-width:100%;height:auto;border:1px solid #e3e3e3;background:#fff}
img.px{image-rendering:pixelated}
svg.chart{border:1px solid #e3e3e3;background:#fff;max-width:100%;height:auto}
svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;fill:#333}
ol.sources{font-size:12px;color:#555;padding-left:22px}
footer{margin-top:32px;font-size:12px;border-top:1px solid #eee;padding-top:6px}
"""


def e(text: Any) -> str:
    """``text`` escaped for HTML, with internal references removed; None prints as "–"."""
    return html.escape(clean("–" if text is None else str(text)), quote=True)


class Num(str):
    """A table cell aligned right (a number)."""


class Runs(str):
    """A cell listing per-network accuracies (small print)."""


def _cell(v: Any) -> str:
    cls = ' class="num"' if isinstance(v, Num) else (' class="runs"' if isinstance(v, Runs) else "")
    return f"<td{cls}>{e(v)}</td>"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table with a header row (scrolling sideways if wider than the page). Cells: text (escaped),
    ``Num`` (right-aligned) or ``Runs`` (small); a header is right-aligned when its column's cells
    are numbers."""
    rows = [list(row) for row in rows]
    numeric = {i for i in range(len(headers)) if rows and all(isinstance(row[i], Num) for row in rows)}
    head = "".join(('<th class="num">' if i in numeric else "<th>") + f"{e(h)}</th>" for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def kv_table(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labels and values, without a header."""
    body = "".join(f"<tr><th>{e(k)}</th>{_cell(v)}</tr>" for k, v in pairs)
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def settings_table(config: Mapping[str, Any], per_row: int = 3) -> str:
    """Settings as a compact key/value table, ``per_row`` pairs per line."""
    items = [(k, value(v)) for k, v in config.items() if not (k == "extra" and not v)]
    rows = []
    for i in range(0, len(items), per_row):
        chunk = items[i : i + per_row] + [("", "")] * (per_row - len(items[i : i + per_row]))
        rows.append("<tr>" + "".join(f'<td class="k">{e(k)}</td><td class="v"><div>{e(v)}</div></td>' for k, v in chunk) + "</tr>")
    return f'<table class="settings"><tbody>{"".join(rows)}</tbody></table>'


def captioned(content: str, width: int, caption: str) -> str:
    """A figure as wide as its content (at least 120 px), so the caption wraps under it."""
    return f'<figure style="width:{max(120, width)}px">{content}<figcaption>{e(caption)}</figcaption></figure>'


def figure(png: Png | None, caption: str, *, grid: bool, fit: int = GRID_WIDTH, limit: int = PAGE_WIDTH) -> str:
    """A captioned image (empty if ``png`` is None)."""
    if png is None:
        return ""
    markup, width = img(png, caption, grid=grid, fit=fit, limit=limit)
    return captioned(markup, width, caption)


def gallery(figures: Iterable[str]) -> str:
    """Figures side by side, wrapping (empty if there are none)."""
    figures = [f for f in figures if f]
    return f'<div class="gallery">{"".join(figures)}</div>' if figures else ""


def note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{e(text)}</p>' if text else ""


def page(title: str, body: Sequence[str], directory: Path) -> str:
    """The whole document: inline stylesheet, ``body`` parts in order, a footer naming the folder."""
    parts = [p for p in body if p]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><main>\n"
        + "\n".join(parts)
        + f"\n<footer>Written by <code>condense report</code> (condensation {e(__version__)}) from "
        f"<code>{e(directory)}</code>. Every figure is embedded; the page needs no network.</footer>"
        "\n</main></body></html>\n"
    )
