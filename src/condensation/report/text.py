"""Plain text on a page: numbers, durations, settings values, "images per class" labels."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..labels import per_class, plural, random_real_text

__all__ = ["clean", "value", "pct_list", "number", "duration", "size_bytes", "plural", "factor_of", "per_class",
           "random_real_text", "SELECTIONS", "CONDENSATION_ONLY"]

# Bookkeeping that must never reach a reader: references into a search index ("[code-search index
# file 123]") and the status letters of published.csv's notes ("[M]", "[S-weak]").
_INTERNAL = re.compile(r"\s*\[\s*(?:code[- ]search|search index|index file)[^\]]*\]|\s*\[[MSVRN](?:-[a-z]+)?\]", re.I)


def clean(text: str) -> str:
    """``text`` without internal references."""
    return _INTERNAL.sub("", text)


def value(v: Any) -> str:
    """A setting as text: None "–", booleans yes/no, lists comma-separated, dicts as JSON."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "–"
    if isinstance(v, dict):
        return json.dumps(v) if v else "–"
    return str(v)


def pct_list(runs: Sequence[float]) -> str:
    return ", ".join(f"{100 * a:.2f}" for a in runs)


def number(x: float) -> str:
    """A published figure as printed: 84.6 -> "84.6", 45.0 -> "45.0", 49.15 -> "49.15"."""
    text = f"{x:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s:.0f} s ({s / 60:.0f} min)"
    return f"{s:.0f} s ({s / 3600:.1f} h)"


def size_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.1f} {unit}"
    return f"{n:.0f} B"


def factor_of(*sources: Mapping[str, Any] | None) -> int:
    """The multi-formation factor the first of ``sources`` that names one gives (1 if none does)."""
    for s in sources:
        if s and s.get("factor") is not None:
            try:
                return max(1, int(s["factor"]))
            except (TypeError, ValueError):
                continue
    return 1


# Coreset rules (``coreset.CORESET_METHODS``; a test keeps the two equal): a run of one of these
# selected its images instead of condensing them.
SELECTIONS = ("random", "herding", "kcenter", "forgetting")
# Settings a coreset's config.json may carry but its selection never used.
CONDENSATION_ONLY = ("iterations", "batch_real", "lr_img", "momentum_img", "optimizer_img", "lr_schedule", "init",
                     "strategy", "dsa_mode", "dsa_sides", "outer_loop", "inner_loop", "metric", "matching", "bn_stats")
