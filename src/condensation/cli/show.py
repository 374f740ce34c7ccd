"""``condense show FILE``: a picture of a synthetic set, one row per class."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("show", help="save a picture of a synthetic set (one row per class)")
    p.add_argument("file", type=Path, help="a synthetic-set file (synset.pt)")
    p.add_argument("-o", "--output", type=Path, default=None, help="PNG to write (default: FILE with .png)")
    p.add_argument("--scale", type=positive_int, default=2, help="pixel magnification (default 2)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..synset import SyntheticSet
    from ..viz import save_grid

    synset = SyntheticSet.load(args.file)
    out = args.output or args.file.with_suffix(".png")
    save_grid(synset, out, scale=args.scale)
    print(f"wrote {out} ({synset.num_classes} classes x {synset.ipc} images)")
    return 0
