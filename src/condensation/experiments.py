"""Grids of runs that resume: what ``condense ablate`` and ``condense reproduce`` share.

A grid is a list of ``Cell`` s, each run for several seeds. Run (cell, seed) lives in
``OUT/cells/<cell.key>/seed<seed>/``, an ordinary run directory, so it resumes its own checkpoint
and evaluation ledger; a finished run (its ``results.json`` holds every network asked for) is
skipped. A cell is one of:

* ``distill``: a run of the cell's method (``distill.make_or_resume``) with its config and the seed;
* ``coreset``: the same, for a method that selects real images (random, herding, k-center,
  forgetting): only the tables tell the two apart;
* ``evaluate``: the sets of another cell, evaluated under this cell's protocol (e.g. DC's sets
  with DSA augmentation during evaluation: no second condensation).

As in the papers, a cell's figure pools every network of every seed: mean and population std
over seeds x networks.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import DistillConfig, resolve
from .data import Dataset, get_spec, load_dataset
from .devices import device_from_flag
from .distill import make_or_resume
from .distributed import context
from .ledger import DistillResult, Evaluator, results_json
from .summary import summarize
from .runs import RunDir
from .synset import SyntheticSet

__all__ = ["Cell", "CellResult", "run_grid", "cell_dir", "summarize_cell"]

KINDS = ("distill", "evaluate", "coreset")


@dataclass
class Cell:
    """One row of a grid. ``config`` is the whole setting except the seed (set per run)."""

    key: str
    label: str
    config: DistillConfig
    kind: str = "distill"
    source: str | None = None  # kind "evaluate": the key of the cell whose sets are evaluated
    paper: dict[str, Any] | None = None  # the published figure: {"mean", "std"} in % and "source"
    info: dict[str, Any] = field(default_factory=dict)  # extra table columns

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown cell kind {self.kind!r}; allowed: {', '.join(KINDS)}")


@dataclass
class CellResult:
    """A cell's pooled figure over the seeds finished so far."""

    cell: Cell
    seeds: list[int]
    accuracy: dict[str, dict]  # model -> {"mean", "std", "runs"} pooled over seeds x networks
    per_seed: dict[int, dict[str, dict]]
    seconds: float  # condensation + evaluation, summed over seeds
    budget: dict[str, Any]

    def main(self, model: str | None = None) -> dict | None:
        """The pooled result of ``model`` (default: the first evaluation model)."""
        if not self.accuracy:
            return None
        return self.accuracy[model] if model is not None else next(iter(self.accuracy.values()))

    @property
    def factor(self) -> int:
        """The multi-formation factor of the cell's sets (1: plain sets, the papers' setting): what
        its runs recorded, else what its config resolves to."""
        if self.budget.get("factor"):
            return int(self.budget["factor"])
        config = self.cell.config
        try:
            return int(resolve(config, flip_ok=get_spec(config.dataset).flip_ok).factor)
        except Exception:  # a config that cannot resolve here (e.g. a plugin not loaded): what it says
            return int(config.factor or 1)


def cell_dir(out: str | Path, cell: Cell, seed: int) -> Path:
    return Path(out) / "cells" / cell.key / f"seed{seed}"


def _finished(run: RunDir, config: DistillConfig) -> bool:
    """True if the run's ``results.json`` holds ``num_eval`` networks of every evaluation model."""
    if not run.file("results.json").exists():
        return False
    try:
        res = run.read_json("results.json")
    except (OSError, json.JSONDecodeError):
        return False
    acc = res.get("accuracy", {})
    return res.get("iteration") == config.iterations and all(
        len(acc.get(m, {}).get("runs", [])) >= config.num_eval for m in config.eval_models
    )


