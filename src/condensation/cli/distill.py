"""``condense distill``: learn a synthetic set and evaluate it."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import add_compile, add_data_dir, add_dataset, add_device, count, csv_list, positive_float, positive_int


def add_parsers(sub: argparse._SubParsersAction) -> None:
    from ..config import BN_MODES, DSA_MODES, INITS, MATCHINGS, METHODS, PRESETS
    from ..methods.distances import METRICS

    p = sub.add_parser(
        "distill",
        help="learn a synthetic set and evaluate it",
        description=(
            "Learn ipc synthetic images per class by gradient matching (dc), gradient matching with "
            "Differentiable Siamese Augmentation (dsa) or distribution matching (dm), then train "
            "--num-eval fresh networks on them and test on the real test set. With no flags: "
            "fashion-mnist, dsa, 1 image per class, real init, quick preset, with random real images of "
            "the same size evaluated alongside."
        ),
    )
    add_dataset(p)
    p.add_argument("--resolution", type=positive_int, default=None, metavar="N", help="imagefolder datasets: resize every image to N x N (shorter side to N, centre crop); the same as --dataset imagefolder:PATH@N")
    p.add_argument("--method", default="dsa", choices=METHODS, help="dsa (default), dc or dm")
    p.add_argument("--ipc", type=positive_int, default=1, help="synthetic images per class (default: 1)")
    p.add_argument("--init", default="real", choices=INITS, help="real: random real images (default); herding: the real images nearest each class's mean (pixel-space herding); noise: N(0,1) noise")
    p.add_argument("--model", default="convnet", help="network whose gradients (dm: embeddings) are matched (default: convnet; see 'condense models')")
    p.add_argument("--strategy", default=None, help="DSA ops joined by '_' from color, crop, cutout, flip, scale, rotate, or none (default: all six; no flip for mnist/svhn)")
    p.add_argument("--dsa-mode", default="single", choices=DSA_MODES, help="single: one random op per call (the paper); all: every op in turn")
    p.add_argument("--preset", default="quick", choices=tuple(PRESETS), help="budget: paper (the authors'), quick (CPU-sized; default), fast (ours: 64 real images per class, 5 networks, 600 iterations; at ipc 1 multi-formation --factor 2 and 300 iterations)")
    p.add_argument("--iterations", type=count, default=None, help="outer iterations (overrides the preset)")
    p.add_argument("--batch-real", type=positive_int, default=None, help="real images per class per match (overrides the preset)")
    p.add_argument("--lr-img", type=positive_float, default=None, help="learning rate of the synthetic images (default: 0.1; dm 1.0)")
    p.add_argument("--momentum-img", type=float, default=None, help="SGD momentum of the images (default 0.5)")
    p.add_argument("--optimizer-img", default=None, choices=("sgd", "adam"), help="optimiser of the images (default sgd, the papers')")
    p.add_argument("--lr-schedule", default=None, choices=("constant", "cosine", "step"), help="image learning-rate schedule over the iterations (default constant)")
    p.add_argument("--outer-loop", type=positive_int, default=None, help="image updates per iteration (default: the paper's table for ipc)")
    p.add_argument("--inner-loop", type=count, default=None, help="network epochs between updates (default: the paper's table for ipc)")
    p.add_argument("--metric", default="ours", choices=METRICS, help="gradient distance: ours (layer-wise cosine, default), mse, cos")
    p.add_argument("--matching", default="classwise", choices=MATCHINGS, help="dc/dsa: classwise (each class's gradients on their own, the papers'; default) or joint (the sums over classes, ours, after DCC)")
    p.add_argument("--factor", type=int, default=None, metavar="F", help="multi-formation (ours, after IDC): each stored image holds FxF tiles, each enlarged into a training image, so networks train on ipc*F*F images per class at the storage of ipc; F must divide the image sides; 1 = off (default: the preset's: 1, but 2 for --preset fast at ipc 1)")
    p.add_argument("--bn-stats", default="reference", choices=BN_MODES, help="BatchNorm statistics frozen during matching: reference (the authors' single momentum-0.1 pass) or exact")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--eval-every", type=count, default=None, help="also evaluate every N iterations (0: only at the end)")
    p.add_argument("--num-eval", type=count, default=None, help="networks trained per evaluation model (0: skip evaluation)")
    p.add_argument("--eval-models", type=csv_list, default=None, help="comma-separated evaluation networks or a pool (paper, S, SS, M, B, W, D, A, N, P; default: S)")
    p.add_argument("--eval-epochs", type=positive_int, default=None, help="training epochs per evaluation network (default: preset / protocol)")
    p.add_argument("--no-baseline", action="store_true", help="do not evaluate random real images alongside")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/METHOD_DATASET_ipcN_TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint (a finished run: its evaluation)")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--quiet", action="store_true", help="no per-iteration output (default: a progress bar on a terminal, else a line every 5%% of the run)")
    add_compile(p)
    add_device(p)
    add_data_dir(p)
    p.set_defaults(run=run)


def config_from_args(args: argparse.Namespace):
    """The ``DistillConfig`` the flags ask for (unset flags stay None: the preset decides)."""
    from ..config import DistillConfig
    from ..data.specs import with_resolution

    return DistillConfig(
        dataset=with_resolution(args.dataset, getattr(args, "resolution", None)),
        method=args.method,
        ipc=args.ipc,
        init=args.init,
        model=args.model,
        strategy=args.strategy,
        dsa_mode=args.dsa_mode,
        preset=args.preset,
        iterations=args.iterations,
        batch_real=args.batch_real,
        lr_img=args.lr_img,
        momentum_img=args.momentum_img,
        optimizer_img=args.optimizer_img,
        lr_schedule=args.lr_schedule,
        outer_loop=args.outer_loop,
        inner_loop=args.inner_loop,
        metric=args.metric,
        matching=args.matching,
        factor=args.factor,
        bn_stats=args.bn_stats,
        seed=args.seed,
        eval_every=args.eval_every,
        num_eval=args.num_eval,
        eval_models=args.eval_models,
        eval_epochs=args.eval_epochs,
        baseline=not args.no_baseline,
        device=args.device,
        data_dir=args.data_dir,
        compile=args.compile,
        micro_batch=args.micro_batch,
    )


def run(args: argparse.Namespace) -> int:
    from ..devices import device_from_flag
    from ..distill import distill
    from ..distributed import context
    from ..tables import format_accuracy

    config = config_from_args(args)
    dist = context(device_from_flag(args.device))  # under torchrun: join the process group
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out DIR (the run to continue)")
        name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
        out = dist.broadcast(Path("runs") / f"{args.method}_{name}_ipc{args.ipc}_{time.strftime('%Y%m%d-%H%M%S')}")
    result = distill(config, out, resume=args.resume, overwrite=args.overwrite, progress=False if args.quiet else True)
    if not dist.is_main:
        return 0
    c = result.config
    formed = f" (multi-formation: {c.ipc * c.factor**2} training images/class)" if c.factor > 1 else ""
    print(f"{c.method.upper()} {c.dataset}, {c.ipc} image(s)/class{formed}, {c.iterations} iterations, {result.seconds:.0f} s")
    for model, r in result.accuracy.items():
        line = f"  {model}: {format_accuracy(r)} over {len(r['runs'])} networks"
        if model in result.baseline:
            line += f"   (random real images: {format_accuracy(result.baseline[model])})"
        print(line)
    print(f"wrote {result.out}/ (synset.pt, synset.png, config.json, metrics.jsonl, evaluations.jsonl, results.json)")
    return 0
