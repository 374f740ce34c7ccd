"""The papers' ablations as grids: where the augmentation goes (the DSA paper's central table),
single DSA ops, initialisation, and the matching distance.

``augmentation_cells`` builds the six rows of the DSA paper's Siamese ablation (CIFAR-10, 10
images per class in the paper):

====  ===================  ========================  ==========  =====================  =================
row   real (condensing)    synthetic (condensing)    inner loop  evaluation training    how it is made
====  ===================  ========================  ==========  =====================  =================
1     –                    –                         –           – (DC's protocol)      ``--method dc``
2     –                    –                         –           A^s* (DSA protocol)    row 1's sets
3     A^T                  –                         A^s         A^s*                   dsa, sides=real
4     –                    A^s                       A^s         A^s*                   dsa, sides=synthetic
5     A^T                  A^s                       A^s         A^s*                   dsa, sides=independent
6     A^ω (shared)         A^ω (shared)              A^s         A^s*                   ``--method dsa``
====  ===================  ========================  ==========  =====================  =================

A^T and A^s are independent per-image DSA draws; A^ω is one draw shared by both batches; A^s*
is DSA augmentation while the evaluation networks train. "Inner loop": the network that
condensing trains between image updates sees DSA-augmented synthetic images in rows 3–6 (DSA's
inner loop, as the authors' code, augments whenever DSA is on) and plain ones in rows 1–2. At
ipc 1 there is no inner loop (one image update per iteration), so rows differ only in what their
other columns say; from ipc 2 on, rows 3–6 differ from rows 1–2 in the inner loop too, which the
tables say. Rows 1 and 6 are exactly what ``condense distill --method dc`` / ``--method dsa
--strategy crop`` make with the same flags and seed. A custom ``strategy`` reaches every row that augments: rows
3–6 condense and evaluate with it, row 2 evaluates row 1's sets with it.

The rows condense and evaluate with one transformation, crop (``PAPER_STRATEGY``), unless
``--strategy`` says otherwise: the DSA paper's Siamese row (49.1) is below its all-ops CIFAR-10
figure (52.1), so its ablation probably used fewer ops; crop is taken to be what it used (an
inference, not read in the paper's text: ``published.csv`` says so beside the six figures).

``--method dm`` runs the rows that have a DM meaning (DM draws one Siamese augmentation for its
real and synthetic batches too): no augmentation while condensing, real only, synthetic only,
independent draws, Siamese (DM itself), each evaluated with DSA augmentation (A^s*, DM's
protocol). DC's two rows have no DM counterpart, and DM trains no network while condensing (no
inner loop).

A row whose sets are multi-formation (factor F > 1, e.g. ``--preset fast`` at ipc 1) is labelled
with what it stores and what networks train on; the paper's figures (plain sets) are marked as
another setting beside it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .augment import default_strategy, parse_strategy
from .config import INITS, DistillConfig
from .data import get_spec
from .experiments import Cell, CellResult, run_grid
from .labels import multi_formation_text, paper_beside, per_class
from .tables import format_accuracy, pct, write_table

__all__ = ["ABLATIONS", "AUGMENTATION_METHODS", "PAPER_STRATEGY", "ablation_strategy", "augmentation_cells",
           "init_cells", "distance_cells", "run_ablation", "write_ablation"]

ABLATIONS = ("augmentation", "init", "distance")
AUGMENTATION_METHODS = ("dsa", "dm")  # dsa: the DSA paper's table (its DC rows included); dm: DM's rows
# The augmentation ablation's strategy without --strategy: the one transformation the DSA paper's
# Siamese ablation is taken to use (inferred from its figures and the authors' single-op command,
# crop at CIFAR-10 ipc 10; the paper's own sentence was not found: see published.csv).
PAPER_STRATEGY = "crop"
PAPER_STRATEGY_CONFIRMED = False  # True once the paper's text is checked: the tables then say so plainly

# (key, real, synthetic, inner loop, evaluation, method, sides, eval protocol, paper setting key)
_AUGMENTATION_ROWS = (
    ("dc", "–", "–", "–", "–", "dc", "siamese", None, "none|none|none"),
    ("dc-dsa-eval", "–", "–", "–", "A^s*", None, None, "dsa", "none|none|As*"),
    ("real-only", "A^T", "–", "A^s", "A^s*", "dsa", "real", None, "AT|none|As*"),
    ("synthetic-only", "–", "A^s", "A^s", "A^s*", "dsa", "synthetic", None, "none|As|As*"),
    ("independent", "A^T", "A^s", "A^s", "A^s*", "dsa", "independent", None, "AT|As|As*"),
    ("siamese", "A^ω (shared)", "A^ω (shared)", "A^s", "A^s*", "dsa", "siamese", None, "Aw|Aw|As*"),
)
# DM's rows: (key, real, synthetic, where DM's draw goes); every row evaluates with A^s*.
_DM_ROWS = (
    ("dm-none", "–", "–", "none"),
    ("dm-real-only", "A^T", "–", "real"),
    ("dm-synthetic-only", "–", "A^s", "synthetic"),
    ("dm-independent", "A^T", "A^s", "independent"),
    ("dm-siamese", "A^ω (shared)", "A^ω (shared)", "siamese"),
)


def _paper(method: str, dataset: str, ipc: int, setting: str = "") -> dict[str, Any] | None:
    try:
        from .published import published
    except ImportError:  # the data file ships with the package; tolerate its absence in a source tree
        return None
    return published(method, dataset, ipc, setting=setting)


def ablation_strategy(base: DistillConfig) -> str:
    """The strategy the augmentation ablation's rows use: ``--strategy``, else ``PAPER_STRATEGY``."""
    return base.strategy if base.strategy is not None else PAPER_STRATEGY


