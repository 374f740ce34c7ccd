"""What the ablation and reproduce pages share: each row's run directories (``cells/KEY/seedS/``),
their settings, their images and the per-seed table."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..tables import format_accuracy
from .images import HALF_WIDTH, THUMB_WIDTH, Png, img, render_synset
from .markup import Num, Runs, captioned, e, gallery, settings_table, table
from .text import CONDENSATION_ONLY, factor_of, pct_list, value

__all__ = ["first_seed_dir", "row_configs", "row_factors", "grid_settings", "row_images", "accuracy_columns",
           "per_seed_table", "shared_and_differing"]


def first_seed_dir(d: Path, key: str, seeds: Sequence[int]) -> tuple[int, Path] | None:
    """The first seed of row ``key`` that has a run directory, and that directory."""
    for s in seeds:
        p = d / "cells" / key / f"seed{s}"
        if p.is_dir():
            return s, p
    return None


def row_configs(d: Path, keys: Sequence[str], seeds: Sequence[int]) -> dict[str, dict]:
    """Each row's ``config.json`` (first seed). A coreset cell (``selection.json``) shows its rule
    as the method and None for the condensation settings it never used."""
    out = {}
    for key in keys:
        found = first_seed_dir(d, key, seeds)
        if found and (found[1] / "config.json").is_file():
            try:
                config = json.loads((found[1] / "config.json").read_text())
                selection = found[1] / "selection.json"
                if selection.is_file():
                    config = {**config, **dict.fromkeys(CONDENSATION_ONLY),
                              "method": json.loads(selection.read_text()).get("method", config.get("method"))}
                out[key] = config
            except (OSError, json.JSONDecodeError):
                continue
    return out


def row_factors(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Each row's multi-formation factor (1: plain sets, as the papers')."""
    return {k: factor_of(c) for k, c in configs.items()}


def shared_and_differing(configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Settings equal in every config, and the keys that differ (in first-seen order)."""
    keys = list(dict.fromkeys(k for c in configs.values() for k in c))
    shared, differing = {}, []
    for k in keys:
        values = [json.dumps(c.get(k), sort_keys=True) for c in configs.values()]
        if len(set(values)) == 1:
            shared[k] = next(iter(configs.values())).get(k)
        else:
            differing.append(k)
    return shared, differing


def grid_settings(configs: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> str:
    """Settings shared by every row, then a table of the settings that differ per row."""
    if not configs:
        return ""
    shared, differing = shared_and_differing({k: {kk: vv for kk, vv in c.items() if kk != "seed"}
                                              for k, c in configs.items()})
    parts = ["<h2>Settings</h2>", '<p class="note">Shared by every row (seeds set per run):</p>', settings_table(shared)]
    if differing:
        parts.append('<p class="note">Differing between rows:</p>')
        parts.append(table(["row", *differing], [[labels.get(k, k), *(value(c.get(x)) for x in differing)]
                                                 for k, c in configs.items()]))
    return "".join(parts)


def row_images(d: Path, rows: Sequence[tuple[str, str]], seeds: Sequence[int]) -> str:
    """Per row, the first seed's initial and final images, small."""
    figures, borrowed = [], []
    for key, label in rows:
        found = first_seed_dir(d, key, seeds)
        if not found:
            continue
        seed, p = found
        init = Png.read(p / "grids" / "iter_000000.png")
        final = Png.read(p / "synset.png")
        if final is None and (rendered := render_synset(p / "synset.pt")) is not None:
            final = rendered.png
        if final is None and init is None:
            source = _source_of(p)
            if source:
                borrowed.append(f"{label} evaluates the set of {source}")
            continue
        pair = []
        if init is not None:
            pair.append(img(init, f"{label}: initialisation", grid=True, fit=THUMB_WIDTH, limit=HALF_WIDTH, most=3))
        if final is not None:
            pair.append(img(final, f"{label}: final", grid=True, fit=THUMB_WIDTH, limit=HALF_WIDTH, most=3))
        what = "initialisation → final" if len(pair) == 2 else ("final" if final is not None else "initialisation")
        width = sum(w for _, w in pair) + 8 * (len(pair) - 1)
        figures.append(captioned(f'<div class="pair">{"".join(m for m, _ in pair)}</div>', width,
                                 f"{label} — {what}, seed {seed}"))
    if not figures:
        return ""
    text = "Each row's synthetic set (first seed), one row per class."
    if borrowed:
        text += " No images of their own: " + "; ".join(borrowed) + "."
    return f'<h2>Images</h2><p class="note">{e(text)}</p>' + gallery(figures)


def _source_of(run: Path) -> str | None:
    """The grid row whose set a run of kind "evaluate" evaluated (its ``results.json`` names the file)."""
    try:
        source = json.loads((run / "results.json").read_text()).get("source")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    return Path(source).parent.parent.name if source else None


def accuracy_columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The evaluation models of every row, in first-seen order."""
    return list(dict.fromkeys(m for r in records for m in (r.get("accuracy") or {})))


def per_seed_table(records: Sequence[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str]) -> str:
    """One row per (grid row, seed, model): accuracy, networks and each network's accuracy."""
    rows = []
    for r in records:
        for seed, acc in (r.get("per_seed") or {}).items():
            for model, a in acc.items():
                rows.append([label(r), Num(seed), model, Num(format_accuracy(a)), Num(len(a.get("runs", []))),
                             Runs(pct_list(a.get("runs", [])))])
    if not rows:
        return ""
    return "<h3>Per seed</h3>" + table(["row", "seed", "model", "accuracy %", "networks", "per network %"], rows)
