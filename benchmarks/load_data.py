"""Time loading Fashion-MNIST (train + test, gzipped IDX) into normalised float32 tensors on the CPU.

Prints the first run and the best of the following runs with their ratio to the 2 s target, and
how the gzip decoders compare on the largest file. Exit status 1 if the first run misses the target.
Usage: python benchmarks/load_data.py [--dataset fashion-mnist] [--data-dir DIR] [--runs 5]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import zlib

import torch

from condensation.data import DataError, load_dataset, locate_dataset
from condensation.data.readers import read_idx

TARGET_SECONDS = 2.0


def load_normalised(name: str, data_dir: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    ds = load_dataset(name, data_dir=data_dir, download=False)
    return ds.normalize(ds.train.images), ds.normalize(ds.test.images)


def best_time(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compare_decoders(name: str, data_dir: str | None) -> None:
    """gzip.decompress vs zlib.decompress(wbits=31) vs the package's streaming IDX reader."""
    folder, _ = locate_dataset(name, data_dir)
    path = folder / "train-images-idx3-ubyte.gz" if folder else None
    if path is None or not path.is_file():
        return
    raw = path.read_bytes()
    rows = {
        "gzip.decompress": lambda: gzip.decompress(raw),
        "zlib.decompress(wbits=31)": lambda: zlib.decompress(raw, 31),
        "read_idx (into numpy)": lambda: read_idx(path, 3),
    }
    print(f"decoding {path.name} ({len(raw) / 1e6:.1f} MB gzip), best of 3:")
    for label, fn in rows.items():
        print(f"  {label:<27} {best_time(fn):6.3f} s")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)

    times = []
    for _ in range(1 + max(1, args.runs)):
        start = time.perf_counter()
        try:
            train, test = load_normalised(args.dataset, args.data_dir)
        except DataError as e:
            print(f"load_data: skipped, {args.dataset} is not available:\n{e}", file=sys.stderr)
            return 0
        times.append(time.perf_counter() - start)
    first, best = times[0], min(times[1:])
    print(f"{args.dataset}: train {tuple(train.shape)} + test {tuple(test.shape)} float32, torch threads {torch.get_num_threads()}")
    print(f"load_data first run   {first:6.3f} s  ({first / TARGET_SECONDS:.2f} x the {TARGET_SECONDS:.0f} s target)")
    print(f"load_data best of {len(times) - 1}   {best:6.3f} s  ({best / TARGET_SECONDS:.2f} x the {TARGET_SECONDS:.0f} s target)")
    compare_decoders(args.dataset, args.data_dir)
    return 0 if first < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
