"""The page of an architecture-search folder (``condense nas --out``): how well each proxy ranks the
candidates (Spearman ρ, the target accuracy of its top-1, time, storage), every candidate, the plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..tables import format_accuracy, pct
from .files import markdown_notes, read_optional
from .images import Png
from .markup import Num, e, figure, note, settings_table, table
from .text import duration, per_class, plural, size_bytes

__all__ = ["nas_page"]

SETS = ("condensed", "random", "target")  # apps.nas.SETS


def _labels(method: Any) -> dict[str, str]:
    return {"condensed": f"condensed ({method})", "random": "random real", "target": "target (real)"}


def architecture(c: Mapping[str, Any]) -> str:
    """``W128 D3 relu instancenorm avgpooling``, as ``apps.nas.Architecture.label``."""
    return f"W{c.get('width')} D{c.get('depth')} {c.get('act')} {c.get('norm')} {c.get('pooling')}"


def nas_page(d: Path) -> tuple[str, list[str]]:
    """Title and body parts of the page of the architecture-search folder ``d``."""
    settings = read_optional(d / "settings.json") or {}
    data = read_optional(d / "nas.json") or {}
    candidates = list(data.get("candidates") or [])
    summary = list(data.get("summary") or [])
    finished = summary[0].get("candidates", 0) if summary else 0
    ipc = settings.get("ipc")
    title = (f"Architecture search: {data.get('dataset', settings.get('dataset'))} · "
             f"{plural(len(candidates), 'candidate')} · proxies of {per_class(ipc, int(data.get('factor') or 1))}")
    status = (f"{finished} of {len(candidates)} candidates finished on every training set" if data
              else "no nas.json yet: the tables are written after the first candidate")
    body = [f"<h1>{e(title)}</h1>", note(f"{d} — {status}", "meta"), "<h2>Settings</h2>"]
    shown = {k: v for k, v in settings.items() if k != "kind"}
    shown.update({k: data[k] for k in ("method", "proxy_epochs", "target_epochs", "num_nets", "top_k", "val_images",
                                       "augment") if k in data})
    body.append(settings_table(shown))
    if not data:
        return title, body
    labels = {**_labels(data.get("method")), **(data.get("labels") or {})}  # a multi-formation proxy's own names
    body.append("<h2>Proxies</h2>")
    body.append(_proxy_table(summary, labels))
    body.append(note(markdown_notes(d / "nas.md")))
    plot = Png.read(d / "plots" / "nas.png")
    if plot:
        body.append(figure(plot, "each candidate's validation accuracy on a proxy against on the target", grid=False))
    body.append("<h2>Candidates</h2>")
    body.append(_candidate_table(candidates, summary, labels))
    skipped = list(data.get("skipped") or [])
    if skipped:
        body.append(note(f"Skipped {plural(len(skipped), 'architecture')} that do not fit the images: "
                         + "; ".join(f"{architecture(s)} ({s.get('reason')})" for s in skipped) + "."))
    return title, body


def _proxy_table(summary: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> str:
    k = next((s.get("top_k") for s in summary if s.get("top_k")), None)
    rows = []
    for s in summary:
        name = s.get("set")
        rows.append([
            labels.get(name, name), Num(s.get("images")), Num(size_bytes(s.get("bytes"))),
            Num(_rho(s.get("rho"))), Num(_rho(s.get("rho_top"))), s.get("top1_label", "–"),
            Num(pct(s.get("top1_target"))), Num(s.get("top1_rank", "–")), Num(duration(s.get("train_seconds"))),
            Num(duration(s.get("condense_seconds")) if name == "condensed" else "–"),
        ])
    return table(["training set", "images", "storage", "Spearman ρ (all)", f"ρ (its top {k or 'k'})",
                  "top-1 architecture", "its target acc. %", "its target rank", "training time", "condensation"], rows)


def _rho(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _candidate_table(candidates: Sequence[Mapping[str, Any]], summary: Sequence[Mapping[str, Any]],
                     labels: Mapping[str, str]) -> str:
    """One row per candidate: accuracy on each training set (mean ± std) and which set picks it first."""
    picked: dict[str, list[str]] = {}
    for s in summary:
        if s.get("top1_name"):
            picked.setdefault(s["top1_name"], []).append(labels.get(s.get("set"), s.get("set")))
    rows = [[architecture(c), c.get("name"), *(Num(format_accuracy(c.get(s))) for s in SETS),
             ", ".join(picked.get(c.get("name"), [])) or "–"] for c in candidates]
    return table(["architecture", "name", *(f"{labels[s]} %" for s in SETS), "top-1 of"], rows)
