"""``condense datasets`` and ``condense models``: what is installed and what can be built."""

from __future__ import annotations

import argparse

from .settings import add_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "datasets", help="list datasets and where their files were found",
        description=(
            "List the built-in datasets with their image shape and classes, and where each one's files were found "
            "(searched in order: --data-dir, $CONDENSATION_DATA, the user cache, system locations such as "
            "/usr/share/datasets) or, for a missing one, the files expected and how to get them. Also lists the "
            "forms your own data is accepted in (imagefolder:PATH, npz:PATH)."
        ),
    )
    add_settings(p, only=("data_dir",), params=False)
    p.set_defaults(run=run_datasets)

    p = sub.add_parser(
        "models", help="list networks with their parameter counts",
        description=(
            "List every network --model and --eval-models take, with its parameter count for --dataset's input "
            "size and classes, and a key to the name suffixes (depth, width, activation, normalisation, pooling)."
        ),
    )
    p.add_argument("--dataset", default="cifar10", help="input size and classes to count for (default: cifar10)")
    p.set_defaults(run=run_models)


def run_datasets(args: argparse.Namespace) -> int:
    from ..data import get_spec, list_datasets, locate_dataset, missing_hint

    for name in list_datasets():
        spec = get_spec(name)
        found, _ = locate_dataset(name, data_dir=args.data_dir)
        shape = f"{spec.channels}x{spec.image_size[0]}x{spec.image_size[1]}, {spec.num_classes} classes"
        if found is not None:
            print(f"{name:<14} {shape:<26} found: {found}")
        else:
            print(f"{name:<14} {shape:<26} missing: {missing_hint(name)}")
    print(
        "also: imagefolder:PATH (one sub-folder of images per class, or PATH/train/ and PATH/test/; "
        "imagefolder:PATH@N or --resolution N resizes every image to N x N), "
        "npz:PATH (uint8 x_train, y_train, x_test, y_test; optional classes: names in label order)"
    )
    return 0


def run_models(args: argparse.Namespace) -> int:
    from ..data import get_spec
    from ..models import build_model, count_parameters, list_models

    spec = get_spec(args.dataset)
    print(f"networks for {spec.name} ({spec.channels}x{spec.image_size[0]}x{spec.image_size[1]}, {spec.num_classes} classes):")
    for name in list_models():
        try:
            n = count_parameters(build_model(name, spec))
            print(f"  {name:<18} {n:>12,}")
        except ValueError as e:  # a network that does not fit this input size
            print(f"  {name:<18} {'n/a':>12}  ({e})")
    print(SUFFIX_KEY)
    return 0


# What the name suffixes mean (the authors' names).
SUFFIX_KEY = """\
key to the suffixes (convnet: 3 conv blocks of 128 channels, ReLU, instance norm, average pooling; a suffix changes one):
  D1 .. D4          depth: 1 to 4 conv blocks
  W32 .. W256       width: 32 to 256 channels per conv
  AS AR AL ASwish   activation: sigmoid, ReLU, leaky ReLU, swish
  NN BN LN IN GN    normalisation: none, BatchNorm, LayerNorm, instance norm, group norm (4 groups)
  NP MP AP          pooling: none, max, average
  BN (alexnet, vgg11, resnet18)  with BatchNorm (alexnet: none, the others: instance norm); pool S drops it
  _ap (resnet18)    downsampling by average pooling instead of strided convolutions"""
