"""``condense coreset``: choose real images per class (random, herding, k-center, forgetting) as a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from .distill import default_out, print_written
from .settings import add_settings, config_from_args

_FLAGS = ("dataset", "method", "ipc", "model", "seed", "preset", "num_eval", "eval_models", "eval_epochs", "device",
          "data_dir", "compile", "micro_batch")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "coreset",
        help="select real images per class (random, herding, k-center, forgetting)",
        description=(
            "Select ipc real training images per class and write them as a run folder like 'condense distill' does "
            "(synset.pt, synset.png, config.json, results.json, evaluations.jsonl), which 'condense evaluate', "
            "'condense show' and 'condense report' take. random: random images (the random-real baseline of "
            "'condense distill' with the same seed); herding and kcenter: greedy rules on the embeddings of a network "
            "(--model) trained on the real training set; forgetting: the images that network forgot most often while "
            "training. The network is cached and reused. The set is evaluated like a distilled one (--num-eval "
            "networks, default: the preset's; 0: no evaluation) under DC's protocol."
        ),
    )
    add_settings(p, only=_FLAGS, kind="select")
    p.add_argument("--cache-dir", type=Path, default=None, help="where trained feature networks are kept (default: $CONDENSATION_CACHE/coreset-networks)")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/METHOD_DATASET_ipcN_TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out (its evaluation)")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.set_defaults(run=run, method=None)


def run(args: argparse.Namespace) -> int:
    from ..devices import device_from_flag
    from ..distill import distill
    from ..distributed import context
    from .common import err
    from ..tables import format_accuracy, networks

    if args.method is None:
        raise ValueError("--method is required: one of random, herding, kcenter, forgetting")
    config = config_from_args(args)
    dist = context(device_from_flag(args.device))  # under torchrun: join the process group
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out DIR (the run to continue)")
        out = dist.broadcast(default_out(args, config.method))
    result = distill(config, out, resume=args.resume, overwrite=args.overwrite, cache_dir=args.cache_dir, log=err)
    if not dist.is_main:
        return 0
    c = result.config
    print(f"{c.method} {c.dataset}, {c.ipc} image(s)/class, selected in {result.seconds:.0f} s")
    for model, r in result.accuracy.items():
        print(f"  {model}: {format_accuracy(r)} over {networks(len(r['runs']))}")
    print_written(result.out)
    return 0
