"""``condense evaluate FILE``: train fresh networks on a synthetic set, test on the real test set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import count, err, positive_int
from .settings import add_settings



DEFAULT_NUM_EVAL = 5  # networks per model when --num-eval is not given


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..evaluate import protocol_names

    p = sub.add_parser(
        "evaluate",
        help="evaluate a synthetic-set file",
        description=(
            "Train fresh networks on a synthetic-set file and test them on the real test set of its dataset. "
            "--num-eval networks per model (default 5); --eval-models (or --models) takes network names or a pool: paper/M (MLP, ConvNet, LeNet, AlexNet, VGG11, ResNet18), "
            "S (the condensation network without BatchNorm), SS (itself), B (BatchNorm nets), W (widths), "
            "D (depths), A (activations), N (normalisations), P (poolings). FILE may be our synset.pt, the authors' "
            "res_METHOD_DATASET_MODEL_Nipc.pt (every experiment evaluated and pooled unless --experiment), an image "
            "tensor .pt with its labels .pt beside it, a folder with one sub-folder of PNGs per class, or an .npz "
            "from condense export; a tensor file and a PNG folder need --dataset."
        ),
    )
    p.add_argument("file", type=Path, help="a synthetic set (synset.pt, res_*.pt, images .pt + labels .pt, a PNG folder, .npz)")
    p.add_argument("--dataset", default=None, metavar="NAME", help="dataset of a file that does not say (tensors, image folder); overrides the file's")
    p.add_argument("--resolution", type=positive_int, default=None, metavar="N", help="with --dataset imagefolder:PATH: resize its images to N x N (the same as imagefolder:PATH@N)")
    p.add_argument("--experiment", type=count, default=None, metavar="K", help="evaluate only this experiment of an authors' file (default: all, pooled)")
    p.add_argument("--protocol", default="auto", choices=("auto", *protocol_names()), help="auto (the file's method), or the protocol of the method named: dsa/dm (DSA augmentation, 1000 epochs), dc and the coresets (DC's rule)")
    p.add_argument("--json", type=Path, default=None, help="results as JSON, rewritten after every model (default: FILE's stem + .evaluation.json beside FILE)")
    p.add_argument("--table", type=Path, default=None, help="markdown table of mean ± std per architecture (default: FILE's stem + .evaluation.md beside FILE)")
    p.add_argument("--no-write", action="store_true", help="print only; write neither the JSON nor the table")
    add_settings(p, only=("eval_models", "num_eval", "eval_epochs", "eval_lr", "strategy", "seed", "compile", "micro_batch",
                          "device", "data_dir"), params=False,
                 aliases={"eval_models": ["--models"], "eval_epochs": ["--epochs"], "eval_lr": ["--lr"]},
                 notes={"num_eval": "default 5, at least 1", "strategy": "default: the one the set was made with",
                        "seed": "the networks' initialisation and training"})
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_text
    from ..data.specs import with_resolution
    from ..assess import evaluate_file
    from ..tables import accuracy_table, format_accuracy, networks

    if args.num_eval == 0:
        raise ValueError("argument --num-eval: expected a positive integer, got '0' (evaluate trains at least one network)")
    num_eval = args.num_eval or DEFAULT_NUM_EVAL
    stem = args.file.name if args.file.is_dir() else args.file.stem
    explicit = {"json": args.json is not None, "table": args.table is not None}
    if not args.no_write:
        args.json = args.json or args.file.parent / f"{stem}.evaluation.json"
        args.table = args.table or args.file.parent / f"{stem}.evaluation.md"

    def write(kind: str, path: Path, text: str) -> None:
        try:
            atomic_write_text(path, text)
        except OSError as e:
            if explicit[kind]:
                raise
            err(f"warning: could not write {path} ({e.strerror or e}); pass --{kind} PATH to write it elsewhere")

    def save(results: dict) -> None:  # after every model, so a long evaluation keeps what it has
        if args.json is not None:
            write("json", args.json, json.dumps({"accuracy": results, "file": str(args.file)}, indent=2) + "\n")

    results = evaluate_file(
        args.file,
        models=args.eval_models or ("S",),
        num_eval=num_eval,
        epochs=args.eval_epochs,
        protocol=args.protocol,
        strategy=args.strategy,
        seed=args.seed,
        device=args.device,
        data_dir=args.data_dir,
        dataset_name=with_resolution(args.dataset, args.resolution),
        experiment=args.experiment,
        compile=args.compile,
        lr=args.eval_lr,
        micro_batch=args.micro_batch,
        on_model=save,
        log=err,
    )
    save(results)
    for model, r in results.items():
        experiments = r.get("experiments") or []
        pooled = f" ({len(experiments)} experiments x {len(experiments[0]['runs'])})" if len(experiments) > 1 else ""
        print(f"{model}: {format_accuracy(r)} over {networks(len(r['runs']))}{pooled}")
    if len(results) > 1:
        print(accuracy_table(results))
    if args.table is not None:
        write("table", args.table, f"# {args.file}\n\n" + accuracy_table(results) + "\n")
        print(f"wrote {args.table} and {args.json}", file=sys.stderr)
    return 0
