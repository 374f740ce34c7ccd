"""The ``condense`` command: a thin layer over the Python API.

    condense datasets                      where each dataset was found (or how to get it)
    condense models [--dataset D]          networks and their parameter counts
    condense distill [flags]               learn a synthetic set (DSA / DC) and evaluate it
    condense evaluate FILE [flags]         evaluate any synthetic-set file
    condense show FILE -o grid.png         picture of a synthetic set, one row per class
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__

EPILOG = "Run 'condense COMMAND --help' for a command's flags."
PROTOCOLS = ("dsa", "dc", "dm", "random")


def _csv(text: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. convnet,mlp")
    return items


def _int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``."""
    what = "a positive" if minimum == 1 else "a non-negative"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} integer, got {text!r}")
        return value

    return parse


_positive_int = _int_at_least(1)
_count = _int_at_least(0)


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where dataset files are (searched before $CONDENSATION_DATA, the user cache and system locations)",
    )


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")


def _add_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--compile",
        default="auto",
        choices=("auto", "on", "off"),
        help="torch.compile the first-order paths (auto: when the run is long enough; see README, Performance)",
    )
    p.add_argument(
        "--micro-batch",
        type=_count,
        default=None,
        help="images per micro-batch of first-order compute (default: 32 on CPU, whole batches on GPU; 0: whole batches)",
    )


