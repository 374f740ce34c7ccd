"""``condense datasets`` and ``condense models``: what is installed and what can be built."""

from __future__ import annotations

import argparse

from .settings import add_settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list datasets and where their files were found")
    add_settings(p, only=("data_dir",), params=False)
    p.set_defaults(run=run_datasets)

    p = sub.add_parser("models", help="list networks with their parameter counts")
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
    return 0
