"""How a set's size is written wherever a figure is shown (tables, JSON, plots, printed lines).

A multi-formation set (``--factor F`` > 1, see ``formation``) stores ``ipc`` images per class, and
networks train on ``ipc * F**2`` decoded tiles per class: both are said. Its random-real baseline
is ``F**2`` random real images shrunk into each stored image. The papers' figures are for plain
sets (factor 1): beside a factor-F result such a figure is marked as another setting.
"""

from __future__ import annotations

from typing import Any

__all__ = ["plural", "per_class", "random_real_text", "multi_formation_text", "paper_beside", "ANOTHER_SETTING"]

ANOTHER_SETTING = "another setting"


def plural(n: Any, word: str) -> str:
    """``1 image``, ``10 images``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def per_class(ipc: Any, factor: int = 1) -> str:
    """``1 image/class``; with multi-formation what is stored and what networks train on:
    ``1 stored image/class (factor 2: 4 training images/class)``."""
    if factor <= 1 or not isinstance(ipc, int):
        return f"{plural(ipc, 'image')}/class"
    return f"{plural(ipc, 'stored image')}/class (factor {factor}: {plural(ipc * factor**2, 'training image')}/class)"


def random_real_text(ipc: Any, factor: int = 1) -> str:
    """What the random-real baseline is, for a set of ``ipc`` (stored) images per class."""
    if factor <= 1:
        return f"{plural(ipc, 'random real image')} per class"
    return f"{factor**2} random real images shrunk into each stored image ({plural(ipc, 'stored image')} per class)"


def multi_formation_text(ipc: Any, factor: int) -> str:
    """One sentence on what a factor-``factor`` set is ("" for a plain set)."""
    if factor <= 1:
        return ""
    return (f"multi-formation, factor {factor}: each stored image holds {factor}×{factor} tiles that networks train "
            f"on, enlarged ({per_class(ipc, factor)})")


def paper_beside(paper_text: str, ipc: Any, factor: int) -> str:
    """A paper's figure (text) as shown beside one of our results: as it is for a plain set; for a
    multi-formation set marked as the figure of plain sets, another setting."""
    if factor <= 1 or paper_text in ("", "–", "None"):
        return paper_text
    return f"{paper_text} (plain sets of {plural(ipc, 'image')}/class: {ANOTHER_SETTING})"
