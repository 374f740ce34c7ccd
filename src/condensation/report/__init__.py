"""One self-contained HTML page (``report.html``) of any folder the package writes.

``write_report(directory)`` reads what a command wrote there and renders it: a run (``condense
distill --out``, finished or still in progress, or ``condense coreset --out``), an ablation
(``condense ablate``), a reproduce grid (``condense reproduce``), a continual-learning folder
(``condense continual``) or an architecture search (``condense nas``). Every image is embedded as
a ``data:image/png;base64`` URI (curves of a run in progress as inline SVG) and the stylesheet is
inline, so the page opens anywhere, offline, without JavaScript. Accuracies in %, two decimals,
mean ± std.

One module per kind of page (``run``, ``ablation``, ``reproduce``, ``continual``, ``nas``) over
shared pieces: ``markup`` (HTML), ``images``, ``svg``, ``text``, ``papers``, ``files``, ``grid``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import ReportError
from .ablation import ablation_page
from .continual import continual_page
from .files import read_json
from .images import MAX_GRIDS
from .markup import page
from .nas import nas_page
from .reproduce import reproduce_page
from .run import run_page

__all__ = ["KINDS", "ReportError", "detect_kind", "render_report", "write_report", "MAX_GRIDS", "REPORT_NAME"]

KINDS = ("run", "ablation", "reproduce", "continual", "nas")
REPORT_NAME = "report.html"
_PAGES: dict[str, Callable[[Path], tuple[str, list[str]]]] = {
    "run": run_page, "ablation": ablation_page, "reproduce": reproduce_page, "continual": continual_page,
    "nas": nas_page,
}
_APPS = {"continual": "continual.json", "nas": "nas.json"}  # settings.json kind -> its results file


def detect_kind(directory: str | os.PathLike) -> str:
    """The kind of folder ``directory`` is (one of ``KINDS``), from its files: ``"run"`` for
    ``condense distill`` (finished or in progress) and ``condense coreset``, ``"ablation"``,
    ``"reproduce"``, ``"continual"`` or ``"nas"``. ``ReportError`` (one line naming what each kind
    holds) for anything else."""
    d = Path(directory)
    if not d.is_dir():
        raise ReportError(f"{d} is not a directory; pass the --out directory of condense distill, coreset, ablate, "
                          "reproduce, continual or nas")
    if (d / "ablation.json").is_file():
        return "ablation"
    if (d / "settings.json").is_file():
        settings = read_json(d / "settings.json")
        kind = settings.get("kind") if isinstance(settings, dict) else None
        if kind in _APPS:
            return kind
    for kind, name in _APPS.items():  # the results without their settings.json
        if (d / name).is_file():
            data = read_json(d / name)
            if isinstance(data, dict) and data.get("kind") == kind:
                return kind
    if (d / "results.json").is_file():
        data = read_json(d / "results.json")
        if isinstance(data, dict) and data.get("kind") == "reproduce":
            return "reproduce"
        if isinstance(data, dict) and "kind" not in data and (d / "config.json").is_file():
            return "run"
    elif (d / "config.json").is_file() and ((d / "metrics.jsonl").is_file() or (d / "checkpoint.pt").is_file()):
        return "run"  # a run still in progress: settings and log, no results yet
    raise ReportError(
        f"{d} holds no run, ablation, reproduce grid, continual-learning or architecture-search folder: expected "
        "config.json and results.json (condense distill or coreset --out; config.json and metrics.jsonl while a run "
        "is in progress), ablation.json (condense ablate), results.json of kind 'reproduce' (condense reproduce), "
        "settings.json of kind 'continual' (condense continual) or of kind 'nas' (condense nas)"
    )


def render_report(directory: str | os.PathLike) -> str:
    """The HTML of ``directory``'s report (see ``detect_kind`` for what it accepts)."""
    d = Path(directory)
    title, body = _PAGES[detect_kind(d)](d)
    return page(title, body, d)


def write_report(directory: str | os.PathLike, output: str | os.PathLike | None = None) -> Path:
    """Write ``directory``'s report to ``output`` (default ``directory/report.html``; an existing
    directory gets ``report.html`` inside), atomically; returns its path. ``ReportError`` if
    ``directory`` is none of the kinds ``detect_kind`` knows."""
    html_text = render_report(directory)
    path = Path(output) if output is not None else Path(directory)
    if path.is_dir():
        path = path / REPORT_NAME
    return atomic_write_text(path, html_text)
