"""``condense coreset``: choose real images per class (random, herding, k-center, forgetting) as a synthetic-set file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import add_compile, add_data_dir, add_dataset, add_device, count, csv_list, err, positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..coreset import CORESET_METHODS, DEFAULT_FEATURE_EPOCHS

    p = sub.add_parser(
        "coreset",
        help="select real images per class (random, herding, k-center, forgetting)",
        description=(
            "Select ipc real training images per class and write them as a synthetic-set file (DIR/synset.pt, "
            "DIR/synset.png) that 'condense evaluate' and 'condense show' take. random: random images (the "
            "random-real baseline of 'condense distill' with the same seed); herding and kcenter: greedy rules "
            "on the embeddings of a network trained on the real training set; forgetting: the images that "
            "network forgot most often while training. The network is cached and reused."
        ),
    )
    p.add_argument("--method", required=True, choices=CORESET_METHODS, help="selection rule")
    add_dataset(p)
    p.add_argument("--ipc", type=positive_int, default=1, help="images per class (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the selection, the feature network and the evaluation networks (default 0)")
    p.add_argument("--model", default="convnet", help="feature network of herding, kcenter and forgetting (default: convnet)")
    p.add_argument("--feature-epochs", type=positive_int, default=DEFAULT_FEATURE_EPOCHS,
                   help=f"epochs the feature network trains on the whole training set (default {DEFAULT_FEATURE_EPOCHS}; forgetting needs 2 or more)")
    p.add_argument("--cache-dir", type=Path, default=None, help="where trained feature networks are kept (default: $CONDENSATION_CACHE/coreset-networks)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default: runs/METHOD_DATASET_ipcN_TIME)")
    p.add_argument("--overwrite", action="store_true", help="replace the files of a previous run in --out")
    p.add_argument("--num-eval", type=count, default=0, help="also evaluate the set with this many networks per model, as 'condense evaluate' (default 0: no evaluation)")
    p.add_argument("--eval-models", type=csv_list, default=("S",), help="evaluation networks or pools (default: S, i.e. convnet)")
    p.add_argument("--eval-epochs", type=positive_int, default=None, help="training epochs per evaluation network (default: the protocol's, 300 by DC's rule)")
    add_compile(p)
    add_device(p)
    add_data_dir(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..coreset import select_coreset
    from ..data import load_dataset
    from ..evaluate import evaluate_file
    from ..runs import RunDir
    from ..tables import format_accuracy
    from ..viz import save_grid

    out = args.out
    if out is None:
        name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
        out = Path("runs") / f"{args.method}_{name}_ipc{args.ipc}_{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = RunDir(out)
    run_dir.check_new(args.overwrite)  # before any work: a refused run costs nothing
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    t0 = time.perf_counter()
    synset = select_coreset(
        args.method, dataset, args.ipc, args.seed, device=args.device, model=args.model,
        feature_epochs=args.feature_epochs, cache_dir=args.cache_dir, log=err,
    )
    seconds = time.perf_counter() - t0
    run_dir.create(overwrite=args.overwrite)
    path = synset.save(run_dir.file("synset.pt"))
    save_grid(synset, run_dir.file("synset.png"))
    print(f"{args.method} {dataset.spec.name}, {args.ipc} image(s)/class, selected in {seconds:.0f} s")
    if args.num_eval:
        results = evaluate_file(
            path, models=args.eval_models, num_eval=args.num_eval, epochs=args.eval_epochs, seed=args.seed,
            device=args.device, dataset=dataset, compile=args.compile, micro_batch=args.micro_batch, log=err,
        )
        run_dir.write_json("results.json", {
            "accuracy": results, "method": args.method, "dataset": dataset.spec.name, "ipc": args.ipc,
            "seed": args.seed, "num_eval": args.num_eval, "seconds": seconds, "meta": synset.meta,
        })
        for model, r in results.items():
            print(f"  {model}: {format_accuracy(r)} over {len(r['runs'])} networks")
    print(f"wrote {run_dir.path}/ (synset.pt, synset.png{', results.json' if args.num_eval else ''})")
    return 0
