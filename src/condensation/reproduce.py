"""``condense reproduce``: the papers' main tables as a resumable grid, beside the published figures.

Cells are (dataset, ipc, method). Each uses the settings of the paper it is compared with:

* ``dc``: gradient matching without augmentation, initialised from noise (the DC paper), DC's
  evaluation protocol (300 epochs, classic augmentation for MNIST);
* ``dsa``: initialised from real images (the DSA paper's command), DSA evaluation;
* ``dm``: initialised from real images, lr 1.0 (the DM paper), DSA evaluation;
* coresets ``random``, ``herding``, ``kcenter``, ``forgetting``: the DC paper's baselines, DC's
  evaluation protocol.

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
from .experiments import Cell, CellResult, run_grid
from .tables import format_accuracy, pct, write_table

__all__ = ["REPRODUCE_METHODS", "BUDGETS", "reproduce_cells", "run_reproduce", "write_reproduce"]

CONDENSATION = ("dsa", "dc", "dm")
CORESETS = ("random", "herding", "kcenter", "forgetting")
REPRODUCE_METHODS = CONDENSATION + CORESETS
# budget -> (preset, seeds): the papers run 5 experiments; a CPU affords fewer
BUDGETS: dict[str, tuple[str, tuple[int, ...]]] = {"paper": ("paper", (0, 1, 2, 3, 4)), "quick": ("quick", (0, 1))}
# The initialisation of each paper's runs (DC: noise, per a comment in the authors' code; DSA, DM: real).
PAPER_INIT = {"dc": "noise", "dsa": "real", "dm": "real"}


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
    """One cell per (dataset, ipc, method), in that order. ``init`` replaces every condensation
    method's paper initialisation; ``overrides`` set ``DistillConfig`` fields (iterations, num_eval,
    batch_real, model, device, ...); ``method_overrides[method]`` set fields of one method only
    (e.g. DM's iterations, which are far cheaper)."""
    unknown = [m for m in methods if m not in REPRODUCE_METHODS]
    if unknown:
        raise ValueError(f"unknown method {unknown[0]!r}; allowed: {', '.join(REPRODUCE_METHODS)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; allowed: {', '.join(BUDGETS)}")
    preset = BUDGETS[budget][0]
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    cells = []
    for dataset in datasets:
        spec = get_spec(dataset)
        for ipc in ipcs:
            for method in methods:
                key = f"{spec.name.replace(':', '_').replace('/', '_')}_ipc{ipc}_{method}"
                info = {"dataset": spec.name, "ipc": ipc, "method": method}
                paper = _paper(method, spec.name, ipc)
                mine = {**overrides, **{k: v for k, v in (method_overrides or {}).get(method, {}).items() if v is not None}}
                if method in CONDENSATION:
                    config = DistillConfig(dataset=dataset, method=method, ipc=ipc, init=init or PAPER_INIT[method],
                                           preset=preset, **mine)
                    cells.append(Cell(key, f"{spec.name} ipc {ipc} {method}", config, paper=paper, info=info))
                else:
                    config = DistillConfig(dataset=dataset, method="dc", ipc=ipc, preset=preset, eval_protocol="random",
                                           **mine)
                    cells.append(Cell(key, f"{spec.name} ipc {ipc} {method}", config, kind="coreset", coreset=method,
                                      paper=paper, info=info))
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
    for r in results:
        main = r.main()
        paper = r.cell.paper
        gap = None if not (main and paper) else f"{100 * main['mean'] - paper['mean']:+.1f}"
        paper_text = None if not paper else (f"{paper['mean']} ± {paper['std']}" if paper.get("std") is not None else f"{paper['mean']}")
        b, info, c = r.budget, r.cell.info, r.cell.config
        init = c.init if r.cell.kind == "distill" else "–"
        iterations = b.get("iterations") if r.cell.kind == "distill" else "–"
        batch_real = b.get("batch_real") if r.cell.kind == "distill" else "–"
        rows.append([info["dataset"], info["ipc"], info["method"], format_accuracy(main), paper_text, gap,
                     f"{b.get('seeds')} × {b.get('num_eval')}", iterations, batch_real, init, f"{r.seconds:.0f}"])
        csv_rows.append([info["dataset"], info["ipc"], info["method"], pct(main and main["mean"]), pct(main and main["std"]),
                         paper and paper["mean"], paper and paper.get("std"), gap, b.get("seeds"), b.get("networks"),
                         iterations, batch_real, init, round(r.seconds, 1)])
        records.append({"key": r.cell.key, "info": info, "accuracy": r.accuracy, "paper": paper, "seconds": r.seconds,
                        "budget": b, "kind": r.cell.kind, "init": init,
                        "per_seed": {str(k): v for k, v in r.per_seed.items()}})
    notes = (
        f"Budget '{budget}' (iterations, batch_real and networks per seed as listed), seeds {', '.join(map(str, seeds))}. "
        "Ours: mean ± population std over every evaluation network of every seed (as the papers pool their "
        "experiments), in %. Gap: ours − paper, points. Time: condensation plus evaluation, summed over seeds. "
        f"Wall time of this invocation: {wall:.0f} s. Published figures and their sources: published.csv."
    )
    write_table(out / "results.md", headers, rows, title="Reproduction: ours beside the papers", notes=notes)
    write_table(out / "results.csv", ["dataset", "ipc", "method", "mean", "std", "paper_mean", "paper_std", "gap",
                                      "seeds", "networks", "iterations", "batch_real", "init", "seconds"], csv_rows)
    atomic_write_text(out / "results.json", json.dumps({
        "kind": "reproduce", "budget": budget, "seeds": list(seeds), "wall_seconds": wall, "cells": records,
    }, indent=2) + "\n")
    labels = [f"{r.cell.info['dataset']} {r.cell.info['ipc']} {r.cell.info['method']}" for r in results]
    ours = [(r.main()["mean"], r.main()["std"]) if r.main() else None for r in results]
    paper = [((r.cell.paper["mean"] / 100, (r.cell.paper.get("std") or 0) / 100) if r.cell.paper else None) for r in results]
    if any(o is not None for o in ours):
        paired_bars(out / "plots" / "ours_vs_paper.png", labels, ours, paper, title=f"ours vs paper (budget {budget})")
