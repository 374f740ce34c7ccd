"""``condense reproduce``: the papers' main tables as a resumable grid beside the published figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import count, csv_list, int_list
from .settings import add_settings, settings_from_args


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..reproduce import BUDGETS, reproduce_methods

    p = sub.add_parser(
        "reproduce",
        help="run the papers' grid (methods x datasets x ipc) beside the published figures",
        description=(
            "Each cell uses the settings of the paper it is compared with (DC: noise init and DC evaluation; "
            "DSA and DM: real init and DSA evaluation; coresets: DC evaluation). A cell is several seeds, each "
            "evaluated with --num-eval networks; its ± pools them. Any run setting applies to every cell (a "
            "method's hyper-parameter to the methods that take it). Re-running skips finished runs and resumes "
            "unfinished ones. Writes results.md, results.csv, results.json and plots/ours_vs_paper.png into --out."
        ),
    )
    methods = reproduce_methods()
    p.add_argument("--methods", type=csv_list, default=("dsa", "dc", "random"), help=f"comma-separated, from {', '.join(methods)} (default dsa,dc,random)")
    p.add_argument("--datasets", type=csv_list, default=("fashion-mnist",), help="comma-separated datasets (default fashion-mnist)")
    p.add_argument("--ipc", type=int_list, default=(1,), help="comma-separated images per class (default 1)")
    p.add_argument("--budget", default="quick", choices=tuple(BUDGETS), help="paper (the authors' budget, 5 seeds) or quick (CPU-sized, 2 seeds)")
    p.add_argument("--seeds", type=int_list, default=None, help="comma-separated seeds (default: the budget's)")
    p.add_argument("--dm-iterations", type=count, default=None, help="DM's iterations (default: --iterations, else the budget's)")
    add_settings(p, exclude=("dataset", "method", "ipc", "seed", "preset", "baseline"), kind=None)
    p.add_argument("--out", type=Path, default=Path("runs/reproduce"), help="output directory (default runs/reproduce)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..distributed import context
    from ..reproduce import run_reproduce
    from ..tables import format_accuracy

    overrides = {**settings_from_args(args), "baseline": False}
    results = run_reproduce(args.methods, args.datasets, args.ipc, args.out, budget=args.budget, seeds=args.seeds,
                            overrides=overrides, method_overrides={"dm": {"iterations": args.dm_iterations}})
    if not context().is_main:
        return 0
    for r in results:
        paper = r.cell.paper
        ref = f"   paper {paper['mean']}" + (f" ± {paper['std']}" if paper and paper.get('std') is not None else "") if paper else ""
        print(f"{r.cell.label:<36} {format_accuracy(r.main())}{ref}")
    print(f"wrote {args.out}/ (results.md, results.csv, results.json, plots/ours_vs_paper.png)")
    return 0
