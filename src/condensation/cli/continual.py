"""``condense continual``: class-incremental learning with condensed (or selected) memories."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import csv_list, err, int_list, positive_int
from .settings import add_settings, changed_from_args

# Settings continual learning sets itself (per memory method, seed and step).
_OWNED = ("method", "seed", "baseline", "eval_every", "eval_models")
# Settings it takes by name; every other one set by a flag goes to the condensation.
_NAMED = ("dataset", "ipc", "iterations", "batch_real", "num_eval", "eval_epochs", "model", "strategy", "feature_epochs",
          "device", "compile", "micro_batch", "data_dir")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..apps.continual import memory_methods

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
    p.add_argument("--steps", type=positive_int, required=True, help="number of steps the classes are split into")
    p.add_argument("--memory", type=csv_list, default=("dsa", "dm", "herding", "random"),
                   help=f"comma-separated memory methods from {', '.join(memory_methods())} (default: dsa,dm,herding,random)")
    p.add_argument("--seeds", type=int_list, default=(0, 1, 2), help="comma-separated seeds: class orders, memories, networks (default 0,1,2)")
    p.add_argument("--feature-model", default=None, help="feature network of herding, kcenter and forgetting (default: --model; convnetw32 is ~10x cheaper on a CPU)")
    add_settings(p, exclude=_OWNED, kind=None)
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/continual_DATASET_Ksteps_ipcN)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..apps.continual import run_continual
    from ..data.specs import with_resolution
    from ..methods.registry import BASE_PRESETS
    from ..tables import format_accuracy

    name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
    out = args.out or Path("runs") / f"continual_{name}_{args.steps}steps_ipc{args.ipc}"
    condense = changed_from_args(args, exclude=_NAMED)
    if args.strategy is not None:  # the condensation's augmentation, and the learners'
        condense["strategy"] = args.strategy
    num_eval = args.num_eval if args.num_eval is not None else BASE_PRESETS[args.preset]["num_eval"]
    result = run_continual(
        with_resolution(args.dataset, args.resolution), args.steps, args.ipc, memories=args.memory, seeds=args.seeds,
        out=out, iterations=args.iterations, batch_real=args.batch_real, condense=condense, num_eval=num_eval,
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
