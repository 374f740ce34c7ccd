"""The page of an ablation (``condense ablate``): one row per variant beside the paper's figure."""

from __future__ import annotations

from pathlib import Path

from ..errors import ReportError
from ..tables import format_accuracy
from .files import markdown_notes, read_json
from .grid import accuracy_columns, grid_settings, per_seed_table, row_configs, row_factors, row_images
from .images import Png
from .markup import Num, e, figure, kv_table, note, table
from .papers import Sources, paper_cells
from .text import duration, per_class, value

__all__ = ["ablation_page"]


def ablation_page(d: Path) -> tuple[str, list[str]]:
    """Title and body parts of the page of the ablation in ``d``."""
    data = read_json(d / "ablation.json")
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise ReportError(f"{d / 'ablation.json'} has no rows; re-run condense ablate")
    records, columns, seeds = data["rows"], list(data.get("columns") or []), list(data.get("seeds") or [])
    # rows are named as in the chart: the augmentation rows by key (their labels are the columns)
    by_key = data.get("ablation") == "augmentation"
    labels = {r["key"]: r["key"] if by_key else r.get("label", r["key"]) for r in records}
    configs = row_configs(d, list(labels), seeds)
    factors = row_factors(configs)
    ipc = data.get("ipc")
    shared_factor = max(factors.values(), default=1) if len(set(factors.values())) == 1 else 1
    title = f"Ablation: {data.get('ablation')} · {data.get('dataset')} · {per_class(ipc, shared_factor)}"
    body = [f"<h1>{e(title)}</h1>", note(f"{d} — {len(records)} row(s)", "meta")]
    body.append(grid_settings(configs, labels))
    body.append("<h2>Result</h2>")
    summary = [["ablation", data.get("ablation")], ["dataset", data.get("dataset")], ["images per class", Num(ipc)],
               ["model", data.get("model")], ["seeds", value(seeds)], ["wall time", Num(duration(data.get("wall_seconds")))]]
    models = accuracy_columns(records)
    sources = Sources()
    rows = []
    for r in records:
        acc, b = r.get("accuracy") or {}, r.get("budget") or {}
        main = acc.get(models[0]) if models else None
        factor = factors.get(r["key"], 1)
        label = labels[r["key"]] + (f" ({per_class(ipc, factor)})" if factor > 1 else "")
        paper, paper_gap = paper_cells(r.get("paper"), main, sources, ipc, factor)
        rows.append([
            label, *((r.get("info") or {}).get(c) for c in columns), *(Num(format_accuracy(acc.get(m))) for m in models),
            paper, paper_gap, Num(b.get("seeds")), Num(b.get("networks")), Num(b.get("iterations")),
            Num(b.get("batch_real")), Num(f"{r.get('seconds') or 0:.0f}"),
        ])
    acc_headers = [f"{m} %" if len(models) > 1 else "accuracy %" for m in models]
    body.append(table(["row", *columns, *acc_headers, "paper %", "ours − paper", "seeds", "networks", "iterations",
                       "batch_real", "time (s)"], rows))
    body.append(note(markdown_notes(d / "ablation.md")))
    if any(f > 1 for f in factors.values()):
        body.append(note("Rows with a factor above 1 are multi-formation sets: the paper's figures are for plain sets, "
                         "another setting, so no gap to them is given."))
    body.append(sources.html())
    body.append(kv_table(summary))
    body.append(per_seed_table(records, lambda r: labels[r["key"]]))
    chart = Png.read(d / "plots" / "ablation.png")
    if chart:
        other = " for plain sets, another setting for the factor > 1 rows" if any(f > 1 for f in factors.values()) else ""
        paper_mark = f" (orange: the paper{other})" if any(r.get("paper") for r in records) else ""
        body.append("<h2>Chart</h2>" + figure(chart, f"accuracy per row, mean ± std{paper_mark}", grid=False))
    body.append(row_images(d, list(labels.items()), seeds))
    return title, body
