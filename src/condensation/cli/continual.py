"""``condense continual``: class-incremental learning with condensed (or selected) memories."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_compile, add_data_dir, add_dataset, add_device, count, csv_list, err, int_list, positive_float, positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..apps.continual import MEMORY_METHODS
    from ..coreset import DEFAULT_FEATURE_EPOCHS

    p = sub.add_parser(
        "continual",
        help="class-incremental learning with condensed memories (dsa, dc, dm) against coresets",
        description=(
            "A seeded class order is split into --steps groups. At each step the new classes are condensed "
            "(dsa, dc, dm) or selected (random, herding, kcenter, forgetting) into --ipc images per class from "
            "that step's training images only; a fresh network is trained from scratch on the union of all "
            "memories so far and tested on the test images of every class seen. Re-running with the same flags "
            "continues where it stopped (finished memories and networks are reused). Writes continual.md, "
            "continual.csv, continual.json and plots/continual.png into --out."
        ),
    )
    add_dataset(p)
    p.add_argument("--steps", type=positive_int, required=True, help="number of steps the classes are split into")
    p.add_argument("--ipc", type=positive_int, required=True, help="memory images per class")
    p.add_argument("--memory", type=csv_list, default=("dsa", "dm", "herding", "random"),
                   help=f"comma-separated memory methods from {', '.join(MEMORY_METHODS)} (default: dsa,dm,herding,random)")
    p.add_argument("--seeds", type=int_list, default=(0, 1, 2), help="comma-separated seeds: class orders, memories, networks (default 0,1,2)")
    p.add_argument("--iterations", type=count, default=None, help="condensation iterations per step (default: the quick preset's: dsa/dc 30, dm 300)")
    p.add_argument("--batch-real", type=positive_int, default=None, help="real images per class per match (default: the preset's, 256)")
    p.add_argument("--lr-img", type=positive_float, default=None, help="learning rate of the synthetic images (default: dsa/dc 0.1, dm 1.0)")
    p.add_argument("--num-eval", type=positive_int, default=3, help="networks trained per seed and step (default 3, as the authors)")
    p.add_argument("--eval-epochs", type=positive_int, default=None, help="epochs per network (default 1000, as the authors)")
    p.add_argument("--strategy", default=None, help="DSA augmentation while the networks train (default: the dataset's, color_crop_cutout_flip_scale_rotate without flip for digits; none: no augmentation)")
    p.add_argument("--model", default="convnet", help="network that condenses and learns (default: convnet)")
    p.add_argument("--feature-model", default=None, help="feature network of herding, kcenter and forgetting (default: --model; convnetw32 is ~10x cheaper on a CPU)")
    p.add_argument("--feature-epochs", type=positive_int, default=DEFAULT_FEATURE_EPOCHS,
                   help=f"epochs of the feature network of herding, kcenter and forgetting on each step's data (default {DEFAULT_FEATURE_EPOCHS})")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/continual_DATASET_Ksteps_ipcN)")
    add_compile(p)
    add_device(p)
    add_data_dir(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..apps.continual import run_continual
    from ..tables import format_accuracy

    name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
    out = args.out or Path("runs") / f"continual_{name}_{args.steps}steps_ipc{args.ipc}"
    condense = {"lr_img": args.lr_img} if args.lr_img is not None else {}
    result = run_continual(
        args.dataset, args.steps, args.ipc, memories=args.memory, seeds=args.seeds, out=out,
        iterations=args.iterations, batch_real=args.batch_real, condense=condense, num_eval=args.num_eval,
        eval_epochs=args.eval_epochs, model=args.model, strategy=args.strategy, feature_epochs=args.feature_epochs,
        feature_model=args.feature_model,
        device=args.device, compile=args.compile, micro_batch=args.micro_batch, data_dir=args.data_dir, log=err,
    )
    methods = list(result.accuracy)
    print(f"{'classes':>8}  " + "  ".join(f"{m:>16}" for m in methods))
    for k, seen in enumerate(result.classes_seen):
        print(f"{seen:>8}  " + "  ".join(f"{format_accuracy(result.accuracy[m][k]):>16}" for m in methods))
    print(f"wrote {out}/ (continual.md, continual.csv, continual.json, plots/continual.png)")
    return 0
