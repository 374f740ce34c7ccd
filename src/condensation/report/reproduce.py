"""The page of a reproduce grid (``condense reproduce``): ours beside the papers, per cell."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..tables import format_accuracy
from .files import markdown_notes, read_json
from .grid import grid_settings, per_seed_table, row_configs, row_factors, row_images
from .images import Png
from .markup import Num, e, figure, kv_table, note, table
from .papers import Sources, paper_cells
from .text import duration, per_class, value

__all__ = ["reproduce_page"]


def reproduce_page(d: Path) -> tuple[str, list[str]]:
    """Title and body parts of the page of the reproduce grid in ``d``."""
    data = read_json(d / "results.json")
    records, seeds = list(data.get("cells") or []), list(data.get("seeds") or [])
    title = "Reproduction: ours beside the papers"
    body = [f"<h1>{e(title)}</h1>", note(f"{d} — {len(records)} cell(s), budget {data.get('budget')}", "meta")]
    configs = row_configs(d, [r["key"] for r in records], seeds)
    factors = row_factors(configs)

    def label(r: Mapping[str, Any]) -> str:
        info = r.get("info") or {}
        factor = factors.get(r["key"], 1)
        return f"{info.get('dataset')} ipc {info.get('ipc')}{f' factor {factor}' if factor > 1 else ''} {info.get('method')}"

    labels = {r["key"]: label(r) for r in records}
    body.append(grid_settings(configs, labels))
    body.append("<h2>Result</h2>")
    summary = [["budget", data.get("budget")], ["seeds", value(seeds)], ["wall time", Num(duration(data.get("wall_seconds")))]]
    sources = Sources()
    rows = []
    for r in records:
        info, acc, b = r.get("info") or {}, r.get("accuracy") or {}, r.get("budget") or {}
        main = next(iter(acc.values()), None)
        distill = r.get("kind") == "distill"
        factor = factors.get(r["key"], 1)
        ipc = info.get("ipc")
        paper, paper_gap = paper_cells(r.get("paper"), main, sources, ipc, factor)
        rows.append([
            info.get("dataset"), Num(ipc) if factor <= 1 else per_class(ipc, factor), info.get("method"),
            next(iter(acc), "–"), Num(format_accuracy(main)), paper, paper_gap,
            Num(f"{b.get('seeds')} × {b.get('num_eval')}"), Num(b.get("iterations") if distill else "–"),
            Num(b.get("batch_real") if distill else "–"), r.get("init", "–"), Num(f"{r.get('seconds') or 0:.0f}"),
        ])
    body.append(table(["dataset", "ipc", "method", "model", "ours %", "paper %", "ours − paper", "seeds × networks",
                       "iterations", "batch_real", "init", "time (s)"], rows))
    body.append(note(markdown_notes(d / "results.md")))
    multi = any(f > 1 for f in factors.values())
    if multi:
        body.append(note("Cells with a factor above 1 are multi-formation sets (each stored image holds factor × factor "
                         "tiles that networks train on): the papers' figures are for plain sets, another setting, so "
                         "no gap to them is given."))
    body.append(sources.html())
    body.append(kv_table(summary))
    body.append(per_seed_table(records, label))
    chart = Png.read(d / "plots" / "ours_vs_paper.png")
    if chart:
        other = " (for plain sets: another setting for the factor > 1 cells)" if multi else ""
        paper_mark = f" and the paper (orange){other}" if any(r.get("paper") for r in records) else ""
        body.append("<h2>Chart</h2>" + figure(chart, f"ours (blue){paper_mark} per cell, mean ± std", grid=False))
    body.append(row_images(d, [(r["key"], labels[r["key"]]) for r in records], seeds))
    return title, body