def _strategy_note(base: DistillConfig) -> str:
    strategy = ablation_strategy(base)
    if base.strategy is not None:
        return f"Strategy {strategy} (--strategy), in every row that augments."
    how = "used" if PAPER_STRATEGY_CONFIRMED else (
        "is taken to use (inferred from its figures and the authors' readme command for their per-op ablation; not "
        "confirmed in the paper's text)")
    return (f"Strategy {strategy}, in every row that augments: this ablation's default, the one transformation "
            f"the DSA paper's Siamese ablation {how}; --strategy overrides it.")


def augmentation_cells(base: DistillConfig, ops: bool = False) -> list[Cell]:
    """The rows above (``base.method`` dsa: the DSA paper's six; dm: DM's five), with the
    ablation's strategy; with ``ops``, also one Siamese row per single DSA op of the dataset's
    default strategy (or of ``--strategy``), condensed and evaluated with that op only, as the
    authors' per-op runs, and an all-ops row where the Siamese row has fewer ops."""
    if base.method not in AUGMENTATION_METHODS:
        raise ValueError(f"--method {base.method} has no augmentation ablation; allowed: {', '.join(AUGMENTATION_METHODS)}")
    spec = get_spec(base.dataset)
    strategy = ablation_strategy(base)
    cells = _dm_cells(base, strategy) if base.method == "dm" else _dsa_cells(base, spec.name, strategy)
    if ops:
        method = base.method
        row_ops = parse_strategy(strategy)
        all_ops = parse_strategy(base.strategy or default_strategy(spec.flip_ok))
        for op in all_ops:
            if (op,) == row_ops:
                continue  # the Siamese row itself
            info = {"real": f"A^ω: {op}", "synthetic": f"A^ω: {op}", "inner loop": f"A^s: {op}",
                    "evaluation": f"A^s*: {op}"}
            cells.append(Cell(f"op-{op}", f"only {op}", base.for_method(method, strategy=op), info=_for(method, info)))
        if row_ops != all_ops:
            every = "_".join(all_ops)
            info = {"real": "A^ω: all ops", "synthetic": "A^ω: all ops", "inner loop": "A^s: all ops",
                    "evaluation": "A^s*: all ops"}
            cells.append(Cell("op-all", f"all ops ({every})", base.for_method(method, strategy=every),
                              info=_for(method, info)))
    return cells


def _for(method: str, info: dict[str, str]) -> dict[str, str]:
    """``info`` without the inner-loop column for DM (no network trains while it condenses)."""
    return {k: v for k, v in info.items() if not (method == "dm" and k == "inner loop")}


def _dsa_cells(base: DistillConfig, dataset: str, strategy: str) -> list[Cell]:
    cells = []
    for key, real, synthetic, inner, evaluation, method, sides, protocol, setting in _AUGMENTATION_ROWS:
        info = {"real": real, "synthetic": synthetic, "inner loop": inner, "evaluation": evaluation}
        paper = _paper("dsa-ablation", dataset, base.ipc, setting)
        if method is None:  # row 2: row 1's sets under the DSA protocol, with the ablation's strategy
            config = base.for_method("dc", eval_protocol=protocol, strategy=strategy)
            cells.append(Cell(key, _row_label(info), config, kind="evaluate", source="dc", paper=paper, info=info))
            continue
        sides_of = {"dsa_sides": sides} if method == "dsa" else {}  # where the draw goes: DSA's own setting
        config = base.for_method(method, eval_protocol=protocol, strategy=None if method == "dc" else strategy,
                                 **sides_of)
        cells.append(Cell(key, _row_label(info), config, paper=paper, info=info))
    return cells


