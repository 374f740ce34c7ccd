"""``condense ablate augmentation|init|distance``: the papers' ablations as one resumable command."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_compile, add_data_dir, add_device, count, int_list, positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..ablation import ABLATIONS
    from ..config import METHODS, PRESETS

    p = sub.add_parser(
        "ablate",
        help="run an ablation grid (augmentation, init, distance)",
        description=(
            "augmentation: the DSA paper's table of where the augmentation goes (DC; DC with DSA evaluation; "
            "real only; synthetic only; both with independent draws; Siamese), with --ops each single DSA op. "
            "init: real vs noise vs herding initialisation. distance: ours vs mse vs cos. Each row runs for every seed; "
            "re-running skips finished runs and resumes unfinished ones. Writes ablation.md, ablation.csv, "
            "ablation.json and plots/ablation.png into --out."
        ),
    )
    p.add_argument("which", choices=ABLATIONS, help="which ablation")
    p.add_argument("--dataset", default="fashion-mnist", help="dataset (default: fashion-mnist)")
    p.add_argument("--ipc", type=positive_int, default=1, help="images per class (default 1)")
    p.add_argument("--method", default="dsa", choices=METHODS, help="method for init/distance ablations (default dsa)")
    p.add_argument("--model", default="convnet", help="condensation network (default convnet)")
    p.add_argument("--iterations", type=count, default=None, help="iterations per run (default: the quick preset's)")
    p.add_argument("--batch-real", type=positive_int, default=None, help="real images per class per match")
    p.add_argument("--num-eval", type=positive_int, default=None, help="evaluation networks per run (default: preset)")
    p.add_argument("--eval-epochs", type=positive_int, default=None, help="epochs per evaluation network (default: protocol)")
    p.add_argument("--seeds", type=int_list, default=(0,), help="comma-separated seeds (default 0)")
    p.add_argument("--ops", action="store_true", help="augmentation: also each single DSA op against all ops")
    p.add_argument("--preset", default="quick", choices=tuple(PRESETS), help="budget preset (default quick)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/ablate_WHICH_DATASET_ipcN)")
    add_compile(p)
    add_device(p)
    add_data_dir(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..ablation import run_ablation
    from ..config import DistillConfig
    from ..tables import format_accuracy

    base = DistillConfig(
        dataset=args.dataset, method=args.method, ipc=args.ipc, model=args.model, preset=args.preset,
        iterations=args.iterations, batch_real=args.batch_real, num_eval=args.num_eval, eval_epochs=args.eval_epochs,
        baseline=False, device=args.device, data_dir=args.data_dir, compile=args.compile, micro_batch=args.micro_batch,
    )
    name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
    out = args.out or Path("runs") / f"ablate_{args.which}_{name}_ipc{args.ipc}"
    results = run_ablation(args.which, base, args.seeds, out, ops=args.ops)
    from ..distributed import context

    if not context().is_main:
        return 0
    for r in results:
        print(f"{r.cell.label:<48} {format_accuracy(r.main())}")
    print(f"wrote {out}/ (ablation.md, ablation.csv, ablation.json, plots/ablation.png)")
    return 0
