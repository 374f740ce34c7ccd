"""A folder of images with one sub-folder per class, read with Pillow.

Layouts: ``PATH/train/<class>/*`` + ``PATH/test/<class>/*`` (or ``val/``), or ``PATH/<class>/*``,
which is split per class into train and test by a seeded random draw (``test_fraction`` of each
class, at least one image each side for classes of two or more; the same seed always gives the
same split). Images may sit in nested folders below the class folder; every class folder must
hold at least one image.

Colour: grayscale (1 channel) if every image is a single-channel mode (L, 1, I, ...), else RGB.
Size: every image must have the same size, unless a ``resolution`` N is given
(``imagefolder:PATH@N``, ``--resolution N``): then each image's shorter side is resized to N and
the centre N x N square kept (Pillow's bilinear filter, antialiased when shrinking).

Headers are probed and images decoded once, in a pool of processes (``_decode``), into a decoded
cache (``_cache``: memory-mapped when reused) keyed by the folder, the resolution and the split
settings, and reused while the folder's file names and folder times are unchanged.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ...rng import make_generator
from ..errors import DatasetCorruptError, DatasetNotFoundError
from ._cache import cache_location, decode_splits, open_cache
from ._common import RawData
from ._decode import Target, probe_files
from ._images import GRAY_MODES, IMAGE_EXTENSIONS, is_image_name

__all__ = ["read_image_folder", "DEFAULT_TEST_FRACTION", "DEFAULT_SPLIT_SEED"]

DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0

_EXTENSIONS = ", ".join(sorted(IMAGE_EXTENSIONS))


def _class_dirs(folder: Path) -> list[str]:
    """Names of the visible sub-folders of ``folder``, sorted."""
    return sorted(e.name for e in os.scandir(folder) if not e.name.startswith(".") and e.is_dir())


def _walk(class_dir: Path, digest) -> list[str]:
    """The image files below ``class_dir`` (file order: each folder's files sorted, then its
    sub-folders in sorted order); names and folder times go into ``digest``."""
    files = []
    for dirpath, dirnames, filenames in os.walk(class_dir):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        digest.update(f"{dirpath}\0{os.stat(dirpath).st_mtime_ns}\0".encode())
        for f in sorted(filenames):
            if is_image_name(f):
                files.append(os.path.join(dirpath, f))
                digest.update(f.encode() + b"\0")
    return files


def _parts(root: Path) -> dict[str, Path] | None:
    """{"train": folder, "test": folder} for the pre-split layout, None for one folder of classes."""
    if not (root / "train").is_dir():
        return None
    test = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    return None if test is None else {"train": root / "train", "test": test}


def _scan(root: Path, keep: bool) -> tuple[str, dict[str, dict[str, list[str]]]]:
    """(signature, {part: {class: files}}) where part is "train"/"test" or "all". Files are kept
    only if ``keep`` (a cached dataset needs only the signature: one class's list at a time)."""
    parts = _parts(root) or {"all": root}
    digest = hashlib.sha1()
    listing: dict[str, dict[str, list[str]]] = {}
    for part, folder in parts.items():
        listing[part] = {}
        names = _class_dirs(folder)
        empty = []
        for name in names:
            files = _walk(folder / name, digest)
            if not files:
                empty.append(name)
            listing[part][name] = files if keep else []
        if part == "all" and len(empty) == len(names):
            raise DatasetNotFoundError(
                f"no images in {root}: expected {root}/<class>/<image> (or {root}/train/<class>/... and "
                f"{root}/test/<class>/...), with extensions {_EXTENSIONS}",
                name=f"imagefolder:{root}",
                searched=[root],
            )
        if empty:
            shown = ", ".join(repr(n) for n in empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
            raise DatasetCorruptError(
                folder, f"class folder(s) {shown} hold no images ({_EXTENSIONS})", "add images to them or remove them"
            )
    if "train" in listing:
        if not listing["train"]:
            raise DatasetCorruptError(parts["train"], "no class folders", "put one sub-folder of images per class in it")
        extra = sorted(set(listing["test"]) - set(listing["train"]))
        if extra:
            raise DatasetCorruptError(
                parts["test"], f"test classes without training images: {', '.join(extra[:5])}",
                "add their training images or remove them from the test folder",
            )
    return digest.hexdigest(), listing


def _split(files: dict[str, list[str]], fraction: float, seed: int) -> tuple[dict, dict]:
    """Per-class seeded train/test split; each class draws from its own stream (seed, class name)."""
    train, test = {}, {}
    for name, paths in files.items():
        n = len(paths)
        n_test = min(max(round(n * fraction), 1), n - 1) if n >= 2 else 0
        perm = torch.randperm(n, generator=make_generator(seed, "imagefolder-split", name))
        is_test = torch.zeros(n, dtype=torch.bool)
        is_test[perm[:n_test]] = True
        train[name] = [p for p, t in zip(paths, is_test.tolist()) if not t]
        test[name] = [p for p, t in zip(paths, is_test.tolist()) if t]
    return train, test


def _check_sizes(root: Path, paths: list[str], sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The one size (H, W) of every image; mixed sizes name one file of each of two sizes."""
    counts = Counter(sizes)
    if len(counts) == 1:
        return sizes[0]
    common = max(counts, key=lambda s: (counts[s], s[0] * s[1], s))
    a = paths[sizes.index(common)]
    i = next(i for i, s in enumerate(sizes) if s != common)
    others = sum(n for s, n in counts.items() if s != common)
    raise DatasetCorruptError(
        root,
        f"images differ in size: {a} is {common[1]}x{common[0]} ({counts[common]} images of that size), "
        f"{paths[i]} is {sizes[i][1]}x{sizes[i][0]} ({others} of other sizes)",
        "pass --resolution N (or name the dataset imagefolder:PATH@N) to resize every image to N x N",
    )


def read_image_folder(
    root: Path,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    seed: int = DEFAULT_SPLIT_SEED,
    resolution: int | None = None,
    *,
    cache: bool = True,
    workers: int | None = None,
) -> RawData:
    """An image folder -> RawData with ``classes`` = sorted class-folder names of the train split
    and the training images' mean/std in ``stats``.

    resolution: resize every image to this square size (shorter side, centre crop); None keeps
    the images' own size (which must then be the same for all). cache: read and write the decoded
    cache (``_cache``); workers: decoding processes (default: one per CPU).
    """
    root = Path(root)
    what = f"imagefolder:{root}" + (f"@{resolution}" if resolution else "")
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder {root} does not exist", name=f"imagefolder:{root}", searched=[root])
    directory = cache_location("imagefolder", str(root), resolution, test_fraction, seed) if cache else None
    signature, _ = _scan(root, keep=False)
    if directory is not None:
        cached = open_cache(directory, signature)
        if cached is not None:
            return cached

    _, listing = _scan(root, keep=True)
    train, test = (listing["train"], listing["test"]) if "train" in listing else _split(listing["all"], test_fraction, seed)
    classes = tuple(train)
    index = {c: i for i, c in enumerate(classes)}
    paths = {"train": [p for c in train for p in train[c]], "test": [p for c in test for p in test[c]]}
    labels = {s: np.asarray([index[c] for c in d for _ in d[c]], dtype=np.int64) for s, d in (("train", train), ("test", test))}
    del listing, train, test

    every = paths["train"] + paths["test"]
    probes = probe_files(every, workers=workers, desc=f"reading {what} headers")
    mode = "L" if all(m in GRAY_MODES for m, _ in probes) else "RGB"
    if resolution is None:
        target = Target(mode, _check_sizes(root, every, [s for _, s in probes]))
    else:
        target = Target(mode, (int(resolution), int(resolution)), square=True)
    del every, probes
    return decode_splits(paths, labels, target, classes, directory, signature, what=what, workers=workers)
