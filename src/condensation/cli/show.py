"""``condense show FILE``: a picture of a synthetic set, one row per class."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import count, err, positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="save a picture of a synthetic set (one row per class)")
    p.add_argument(
        "file", type=Path,
        help="a synthetic set: synset.pt, the authors' res_*.pt, images .pt with labels .pt beside it, a folder of PNGs per class, or an .npz",
    )
    p.add_argument("-o", "--output", type=Path, default=None, help="PNG to write (default: FILE with .png)")
    p.add_argument("--scale", type=positive_int, default=2, help="pixel magnification (default 2)")
    p.add_argument("--dataset", default=None, metavar="NAME", help="dataset of a file that does not say (tensors, image folder); overrides the file name's")
    p.add_argument("--experiment", type=count, default=None, metavar="K", help="which experiment of an authors' file (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..formats import load_sets
    from ..viz import save_grid

    sets = load_sets(args.file, dataset=args.dataset, experiment=args.experiment)
    synset = sets[0]
    out = args.output
    if len(sets) > 1:
        err(f"{args.file} holds {len(sets)} experiments; showing experiment 0 (pick another with --experiment K, 0..{len(sets) - 1})")
    if out is None:
        k = synset.meta.get("experiment")
        stem = args.file.with_suffix("") if args.file.is_file() else args.file
        out = stem.with_name(stem.name + (f"_exp{k}" if k is not None and synset.meta.get("experiments", 1) > 1 else "") + ".png")
    save_grid(synset, out, scale=args.scale)
    print(f"wrote {out} ({synset.num_classes} classes x {synset.ipc} images)")
    return 0
