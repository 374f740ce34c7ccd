"""A run page's pictures: the loss and accuracy curves (the run's PNGs when they are current, else
drawn from its logs) and the image grids (initialisation, evaluation points, the latest saved set)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..tables import format_accuracy
from .images import HALF_WIDTH, MAX_GRIDS, Png, evenly, render_synset
from .markup import Num, captioned, figure, gallery, note, table
from .runfiles import RunFiles, accuracy_sentence
from .svg import line_chart

__all__ = ["curves_section", "images_section", "curve_table"]


def curves_section(f: RunFiles) -> str:
    """Loss per iteration and accuracy per evaluation point. A finished run shows ``plots/``; a run
    in progress has none (they are written at the end): its curves are drawn from ``metrics.jsonl``
    and ``evaluations.jsonl``. One evaluation point is a value, not a curve."""
    finished = f.results is not None
    parts = []
    losses = [m for m in f.metrics if "loss" in m]
    loss_png = Png.read(f.run.file("plots") / "loss.png") if finished else None
    if loss_png is not None and (not losses or losses[-1]["iteration"] == f.results.get("iteration")):
        parts.append(figure(loss_png, "matching loss vs iteration", grid=False, limit=HALF_WIDTH))
    elif losses:
        chart = line_chart([("matching loss", [m["iteration"] for m in losses], [m["loss"] for m in losses])],
                           xlabel="iteration", ylabel="loss per class step", title="matching loss")
        parts.append(captioned(chart, 520, "matching loss vs iteration (drawn from metrics.jsonl)"))
    curve = f.curve()
    iterations = sorted({p["iteration"] for p in curve})
    text = ""
    if len(iterations) >= 2:
        acc_png = Png.read(f.run.file("plots") / "accuracy.png") if finished else None
        caption = "test accuracy of the synthetic set vs iteration"
        if acc_png is not None:
            parts.insert(0, figure(acc_png, caption + " (dashed: random real)", grid=False, limit=HALF_WIDTH))
        else:
            parts.insert(0, captioned(_accuracy_chart(f, curve), 520, caption + " (drawn from evaluations.jsonl)"))
    elif iterations:
        text = (f"Accuracy was measured at one evaluation point, iteration {iterations[0]}: "
                f"{accuracy_sentence(curve)}. One point makes no curve.")
    if not parts and not text:
        return ""
    out = "<h2>Curves</h2>" + gallery(parts) + note(text, "note value")
    if len(iterations) >= 2:
        out += "<h3>Accuracy at each evaluation point</h3>" + curve_table(curve)
    return out


def _accuracy_chart(f: RunFiles, curve: Sequence[Mapping[str, Any]]) -> str:
    models = list(dict.fromkeys(p["model"] for p in curve))
    series = [(m, [p["iteration"] for p in curve if p["model"] == m], [100 * p["mean"] for p in curve if p["model"] == m])
              for m in models]
    base = ((f.results or {}).get("baseline") or {}).get("random_real") or {}
    hlines = [(f"random real ({m})", 100 * r["mean"]) for m, r in base.items()]
    return line_chart(series, xlabel="iteration", ylabel="test accuracy (%)", title="accuracy of the synthetic set",
                      hlines=hlines)


def curve_table(curve: Sequence[Mapping[str, Any]]) -> str:
    """One row per evaluation point, one column per model (mean ± std, networks)."""
    models = list(dict.fromkeys(p["model"] for p in curve))
    at: dict[int, dict[str, Mapping[str, Any]]] = {}
    for p in curve:
        at.setdefault(int(p["iteration"]), {})[p["model"]] = p
    rows = [[Num(it), *(Num(format_accuracy(pts.get(m))) for m in models),
             Num(", ".join(str(pts[m].get("n")) for m in models if m in pts))] for it, pts in sorted(at.items())]
    return table(["iteration", *(f"{m} %" for m in models), "networks"], rows)


def images_section(f: RunFiles) -> str:
    """The grids of ``grids/`` (evenly thinned), then the final set (``synset.png``) of a finished
    run, or the latest checkpoint's ``synset.pt`` of one in progress when no grid shows it."""
    res = f.results or {}
    grids = list(f.run.grids())
    final, final_caption = None, ""
    accs = "; ".join(f"{m} {format_accuracy(r)}" for m, r in (res.get("accuracy") or {}).items())
    stored = f" (stored images, {f.factor}×{f.factor} tiles each)" if f.factor > 1 else ""
    if f.results is not None:
        final_it = res.get("iteration")
        final = Png.read(f.run.file("synset.png"))
        source = "synset.png"
        if final is None and (rendered := render_synset(f.run.file("synset.pt"))) is not None:
            final, source = rendered.png, "synset.pt"
        if final is not None:  # synset.png is the grid of the last iteration: shown once, as the result
            grids = [(it, p) for it, p in grids if it != final_it]
        final_caption = (f"selected by {f.method} ({source})" if f.selected
                         else f"final, iteration {final_it} ({source})") + stored + (f" — {accs}" if accs else "")
    elif (rendered := render_synset(f.run.file("synset.pt"))) is not None:
        it = rendered.meta.get("iteration")
        if it not in {i for i, _ in grids}:
            final = rendered.png
            final_caption = f"latest checkpoint, iteration {it} (synset.pt)" + stored
    shown = evenly(grids, MAX_GRIDS - (final is not None))
    at: dict[int, list[str]] = {}
    for p in f.curve():
        at.setdefault(p["iteration"], []).append(f"{p['model']} {format_accuracy(p)}")
    figures = []
    for it, path in shown:
        what = (f"initialisation ({f.config.get('init', '?')})" if it == 0 else "evaluation point" if it in at
                else "snapshot")
        accs_at = f" — {'; '.join(at[it])}" if it in at else ""
        figures.append(figure(Png.read(path), f"iteration {it}: {what}{accs_at}", grid=True, limit=HALF_WIDTH))
    if final is not None:
        figures.append(figure(final, final_caption, grid=True, limit=HALF_WIDTH))
    if not any(figures):
        side = Png.read(f.run.file("plots") / "init_vs_result.png")
        figures.append(figure(side, "initialisation next to result", grid=False))
    if not any(figures):
        return ""
    count = len(shown) + (final is not None)
    thinned = (note(f"{count} of {len(grids) + (final is not None)} grids shown, evenly spaced.")
               if len(shown) < len(grids) else "")
    return "<h2>Images</h2>" + note("One row per class, de-normalised to real colours.") + thinned + gallery(figures)

