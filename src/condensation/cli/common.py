"""Argument types and flag groups shared by the ``condense`` subcommands."""

from __future__ import annotations

import argparse
import sys

__all__ = [
    "csv_list",
    "int_list",
    "int_at_least",
    "positive_int",
    "count",
    "positive_float",
    "add_data_dir",
    "add_device",
    "add_compile",
    "err",
]


def csv_list(text: str) -> tuple[str, ...]:
    """An argparse type: ``"a,b , c"`` -> ``("a", "b", "c")`` (at least one item)."""
    items = tuple(t.strip() for t in text.split(",") if t.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list, e.g. convnet,mlp")
    return items


def int_list(text: str) -> tuple[int, ...]:
    """An argparse type: ``"1,10,50"`` -> ``(1, 10, 50)`` (non-negative integers)."""
    try:
        items = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        items = ()
    if not items or min(items) < 0:
        raise argparse.ArgumentTypeError(f"expected comma-separated non-negative integers, e.g. 0,1,2; got {text!r}")
    return items


def int_at_least(minimum: int):
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


positive_int = int_at_least(1)
count = int_at_least(0)


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_dataset(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default="fashion-mnist", help="mnist, fashion-mnist, svhn, cifar10, cifar100, "
                   "tinyimagenet, imagefolder:PATH or npz:PATH (default: fashion-mnist)")


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where dataset files are (searched before $CONDENSATION_DATA, the user cache and system locations)",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")


def add_compile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--compile",
        default="auto",
        choices=("auto", "on", "off"),
        help="torch.compile the first-order paths (auto: when the run is long enough; see README, Performance)",
    )
    p.add_argument(
        "--micro-batch",
        type=count,
        default=None,
        help="images per micro-batch of first-order compute (default: 32 on CPU, whole batches on GPU; 0: whole batches)",
    )


def err(message: str) -> None:
    """One line on stderr."""
    print(message, file=sys.stderr, flush=True)
