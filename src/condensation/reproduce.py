"""``condense reproduce``: the papers' main tables as a resumable grid, beside the published figures.

Cells are (dataset, ipc, method). Each uses the settings of the paper it is compared with:

* every condensation method starts as its paper did and is evaluated with its protocol, both
  declared where the method registers itself: ``dc`` from noise (the DC paper) with DC's
  protocol (300 epochs, classic augmentation for MNIST); ``dsa`` and ``dm`` from real images
  with DSA evaluation (``dm`` with lr 1.0);
* the coresets ``random``, ``herding``, ``kcenter``, ``forgetting``: the DC paper's baselines,
  DC's evaluation protocol.

A budget is a preset (``paper``: the authors' iterations, 20 networks, 5 experiments; ``quick``:
CPU-sized) that any flag overrides. The published figures come from ``published.csv``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import DistillConfig
from .data import get_spec
from .methods import get_method, list_methods
from .methods.registry import did_you_mean
from .experiments import Cell, CellResult, run_grid
from .labels import multi_formation_text, paper_beside, per_class
from .tables import format_accuracy, pct, write_table

__all__ = ["BUDGETS", "reproduce_methods", "reproduce_cells", "run_reproduce", "write_reproduce"]

# budget -> (preset, seeds): the papers run 5 experiments; a CPU affords fewer
BUDGETS: dict[str, tuple[str, tuple[int, ...]]] = {"paper": ("paper", (0, 1, 2, 3, 4)), "quick": ("quick", (0, 1))}


def reproduce_methods() -> list[str]:
    """Every registered method: the condensation methods, then the coreset baselines."""
    return list_methods("condense") + list_methods("select")


def _paper(method: str, dataset: str, ipc: int) -> dict[str, Any] | None:
    try:
        from .published import published
    except ImportError:
        return None
    return published(method, dataset, ipc)


def reproduce_cells(
    methods: Sequence[str],
    datasets: Sequence[str],
    ipcs: Sequence[int],
    budget: str = "quick",
    *,
    init: str | None = None,
    overrides: dict[str, Any] | None = None,
    method_overrides: dict[str, dict[str, Any]] | None = None,
) -> list[Cell]:
    """One cell per (dataset, ipc, method), in that order. Each method starts as its paper did (the
    registry's ``init``; ``init`` replaces it for every method) and is evaluated with its own
    protocol; ``overrides`` set settings of every cell (iterations, num_eval, batch_real, model,
    device, ...: a method's hyper-parameter goes to the methods that take it);
    ``method_overrides[method]`` set settings of one method only (e.g. DM's iterations)."""
    allowed = reproduce_methods()
    unknown = [m for m in methods if m not in allowed]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}{did_you_mean(unknown[0], allowed)}; allowed: {', '.join(allowed)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; allowed: {', '.join(BUDGETS)}")
    preset = BUDGETS[budget][0]
    cells = []
    for dataset in datasets:
        spec = get_spec(dataset)
        for ipc in ipcs:
            for method in methods:
                key = f"{spec.name.replace(':', '_').replace('/', '_')}_ipc{ipc}_{method}"
                info = {"dataset": spec.name, "ipc": ipc, "method": method}
                registered = get_method(method)
                mine = {k: v for k, v in {**(overrides or {}), **(method_overrides or {}).get(method, {})}.items()
                        if v is not None}
                start = {"init": init or registered.init} if registered.condenses else {}
                config = DistillConfig(dataset=dataset, ipc=ipc, preset=preset, **{**start, **mine}).for_method(method)
                cells.append(Cell(key, f"{spec.name} ipc {ipc} {method}", config, paper=_paper(method, spec.name, ipc),
                                  info=info, kind="distill" if registered.condenses else "coreset"))
    return cells


def run_reproduce(
    methods: Sequence[str],
    datasets: Sequence[str],
    ipcs: Sequence[int],
    out: str | Path,
    *,
    budget: str = "quick",
    seeds: Sequence[int] | None = None,
    init: str | None = None,
    overrides: dict[str, Any] | None = None,
    method_overrides: dict[str, dict[str, Any]] | None = None,
    log: Callable[[str], None] | None = None,
) -> list[CellResult]:
    """Run the grid into ``out`` (resumable: finished runs are skipped, unfinished ones resume).
    Writes ``results.md``, ``results.csv``, ``results.json`` and ``plots/ours_vs_paper.png`` after
    every cell."""
    cells = reproduce_cells(methods, datasets, ipcs, budget, init=init, overrides=overrides,
                            method_overrides=method_overrides)
    seeds = tuple(seeds) if seeds else BUDGETS[budget][1]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done: list[CellResult] = []

    def on_cell(result: CellResult) -> None:
        done.append(result)
        write_reproduce(done, out, budget, seeds, time.perf_counter() - started)

    return run_grid(cells, seeds, out, log=log, on_cell=on_cell)


def write_reproduce(results: Sequence[CellResult], out: Path, budget: str, seeds: Sequence[int], wall: float) -> None:
    """Tables, JSON and the ours-vs-paper chart for the cells finished so far."""
    from .atomic import atomic_write_text
    from .plots import paired_bars

    headers = ["dataset", "ipc", "method", "ours % (mean ± std)", "paper %", "gap", "seeds × networks", "iterations",
               "batch_real", "init", "time (s)"]
    rows, csv_rows, records = [], [], []
    multi = [r for r in results if r.factor > 1]
    for r in results:
        main = r.main()
        paper = r.cell.paper
        factor = r.factor  # a multi-formation cell: the paper's figure (plain sets) is another setting, no gap
        gap = None if not (main and paper) or factor > 1 else f"{100 * main['mean'] - paper['mean']:+.1f}"
        paper_text = None if not paper else (f"{paper['mean']} ± {paper['std']}" if paper.get("std") is not None else f"{paper['mean']}")
        paper_text = paper_text and paper_beside(paper_text, r.cell.info["ipc"], factor)
        b, info, c = r.budget, r.cell.info, r.cell.config
        init = c.init if r.cell.kind == "distill" else "–"
        iterations = b.get("iterations") if r.cell.kind == "distill" else "–"
        batch_real = b.get("batch_real") if r.cell.kind == "distill" else "–"
        ipc_text = info["ipc"] if factor <= 1 else per_class(info["ipc"], factor)
        rows.append([info["dataset"], ipc_text, info["method"], format_accuracy(main), paper_text, gap,
                     f"{b.get('seeds')} × {b.get('num_eval')}", iterations, batch_real, init, f"{r.seconds:.0f}"])
        csv_rows.append([info["dataset"], info["ipc"], info["method"], pct(main and main["mean"]), pct(main and main["std"]),
                         paper and paper["mean"], paper and paper.get("std"), gap, b.get("seeds"), b.get("networks"),
                         iterations, batch_real, init, round(r.seconds, 1), factor, info["ipc"] * factor**2])
        records.append({"key": r.cell.key, "info": info, "accuracy": r.accuracy, "paper": paper, "seconds": r.seconds,
                        "budget": b, "kind": r.cell.kind, "init": init, "factor": factor,
                        "training_images_per_class": info["ipc"] * factor**2,
                        "paper_setting": None if not paper else ("another setting: the paper's figure is for plain sets"
                                                                 if factor > 1 else "the paper's setting"),
                        "per_seed": {str(k): v for k, v in r.per_seed.items()}})
    notes = (
        f"Budget '{budget}' (iterations, batch_real and networks per seed as listed), seeds {', '.join(map(str, seeds))}. "
        "Ours: mean ± population std over every evaluation network of every seed (as the papers pool their "
        "experiments), in %. Gap: ours − paper, points. Time: condensation plus evaluation, summed over seeds. "
        f"Wall time of this invocation: {wall:.0f} s. Published figures and their sources: published.csv."
    )
    if multi:
        f = multi[0].factor
        notes += (f" Cells whose ipc reads 'stored image' are {multi_formation_text(multi[0].cell.info['ipc'], f)}: "
                  "the papers' figures are for plain sets, another setting, so no gap is given and the chart leaves "
                  "them out.")
    write_table(out / "results.md", headers, rows, title="Reproduction: ours beside the papers", notes=notes)
    write_table(out / "results.csv", ["dataset", "ipc", "method", "mean", "std", "paper_mean", "paper_std", "gap",
                                      "seeds", "networks", "iterations", "batch_real", "init", "seconds", "factor",
                                      "training_images_per_class"], csv_rows)
    atomic_write_text(out / "results.json", json.dumps({
        "kind": "reproduce", "budget": budget, "seeds": list(seeds), "wall_seconds": wall, "cells": records,
    }, indent=2) + "\n")
    labels = [f"{r.cell.info['dataset']} {r.cell.info['ipc']}{f' (factor {r.factor})' if r.factor > 1 else ''} "
              f"{r.cell.info['method']}" for r in results]
    ours = [(r.main()["mean"], r.main()["std"]) if r.main() else None for r in results]
    paper = [((r.cell.paper["mean"] / 100, (r.cell.paper.get("std") or 0) / 100) if r.cell.paper and r.factor <= 1
              else None) for r in results]
    if any(o is not None for o in ours):
        paired_bars(out / "plots" / "ours_vs_paper.png", labels, ours, paper, title=f"ours vs paper (budget {budget})")