def _dm_cells(base: DistillConfig, strategy: str) -> list[Cell]:
    """DM's rows: where DM's draw goes while condensing; the paper has no DM figures for them."""
    cells = []
    for key, real, synthetic, sides in _DM_ROWS:
        info = {"real": real, "synthetic": synthetic, "evaluation": "A^s*"}
        config = base.for_method("dm", strategy=strategy, dsa_sides=sides)
        cells.append(Cell(key, "DM: " + _row_label(info), config, info=info))
    return cells


def _row_label(info: dict[str, str]) -> str:
    inner = info.get("inner loop", "–")
    return f"{info['real']} | {info['synthetic']} | {info['evaluation']}" + ("" if inner == "–" else f" (inner loop {inner})")


def init_cells(base: DistillConfig) -> list[Cell]:
    """Initialisation from random real images, N(0, 1) noise and pixel-space herding, same method and budget."""
    return [
        Cell(f"init-{init}", f"init {init}", dataclasses.replace(base, init=init), info={"init": init})
        for init in INITS
    ]


def distance_cells(base: DistillConfig) -> list[Cell]:
    """The matching distance: the paper's layer-wise cosine (ours), MSE, global cosine."""
    return [
        Cell(f"metric-{m}", f"distance {m}", dataclasses.replace(base, metric=m), info={"distance": m})
        for m in ("ours", "mse", "cos")
    ]


def run_ablation(
    which: str,
    base: DistillConfig,
    seeds: Sequence[int],
    out: str | Path,
    *,
    ops: bool = False,
    log: Callable[[str], None] | None = None,
) -> list[CellResult]:
    """Run ablation ``which`` (augmentation, init, distance) into ``out``; resumable. Writes
    ``ablation.md``, ``ablation.csv``, ``ablation.json`` and ``plots/ablation.png`` after every cell."""
    if which not in ABLATIONS:
        raise ValueError(f"unknown ablation {which!r}; allowed: {', '.join(ABLATIONS)}")
    if ops and which != "augmentation":
        raise ValueError("--ops applies to 'condense ablate augmentation' only")
    if which == "augmentation":
        cells = augmentation_cells(base, ops)
    elif which == "init":
        cells = init_cells(base)
    else:
        cells = distance_cells(base)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done: list[CellResult] = []

    def on_cell(result: CellResult) -> None:
        done.append(result)
        write_ablation(which, base, seeds, done, out, time.perf_counter() - started)

    return run_grid(cells, seeds, out, log=log, on_cell=on_cell)


_COLUMNS = {
    "augmentation": ("real", "synthetic", "inner loop", "evaluation"),
    "init": ("init",),
    "distance": ("distance",),
}


