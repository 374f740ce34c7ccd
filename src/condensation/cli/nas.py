"""``condense nas``: architecture search on a condensed proxy, against random real images and a real target."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import err, positive_int
from .settings import add_settings, changed_from_args

# Settings the search sets itself, or takes under its own names.
_OWNED = ("baseline", "eval_every", "eval_models", "num_eval", "eval_epochs")
_NAMED = ("dataset", "ipc", "seed", "iterations", "batch_real", "strategy", "device", "compile", "micro_batch", "data_dir")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "nas",
        help="architecture search: does a condensed set rank ConvNets as real data does?",
        description=(
            "Train every ConvNet of a search space on a condensed set and on random real images of the same "
            "size (the proxies) and on a larger real subset (the target), all tested on training images held "
            "out for validation. Reports each proxy's Spearman rank correlation with the target, the target "
            "accuracy of its top-1 architecture, its training time and storage. Re-running with the same "
            "flags continues where it stopped. Writes nas.md, nas.csv, candidates.csv, nas.json and "
            "plots/nas.png into --out. --compile defaults to off here (every candidate would be compiled anew)."
        ),
    )
    p.add_argument("--space", default="small", type=_space,
                   help="small (= convnet): the 16 one-factor ConvNet variants of the registry (default); paper: the DC "
                        "paper's 720 ConvNets; or comma-separated ConvNet variants, e.g. convnetw32,convnetd1,convnetbn")
    p.add_argument("--synset", type=Path, default=None, help="a condensed-set file to use as the proxy (default: condense one here with --method)")
    p.add_argument("--target-size", type=positive_int, default=None, help="real images per class of the target (default: all outside the validation split)")
    p.add_argument("--val-size", type=positive_int, default=100, help="training images per class held out to rank on (default 100)")
    p.add_argument("--proxy-epochs", type=positive_int, default=300, help="epochs per network on a proxy (default 300)")
    p.add_argument("--target-epochs", type=positive_int, default=30, help="epochs per network on the target (default 30)")
    p.add_argument("--num-nets", type=positive_int, default=2, help="networks per candidate and training set (default 2)")
    p.add_argument("--top-k", type=positive_int, default=10, help="also correlate among each proxy's top K (default 10)")
    add_settings(p, exclude=_OWNED)
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/nas_DATASET_SPACE_ipcN)")
    # every candidate is a new architecture: torch.compile would recompile for each and rarely pay
    p.set_defaults(run=run, compile="off")


def _space(text: str):
    from ..models import CONVNET_VARIANTS

    key = text.strip().lower()
    if key in ("small", "convnet", "paper"):
        return key
    names = tuple(t.strip().lower() for t in key.split(",") if t.strip())
    unknown = [n for n in names if n not in CONVNET_VARIANTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected small, paper or comma-separated ConvNet variants ({', '.join(CONVNET_VARIANTS)}); got {text!r}"
        )
    return names


def run(args: argparse.Namespace) -> int:
    from ..apps.nas import run_nas
    from ..data.specs import with_resolution
    from ..tables import pct

    name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
    space = args.space if isinstance(args.space, str) else "custom"
    out = args.out or Path("runs") / f"nas_{name}_{space}_ipc{args.ipc}"
    condense = {"method": args.method, "model": args.model, **changed_from_args(args, exclude=_NAMED)}
    if args.strategy is not None:  # the condensation's augmentation, and the candidates'
        condense["strategy"] = args.strategy
    result = run_nas(
        with_resolution(args.dataset, args.resolution), args.ipc, args.space, out, synset=args.synset, iterations=args.iterations,
        batch_real=args.batch_real, condense=condense,
        target_size=args.target_size, val_size=args.val_size, proxy_epochs=args.proxy_epochs,
        target_epochs=args.target_epochs, num_nets=args.num_nets, seed=args.seed, top_k=args.top_k,
        strategy=args.strategy, device=args.device, compile=args.compile, micro_batch=args.micro_batch,
        data_dir=args.data_dir, log=err,
    )
    for e in result.summary:
        rho = "–" if e.get("rho") is None else f"{e['rho']:.2f}"
        top1 = f"{e.get('top1_label', '–')} ({pct(e['top1_target'])}% on the target)" if "top1_target" in e else "–"
        print(f"{e['set']:<10} rho {rho:>5}  top-1 {top1}  {e['train_seconds']:.0f} s, {e['bytes']} bytes")
    print(f"wrote {out}/ (nas.md, nas.csv, candidates.csv, nas.json, plots/nas.png)")
    return 0
