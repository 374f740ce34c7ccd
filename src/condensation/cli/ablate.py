"""``condense ablate augmentation|init|distance``: the papers' ablations as one resumable command."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..settings import int_list
from .settings import add_settings, config_from_args


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..ablation import ABLATIONS

    p = sub.add_parser(
        "ablate",
        help="run an ablation grid (augmentation, init, distance)",
        description=(
            "augmentation: the DSA paper's table of where the augmentation goes (DC; DC with DSA evaluation; "
            "real only; synthetic only; both with independent draws; Siamese), with --ops each single DSA op; "
            "--method dm: DM's rows (no augmentation while condensing; real only; synthetic only; independent; "
            "Siamese). Its strategy is crop, the one transformation the DSA paper's ablation is taken to use, "
            "unless --strategy says otherwise. "
            "init: real vs noise vs herding initialisation. distance: ours vs mse vs cos. Each row runs for every seed; "
            "re-running skips finished runs and resumes unfinished ones. Any run setting applies to every row. Writes "
            "ablation.md, ablation.csv, ablation.json and plots/ablation.png into --out."
        ),
    )
    p.add_argument("which", choices=ABLATIONS, help="which ablation")
    add_settings(p, exclude=("seed", "baseline", "eval_every"))
    p.add_argument("--seeds", type=int_list, default=(0,), help="comma-separated seeds (default 0)")
    p.add_argument("--ops", action="store_true", help="augmentation: also each single DSA op against all ops")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/ablate_WHICH_DATASET_ipcN)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..ablation import run_ablation
    from ..distributed import context
    from ..tables import format_accuracy

    base = config_from_args(args, baseline=False)
    name = str(args.dataset).split(":", 1)[-1].rstrip("/").split("/")[-1]
    dm = "_dm" if args.which == "augmentation" and base.method == "dm" else ""  # DM's rows: a grid of their own
    out = args.out or Path("runs") / f"ablate_{args.which}{dm}_{name}_ipc{args.ipc}"
    results = run_ablation(args.which, base, args.seeds, out, ops=args.ops)
    if not context().is_main:
        return 0
    for r in results:
        print(f"{r.cell.label:<48} {format_accuracy(r.main())}")
    print(f"wrote {out}/ (ablation.md, ablation.csv, ablation.json, plots/ablation.png)")
    return 0
