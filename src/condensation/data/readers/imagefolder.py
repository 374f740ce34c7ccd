"""A folder of images with one sub-folder per class, read with Pillow.

Layouts: ``PATH/train/<class>/*`` + ``PATH/test/<class>/*`` (or ``val/``), or ``PATH/<class>/*``,
which is split per class into train and test by a seeded random draw (``test_fraction`` of each
class, at least one image each side for classes of two or more; the same seed always gives the
same split). Images may sit in nested folders below the class folder.

Colour: grayscale (1 channel) if every image is a single-channel mode (L, 1, I, ...), else RGB.
Size: the most common size (H x W) over all images; images of other sizes are resized to it with
Pillow's bilinear filter, and a warning says how many were.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ...rng import make_generator
from ..errors import DatasetCorruptError, DatasetNotFoundError
from ._common import RawData
from ._images import GRAY_MODES, decode_images, is_image_name, probe_images

__all__ = ["read_image_folder", "DEFAULT_TEST_FRACTION", "DEFAULT_SPLIT_SEED"]

DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SPLIT_SEED = 0


def _class_files(folder: Path) -> dict[str, list[Path]]:
    """{class name: sorted image paths} for each visible sub-folder holding at least one image."""
    out = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        files = []
        for dirpath, dirnames, filenames in os.walk(entry.path):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            files += [Path(dirpath) / f for f in sorted(filenames) if is_image_name(f)]
        if files:
            out[entry.name] = files
    return out


def _presplit(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]] | None:
    """(train, test) class files if ``root`` has train/ and test/ (or val/) folders of classes."""
    if not (root / "train").is_dir():
        return None
    test_dir = next((root / n for n in ("test", "val") if (root / n).is_dir()), None)
    if test_dir is None:
        return None
    train = _class_files(root / "train")
    if not train:
        return None
    return train, _class_files(test_dir)


def _split(files: dict[str, list[Path]], fraction: float, seed: int) -> tuple[dict, dict]:
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


def _common_size(sizes: list[tuple[int, int]]) -> tuple[int, int]:
    """The most frequent (H, W); ties go to the larger area, then the larger (H, W)."""
    counts = Counter(sizes)
    return max(counts, key=lambda s: (counts[s], s[0] * s[1], s))


def read_image_folder(
    root: Path, test_fraction: float = DEFAULT_TEST_FRACTION, seed: int = DEFAULT_SPLIT_SEED
) -> RawData:
    """An image folder -> RawData with ``classes`` = sorted class-folder names of the train split."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(f"image folder {root} does not exist", name=f"imagefolder:{root}", searched=[root])
    pre = _presplit(root)
    if pre is not None:
        train, test = pre
        extra = sorted(set(test) - set(train))
        if extra:
            raise DatasetCorruptError(root, f"test classes without training images: {', '.join(extra[:5])}")
    else:
        files = _class_files(root)
        if not files:
            raise DatasetNotFoundError(
                f"no images in {root}: expected {root}/<class>/<image> (or {root}/train/<class>/... and "
                f"{root}/test/<class>/...), with extensions .png, .jpg, .jpeg, .bmp, ...",
                name=f"imagefolder:{root}",
                searched=[root],
            )
        train, test = _split(files, test_fraction, seed)
    classes = tuple(train)
    index = {c: i for i, c in enumerate(classes)}
    paths = {s: [p for c in d for p in d[c]] for s, d in (("train", train), ("test", test))}
    labels = {s: [index[c] for c in d for _ in d[c]] for s, d in (("train", train), ("test", test))}

    every = paths["train"] + paths["test"]
    probes = probe_images(every)
    mode = "L" if all(m in GRAY_MODES for m, _ in probes) else "RGB"
    size = _common_size([s for _, s in probes])
    resized = sum(s != size for _, s in probes)
    if resized:
        warnings.warn(f"{root}: resized {resized} of {len(every)} images to the most common size {size[1]}x{size[0]}", stacklevel=2)

    from PIL import Image

    out = []
    for split in ("train", "test"):
        files = paths[split]
        arr = decode_images(
            len(files), lambda i: Image.open(files[i]), lambda i: str(files[i]), size, mode, resize=True, desc=f"reading {split} images"
        )
        out.append(torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous())
        out.append(torch.tensor(np.asarray(labels[split], dtype=np.int64)))
    return RawData(*out, classes=classes)
