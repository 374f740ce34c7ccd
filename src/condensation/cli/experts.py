"""``condense experts``: train expert trajectories for trajectory matching (``--method mtt``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import err, positive_int
from .settings import add_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "experts",
        help="train expert trajectories for trajectory matching (--method mtt)",
        description=(
            "Train --experts networks on the whole real training set with MTT's recipe (plain SGD at --lr-teacher, "
            "no momentum, batch 256, DSA augmentation) and save each one's parameters after every epoch. Experts "
            "already there are reused, an interrupted expert continues after its last saved epoch, and asking for "
            "more experts or epochs trains only what is missing. The buffer goes to the user cache (or "
            "--experts-dir), where 'condense distill --method mtt' finds it for the same dataset, model and recipe."
        ),
    )
    add_settings(p, only=("dataset", "model", "device", "data_dir", "compile", "micro_batch"), kind=None,
                 params=("lr_teacher", "experts_dir"))
    p.add_argument("--experts", type=positive_int, default=10, help="number of expert networks (default 10)")
    p.add_argument("--epochs", type=positive_int, default=20, help="epochs each expert trains and saves (default 20; "
                   "a trajectory-matching run needs max_start_epoch + expert_epochs of them)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..data.specs import with_resolution
    from ..devices import device_from_flag
    from ..methods.experts import train_experts

    dataset = load_dataset(with_resolution(args.dataset, args.resolution), data_dir=args.data_dir)
    buffer = train_experts(
        dataset, args.model, args.experts, args.epochs, lr_teacher=args.lr_teacher or 0.01,
        folder=Path(args.experts_dir) if args.experts_dir else None, device=device_from_flag(args.device),
        compile=args.compile, micro_batch=args.micro_batch, log=err,
    )
    infos = [buffer.info(k) for k in range(args.experts)]
    last = [i["test_accuracy"][args.epochs - 1] for i in infos if i and len(i["test_accuracy"]) >= args.epochs]
    mean = 100 * sum(last) / len(last) if last else float("nan")
    seconds = sum(i["seconds"] for i in infos if i)
    print(f"{args.experts} experts x {args.epochs} epochs of {buffer.recipe.model} on {buffer.recipe.dataset}: "
          f"test accuracy after epoch {args.epochs} {mean:.2f}% on average; {seconds:.0f} s of training in all")
    print(f"wrote {buffer.folder}/ ({buffer.size_bytes() / 2**20:.1f} MiB)")
    return 0