def write_ablation(which: str, base: DistillConfig, seeds: Sequence[int], results: Sequence[CellResult], out: Path,
                   wall: float) -> None:
    """The tables, JSON and bar chart of an ablation (what has finished so far)."""
    from .atomic import atomic_write_text
    from .plots import bar_chart

    dm = which == "augmentation" and base.method == "dm"
    columns = tuple(c for c in _COLUMNS[which] if not (dm and c == "inner loop"))  # DM trains no network
    factors = {r.cell.key: r.factor for r in results}
    multi = any(f > 1 for f in factors.values())
    size = ["images/class"] if multi else []  # only where some row is a multi-formation set
    headers = [*columns, *size, "accuracy % (mean ± std)", "paper %", "seeds", "networks", "iterations", "batch_real",
               "time (s)"]
    rows, csv_rows, records = [], [], []
    for r in results:
        main = r.main()
        paper = r.cell.paper
        factor = factors[r.cell.key]
        paper_text = f"{paper['mean']} ± {paper['std']}" if paper and paper.get("std") is not None else (str(paper["mean"]) if paper else None)
        paper_text = paper_text and paper_beside(paper_text, base.ipc, factor)
        b = r.budget
        sized = [per_class(base.ipc, factor)] if multi else []
        rows.append([*(r.cell.info.get(c) for c in columns), *sized, format_accuracy(main), paper_text, b.get("seeds"),
                     b.get("networks"), b.get("iterations"), b.get("batch_real"), f"{r.seconds:.0f}"])
        csv_rows.append([*(r.cell.info.get(c) for c in columns), factor, base.ipc * factor**2, pct(main and main["mean"]),
                         pct(main and main["std"]), paper and paper["mean"], paper and paper.get("std"),
                         "plain sets: another setting" if paper and factor > 1 else ("same" if paper else None),
                         b.get("seeds"), b.get("networks"), b.get("iterations"), b.get("batch_real"),
                         round(r.seconds, 1)])
        records.append({"key": r.cell.key, "label": r.cell.label, "info": r.cell.info, "accuracy": r.accuracy,
                        "per_seed": {str(k): v for k, v in r.per_seed.items()}, "paper": paper, "seconds": r.seconds,
                        "budget": b, "kind": r.cell.kind, "factor": factor,
                        "training_images_per_class": base.ipc * factor**2,
                        "paper_setting": None if not paper else ("another setting: the paper's figure is for plain sets"
                                                                 if factor > 1 else "the paper's setting")})
    spec = get_spec(base.dataset)
    shared = set(factors.values())
    title = f"Ablation: {which}{' (DM)' if dm else ''} — {spec.name}, {per_class(base.ipc, shared.pop() if len(shared) == 1 else 1)}"
    notes = (
        f"Mean ± population std over all evaluation networks of seeds {', '.join(map(str, seeds))}, in %. "
        f"Model {base.model}. Wall time of this invocation: {wall:.0f} s; 'time' per row is condensation plus "
        "evaluation, summed over seeds (resumed work included). The paper's figure is shown only where the "
        f"setting is the paper's{' (beside a multi-formation row: marked as another setting)' if multi else ''}."
    )
    if multi:
        factor = max(factors.values())
        notes += (f" Rows of {per_class(base.ipc, factor)} are {multi_formation_text(base.ipc, factor)}: the paper's "
                  "figures are for plain sets, another setting, shown beside them only with that mark and not drawn "
                  "in the chart.")
    if which == "augmentation":
        notes += " " + _strategy_note(base)
    if dm:
        notes += (" DM (distribution matching) condenses every row: A^T / A^s: independent per-image DSA draws on "
                  "the real / synthetic batch while matching mean embeddings; A^ω: one draw shared by both (DM's "
                  "own); '–': none; A^s*: DSA augmentation while training the evaluation networks, in every row, "
                  "so the rows differ only in the condensing. DM trains no network while condensing (no inner "
                  "loop); the DSA paper's two DC rows have no DM counterpart, and it has no DM figures for this "
                  "table.")
    elif which == "augmentation":
        notes += (" A^T / A^s: independent per-image DSA draws on the real / synthetic batch while matching; "
                  "A^ω: one draw shared by both (DSA); inner loop: the augmentation of the synthetic images the "
                  "network trains on between image updates while condensing (DSA's inner loop augments in rows 3–6 "
                  "as in the authors' code, DC's in rows 1–2 does not; at ipc 1 there is no inner loop, from ipc 2 "
                  "on the rows differ in it too); A^s*: DSA augmentation while training the evaluation networks; "
                  "'–' in the last column: DC's evaluation protocol.")
    write_table(out / "ablation.md", headers, rows, title=title, notes=notes)
    csv_headers = [*columns, "factor", "training_images_per_class", "mean", "std", "paper_mean", "paper_std",
                   "paper_setting", "seeds", "networks", "iterations", "batch_real", "seconds"]
    write_table(out / "ablation.csv", csv_headers, csv_rows)
    import json

    atomic_write_text(out / "ablation.json", json.dumps({
        "kind": "ablation", "ablation": which, "dataset": spec.name, "ipc": base.ipc, "model": base.model,
        **({"method": base.method, "strategy": ablation_strategy(base)} if which == "augmentation" else {}),
        "seeds": list(seeds), "wall_seconds": wall, "rows": records, "columns": list(columns),
        "notes": notes,
    }, indent=2) + "\n")
    finished = [r for r in results if r.main()]
    if finished:
        bar_chart(
            out / "plots" / "ablation.png",
            [r.cell.label if which != "augmentation" else f"{r.cell.key}" for r in finished],
            [r.main()["mean"] for r in finished],
            [r.main()["std"] for r in finished],
            # the paper's figures are for plain sets: not drawn beside a multi-formation row
            reference=[(r.cell.paper["mean"] / 100 if r.cell.paper and factors[r.cell.key] <= 1 else None)
                       for r in finished],
            title=title,
        )
