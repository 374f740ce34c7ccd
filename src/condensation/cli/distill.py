"""``condense distill``: learn a synthetic set and evaluate it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .settings import add_settings, config_from_args


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "distill",
        help="learn a synthetic set and evaluate it",
        description=(
            "Learn ipc synthetic images per class with a condensation method (dsa: gradient matching with "
            "Differentiable Siamese Augmentation; dc: gradient matching; dm: distribution matching; and any "
            "method registered with condensation.methods.register_method), then train --num-eval fresh "
            "networks on them and test on the real test set. With no flags: fashion-mnist, dsa, 1 image per "
            "class, real init, quick preset, with random real images of the same size evaluated alongside."
        ),
    )
    add_settings(p)
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/METHOD_DATASET_ipcN_TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint (a finished run: its evaluation)")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--quiet", action="store_true", help="no per-iteration output (default: a progress bar on a terminal, else a line every 5%% of the run)")
    p.set_defaults(run=run)


def default_out(args: argparse.Namespace, method: str) -> Path:
    """``runs/METHOD_DATASET_ipcN_TIME``: where a run goes without ``--out``."""
    name = str(args.dataset).split(":", 1)[-1].rstrip("/").split("/")[-1]
    return Path("runs") / f"{method}_{name}_ipc{args.ipc}_{time.strftime('%Y%m%d-%H%M%S')}"


def print_written(out: Path | None) -> None:
    """The last lines of a run: what it wrote, and the one page that shows it all."""
    if out is None:
        return
    from ..runs import RunDir

    print(f"wrote {out}/: {', '.join(RunDir(out).contents())}")
    print(f"see it all on one page: condense report {out}")


def run(args: argparse.Namespace) -> int:
    from ..devices import device_from_flag
    from ..distill import distill
    from ..distributed import context
    from ..labels import random_real_text
    from ..tables import format_accuracy, networks

    config = config_from_args(args)
    dist = context(device_from_flag(args.device))  # under torchrun: join the process group
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out DIR (the run to continue)")
        out = dist.broadcast(default_out(args, config.method))
    result = distill(config, out, resume=args.resume, overwrite=args.overwrite, progress=False if args.quiet else True)
    if not dist.is_main:
        return 0
    c = result.config
    formed = f" (multi-formation: {c.ipc * c.factor**2} training images/class)" if c.factor > 1 else ""
    print(f"{c.method.upper()} {c.dataset}, {c.ipc} image(s)/class{formed}, {c.iterations} iterations, {result.seconds:.0f} s")
    for model, r in result.accuracy.items():
        line = f"  {model}: {format_accuracy(r)} over {networks(len(r['runs']))}"
        if model in result.baseline:
            what = "random real images" if c.factor <= 1 else random_real_text(c.ipc, c.factor)
            line += f"   ({what}: {format_accuracy(result.baseline[model])})"
        print(line)
    print_written(result.out)
    return 0
