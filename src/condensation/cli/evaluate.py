"""``condense evaluate FILE``: train fresh networks on a synthetic set, test on the real test set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import add_compile, add_data_dir, add_device, csv_list, err, positive_int

PROTOCOLS = ("auto", "dsa", "dc", "dm", "random")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a synthetic-set file",
        description=(
            "Train fresh networks on a synthetic-set file and test them on the real test set of its dataset. "
            "--models takes network names or a pool: paper/M (MLP, ConvNet, LeNet, AlexNet, VGG11, ResNet18), "
            "S (the condensation network without BatchNorm), SS (itself), B (BatchNorm nets), W (widths), "
            "D (depths), A (activations), N (normalisations), P (poolings)."
        ),
    )
    p.add_argument("file", type=Path, help="a synthetic-set file (synset.pt)")
    p.add_argument("--models", type=csv_list, default=("S",), help="comma-separated networks or pools (default: S, the set's own network without BatchNorm)")
    p.add_argument("--num-eval", type=positive_int, default=5, help="networks per model (default 5)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (default: the protocol's, 1000 for DSA)")
    p.add_argument("--protocol", default="auto", choices=PROTOCOLS, help="auto (the file's method), dsa (DSA augmentation, 1000 epochs) or dc (DC's rule)")
    p.add_argument("--strategy", default=None, help="DSA strategy for the dsa protocol (default: the one the set was made with, else the dataset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the networks' initialisation and training (default 0)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    p.add_argument("--table", type=Path, default=None, help="also write a markdown table (mean ± std per architecture)")
    add_compile(p)
    add_device(p)
    add_data_dir(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_text
    from ..evaluate import evaluate_file
    from ..tables import accuracy_table, format_accuracy

    def save(results: dict) -> None:  # after every network, so a long evaluation keeps what it has
        if args.json is not None:
            atomic_write_text(args.json, json.dumps({"accuracy": results, "file": str(args.file)}, indent=2) + "\n")

    results = evaluate_file(
        args.file,
        models=args.models,
        num_eval=args.num_eval,
        epochs=args.epochs,
        protocol=args.protocol,
        strategy=args.strategy,
        seed=args.seed,
        device=args.device,
        data_dir=args.data_dir,
        compile=args.compile,
        micro_batch=args.micro_batch,
        on_model=save,
        log=err,
    )
    save(results)
    for model, r in results.items():
        print(f"{model}: {format_accuracy(r)} over {len(r['runs'])} networks")
    if args.table is not None:
        atomic_write_text(args.table, accuracy_table(results) + "\n")
        print(f"wrote {args.table}", file=sys.stderr)
    return 0
