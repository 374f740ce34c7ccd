"""Figures (matplotlib, PNG, written atomically): a run's curves, bar charts for ablations, ours
against the paper for reproduce grids, and accuracy against time.

Every function takes plain numbers and a path; nothing here trains or evaluates.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from .atomic import atomic_write  # noqa: E402
from .runs import curve_from_ledger  # noqa: E402

__all__ = ["plot_run", "line_plot", "bar_chart", "paired_bars", "side_by_side", "scatter_plot"]


def _save(fig, path: str | os.PathLike) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write(path, lambda f: f.write(buf.getvalue()))


def line_plot(
    path: str | os.PathLike,
    series: Sequence[tuple[str, Sequence[float], Sequence[float], Sequence[float] | None]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    hlines: Sequence[tuple[str, float]] = (),
    vlines: Sequence[tuple[str, float]] = (),
    percent: bool = False,
    integer_x: bool = False,
) -> Path:
    """Lines ``(label, x, y, yerr or None)``; ``hlines`` / ``vlines`` are dashed references
    ``(label, y)`` / ``(label, x)``. ``percent`` multiplies y (fractions) by 100."""
    k = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, x, y, err in series:
        y = [k * v for v in y]
        if err is not None and len(x) > 0:
            ax.errorbar(x, y, yerr=[k * e for e in err], marker="o", ms=4, capsize=3, label=label)
        else:
            ax.plot(x, y, marker="o" if len(x) < 40 else None, ms=4, label=label)
    for label, y in hlines:
        ax.axhline(k * y, linestyle="--", linewidth=1, color="gray")
        ax.annotate(label, (0.01, k * y), xycoords=("axes fraction", "data"), va="bottom", fontsize=8, color="gray")
    for label, x in vlines:
        ax.axvline(x, linestyle=":", linewidth=1, color="firebrick")
        ax.annotate(label, (x, 0.02), xycoords=("data", "axes fraction"), ha="right", rotation=90, fontsize=8,
                    color="firebrick")
    if integer_x:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8)
    return _save(fig, path)


def bar_chart(
    path: str | os.PathLike,
    labels: Sequence[str],
    means: Sequence[float],
    stds: Sequence[float],
    *,
    reference: Sequence[float | None] | None = None,
    reference_label: str = "paper",
    ylabel: str = "accuracy (%)",
    title: str = "",
) -> Path:
    """Bars of ``means`` ± ``stds`` (fractions, shown in %), with optional reference markers."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(labels) + 2), 4.2))
    x = list(range(len(labels)))
    ax.bar(x, [100 * m for m in means], yerr=[100 * s for s in stds], capsize=4, color="#4C72B0", label="ours")
    if reference is not None:
        pts = [(i, 100 * r) for i, r in zip(x, reference) if r is not None]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="_", s=600, color="#DD8452", linewidths=2.5,
                       label=reference_label, zorder=3)
    lo = min([100 * (m - s) for m, s in zip(means, stds)] + [100.0])
    ax.set_ylim(max(0.0, lo - 10), None)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def paired_bars(
    path: str | os.PathLike,
    labels: Sequence[str],
    ours: Sequence[tuple[float, float] | None],
    paper: Sequence[tuple[float, float] | None],
    *,
    title: str = "",
) -> Path:
    """Ours and the paper's (mean, std) side by side per cell (fractions, shown in %)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.8 * len(labels) + 2), 4.2))
    w = 0.38
    for offset, values, name, color in ((-w / 2, ours, "ours", "#4C72B0"), (w / 2, paper, "paper", "#DD8452")):
        xs = [i + offset for i, v in enumerate(values) if v is not None]
        ms = [100 * v[0] for v in values if v is not None]
        ss = [100 * v[1] for v in values if v is not None]
        if xs:
            ax.bar(xs, ms, width=w, yerr=ss, capsize=3, label=name, color=color)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def scatter_plot(
    path: str | os.PathLike,
    groups: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    percent: bool = False,
) -> Path:
    """Points ``(label, xs, ys)``, one colour per group. ``percent`` multiplies both axes by 100."""
    k = 100.0 if percent else 1.0
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    markers = ("o", "s", "^", "D", "v", "P")  # coincident points of two groups stay visible
    for i, (label, xs, ys) in enumerate(groups):
        ax.scatter([k * v for v in xs], [k * v for v in ys], s=30, alpha=0.75, marker=markers[i % len(markers)],
                   facecolors="none" if i else None, edgecolors=f"C{i}", color=f"C{i}", label=label)
    ax.set_xlabel(xlabel + (" (%)" if percent else ""))
    ax.set_ylabel(ylabel + (" (%)" if percent else ""))
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if any(len(xs) for _, xs, _ in groups):
        ax.legend(fontsize=8)
    return _save(fig, path)


def side_by_side(path: str | os.PathLike, images: Sequence[tuple[str, str | os.PathLike]]) -> Path:
    """PNG files shown next to each other with titles (e.g. initialisation and result). Each panel
    is as wide as its image at a common height, so narrow grids leave no empty space between them."""
    pictures = [(title, Image.open(png)) for title, png in images]
    aspects = [im.width / im.height for _, im in pictures]
    height = min(4.0, 11.0 / sum(aspects))  # inches of image; the whole figure stays under ~12 inches wide
    fig, axes = plt.subplots(1, len(pictures), figsize=(height * sum(aspects) + 0.25 * len(pictures), height + 0.4),
                             gridspec_kw={"width_ratios": aspects, "wspace": 0.06})
    axes = [axes] if len(pictures) == 1 else list(axes)
    for ax, (title, im) in zip(axes, pictures):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    return _save(fig, path)


def plot_run(run) -> list[Path]:
    """A run directory's figures into ``plots/``: matching loss per iteration, accuracy per
    evaluation point (with the random-real baseline), initialisation next to result."""
    import json


    written: list[Path] = []
    folder = run.file("plots")
    metrics = [r for r in run.read_metrics() if "loss" in r]
    if metrics:
        written.append(line_plot(
            folder / "loss.png", [("matching loss", [r["iteration"] for r in metrics], [r["loss"] for r in metrics], None)],
            xlabel="iteration", ylabel="loss per class step", title="matching loss", integer_x=True,
        ))
    results = json.loads(run.file("results.json").read_text()) if run.file("results.json").exists() else {}
    models = results.get("eval_models") or sorted({r["model"] for r in run.read_evaluations()})
    curve = curve_from_ledger(run.read_evaluations(), models)
    if curve:
        series = []
        for model in models:
            pts = [p for p in curve if p["model"] == model]
            if pts:
                series.append((model, [p["iteration"] for p in pts], [p["mean"] for p in pts], [p["std"] for p in pts]))
        base = results.get("baseline", {}).get("random_real", {})
        hlines = [(f"random real ({m})", r["mean"]) for m, r in base.items()]
        written.append(line_plot(folder / "accuracy.png", series, xlabel="iteration", ylabel="test accuracy",
                                 title="accuracy of the synthetic set", hlines=hlines, percent=True, integer_x=True))
    grids = list(run.grids())
    if len(grids) >= 2:
        (first, p0), (last, p1) = grids[0], grids[-1]
        written.append(side_by_side(folder / "init_vs_result.png", [(f"iteration {first}", p0), (f"iteration {last}", p1)]))
    return written
