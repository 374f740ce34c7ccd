"""``condense export FILE --to FORMAT OUT``: write a synthetic set in another tool's file format."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import count


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..formats import EXPORT_FORMATS

    p = sub.add_parser(
        "export",
        help="write a synthetic set as the authors' file, tensors, an image folder or an .npz",
        description=(
            "authors: res_METHOD_DATASET_MODEL_Nipc.pt, a dict with data=[[images, labels]] and accs_all_exps, as "
            "the authors' scripts and the benchmarks that read them expect (OUT a folder or a .pt file); "
            "accs_all_exps holds the accuracies an authors' FILE reports, or those in the results.json "
            "condense distill wrote beside a synset.pt FILE. "
            "tensors: folder OUT with images.pt (float32 N x C x H x W, normalised) and labels.pt (int64), "
            "for trajectory-matching code and DD-Ranking. mtt: folder OUT with MTT's own images_best.pt, labels_best.pt "
            "and, for a set that learned its learning rate (--method mtt), lr_best.pt. imagefolder: folder OUT with one sub-folder per class "
            "(k_name) of 8-bit PNGs (images * std + mean, clipped). npz: images, labels, pixels (uint8 N x H x W x C), "
            "mean, std, classes, dataset, ipc, meta (JSON). synset: our synset.pt. FILE may be any format "
            "condense evaluate reads."
        ),
    )
    p.add_argument("file", type=Path, help="the synthetic set to export (synset.pt or any format 'condense evaluate' reads)")
    p.add_argument("--to", required=True, choices=EXPORT_FORMATS, help="the format to write")
    p.add_argument("out", type=Path, help="where to write (a folder for tensors and imagefolder)")
    p.add_argument("--dataset", default=None, metavar="NAME", help="dataset of a FILE that does not say (tensors, image folder)")
    p.add_argument("--experiment", type=count, default=None, metavar="K", help="which experiment of an authors' FILE (default: all for --to authors)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists (a folder only if it holds an earlier export)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..formats import export_set, load_sets, reported_accuracies, run_accuracies

    sets = load_sets(args.file, dataset=args.dataset, experiment=args.experiment)
    if len(sets) > 1 and args.to != "authors":
        raise ValueError(f"{args.file} holds {len(sets)} experiments; pick one with --experiment K (0..{len(sets) - 1})")
    accuracies = None
    if args.to == "authors" and not reported_accuracies(sets):  # our run's accuracies, if it was evaluated
        accuracies = run_accuracies(args.file, sets[0].meta.get("iteration")) or None
    written = export_set(sets if args.to == "authors" else sets[0], args.to, args.out, overwrite=args.overwrite,
                         accuracies=accuracies)
    s = sets[0]
    what = f"{len(sets)} experiments of " if len(sets) > 1 else ""
    print(f"wrote {written} ({args.to}: {what}{s.num_classes} classes x {s.ipc} images of {s.dataset})")
    return 0
