"""Plain-text results: ``mean ± std`` formatting, markdown and CSV tables.

Accuracies are fractions in the library and percentages with two decimals in every table.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text

__all__ = ["format_accuracy", "networks", "pct", "markdown_table", "csv_text", "write_table", "accuracy_table"]


def pct(fraction: float | None, digits: int = 2) -> str:
    """0.6727 -> ``"67.27"``; None -> ``"–"``."""
    return "–" if fraction is None else f"{100 * fraction:.{digits}f}"


def _count(result: Mapping[str, Any]) -> int | None:
    """How many networks a result summarises (its ``runs``, or a curve point's ``n``), if it says."""
    runs = result.get("runs")
    if isinstance(runs, (list, tuple)):
        return len(runs)
    n = result.get("n")
    return int(n) if isinstance(n, (int, float)) else None


def format_accuracy(result: Mapping[str, Any] | None, digits: int = 2) -> str:
    """``{"mean": 0.6727, "std": 0.0061, ...}`` -> ``"67.27 ± 0.61%"``; the result of a single
    network (``runs`` or ``n`` of one) -> ``"67.27%"`` (a spread of one is no spread); None -> ``"–"``."""
    if not result:
        return "–"
    if _count(result) == 1:
        return f"{pct(result['mean'], digits)}%"
    return f"{pct(result['mean'], digits)} ± {pct(result['std'], digits)}%"


def networks(n: int) -> str:
    """``1 network``, ``5 networks``."""
    return f"{n} network" + ("" if n == 1 else "s")


def _cell(value: Any) -> str:
    text = "–" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table (None cells print as "–")."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def csv_text(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table as CSV (None cells are empty)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buf.getvalue()


def write_table(path: str | os.PathLike, headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "", notes: str = "") -> Path:
    """Write a table atomically: CSV if ``path`` ends in ``.csv``, else markdown (with an optional
    ``# title`` above and ``notes`` below)."""
    path = Path(path)
    if path.suffix == ".csv":
        return atomic_write_text(path, csv_text(headers, rows))
    parts = [f"# {title}\n" if title else "", markdown_table(headers, rows) + "\n", f"\n{notes.strip()}\n" if notes.strip() else ""]
    return atomic_write_text(path, "".join(parts))


def accuracy_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown: one row per model with mean ± std (%) and the number of networks."""
    rows = [[model, format_accuracy(r), len(r.get("runs", []))] for model, r in results.items()]
    return markdown_table(["model", "accuracy (mean ± std)", "networks"], rows)