def build_parser() -> argparse.ArgumentParser:
    from .config import BN_MODES, DSA_MODES, INITS, METHODS, PRESETS
    from .methods.distances import METRICS

    parser = argparse.ArgumentParser(
        prog="condense",
        description=(
            "Dataset condensation: learn a few synthetic images per class on which a network trained "
            "from scratch approaches one trained on the whole dataset. Implements gradient matching (DC) "
            "and Differentiable Siamese Augmentation (DSA) with the papers' evaluation protocol."
        ),
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"condense {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("datasets", help="list datasets and where their files were found")
    _add_data_dir(p)

    p = sub.add_parser("models", help="list networks with their parameter counts")
    p.add_argument("--dataset", default="cifar10", help="input size and classes to count for (default: cifar10)")

    p = sub.add_parser(
        "distill",
        help="learn a synthetic set and evaluate it",
        description=(
            "Learn ipc synthetic images per class by gradient matching (dc) or gradient matching with "
            "Differentiable Siamese Augmentation (dsa), then train --num-eval fresh networks on them and "
            "test on the real test set. With no flags: fashion-mnist, dsa, 1 image per class, real init, "
            "quick preset, with random real images of the same size evaluated alongside."
        ),
    )
    p.add_argument("--dataset", default="fashion-mnist", help="mnist, fashion-mnist, svhn, cifar10, cifar100, tinyimagenet, imagefolder:PATH or npz:PATH (default: fashion-mnist)")
    p.add_argument("--method", default="dsa", choices=METHODS, help="dsa (default) or dc")
    p.add_argument("--ipc", type=_positive_int, default=1, help="synthetic images per class (default: 1)")
    p.add_argument("--init", default="real", choices=INITS, help="start from random real images or N(0,1) noise (default: real)")
    p.add_argument("--model", default="convnet", help="network whose gradients are matched (default: convnet; see 'condense models')")
    p.add_argument("--strategy", default=None, help="DSA ops joined by '_' from color, crop, cutout, flip, scale, rotate, or none (default: all six; no flip for mnist/svhn)")
    p.add_argument("--dsa-mode", default="single", choices=DSA_MODES, help="single: one random op per call (the paper); all: every op in turn")
    p.add_argument("--preset", default="quick", choices=tuple(PRESETS), help="budget: paper (1000 iterations, 256 real/class, 20 networks) or quick (CPU-sized; default)")
    p.add_argument("--iterations", type=_count, default=None, help="outer iterations (overrides the preset)")
    p.add_argument("--batch-real", type=_positive_int, default=None, help="real images per class per match (overrides the preset)")
    p.add_argument("--lr-img", type=float, default=0.1, help="learning rate of the synthetic images (default 0.1)")
    p.add_argument("--outer-loop", type=_positive_int, default=None, help="image updates per iteration (default: the paper's table for ipc)")
    p.add_argument("--inner-loop", type=_count, default=None, help="network epochs between updates (default: the paper's table for ipc)")
    p.add_argument("--metric", default="ours", choices=METRICS, help="gradient distance: ours (layer-wise cosine, default), mse, cos")
    p.add_argument("--bn-stats", default="reference", choices=BN_MODES, help="BatchNorm statistics frozen during matching: reference (the authors' single momentum-0.1 pass) or exact")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--eval-every", type=_count, default=None, help="also evaluate every N iterations (0: only at the end)")
    p.add_argument("--num-eval", type=_count, default=None, help="networks trained per evaluation model (0: skip evaluation)")
    p.add_argument("--eval-models", type=_csv, default=None, help="comma-separated evaluation networks (default: --model)")
    p.add_argument("--eval-epochs", type=_positive_int, default=None, help="training epochs per evaluation network (default: preset / protocol)")
    p.add_argument("--no-baseline", action="store_true", help="do not evaluate random real images alongside")
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/METHOD_DATASET_ipcN_TIME)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_compile(p)
    _add_device(p)
    _add_data_dir(p)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a synthetic-set file",
        description="Train fresh networks on a synthetic-set file and test them on the real test set of its dataset.",
    )
    p.add_argument("file", type=Path, help="a synthetic-set file (synset.pt)")
    p.add_argument("--models", type=_csv, default=("convnet",), help="comma-separated networks (default: convnet)")
    p.add_argument("--num-eval", type=_positive_int, default=5, help="networks per model (default 5)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="training epochs (default: the protocol's, 1000 for DSA)")
    p.add_argument("--protocol", default="auto", help="auto (the file's method), dsa (DSA augmentation, 1000 epochs) or dc (DC's rule)")
    p.add_argument("--strategy", default=None, help="DSA strategy for the dsa protocol (default: the dataset's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the networks' initialisation and training (default 0)")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    _add_compile(p)
    _add_device(p)
    _add_data_dir(p)

    p = sub.add_parser("show", help="save a picture of a synthetic set (one row per class)")
    p.add_argument("file", type=Path, help="a synthetic-set file (synset.pt)")
    p.add_argument("-o", "--output", type=Path, default=None, help="PNG to write (default: FILE with .png)")
    p.add_argument("--scale", type=_positive_int, default=2, help="pixel magnification (default 2)")
    return parser


# ---------------------------------------------------------------------- commands
def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import get_spec, list_datasets, locate_dataset, missing_hint

    for name in list_datasets():
        spec = get_spec(name)
        found, searched = locate_dataset(name, data_dir=args.data_dir)
        shape = f"{spec.channels}x{spec.image_size[0]}x{spec.image_size[1]}, {spec.num_classes} classes"
        if found is not None:
            print(f"{name:<14} {shape:<26} found: {found}")
        else:
            print(f"{name:<14} {shape:<26} missing: {missing_hint(name)}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .data import get_spec
    from .models import build_model, count_parameters, list_models

    spec = get_spec(args.dataset)
    print(f"networks for {spec.name} ({spec.channels}x{spec.image_size[0]}x{spec.image_size[1]}, {spec.num_classes} classes):")
    for name in list_models():
        try:
            n = count_parameters(build_model(name, spec))
            print(f"  {name:<18} {n:>12,}")
        except Exception as e:  # a network that does not fit this input size
            print(f"  {name:<18} {'n/a':>12}  ({e})")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    from .config import DistillConfig
    from .distill import distill

    config = DistillConfig(
        dataset=args.dataset,
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
        outer_loop=args.outer_loop,
        inner_loop=args.inner_loop,
        metric=args.metric,
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
    out = args.out
    if out is None:
        if args.resume:
            raise ValueError("--resume needs --out DIR (the run to continue)")
        name = args.dataset.split(":", 1)[-1].rstrip("/").split("/")[-1]
        out = Path("runs") / f"{args.method}_{name}_ipc{args.ipc}_{time.strftime('%Y%m%d-%H%M%S')}"
    result = distill(config, out, resume=args.resume, progress=not args.quiet)
    c = result.config
    print(f"{c.method.upper()} {c.dataset}, {c.ipc} image(s)/class, {c.iterations} iterations, {result.seconds:.0f} s")
    for model, r in result.accuracy.items():
        line = f"  {model}: {100 * r['mean']:.2f} ± {100 * r['std']:.2f}% over {len(r['runs'])} networks"
        if model in result.baseline:
            b = result.baseline[model]
            line += f"   (random real images: {100 * b['mean']:.2f} ± {100 * b['std']:.2f}%)"
        print(line)
    print(f"wrote {result.out}/ (synset.pt, synset.png, config.json, metrics.jsonl, results.json)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .evaluate import evaluate_on, protocol_for
    from .models import canonical_name
    from .devices import device_from_flag
    from .atomic import atomic_write_text
    from .synset import SyntheticSet

    synset = SyntheticSet.load(args.file)
    models = [canonical_name(m) for m in args.models]  # unknown names fail before any training
    device = device_from_flag(args.device)
    dataset = load_dataset(synset.dataset, data_dir=args.data_dir)
    spec = dataset.spec
    if tuple(synset.images.shape[1:]) != spec.shape or synset.num_classes != spec.num_classes:
        raise ValueError(
            f"{args.file} holds {synset.num_classes} classes of {tuple(synset.images.shape[1:])} images, "
            f"but {spec.name} has {spec.num_classes} classes of {spec.shape}"
        )
    if synset.labels.numel() and not 0 <= int(synset.labels.min()) <= int(synset.labels.max()) < spec.num_classes:
        raise ValueError(f"{args.file}: labels outside 0..{spec.num_classes - 1}")
    if tuple(spec.mean) != tuple(synset.mean) or tuple(spec.std) != tuple(synset.std):
        print(f"warning: {args.file} was normalised with mean/std {synset.mean}/{synset.std}, "
              f"the dataset uses {spec.mean}/{spec.std}", file=sys.stderr)
    made_with = synset.meta.get("config", {}) if isinstance(synset.meta.get("config"), dict) else {}
    protocol_name = args.protocol.lower()
    if protocol_name == "auto":
        protocol_name = str(synset.meta.get("method", "dsa")).lower()
    if protocol_name not in PROTOCOLS:
        raise ValueError(f"invalid protocol {args.protocol!r}; allowed: auto, {', '.join(PROTOCOLS)}")
    # the set is evaluated with the augmentation it was made with, unless told otherwise
    strategy = args.strategy if args.strategy is not None else made_with.get("strategy")
    dsa_mode = made_with.get("dsa_mode", "single")
    dataset = dataset.to(device)

    def protocol_of(model: str):
        protocol = protocol_for(
            protocol_name, spec.name, model, strategy=strategy, flip_ok=spec.flip_ok, dsa_mode=dsa_mode, epochs=args.epochs
        )
        print(f"{model}: {args.num_eval} networks, {protocol.epochs} epochs, augmentation {protocol.augment!r}", file=sys.stderr)
        return protocol

    def save(results: dict) -> None:  # after every model, so a long evaluation keeps what it has
        if args.json is not None:
            atomic_write_text(args.json, json.dumps({"accuracy": results, "file": str(args.file)}, indent=2) + "\n")

    results = evaluate_on(
        synset, dataset, models=models, num_eval=args.num_eval, protocol_of=protocol_of, seed=args.seed, device=device,
        compile=args.compile, micro_batch=args.micro_batch, on_model=save,
        on_network=lambda m, k, acc, s: print(f"  {m} #{k + 1}: {100 * acc:.2f}% ({s:.0f}s)", file=sys.stderr),
    )
    for model, r in results.items():
        print(f"{model}: {100 * r['mean']:.2f} ± {100 * r['std']:.2f}% over {len(r['runs'])} networks")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .synset import SyntheticSet
    from .viz import save_grid

    synset = SyntheticSet.load(args.file)
    out = args.output or args.file.with_suffix(".png")
    save_grid(synset, out, scale=args.scale)
    print(f"wrote {out} ({synset.num_classes} classes x {synset.ipc} images)")
    return 0


COMMANDS = {
    "datasets": cmd_datasets,
    "models": cmd_models,
    "distill": cmd_distill,
    "evaluate": cmd_evaluate,
    "show": cmd_show,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .config import ConfigError
    from .data import DataError
    from .distill import RunDirError
    from .synset import SynsetFormatError

    try:
        return COMMANDS[args.command](args)
    except (DataError, ConfigError, SynsetFormatError, RunDirError, OSError, ValueError) as e:
        if os.environ.get("CONDENSATION_DEBUG"):
            raise
        print(f"condense {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; a run with --out can be continued with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
