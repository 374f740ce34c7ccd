"""The papers' figures on a page: lookup, footnoted sources, the gap to ours, and the label of a
figure that belongs to another setting (a multi-formation set against plain sets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .markup import Num, e
from .text import number, plural

__all__ = ["paper_text", "gap", "Sources", "paper_for", "paper_cells"]


def paper_text(paper: Mapping[str, Any] | None) -> str:
    if not paper or paper.get("mean") is None:
        return "–"
    if paper.get("std") is None:
        return f"{number(paper['mean'])}%"
    return f"{number(paper['mean'])} ± {number(paper['std'])}%"


def gap(ours: Mapping[str, Any] | None, reference_pct: float | None) -> str:
    """Ours minus a reference, in points (ours is a fraction, the reference a percentage)."""
    if not ours or reference_pct is None:
        return "–"
    return f"{100 * ours['mean'] - reference_pct:+.2f}"


class Sources:
    """Footnotes for the papers' figures: each distinct source once, numbered."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def mark(self, paper: Mapping[str, Any] | None) -> str:
        """The figure as text with its footnote number, e.g. ``84.6 ± 0.3% [1]``."""
        text = paper_text(paper)
        source = (paper or {}).get("source")
        if not source or text == "–":
            return text
        if source not in self.items:
            self.items.append(source)
        return f"{text} [{self.items.index(source) + 1}]"

    def html(self) -> str:
        if not self.items:
            return ""
        items = "".join(f"<li>{e(s)}</li>" for s in self.items)
        return f'<p class="note">Sources of the papers\' figures (published.csv):</p><ol class="sources">{items}</ol>'


def paper_for(method: str | None, dataset: str | None, ipc: int | None, model: str) -> dict[str, Any] | None:
    """The paper's figure for a set evaluated on ``model``: the main table for ConvNet, the
    cross-architecture table otherwise; None without the published module or a figure."""
    if not method or not dataset or ipc is None:
        return None
    try:
        from ..published import published
    except ImportError:
        return None
    model = str(model).lower()
    try:
        if model == "convnet":
            return published(method, dataset, ipc)
        return published(method, dataset, ipc, model=model, setting=f"cross:{model}")
    except (ValueError, OSError):
        return None


def paper_cells(paper: Mapping[str, Any] | None, ours: Mapping[str, Any] | None, sources: Sources, ipc: Any,
                factor: int) -> tuple[str, Num]:
    """The "paper" and "ours − paper" table cells. The papers measure plain sets (factor 1): beside
    a multi-formation set the figure is marked as another setting and no gap is printed."""
    marked = sources.mark(paper)
    if factor <= 1 or marked == "–":
        return Num(marked), Num(gap(ours, paper and paper.get("mean")))
    return f"{marked} (plain sets of {plural(ipc, 'image')}/class: another setting)", Num("–")