def run_grid(
    cells: Sequence[Cell],
    seeds: Sequence[int],
    out: str | Path,
    *,
    datasets: dict[str, Dataset] | None = None,
    log: Callable[[str], None] | None = None,
    on_cell: Callable[[CellResult], None] | None = None,
) -> list[CellResult]:
    """Run every (cell, seed) not yet finished, in order; returns each cell's pooled result.

    ``datasets`` maps dataset names to loaded datasets (loaded on first use otherwise, once per
    grid). ``on_cell(result)`` is called after each cell (tables can be rewritten as the grid
    advances, so an interrupted grid keeps a table of what finished).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    datasets = dict(datasets or {})
    by_key = {c.key: c for c in cells}
    if len(by_key) != len(cells):
        raise ValueError("cell keys must be unique")
    # join the process group (under torchrun) with the backend of the cells' device before any
    # collective: nccl on CUDA, gloo on the CPU, whichever kind of cell comes first or is skipped
    dist = context(device_from_flag(cells[0].config.device)) if cells else context()
    results = []
    for i, cell in enumerate(cells):
        for seed in seeds:
            run = RunDir(cell_dir(out, cell, seed))
            config = dataclasses.replace(cell.config, seed=seed)
            dataset = _dataset(datasets, config)
            resolved = resolve(config, flip_ok=dataset.spec.flip_ok)
            if _finished(run, resolved):
                continue
            log(f"[{i + 1}/{len(cells)}] {cell.label} (seed {seed}) -> {run.path}")
            if cell.kind == "evaluate":
                _run_evaluate(config, run, dataset, cell_dir(out, by_key[cell.source], seed), log)
            else:  # a condensation or a coreset: one run folder either way
                make_or_resume(config, run.path, dataset=dataset, progress=False, log=log)
        result = summarize_cell(cell, seeds, out)
        results.append(result)
        if on_cell is not None and dist.is_main:
            on_cell(result)
    return results


def _dataset(datasets: dict[str, Dataset], config: DistillConfig) -> Dataset:
    if config.dataset not in datasets:
        datasets[config.dataset] = load_dataset(config.dataset, data_dir=config.data_dir)
    return datasets[config.dataset]


def _evaluate_into(synset: SyntheticSet, config: DistillConfig, run: RunDir, dataset: Dataset, log, extra: dict) -> None:
    """Evaluate ``synset`` under ``config``'s protocol, recording in ``run``'s ledger and results."""
    device = device_from_flag(config.device)
    resolved = resolve(config, flip_ok=dataset.spec.flip_ok)
    resolved.dataset = dataset.spec.name
    dist = context(device)
    if dist.is_main:
        run.create()
        run.write_json("config.json", resolved.to_dict())
    dist.barrier()
    data = dataset.to(device)
    evaluator = Evaluator(resolved, data, device, run, dist, log)
    accuracy = evaluator(synset, "synset", resolved.iterations, resolved.eval_protocol or resolved.method)
    res = results_json(DistillResult(synset=synset, config=resolved, accuracy=accuracy, out=run.path))
    res.update(extra)
    if dist.is_main:
        run.write_json("results.json", res)
    dist.barrier()


def _run_evaluate(config: DistillConfig, run: RunDir, dataset: Dataset, source: Path, log) -> None:
    path = source / "synset.pt"
    source_results = source / "results.json"
    if not source_results.exists():
        raise RuntimeError(f"{source} has not finished; its cell must run before {run.path}")
    synset = SyntheticSet.load(path)
    seconds = json.loads(source_results.read_text()).get("seconds", 0.0)
    _evaluate_into(synset, config, run, dataset, log, {"source": str(path), "seconds": 0.0, "source_seconds": seconds})


def _ledger_seconds(run: RunDir) -> float:
    return float(sum(r.get("seconds") or 0.0 for r in run.read_evaluations()))


def summarize_cell(cell: Cell, seeds: Sequence[int], out: str | Path) -> CellResult:
    """Pool the finished seeds of ``cell`` (missing or unfinished seeds are left out)."""
    per_seed: dict[int, dict[str, dict]] = {}
    seconds = 0.0
    for seed in seeds:
        run = RunDir(cell_dir(out, cell, seed))
        if not run.file("results.json").exists():
            continue
        res = run.read_json("results.json")
        if not res.get("accuracy"):
            continue
        per_seed[seed] = res["accuracy"]
        seconds += float(res.get("seconds") or 0.0) + _ledger_seconds(run)
    pooled: dict[str, dict] = {}
    for model in dict.fromkeys(m for acc in per_seed.values() for m in acc):
        runs = [a for acc in per_seed.values() for a in acc.get(model, {}).get("runs", [])]
        if runs:
            pooled[model] = summarize(runs)
    budget: dict[str, Any] = {"seeds": len(per_seed)}
    if per_seed:
        first = RunDir(cell_dir(out, cell, min(per_seed))).read_json("config.json")
        budget.update({k: first.get(k) for k in ("iterations", "batch_real", "num_eval")})
        budget["factor"] = int(first.get("factor") or 1)
    if pooled:
        budget["networks"] = len(next(iter(pooled.values()))["runs"])
    return CellResult(cell, sorted(per_seed), pooled, per_seed, seconds, budget)
